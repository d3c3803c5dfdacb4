//! Unusual access: alerts raised when a link is opened in a way its owner should hear about,
//! and the webhooks they are delivered to (`docs/server.md#alerts`).
//!
//! Records and pure rules with no I/O. The server decides when something is unusual (a new
//! network for the recipient, many sessions at once, a lock after wrong passcodes, an attempt
//! while the supplier is suspended) and raises the alert through the store, which records it
//! and queues one delivery per webhook of the organisation in the same transaction; the
//! server's delivery task claims due deliveries, signs and sends them, and records the outcome
//! with the next attempt's time ([`retry_after`]).

use std::fmt;
use std::net::IpAddr;

/// What was unusual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// Opened from a network (IPv4 /24, IPv6 /48) the recipient had not used.
    NewNetwork,
    /// Several viewing sessions of one link open at once.
    ManySessions,
    /// The link locked after repeated wrong passcodes.
    WrongPasscodes,
    /// An attempt to open while the recipient's supplier is suspended.
    AfterSuspension,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [
        Self::NewNetwork,
        Self::ManySessions,
        Self::WrongPasscodes,
        Self::AfterSuspension,
    ];

    /// The stored and sent name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewNetwork => "new-network",
            Self::ManySessions => "many-sessions",
            Self::WrongPasscodes => "wrong-passcodes",
            Self::AfterSuspension => "after-suspension",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// For people: what happened.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::NewNetwork => "opened from a new network",
            Self::ManySessions => "open in many sessions at once",
            Self::WrongPasscodes => "locked after wrong passcodes",
            Self::AfterSuspension => "opened while the supplier is suspended",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertRecord {
    /// Public id (`alr_` and 16 hex digits).
    pub id: String,
    /// Its organisation.
    #[serde(skip)]
    pub org: crate::OrgId,
    /// What was unusual.
    pub kind: AlertKind,
    /// The link.
    pub link_id: String,
    /// Its recipient.
    pub recipient: String,
    /// For people: the numbers behind it.
    pub detail: String,
    /// The client address, when there was a request.
    pub ip: Option<String>,
    /// When, unix seconds.
    pub created_at: i64,
    /// When an owner acknowledged it.
    pub acknowledged_at: Option<i64>,
    /// Who.
    pub acknowledged_by: Option<String>,
}

/// A webhook of an organisation (its secret stays in the store, wrapped).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookRecord {
    /// Public id (`whk_` and 16 hex digits).
    pub id: String,
    /// Its organisation.
    #[serde(skip)]
    pub org: crate::OrgId,
    /// Where alerts are POSTed.
    pub url: String,
    /// The signing secret, wrapped under the server's wrap key.
    #[serde(skip)]
    pub secret_wrapped: Vec<u8>,
    /// When it was added, unix seconds.
    pub created_at: i64,
    /// By whom.
    pub created_by: String,
}

/// A delivery the caller claimed and must now attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The alert.
    pub alert: AlertRecord,
    /// The webhook.
    pub webhook: WebhookRecord,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// One webhook's delivery of one alert, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryStatus {
    /// The alert.
    pub alert_id: String,
    /// The webhook.
    pub webhook_id: String,
    /// Attempts made.
    pub attempts: i64,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
    /// When the next attempt is due (`None`: delivered or given up).
    pub next_attempt_at: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// Seconds to wait after failed attempt number `attempts` (1-based) before the next, with
/// `base` the first wait: doubling, at most six hours; `None` once [`MAX_ATTEMPTS`] were made.
#[must_use]
pub fn retry_after(attempts: i64, base: i64) -> Option<i64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doublings = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(30);
    Some(base.max(1).saturating_mul(1_i64 << doublings).min(6 * 3600))
}

/// The network an address belongs to, as alerts compare them: an IPv4 /24 or an IPv6 /48 (an
/// IPv4-mapped IPv6 address counts as its IPv4 address).
#[must_use]
pub fn network_of(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            format!("{net}/48")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_v4_slash_24_and_v6_slash_48() {
        let n = |s: &str| network_of(s.parse().unwrap());
        assert_eq!(n("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(n("203.0.113.1"), n("203.0.113.254"));
        assert_ne!(n("203.0.113.1"), n("203.0.114.1"));
        assert_eq!(n("2001:db8:1:2::5"), "2001:db8:1::/48");
        assert_eq!(n("2001:db8:1:ffff::1"), n("2001:db8:1::9"));
        assert_ne!(n("2001:db8:1::1"), n("2001:db8:2::1"));
        assert_eq!(n("::ffff:203.0.113.9"), "203.0.113.0/24");
    }

    #[test]
    fn retries_double_to_six_hours_and_stop() {
        assert_eq!(retry_after(1, 10), Some(10));
        assert_eq!(retry_after(2, 10), Some(20));
        assert_eq!(retry_after(7, 10), Some(640));
        assert_eq!(retry_after(7, 3600), Some(6 * 3600));
        assert_eq!(retry_after(MAX_ATTEMPTS, 10), None);
    }

    #[test]
    fn kinds_round_trip() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AlertKind::parse("other"), None);
    }
}
