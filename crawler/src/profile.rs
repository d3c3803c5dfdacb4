//! Site profiles: what to crawl on one marketplace and how hard, read from TOML.
//!
//! A profile is the analyst's contract with a site: where to start, which hosts and paths are
//! in scope, how to recognise listing pages, optional CSS selectors for sites without
//! structured data, and the politeness and budget limits. Everything has a safe default, so a
//! profile can be as short as a name and a seed.
//!
//! ```toml
//! name = "example-market"
//! seeds = ["https://market.example/"]
//! allowed_hosts = ["market.example", "img.market.example"]
//! listing_patterns = ["/item/*"]
//! follow_patterns = ["/", "/shop/*", "/item/*"]
//! deny_patterns = ["/calendar/*"]
//!
//! [selectors]
//! title = "h1.product-title"
//! price = ".price"
//! seller = ".seller a"
//! images = ".gallery img"
//!
//! [limits]
//! max_pages = 5000
//! requests_per_second = 2.0
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// One marketplace's crawl settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteProfile {
    /// Marketplace name stored with every hit.
    pub name: String,
    /// Start URLs.
    pub seeds: Vec<String>,
    /// Hosts (optionally `host:port`) the crawler may fetch from; empty means the seeds' hosts.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Path patterns (`*` matches any run of characters, matched against path + query) of
    /// listing pages; empty means every page is a candidate listing.
    #[serde(default)]
    pub listing_patterns: Vec<String>,
    /// Path patterns of pages whose links are followed; empty means follow every in-scope link.
    #[serde(default)]
    pub follow_patterns: Vec<String>,
    /// Path patterns never fetched (known traps, account pages).
    #[serde(default)]
    pub deny_patterns: Vec<String>,
    /// CSS selectors for sites without structured data.
    #[serde(default)]
    pub selectors: Selectors,
    /// Politeness and budgets.
    #[serde(default)]
    pub limits: Limits,
    /// Allow requests to loopback, private, link-local and other non-public addresses. Off by
    /// default so a hostile page cannot turn the crawler against the analyst's own network;
    /// the fixture marketplace on 127.0.0.1 turns it on.
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// `User-Agent` sent, and the token matched in robots.txt (up to the first `/`).
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
}

/// CSS selectors; each is optional and tried after schema.org JSON-LD and OpenGraph.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selectors {
    /// Listing title (text content).
    pub title: Option<String>,
    /// Price (text content).
    pub price: Option<String>,
    /// Seller name (text content).
    pub seller: Option<String>,
    /// Product images (`img` elements or elements carrying `src`/`data-src`/`srcset`).
    pub images: Option<String>,
}

/// Politeness, safety and budget limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most HTML pages fetched in one run (failures included).
    pub max_pages: u64,
    /// Most images fetched in one run.
    pub max_images: u64,
    /// Most link hops from a seed.
    pub max_depth: u32,
    /// Wall-clock budget of a run in seconds; no new request starts after it.
    pub max_seconds: u64,
    /// Requests per second per host (robots.txt `Crawl-delay` can only slow this down).
    pub requests_per_second: f64,
    /// Requests in flight per host.
    pub max_concurrency_per_host: usize,
    /// Requests in flight overall.
    pub max_concurrency: usize,
    /// Largest HTML body read, in bytes; longer bodies are cut off and the page dropped.
    pub max_page_bytes: usize,
    /// Largest image body read, in bytes.
    pub max_image_bytes: usize,
    /// Largest decoded image, in pixels (width × height), against decompression bombs.
    pub max_image_pixels: u64,
    /// Per-request timeout in seconds (connect + headers + body).
    pub timeout_seconds: u64,
    /// Retries after a timeout, connection error, 429 or 5xx, with exponential backoff.
    pub retries: u32,
    /// First backoff delay in milliseconds (doubled on each retry).
    pub backoff_ms: u64,
    /// Redirects followed per request (each hop is checked like a new URL).
    pub max_redirects: u32,
    /// Seconds before a host whose robots.txt was unreachable (5xx, network error) is asked
    /// again; until then nothing on it is fetched.
    pub robots_retry_seconds: u64,
    /// Most frontier entries held in memory; the rest wait in the evidence store and are paged
    /// in as the window drains.
    pub max_frontier_in_memory: usize,
    /// Bytes of decoded pixels (width × height × 4) that all concurrent image decodes may hold
    /// together; an image needing more than this alone is refused before decoding.
    pub max_decode_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_pages: 10_000,
            max_images: 50_000,
            max_depth: 8,
            max_seconds: 3_600,
            requests_per_second: 1.0,
            max_concurrency_per_host: 2,
            max_concurrency: 16,
            max_page_bytes: 4 << 20,
            max_image_bytes: 16 << 20,
            max_image_pixels: 40_000_000,
            timeout_seconds: 20,
            retries: 2,
            backoff_ms: 500,
            max_redirects: 5,
            robots_retry_seconds: 60,
            max_frontier_in_memory: 10_000,
            max_decode_bytes: 1 << 30,
        }
    }
}

impl Limits {
    /// Per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.max(1))
    }
}

