//! URL canonicalisation and crawler-trap heuristics.
//!
//! Two spellings of one page must map to one frontier entry, or the crawler fetches it twice
//! and stores duplicate hits; and infinite URL spaces (calendars, session ids, ever-deeper
//! relative links) must be cut before they eat the budget. Canonical form: `http(s)` only, host
//! lower-cased (the `url` crate also normalises IDNA, default ports, `.`/`..` segments and
//! percent-encoding), fragment dropped, tracking and session parameters dropped, remaining
//! query parameters sorted.

use url::Url;

/// Query parameters that never change the content (tracking, sessions).
const DROPPED_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "sessionid",
    "session_id",
    "sid",
    "phpsessid",
    "jsessionid",
    "ref",
    "_ga",
];

/// Longest URL kept.
const MAX_URL_LEN: usize = 1024;
/// Most path segments kept.
const MAX_SEGMENTS: usize = 12;
/// Most times one path segment may repeat (`/a/b/a/b/a/b/...` loops).
const MAX_SEGMENT_REPEATS: usize = 2;
/// Most query parameters kept.
const MAX_QUERY_PARAMS: usize = 8;

/// Why a URL was not put in the frontier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not http or https (`mailto:`, `javascript:`, `data:` ...).
    Scheme,
    /// Looks like an infinite URL space.
    Trap,
}

/// Resolves `href` against `base` and returns the canonical URL.
pub fn canonical_join(base: &Url, href: &str) -> Result<Url, Rejection> {
    let href = href.trim();
    let url = base.join(href).map_err(|_| Rejection::Scheme)?;
    canonicalise(url)
}

/// Canonical form of an absolute URL, or why it is refused.
pub fn canonicalise(mut url: Url) -> Result<Url, Rejection> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Rejection::Scheme);
    }
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if url.query().is_some() {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !DROPPED_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.len() > MAX_QUERY_PARAMS {
            return Err(Rejection::Trap);
        }
        pairs.sort();
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if is_trap(&url) {
        return Err(Rejection::Trap);
    }
    Ok(url)
}

/// Structural trap heuristics: very long URLs, very deep paths, repeated path segments.
fn is_trap(url: &Url) -> bool {
    if url.as_str().len() > MAX_URL_LEN {
        return true;
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if segments.len() > MAX_SEGMENTS {
        return true;
    }
    segments
        .iter()
        .any(|s| segments.iter().filter(|t| *t == s).count() > MAX_SEGMENT_REPEATS)
}

/// The scheduling key for politeness: `host:port`.
pub fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<String, Rejection> {
        canonicalise(Url::parse(s).unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn spellings_of_one_page_agree() {
        let want = "http://shop.example/item/1?a=1&b=2";
        for s in [
            "HTTP://Shop.Example:80/item/1?b=2&a=1",
            "http://shop.example/x/../item/1?a=1&b=2#photos",
            "http://shop.example/item/./1?utm_source=x&a=1&b=2&sessionid=abc",
            "http://user:pw@shop.example/item/1?b=2&a=1&fbclid=zz",
        ] {
            assert_eq!(c(s).unwrap(), want, "{s}");
        }
        assert_eq!(
            c("http://shop.example/item?utm_medium=x").unwrap(),
            "http://shop.example/item"
        );
    }

    #[test]
    fn refuses_other_schemes_and_traps() {
        let base = Url::parse("http://shop.example/a/").unwrap();
        assert_eq!(canonical_join(&base, "mailto:x@y"), Err(Rejection::Scheme));
        assert_eq!(
            canonical_join(&base, "javascript:alert(1)"),
            Err(Rejection::Scheme)
        );
        assert_eq!(c("http://s.example/a/b/a/b/a/b/c"), Err(Rejection::Trap));
        assert_eq!(
            c(&format!(
                "http://s.example/{}",
                (0..20).map(|i| format!("p{i}/")).collect::<String>()
            )),
            Err(Rejection::Trap)
        );
        assert_eq!(
            c(&format!(
                "http://s.example/?{}",
                (0..9)
                    .map(|i| format!("k{i}=1"))
                    .collect::<Vec<_>>()
                    .join("&")
            )),
            Err(Rejection::Trap)
        );
        assert!(canonical_join(&base, "../b/c.html").is_ok());
    }
}
