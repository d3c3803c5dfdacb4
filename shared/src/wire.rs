//! The viewer API's JSON messages: the one definition the server writes and the viewer reads
//! (`docs/licence.md#wire` shows each as an example, and a test parses every example there).
//!
//! Only types and serde derives: no I/O, so the wasm viewer and the server share them. Binary
//! fields travel as hex (keys, nonces) or base64 (the licence, the watermark tile), as the
//! field docs say; integers are unsigned (unix seconds, byte lengths).
//!
//! An error answer is an [`ErrorBody`]: its [`ErrorCode`] says what went wrong in a form a
//! program switches on; its message is for people and may change wording at any time.
//!
//! ```
//! use veilmark_shared::wire::{ErrorBody, ErrorCode};
//! let body: ErrorBody = serde_json::from_str(
//!     r#"{"error":"gone","code":"link_revoked","message":"this link was revoked"}"#,
//! ).unwrap();
//! assert_eq!(body.code, ErrorCode::LinkRevoked);
//! assert_eq!(body.code.status(), 410);
//! ```

use serde::{Deserialize, Serialize};

/// Body of `POST /api/v/{token}/licence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRequest {
    /// The viewer's ephemeral X25519 public key, 64 hex digits.
    pub viewer_key: String,
    /// 16 to 32 random bytes in hex, fresh per request (replays are refused).
    pub nonce: String,
    /// The viewer's clock, unix seconds (refused when far from the server's).
    pub timestamp: u64,
    /// The link's passcode, only when the link has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
    /// The recipient accepted these terms: [`terms_digest`] of the text a
    /// [`ErrorCode::TermsRequired`] answer showed, 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_terms: Option<String>,
}

/// The SHA-256 of a terms text (its UTF-8 bytes): what a viewer sends to accept it and what
/// the audit log records.
#[must_use]
pub fn terms_digest(text: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).into()
}

/// A [`LicenceRequest`] whose fields are well formed: what the server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedLicenceRequest {
    /// The viewer's X25519 public key.
    pub viewer_key: [u8; 32],
    /// 16 to 32 bytes.
    pub nonce: Vec<u8>,
    /// Unix seconds (fits an `i64`).
    pub timestamp: i64,
    /// The passcode, if one was sent.
    pub passcode: Option<String>,
    /// The digest of the terms the recipient accepted, if any.
    pub accept_terms: Option<[u8; 32]>,
}

/// Why a licence request's fields were refused (each is a 400 for the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceRequestError {
    /// `viewer_key` is not 64 hex digits.
    #[error("viewer_key must be 32 bytes in hexadecimal")]
    ViewerKey,
    /// `nonce` is not 16 to 32 bytes in hex.
    #[error("nonce must be 16 to 32 bytes in hex")]
    Nonce,
    /// `timestamp` does not fit unix seconds.
    #[error("timestamp must be unix seconds")]
    Timestamp,
    /// `accept_terms` is not 64 hex digits.
    #[error("accept_terms must be the SHA-256 of the terms in hexadecimal")]
    AcceptTerms,
}

impl LicenceRequest {
    /// Checks the fields' shapes (not the nonce's freshness or the clock: the server does).
    pub fn check(&self) -> Result<CheckedLicenceRequest, LicenceRequestError> {
        let viewer_key = decode_hex(&self.viewer_key)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or(LicenceRequestError::ViewerKey)?;
        let nonce = decode_hex(&self.nonce)
            .filter(|n| (16..=32).contains(&n.len()))
            .ok_or(LicenceRequestError::Nonce)?;
        let timestamp =
            i64::try_from(self.timestamp).map_err(|_| LicenceRequestError::Timestamp)?;
        let accept_terms = match &self.accept_terms {
            None => None,
            Some(t) => Some(
                decode_hex(t)
                    .and_then(|d| <[u8; 32]>::try_from(d).ok())
                    .ok_or(LicenceRequestError::AcceptTerms)?,
            ),
        };
        Ok(CheckedLicenceRequest {
            viewer_key,
            nonce,
            timestamp,
            passcode: self.passcode.clone(),
            accept_terms,
        })
    }
}

