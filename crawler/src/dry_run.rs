//! One page through a profile, without a crawl: what `veilmark crawl --profile P --dry-run URL`
//! shows an analyst writing a profile (`docs/crawler.md#profiles`).
//!
//! The page is fetched as the crawl would fetch it — the profile's user agent, timeout and
//! address policy, its host scope and deny patterns, the host's robots.txt — and read by the
//! crawl's own extractor. Nothing is stored: no data directory, no database, no WARC.

use anyhow::{Context, Result, bail};
use url::Url;

use crate::canon::canonicalise;
use crate::extract::{Extracted, extract};
use crate::fetch::{Fetched, Fetcher};
use crate::profile::SiteProfile;
use crate::robots_fetch::{RobotsAnswer, fetch_robots};

/// What the profile makes of one page.
#[derive(Debug)]
pub struct DryRun {
    /// The page, canonical.
    pub url: Url,
    /// Its HTTP status (a redirect is reported, not followed: the crawl queues its target).
    pub status: u16,
    /// Where a redirect points.
    pub redirect: Option<Url>,
    /// The profile's `listing_patterns` match it: its images are matched against the catalog.
    pub is_listing: bool,
    /// The profile's `follow_patterns` match it: its links are queued.
    pub follows_links: bool,
    /// What the extractor read (listing and links).
    pub extracted: Extracted,
    /// Of its links: those the crawl would queue (in scope, not denied), when it follows links.
    pub links_queued: Vec<Url>,
}

/// Fetches `url` as `profile`'s crawl would and extracts it, storing nothing.
///
/// # Errors
/// A URL out of the profile's scope or denied by it, a robots.txt that disallows it (or cannot
/// be read: the crawl would wait), an address the profile may not reach, a failed request.
pub async fn dry_run(profile: &SiteProfile, url: &str) -> Result<DryRun> {
    let parsed = Url::parse(url.trim()).with_context(|| format!("{url:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("{url:?} is not an http:// or https:// URL");
    }
    let url =
        canonicalise(parsed).map_err(|e| anyhow::anyhow!("{url:?} cannot be crawled: {e:?}"))?;
    if !profile.host_allowed(&url) {
        bail!(
            "{} is not among the profile's allowed_hosts ({})",
            url.host_str().unwrap_or_default(),
            profile.allowed_hosts.join(", ")
        );
    }
    if profile.is_denied(&url) {
        bail!("{url} matches the profile's deny_patterns");
    }
    let l = &profile.limits;
    let fetcher = Fetcher::new(
        &profile.user_agent,
        profile.limits.timeout(),
        l.retries,
        std::time::Duration::from_millis(l.backoff_ms),
        profile.allow_private_addresses,
    )?;
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    match fetch_robots(&fetcher, &url, &profile.user_agent).await {
        RobotsAnswer::Unreachable(why) => bail!(
            "the robots.txt of {} cannot be read ({why}); the crawl fetches nothing there until it can",
            url.host_str().unwrap_or_default()
        ),
        answer => {
            if !answer.robots().allowed(path) {
                bail!(
                    "the robots.txt of {} disallows {path} for {}",
                    url.host_str().unwrap_or_default(),
                    profile.user_agent
                );
            }
        }
    }
    let fetched = fetcher
        .get(&url, l.max_page_bytes, None)
        .await
        .with_context(|| format!("cannot fetch {url}"))?;
    let (status, redirect, body) = match fetched {
        Fetched::Done(r) => (r.status, None, r.body),
        Fetched::Redirect(status, target) => (status, Some(target), Vec::new()),
        Fetched::NotModified => (304, None, Vec::new()),
    };
    let html = String::from_utf8_lossy(&body);
    let extracted = extract(&html, &url, &profile.selectors);
    let follows_links = profile.should_follow(&url);
    let links_queued = if follows_links {
        extracted
            .links
            .iter()
            .filter(|u| profile.host_allowed(u) && !profile.is_denied(u))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    Ok(DryRun {
        is_listing: profile.is_listing(&url),
        follows_links,
        url,
        status,
        redirect,
        extracted,
        links_queued,
    })
}