fn default_user_agent() -> String {
    format!(
        "VeilmarkBot/{} (+brand protection crawler)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Why a profile was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read site profile {path}: {source}")]
    Read {
        /// File given.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("site profile is not valid TOML for a profile: {0}")]
    Toml(#[from] toml::de::Error),
    /// A field has a value the crawler cannot use.
    #[error("site profile: {0}")]
    Invalid(String),
}

impl SiteProfile {
    /// Parses and validates a profile.
    pub fn from_toml(text: &str) -> Result<SiteProfile, ProfileError> {
        let mut p: SiteProfile = toml::from_str(text)?;
        if p.seeds.is_empty() {
            return Err(ProfileError::Invalid(
                "at least one seed URL is needed".into(),
            ));
        }
        for seed in &p.seeds {
            let u = url::Url::parse(seed)
                .map_err(|e| ProfileError::Invalid(format!("seed {seed:?}: {e}")))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(ProfileError::Invalid(format!(
                    "seed {seed:?} is not http(s)"
                )));
            }
        }
        if p.allowed_hosts.is_empty() {
            p.allowed_hosts = p
                .seeds
                .iter()
                .filter_map(|s| url::Url::parse(s).ok())
                .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
                .collect();
        }
        if p.limits.requests_per_second.is_nan() || p.limits.requests_per_second <= 0.0 {
            return Err(ProfileError::Invalid(
                "limits.requests_per_second must be above 0".into(),
            ));
        }
        if p.limits.max_frontier_in_memory == 0 || p.limits.max_decode_bytes == 0 {
            return Err(ProfileError::Invalid(
                "limits.max_frontier_in_memory and limits.max_decode_bytes must be above 0".into(),
            ));
        }
        if p.limits.max_concurrency == 0 || p.limits.max_concurrency_per_host == 0 {
            return Err(ProfileError::Invalid(
                "concurrency limits must be at least 1".into(),
            ));
        }
        for sel in [
            &p.selectors.title,
            &p.selectors.price,
            &p.selectors.seller,
            &p.selectors.images,
        ]
        .into_iter()
        .flatten()
        {
            scraper::Selector::parse(sel)
                .map_err(|e| ProfileError::Invalid(format!("CSS selector {sel:?}: {e}")))?;
        }
        Ok(p)
    }

    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<SiteProfile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SiteProfile::from_toml(&text)
    }

    /// True when `url`'s host (or `host:port`) is in scope.
    pub fn host_allowed(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}"));
        self.allowed_hosts.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == host || Some(&a) == with_port.as_ref()
        })
    }

    /// True when the URL is a listing page.
    pub fn is_listing(&self, url: &url::Url) -> bool {
        self.listing_patterns.is_empty() || matches_any(&self.listing_patterns, url)
    }

    /// True when links on this page should be followed.
    pub fn should_follow(&self, url: &url::Url) -> bool {
        self.follow_patterns.is_empty() || matches_any(&self.follow_patterns, url)
    }

    /// True when the URL is excluded by the profile.
    pub fn is_denied(&self, url: &url::Url) -> bool {
        matches_any(&self.deny_patterns, url)
    }
}

fn matches_any(patterns: &[String], url: &url::Url) -> bool {
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    patterns
        .iter()
        .any(|p| glob_match(p.as_bytes(), target.as_bytes()))
}

/// `*` matches any run of bytes (including none); everything else matches itself. A pattern
/// without a trailing `*` must match the whole target.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative wildcard matching with backtracking to the last star (linear-ish, no recursion).
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_profile_gets_safe_defaults() {
        let p =
            SiteProfile::from_toml("name = \"m\"\nseeds = [\"https://Market.Example/\"]").unwrap();
        assert_eq!(p.allowed_hosts, vec!["market.example"]);
        assert!(!p.allow_private_addresses);
        assert!(p.limits.requests_per_second <= 1.0);
        assert!(p.host_allowed(&url::Url::parse("https://market.example/x").unwrap()));
        assert!(!p.host_allowed(&url::Url::parse("https://evil.example/x").unwrap()));
    }

    #[test]
    fn rejects_unknown_keys_bad_selectors_and_seeds() {
        assert!(
            SiteProfile::from_toml("name = \"m\"\nseeds = [\"https://a/\"]\nbogus = 1").is_err()
        );
        assert!(SiteProfile::from_toml("name = \"m\"\nseeds = [\"ftp://a/\"]").is_err());
        assert!(SiteProfile::from_toml("name = \"m\"\nseeds = []").is_err());
        let bad = "name = \"m\"\nseeds = [\"https://a/\"]\n[selectors]\ntitle = \"h1[[\"";
        assert!(matches!(
            SiteProfile::from_toml(bad),
            Err(ProfileError::Invalid(_))
        ));
    }

    #[test]
    fn glob_patterns() {
        assert!(glob_match(b"/item/*", b"/item/42"));
        assert!(glob_match(b"/shop/*/page/*", b"/shop/a/page/3"));
        assert!(!glob_match(b"/item/*", b"/items/42"));
        assert!(glob_match(b"/", b"/"));
        assert!(!glob_match(b"/", b"/x"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn host_with_port() {
        let p = SiteProfile::from_toml("name = \"m\"\nseeds = [\"http://127.0.0.1:8080/\"]\nallowed_hosts = [\"127.0.0.1:8080\"]").unwrap();
        assert!(p.host_allowed(&url::Url::parse("http://127.0.0.1:8080/a").unwrap()));
        assert!(!p.host_allowed(&url::Url::parse("http://127.0.0.1:9090/a").unwrap()));
    }
}
