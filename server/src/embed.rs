//! Partner origins allowed to frame the viewer (`veilmark serve --embed-origin …`).
//!
//! A partner portal embeds a protected document with `<veilmark-viewer>` (or a plain
//! `<iframe>`), which frames `/v/{token}` from this server's origin; cross-origin isolation keeps
//! the portal's scripts out of the viewer's wasm memory (`docs/embedding.md`). The browser lets
//! the portal frame the page only if the page's CSP names the portal in `frame-ancestors`, so the
//! origins listed here end up verbatim in a security header and in the viewer page's `<meta>`
//! tag that the page's script checks `postMessage` senders against. Hence the strict parser:
//! exactly `scheme://host[:port]` as a browser serialises an origin (`MessageEvent.origin`), no
//! path, no wildcard, nothing that could break out of a CSP source list or an HTML attribute.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A web origin (`https://portal.example`, `https://portal.example:8443`) allowed to frame the
/// viewer page, in the form browsers serialise origins: lower-case scheme and host, default
/// port omitted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbedOrigin(String);

/// Why a `--embed-origin` value was refused; each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Neither `https://` nor `http://`.
    #[error("embed origin {0:?} must start with https:// (give scheme://host[:port])")]
    Scheme(String),
    /// `http://` for a host other than `localhost` or a loopback address.
    #[error(
        "embed origin {0:?} uses http://; only https:// origins may frame the viewer \
         (http:// is accepted for localhost and 127.0.0.1, for development)"
    )]
    Insecure(String),
    /// A `*` anywhere.
    #[error("embed origin {0:?} contains a wildcard; list every partner origin explicitly")]
    Wildcard(String),
    /// Something after the host and port: a path, query or fragment.
    #[error("embed origin {0:?} has a path, query or fragment; give only scheme://host[:port]")]
    Path(String),
    /// `user:password@` before the host.
    #[error("embed origin {0:?} contains user info (@); give only scheme://host[:port]")]
    UserInfo(String),
    /// Not an ASCII DNS name or IPv4 address (IPv6 literals cannot appear in a CSP source list).
    #[error(
        "embed origin {0:?} does not have a valid host: use an ASCII DNS name \
         (punycode for international names) or an IPv4 address"
    )]
    Host(String),
    /// A port that is not a number from 1 to 65535.
    #[error("embed origin {0:?} has an invalid port (1–65535)")]
    Port(String),
}

impl EmbedOrigin {
    /// Parses and normalises an origin. A single trailing `/` is tolerated (it is what a browser
    /// address bar shows); anything else after the host and port is refused.
    pub fn parse(input: &str) -> Result<Self, OriginError> {
        Self::parse_with(input, false)
    }

    /// [`EmbedOrigin::parse`], but accepting `http://` on any host. Only for `veilmark demo
    /// --listen ADDR` on a network the user trusts (it warns): there is no certificate for the
    /// example portal there, and a plain-HTTP framing origin could be impersonated by anyone on
    /// the path. `--embed-origin` never takes this route.
    pub fn parse_allowing_plain_http(input: &str) -> Result<Self, OriginError> {
        Self::parse_with(input, true)
    }

    fn parse_with(input: &str, allow_plain_http: bool) -> Result<Self, OriginError> {
        let owned = || input.to_owned();
        if input.contains('*') {
            return Err(OriginError::Wildcard(owned()));
        }
        let lower = input.to_ascii_lowercase();
        let (scheme, rest) = if let Some(rest) = lower.strip_prefix("https://") {
            ("https", rest)
        } else if let Some(rest) = lower.strip_prefix("http://") {
            ("http", rest)
        } else {
            return Err(OriginError::Scheme(owned()));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '\\']) {
            return Err(OriginError::Path(owned()));
        }
        if rest.contains('@') {
            return Err(OriginError::UserInfo(owned()));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => {
                let valid =
                    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
                match port.parse::<u16>() {
                    Ok(p) if valid && p != 0 => (host, Some(p)),
                    _ => return Err(OriginError::Port(owned())),
                }
            }
            None => (rest, None),
        };
        let loopback = match host.parse::<Ipv4Addr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) if is_dns_name(host) => host == "localhost",
            Err(_) => return Err(OriginError::Host(owned())),
        };
        if scheme == "http" && !loopback && !allow_plain_http {
            return Err(OriginError::Insecure(owned()));
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        Ok(Self(match port {
            Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        }))
    }

    /// The origin as browsers write it (`MessageEvent.origin`, CSP source expressions).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// LDH labels of 1–63 characters, not starting or ending with `-`, 253 characters at most; not