/// Lower- or upper-case hex; `None` for anything else (odd length, other characters).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// The answer to a licence request, and to a renewal
/// (`POST /api/v/{token}/sessions/{id}/renew`), which carries no watermark tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceResponse {
    /// The signed licence (`docs/licence.md#layout`), base64.
    pub licence: String,
    /// Session id, 32 hex digits.
    pub session_id: String,
    /// Lease expiry, unix seconds (also inside the signed licence, which is what counts).
    pub lease_expires_at: u64,
    /// Length of a lease in seconds; renew well before it ends.
    pub lease_secs: u64,
    /// The server's Ed25519 key (hex) as the server claims it. Viewers pin the key from
    /// `GET /api/server-key` and refuse an answer that names another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
    /// What is being opened.
    pub document: DocumentInfo,
    /// The session's URLs, relative to the origin.
    pub urls: SessionUrls,
    /// The session's forensic watermark tile (`docs/watermark.md#session-tile`), base64; sent
    /// with the first licence only, so the viewer marks every frame without the watermark key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_tile: Option<String>,
}

/// Document facts sent beside the licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    /// Document id, 32 hex digits.
    pub id: String,
    /// Title chosen by the owner.
    pub title: String,
    /// Media type of the plaintext (`application/pdf`, `model/step`, …).
    pub media_type: String,
    /// Plaintext length in bytes.
    pub plaintext_len: u64,
    /// Envelope length in bytes.
    pub envelope_len: u64,
    /// The document's classification level: the viewer shows it as a banner on every page
    /// and frame, and draws the visible watermark at its density. Absent from servers that
    /// predate levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
}

/// A document's classification as the viewer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The level's name (`Restricted`), at most 32 characters.
    pub level: String,
    /// Its rank in the organisation, 0 the lowest (the banner's colour).
    pub rank: u8,
    /// The visible watermark's density: `light`, `standard` or `dense`.
    pub watermark: String,
}

/// The session's URLs, relative to the origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUrls {
    /// Ranged envelope download (`GET`, `Range: bytes=a-b`).
    pub envelope: String,
    /// Lease renewal (`POST`, no body; answers a [`LicenceResponse`]).
    pub renew: String,
    /// Server-sent events: `revoked` ([`RevokedEvent`]) or `closed` ([`ClosedEvent`]).
    pub events: String,
    /// Page-view reports (`POST` a [`Report`]).
    pub report: String,
}

/// `GET /api/server-key`: the key licences are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerKeyResponse {
    /// Ed25519 public key, 64 hex digits.
    pub ed25519: String,
}

/// Body of `POST /api/v/{token}/sessions/{id}/report`: the viewer shows a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Page (or view) number shown, from 1.
    pub page: u32,
}

/// Data of the `revoked` server-sent event: the link was revoked (or has expired); the viewer
/// wipes the key and the pixels. The stream ends after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedEvent {
    /// Why, for people.
    pub reason: String,
}

/// Data of the `closed` server-sent event: the server is shutting down; reconnect later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedEvent {}

/// Data of the `expired` server-sent event: the session's lease ran out without a renewal, or
/// the link reached its expiry; the viewer wipes the key and the pixels. The stream ends after
/// it (an event stream never outlives what it reports on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredEvent {
    /// What ran out.
    pub what: ExpiredWhat,
    /// Why, for people.
    pub reason: String,
}

/// What an [`ExpiredEvent`] reports as run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpiredWhat {
    /// The session's lease (not renewed in time).
    Lease,
    /// The link itself.
    Link,
}

/// Name of the server-sent event that carries a [`RevokedEvent`].
pub const EVENT_REVOKED: &str = "revoked";
/// Name of the server-sent event that carries an [`ExpiredEvent`].
pub const EVENT_EXPIRED: &str = "expired";
/// Name of the server-sent event that carries a [`ClosedEvent`].
pub const EVENT_CLOSED: &str = "closed";

/// Every error answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The coarse class of older clients (`gone`, `passcode-required`, …); kept for
    /// compatibility, [`ErrorBody::code`] is the precise one.
    pub error: String,
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong and what to do, for people (safe to show; wording may change).
    pub message: String,
}

