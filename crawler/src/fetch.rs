//! One HTTP request, safely: address policy, timeouts, body caps, retries with backoff.
//!
//! Redirects are *not* followed here: a `3xx` comes back as [`Fetched::Redirect`] so the crawl
//! loop checks the target like any new URL (scope, robots.txt, loops, budgets). Requests to
//! loopback, private, link-local and other non-public addresses are refused unless the profile
//! allows them — for IP literals before connecting, for host names in the DNS resolver, so a
//! name that resolves to `127.0.0.1` cannot slip through.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use url::Url;

/// A completed response (any status but 3xx).
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers in order, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body (at most the cap given).
    pub body: Vec<u8>,
    /// When the response arrived (RFC 3339, UTC).
    pub fetched_at: String,
}

impl Response {
    /// First value of a header (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Outcome of one request.
#[derive(Debug)]
pub enum Fetched {
    /// A response to use.
    Done(Response),
    /// A redirect to check and follow (status, absolute target).
    Redirect(u16, Url),
    /// `304 Not Modified` to a conditional request.
    NotModified,
}

/// Why a request gave nothing usable.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The address is loopback/private/link-local and the profile does not allow it.
    #[error("refused non-public address for {0}")]
    PrivateAddress(String),
    /// The body exceeded the cap.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// No answer within the timeout (after retries).
    #[error("timed out")]
    Timeout,
    /// Connection or protocol failure (after retries).
    #[error("network error: {0}")]
    Network(String),
    /// A 3xx without a usable `Location`.
    #[error("redirect without a usable Location")]
    BadRedirect,
}

pub use veilmark_shared::net::is_public;

/// What to do with a body longer than the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Fail with [`FetchError::TooLarge`].
    Refuse,
    /// Keep the first `max_bytes` and stop reading.
    Truncate,
}

/// DNS resolution that drops non-public addresses unless allowed.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(std::io::Error::other(format!(
                    "refused non-public address for {host}"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Makes `ring` the process's rustls crypto provider unless the program already chose one.
///
/// reqwest 0.13 without its aws-lc-rs default (feature `rustls-no-provider`) takes the process
/// default provider and panics when building a client without one; ring is what the server's
/// TLS uses too, so there is one pure-Rust-and-assembly crypto stack and no C build. Call it
/// before building any `reqwest::Client` ([`Fetcher::new`] does); calling it again is harmless.
pub fn use_ring_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The HTTP client of one crawl.
pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    retries: u32,
    backoff: Duration,
}

impl Fetcher {
    /// A client with the profile's user agent, timeout, retry and address policy.
    pub fn new(
        user_agent: &str,
        timeout: Duration,
        retries: u32,
        backoff: Duration,
        allow_private: bool,
    ) -> anyhow::Result<Fetcher> {
        use_ring_provider();
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .no_proxy()
            .build()?;
        Ok(Fetcher {
            client,
            allow_private,
            retries,
            backoff,
        })
    }

    /// GETs `url` (retrying timeouts, connection errors, 429 and 5xx with exponential backoff)
    /// and reads at most `max_bytes` of body. `etag` makes the request conditional.
    pub async fn get(
        &self,
        url: &Url,
        max_bytes: usize,
        etag: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        self.get_with(url, max_bytes, etag, Overflow::Refuse, || {
            std::future::ready(())
        })
        .await
    }