/// all-numeric (a dotted number that is not a valid IPv4 address would be read as one by URL
/// parsers).
fn is_dns_name(host: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(label_ok)
        && !host
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

impl FromStr for EmbedOrigin {
    type Err = OriginError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EmbedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        EmbedOrigin::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    #[test]
    fn accepts_and_normalises_origins() {
        assert_eq!(ok("https://portal.example"), "https://portal.example");
        assert_eq!(ok("HTTPS://Portal.Example/"), "https://portal.example");
        assert_eq!(ok("https://portal.example:443"), "https://portal.example");
        assert_eq!(
            ok("https://portal.example:8443"),
            "https://portal.example:8443"
        );
        assert_eq!(
            ok("https://xn--bcher-kva.example"),
            "https://xn--bcher-kva.example"
        );
        assert_eq!(ok("https://10.1.2.3:9000"), "https://10.1.2.3:9000");
        assert_eq!(ok("http://127.0.0.1:8081"), "http://127.0.0.1:8081");
        assert_eq!(ok("http://localhost:80"), "http://localhost");
    }

    #[test]
    fn plain_http_beyond_loopback_only_on_the_demo_route() {
        assert!(matches!(
            EmbedOrigin::parse("http://vm:8080"),
            Err(OriginError::Insecure(_))
        ));
        assert_eq!(
            EmbedOrigin::parse_allowing_plain_http("http://vm:8080")
                .unwrap()
                .as_str(),
            "http://vm:8080"
        );
        // Everything else is still checked.
        assert!(EmbedOrigin::parse_allowing_plain_http("http://*.vm").is_err());
        assert!(EmbedOrigin::parse_allowing_plain_http("http://vm/path").is_err());
    }

    #[test]
    fn refuses_anything_but_scheme_host_port() {
        use OriginError as E;
        let err = |s: &str| EmbedOrigin::parse(s).unwrap_err();
        assert_eq!(err("portal.example"), E::Scheme("portal.example".into()));
        assert!(matches!(err("ftp://portal.example"), E::Scheme(_)));
        assert!(matches!(err("javascript://portal.example"), E::Scheme(_)));
        assert!(matches!(err("http://portal.example"), E::Insecure(_)));
        assert!(matches!(err("http://10.0.0.1"), E::Insecure(_)));
        assert!(matches!(err("https://*.portal.example"), E::Wildcard(_)));
        assert!(matches!(err("*"), E::Wildcard(_)));
        assert!(matches!(err("https://portal.example/docs"), E::Path(_)));
        assert!(matches!(err("https://portal.example//"), E::Path(_)));
        assert!(matches!(err("https://portal.example?x"), E::Path(_)));
        assert!(matches!(err("https://portal.example#x"), E::Path(_)));
        assert!(matches!(err("https://a@portal.example"), E::UserInfo(_)));
        assert!(matches!(err("https://portal.example:0"), E::Port(_)));
        assert!(matches!(err("https://portal.example:65536"), E::Port(_)));
        assert!(matches!(err("https://portal.example:"), E::Port(_)));
        assert!(matches!(err("https://portal.example:+80"), E::Port(_)));
        assert!(matches!(err("https://[::1]:8080"), E::Port(_) | E::Host(_)));
        assert!(matches!(err("https://"), E::Host(_)));
        assert!(matches!(err("https://bücher.example"), E::Host(_)));
        assert!(matches!(err("https://-portal.example"), E::Host(_)));
        assert!(matches!(err("https://portal..example"), E::Host(_)));
        assert!(matches!(err("https://1.2.3"), E::Host(_)));
        // Characters that would break out of a CSP source list or an HTML attribute.
        for s in [
            "https://portal.example;script-src *",
            "https://portal.example 'unsafe-inline'",
            "https://portal.example\"><script>",
            "https://portal.example\n",
            "https://portal.example,https://evil.example",
        ] {
            assert!(EmbedOrigin::parse(s).is_err(), "{s:?} accepted");
        }
    }
}
