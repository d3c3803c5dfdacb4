//! `AppError`: the one error type handlers return, turned into a JSON answer with a status code
//! and a message a client can act on. Internal failures are logged with an incident id and the
//! client sees only that id: no stack traces, paths or SQL.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A request failure, mapped to an HTTP status.
#[derive(Debug)]
pub enum AppError {
    /// 400: the request is malformed; the message says how.
    BadRequest(String),
    /// 401: credentials or a passcode are missing or wrong.
    Unauthorized(String),
    /// 401: the link needs a passcode and none was sent (the viewer should ask for it).
    PasscodeRequired,
    /// 401: the passcode was wrong; the message says how many attempts are left.
    WrongPasscode(String),
    /// 403: understood and refused (e.g. view limit reached).
    Forbidden(String),
    /// 404: no such link, document or session (also for wrong link tokens).
    NotFound(&'static str),
    /// 409: a replayed request.
    Conflict(String),
    /// 410: the link was revoked or expired, or the lease is over.
    Gone(String),
    /// 413: the body is larger than allowed.
    PayloadTooLarge(String),
    /// 416: the requested byte range is outside the envelope.
    RangeNotSatisfiable(u64),
    /// 423: the link is locked after too many wrong passcodes.
    Locked(String),
    /// 429: slow down; retry after this many seconds.
    TooManyRequests(u64),
    /// 500: something failed on our side; logged, never shown.
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for AppError {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

impl AppError {
    /// Stable machine-readable code for the JSON body.
    fn code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::PasscodeRequired => (StatusCode::UNAUTHORIZED, "passcode-required"),
            Self::WrongPasscode(_) => (StatusCode::UNAUTHORIZED, "wrong-passcode"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "replayed"),
            Self::Gone(_) => (StatusCode::GONE, "gone"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            Self::RangeNotSatisfiable(_) => (StatusCode::RANGE_NOT_SATISFIABLE, "bad-range"),
            Self::Locked(_) => (StatusCode::LOCKED, "locked"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.code();
        let message = match &self {
            Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::WrongPasscode(m)
            | Self::Forbidden(m)
            | Self::Conflict(m)
            | Self::Gone(m)
            | Self::PayloadTooLarge(m)
            | Self::Locked(m) => m.clone(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::PasscodeRequired => "this link needs a passcode".into(),
            Self::RangeNotSatisfiable(len) => format!("range outside the envelope ({len} bytes)"),
            Self::TooManyRequests(s) => format!("too many requests; retry in {s} s"),
            Self::Internal(err) => {
                let incident = hex::encode(crate::secrets::random::<6>().unwrap_or_default());
                tracing::error!(incident, "internal error: {err:#}");
                format!("internal error (incident {incident})")
            }
        };
        let mut resp = (
            status,
            Json(serde_json::json!({ "error": code, "message": message })),
        )
            .into_response();
        match self {
            Self::TooManyRequests(s) => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            Self::RangeNotSatisfiable(len) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        resp
    }
}
