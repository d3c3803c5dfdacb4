//! Fetching a host's robots.txt as RFC 9309 §2.3 asks: redirects followed (at most five hops,
//! each through the private-address guard), a 4xx means no rules, a 5xx or an unreachable host
//! means nothing may be fetched until it answers.
//!
//! It is its own module because the answer is not just rules: an unreachable robots.txt is a
//! state to retry later, which the crawl loop caches with a deadline ([`RobotsAnswer`]).

use url::Url;

use crate::fetch::{Fetched, Fetcher};
use crate::robots::{MAX_ROBOTS_BYTES, Robots};

/// Redirects followed for robots.txt (RFC 9309 §2.3.1.2: at least five).
pub const MAX_ROBOTS_REDIRECTS: u32 = 5;

/// What fetching a host's robots.txt gave.
#[derive(Debug, Clone)]
pub enum RobotsAnswer {
    /// A 2xx answer (after redirects): its rules.
    Rules(Robots),
    /// A 4xx answer ("unavailable"): everything is allowed.
    Unavailable,
    /// A 5xx or 429 answer, a network error, a refused address, a redirect loop or more than
    /// [`MAX_ROBOTS_REDIRECTS`] hops ("unreachable"): nothing is allowed until it answers.
    Unreachable(String),
}

impl RobotsAnswer {
    /// The rules to apply now.
    pub fn robots(&self) -> Robots {
        match self {
            RobotsAnswer::Rules(r) => r.clone(),
            RobotsAnswer::Unavailable => Robots::allow_all(),
            RobotsAnswer::Unreachable(_) => Robots::disallow_all(),
        }
    }
}

/// The URL of the robots.txt governing `url` (same scheme, host and port).
pub fn robots_url(url: &Url) -> Url {
    let mut robots = url.clone();
    robots.set_path("/robots.txt");
    robots.set_query(None);
    robots.set_fragment(None);
    robots
}

/// Fetches and parses the robots.txt for `url`'s host, for `user_agent`.
///
/// Each redirect hop is an ordinary [`Fetcher`] request, so the private-address guard checks
/// every host on the way (a robots.txt redirecting to `http://127.0.0.1/` is unreachable, not
/// followed). Redirects may leave the host (RFC 9309 allows it; `http` → `https` is common),
/// but only to `http` or `https`.
pub async fn fetch_robots(fetcher: &Fetcher, url: &Url, user_agent: &str) -> RobotsAnswer {
    match fetch_robots_raw(fetcher, url).await {
        RawRobots::Body(body) => RobotsAnswer::Rules(Robots::parse_bytes(&body, user_agent)),
        RawRobots::Unavailable => RobotsAnswer::Unavailable,
        RawRobots::Unreachable(why) => RobotsAnswer::Unreachable(why),
    }
}

/// What fetching a host's robots.txt gave, before parsing: the form several crawl workers
/// share through the store (each parses the bytes for its own user agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawRobots {
    /// A 2xx answer (after redirects): the first [`MAX_ROBOTS_BYTES`] bytes of the file.
    Body(Vec<u8>),
    /// A 4xx answer: everything is allowed.
    Unavailable,
    /// Unreachable, with why: nothing is allowed until it answers.
    Unreachable(String),
}

/// Fetches the robots.txt for `url`'s host (see [`fetch_robots`]) without parsing it.
pub async fn fetch_robots_raw(fetcher: &Fetcher, url: &Url) -> RawRobots {
    let mut current = robots_url(url);
    let mut visited = vec![current.clone()];
    for _ in 0..=MAX_ROBOTS_REDIRECTS {
        match fetcher.get_prefix(&current, MAX_ROBOTS_BYTES).await {
            Ok(Fetched::Done(r)) if (200..300).contains(&r.status) => {
                return RawRobots::Body(r.body);
            }
            Ok(Fetched::Done(r)) if r.status == 429 => {
                return RawRobots::Unreachable("status 429".into());
            }
            Ok(Fetched::Done(r)) if (400..500).contains(&r.status) => {
                return RawRobots::Unavailable;
            }
            Ok(Fetched::Done(r)) => {
                return RawRobots::Unreachable(format!("status {}", r.status));
            }
            Ok(Fetched::NotModified) => {
                return RawRobots::Unreachable("unexpected 304".into());
            }
            Ok(Fetched::Redirect(_, target)) => {
                if !matches!(target.scheme(), "http" | "https") {
                    return RawRobots::Unreachable("redirect to a non-HTTP URL".into());
                }
                if visited.contains(&target) {
                    return RawRobots::Unreachable("redirect loop".into());
                }
                visited.push(target.clone());
                current = target;
            }
            Err(e) => return RawRobots::Unreachable(e.to_string()),
        }
    }
    RawRobots::Unreachable(format!("more than {MAX_ROBOTS_REDIRECTS} redirects"))
}