/// What went wrong, for programs to switch on. Each code has one HTTP status
/// ([`ErrorCode::status`]). Codes this version does not know read as [`ErrorCode::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the request is malformed; the message says how.
    BadRequest,
    /// 400: the request's timestamp is too far from the server's clock (check the device's time).
    StaleTimestamp,
    /// 401: owner credentials are missing or wrong.
    Unauthorized,
    /// 401: the link needs a passcode and none was sent: ask for it.
    PasscodeRequired,
    /// 401: the passcode was wrong; the message says how many attempts are left.
    PasscodeWrong,
    /// 401: the recipient must accept terms (a non-disclosure text) before the first view;
    /// the message is the text itself, to show and accept ([`terms_digest`]).
    TermsRequired,
    /// 423: too many wrong passcodes; the link is locked for a while.
    Locked,
    /// 403: understood and refused.
    Forbidden,
    /// 403: the link's views are all used.
    ViewLimitReached,
    /// 404: no such link, session or document (also for wrong link tokens).
    NotFound,
    /// 409: this licence request (its nonce) was already used.
    Replayed,
    /// 409: the request conflicts with the current state (an access review is already open, a
    /// link in it was already decided, the review is closed).
    Conflict,
    /// 410: the owner revoked the link.
    LinkRevoked,
    /// 410: the link has expired.
    LinkExpired,
    /// 410: the session's lease is over; open the link again.
    LeaseExpired,
    /// 413: the body is larger than allowed.
    PayloadTooLarge,
    /// 416: the byte range is outside the envelope.
    RangeNotSatisfiable,
    /// 429: slow down (`Retry-After` says how long).
    RateLimited,
    /// 500: the server failed; the message carries an incident id.
    Internal,
    /// A code this version does not know (a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status the server answers this code with.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::StaleTimestamp => 400,
            Self::Unauthorized
            | Self::PasscodeRequired
            | Self::PasscodeWrong
            | Self::TermsRequired => 401,
            Self::Forbidden | Self::ViewLimitReached => 403,
            Self::NotFound => 404,
            Self::Replayed | Self::Conflict => 409,
            Self::LinkRevoked | Self::LinkExpired | Self::LeaseExpired => 410,
            Self::PayloadTooLarge => 413,
            Self::RangeNotSatisfiable => 416,
            Self::Locked => 423,
            Self::RateLimited => 429,
            Self::Internal | Self::Unknown => 500,
        }
    }

    /// The coarse class older clients read in [`ErrorBody::error`].
    #[must_use]
    pub fn class(self) -> &'static str {
        match self {
            Self::BadRequest | Self::StaleTimestamp => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::PasscodeRequired => "passcode-required",
            Self::PasscodeWrong => "wrong-passcode",
            Self::TermsRequired => "terms-required",
            Self::Forbidden | Self::ViewLimitReached => "forbidden",
            Self::NotFound => "not-found",
            Self::Replayed => "replayed",
            Self::Conflict => "conflict",
            Self::LinkRevoked | Self::LinkExpired | Self::LeaseExpired => "gone",
            Self::PayloadTooLarge => "too-large",
            Self::RangeNotSatisfiable => "bad-range",
            Self::Locked => "locked",
            Self::RateLimited => "rate-limited",
            Self::Internal | Self::Unknown => "internal",
        }
    }

    /// The best code for a bare HTTP status (an answer without an [`ErrorBody`], e.g. from a
    /// proxy).
    #[must_use]
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 => Self::PasscodeRequired,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            409 => Self::Replayed,
            410 => Self::LinkRevoked,
            413 => Self::PayloadTooLarge,
            416 => Self::RangeNotSatisfiable,
            423 => Self::Locked,
            429 => Self::RateLimited,
            _ => Self::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_unknown_codes_read_as_unknown() {
        assert_eq!(
            serde_json::to_string(&ErrorCode::ViewLimitReached).unwrap(),
            "\"view_limit_reached\""
        );
        let code: ErrorCode = serde_json::from_str("\"brand_new\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
    }

    #[test]
    fn request_refuses_unknown_fields_and_omits_no_passcode() {
        let req = LicenceRequest {
            viewer_key: "ab".into(),
            nonce: "cd".into(),
            timestamp: 1,
            passcode: None,
            accept_terms: None,
        };
        let json = serde_json::to_string(&req).unwrap();
        assert!(
            !json.contains("passcode") && !json.contains("accept_terms"),
            "{json}"
        );
        let bad = LicenceRequest {
            viewer_key: "11".repeat(32),
            nonce: "22".repeat(16),
            timestamp: 1,
            passcode: None,
            accept_terms: Some("zz".into()),
        };
        assert_eq!(bad.check(), Err(LicenceRequestError::AcceptTerms));
        let good = LicenceRequest {
            accept_terms: Some(hex::encode(terms_digest("NDA"))),
            ..bad
        };
        assert_eq!(
            good.check().unwrap().accept_terms,
            Some(terms_digest("NDA"))
        );
        assert_eq!(ErrorCode::TermsRequired.status(), 401);
        assert!(
            serde_json::from_str::<LicenceRequest>(
                r#"{"viewer_key":"a","nonce":"b","timestamp":1,"extra":1}"#
            )
            .is_err()
        );
    }
}