    /// Like [`Fetcher::get`], but each retry also awaits `pace()` after its backoff: the crawl
    /// takes a new request slot of the host there, so that retries count against the host's
    /// rate like any other request.
    pub async fn get_paced<F, Fut>(
        &self,
        url: &Url,
        max_bytes: usize,
        etag: Option<&str>,
        pace: F,
    ) -> Result<Fetched, FetchError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        self.get_with(url, max_bytes, etag, Overflow::Refuse, pace)
            .await
    }

    /// Like [`Fetcher::get`], but a body longer than `max_bytes` is cut there instead of being
    /// refused (robots.txt: the first 500 KiB are read, the rest ignored).
    pub async fn get_prefix(&self, url: &Url, max_bytes: usize) -> Result<Fetched, FetchError> {
        self.get_with(url, max_bytes, None, Overflow::Truncate, || {
            std::future::ready(())
        })
        .await
    }

    async fn get_with<F, Fut>(
        &self,
        url: &Url,
        max_bytes: usize,
        etag: Option<&str>,
        overflow: Overflow,
        mut pace: F,
    ) -> Result<Fetched, FetchError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        if let Some(host) = url.host() {
            let ip = match host {
                url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
                url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
                url::Host::Domain(_) => None,
            };
            if let Some(ip) = ip
                && !self.allow_private
                && !is_public(ip)
            {
                return Err(FetchError::PrivateAddress(ip.to_string()));
            }
        }
        let mut attempt = 0;
        loop {
            let result = self.get_once(url, max_bytes, etag, overflow).await;
            let retryable = match &result {
                Ok(Fetched::Done(r)) => r.status == 429 || r.status >= 500,
                Err(FetchError::Timeout | FetchError::Network(_)) => true,
                _ => false,
            };
            if !retryable || attempt >= self.retries {
                return result;
            }
            let retry_after = match &result {
                Ok(Fetched::Done(r)) => r
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
                _ => None,
            };
            let delay = retry_after
                .unwrap_or(self.backoff * 2u32.pow(attempt))
                .min(Duration::from_secs(30));
            tokio::time::sleep(delay).await;
            pace().await;
            attempt += 1;
        }
    }

    async fn get_once(
        &self,
        url: &Url,
        max_bytes: usize,
        etag: Option<&str>,
        overflow: Overflow,
    ) -> Result<Fetched, FetchError> {
        let mut req = self.client.get(url.clone());
        if let Some(tag) = etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        let resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        if status == 304 {
            return Ok(Fetched::NotModified);
        }
        if (300..400).contains(&status) {
            let target = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc).ok())
                .ok_or(FetchError::BadRedirect)?;
            return Ok(Fetched::Redirect(status, target));
        }
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if overflow == Overflow::Refuse
            && resp.content_length().is_some_and(|n| n > max_bytes as u64)
        {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(classify)?;
            if body.len() + chunk.len() > max_bytes {
                if overflow == Overflow::Truncate {
                    body.extend_from_slice(&chunk[..max_bytes - body.len()]);
                    break;
                }
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Done(Response {
            status,
            headers,
            body,
            fetched_at: crate::now_rfc3339(),
        }))
    }
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    if msg.contains("refused non-public address") {
        return FetchError::PrivateAddress(msg);
    }
    FetchError::Network(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_policy() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    /// Issue 16 row 9: IPv6 addresses that carry an IPv4 address inside (NAT64, 6to4, Teredo,
    /// IPv4-mapped, -compatible and -translated) are judged by the IPv4 address they reach.
    #[test]
    fn embedded_private_ipv4_is_refused() {
        for private in [
            "64:ff9b::7f00:1",                      // NAT64 well-known prefix → 127.0.0.1
            "64:ff9b::a9fe:a9fe",                   // → 169.254.169.254 (cloud metadata)
            "64:ff9b::c0a8:1",                      // → 192.168.0.1
            "64:ff9b:1::a00:1",                     // local-use NAT64 (RFC 8215), never public
            "64:ff9b:1:abcd::808:808",              // … whatever it embeds
            "2002:7f00:1::",                        // 6to4 of 127.0.0.1
            "2002:a00:1::1",                        // 6to4 of 10.0.0.1
            "2002:c0a8:101:5::1",                   // 6to4 of 192.168.1.1
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1 (obfuscated)
            "2001:0:a00:1::1",                      // Teredo, server 10.0.0.1
            "::ffff:10.0.0.1",                      // IPv4-mapped
            "::127.0.0.1",                          // IPv4-compatible (deprecated)
            "::ffff:0:a9fe:a9fe",                   // IPv4-translated (SIIT) → 169.254.169.254
            "100::1",                               // discard-only
            "fec0::1",                              // site-local (deprecated)
            "2001:db8::1",                          // documentation
            "3fff::1",                              // documentation (RFC 9637)
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "64:ff9b::808:808",                     // NAT64 of 8.8.8.8
            "2002:808:808::1",                      // 6to4 of 8.8.8.8
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7", // Teredo, client 8.8.8.8
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn refuses_nat64_literal_of_loopback() {
        let f = Fetcher::new(
            "t/1",
            Duration::from_secs(2),
            0,
            Duration::from_millis(1),
            false,
        )
        .unwrap();
        for url in ["http://[64:ff9b::7f00:1]:9/", "http://[2002:7f00:1::1]:9/"] {
            let err = f
                .get(&Url::parse(url).unwrap(), 10, None)
                .await
                .unwrap_err();
            assert!(matches!(err, FetchError::PrivateAddress(_)), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn refuses_loopback_unless_allowed() {
        let f = Fetcher::new(
            "t/1",
            Duration::from_secs(2),
            0,
            Duration::from_millis(1),
            false,
        )
        .unwrap();
        let err = f
            .get(&Url::parse("http://127.0.0.1:9/").unwrap(), 10, None)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::PrivateAddress(_)), "{err}");
        let err = f
            .get(&Url::parse("http://localhost:9/").unwrap(), 10, None)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::PrivateAddress(_)), "{err}");
    }
}
