//! Token-bucket rate limits, keyed per client IP, per link and per session.
//!
//! [`RateLimiter`] keeps its buckets in the process. That is enough for the embedded store (one
//! server process), and for the per-IP and per-session limits everywhere (they shield one
//! process). The per-link limit on token and passcode checks and the per-address limit on logins
//! guard secrets, so on a database shared by several replicas they are a [`Limiter::Shared`]:
//! the buckets live in PostgreSQL ([`veilmark_store::SharedBuckets`]) and hold across replicas
//! (the passcode and login lock-outs are in the database on either backend).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A bucket size and refill rate.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Requests allowed in a burst.
    pub burst: u32,
    /// Requests per second refilled.
    pub per_sec: f64,
}

/// A set of token buckets sharing one [`Rate`].
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before full (idle) ones are dropped.
const MAX_TRACKED: usize = 100_000;

impl RateLimiter {
    /// A limiter applying `rate` to each key.
    #[must_use]
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` has a token left, without taking it (checked before a lookup whose failure
    /// is then charged with [`RateLimiter::check`]).
    pub fn peek(&self, key: &str) -> Result<(), u64> {
        let map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(key) {
            None => Ok(()),
            Some((tokens, at)) => {
                let now = tokens + at.elapsed().as_secs_f64() * self.rate.per_sec;
                if now >= 1.0 {
                    Ok(())
                } else {
                    Err(retry_after(now, self.rate.per_sec))
                }
            }
        }
    }

    /// Takes one token for `key`; `Err(seconds)` says when to retry.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let burst = f64::from(self.rate.burst);
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_TRACKED {
            let rate = self.rate.per_sec;
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = map.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate.per_sec).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(retry_after(*tokens, self.rate.per_sec))
        }
    }
}

/// A limit that is either per process or shared by every replica on one database.
#[derive(Debug)]
pub enum Limiter {
    /// Buckets in this process.
    Local(RateLimiter),
    /// Buckets in the shared database, under `scope`.
    Shared {
        /// The database's buckets.
        buckets: veilmark_store::SharedBuckets,
        /// Which limit (`link`, `login`): keys of two limits never share a bucket.
        scope: &'static str,
        /// Size and refill.
        rate: Rate,
        /// Applied instead while the database cannot be asked, so that an outage does not
        /// lift the limit (each replica then limits on its own).
        fallback: RateLimiter,
        /// Takes so far; every `PRUNE_EVERY`th also forgets refilled buckets.
        takes: AtomicU64,
    },
}

/// How many shared takes pass between two prunings of refilled buckets (rows equivalent to
/// no row), so that the table stays the size of the recent traffic.
const PRUNE_EVERY: u64 = 4096;

impl Limiter {
    /// A limit in the shared database under `scope`.
    #[must_use]
    pub fn shared(buckets: veilmark_store::SharedBuckets, scope: &'static str, rate: Rate) -> Self {
        Self::Shared {
            buckets,
            scope,
            rate,
            fallback: RateLimiter::new(rate),
            takes: AtomicU64::new(0),
        }
    }

    /// Takes one token for `key`; `Err(seconds)` says when to retry.
    pub async fn check(&self, key: &str) -> Result<(), u64> {
        match self {
            Self::Local(local) => local.check(key),
            Self::Shared {
                buckets,
                scope,
                rate,
                fallback,
                takes,
            } => {
                if takes.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
                    let (buckets, scope, rate) = (buckets.clone(), *scope, *rate);
                    tokio::spawn(async move {
                        if let Err(e) = buckets.prune(scope, rate.burst, rate.per_sec).await {
                            tracing::warn!("pruning shared rate limit {scope} failed: {e:#}");
                        }
                    });
                }
                match buckets.take(scope, key, rate.burst, rate.per_sec).await {
                    Ok(verdict) => verdict,
                    Err(e) => {
                        tracing::warn!(
                            "shared rate limit {scope} unavailable, limiting locally: {e:#}"
                        );
                        fallback.check(key)
                    }
                }
            }
        }
    }
}

/// Whole seconds until one token is back, between 1 and a day (for `Retry-After`).
#[allow(clippy::cast_possible_truncation)] // clamped to 1..=86 400 first
fn retry_after(tokens: f64, per_sec: f64) -> u64 {
    let wait = (1.0 - tokens) / per_sec.max(1e-9);
    wait.ceil().clamp(1.0, 86_400.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse() {
        let l = RateLimiter::new(Rate {
            burst: 3,
            per_sec: 0.01,
        });
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
    }
}
