//! `AppError`: the one error type handlers return, turned into a JSON answer with a status code
//! and a message a client can act on. Internal failures are logged with an incident id and the
//! client sees only that id: no stack traces, paths or SQL.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use veilmark_shared::wire::{ErrorBody, ErrorCode};

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
    /// A refusal with its precise wire code (the status follows from the code): link revoked or
    /// expired, lease over, view limit reached, stale timestamp.
    Refused(ErrorCode, String),
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
    /// The machine-readable code of the JSON body (`veilmark_shared::wire::ErrorCode`, which
    /// also fixes the status).
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::PasscodeRequired => ErrorCode::PasscodeRequired,
            Self::WrongPasscode(_) => ErrorCode::PasscodeWrong,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Replayed,
            Self::Refused(code, _) => *code,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::RangeNotSatisfiable(_) => ErrorCode::RangeNotSatisfiable,
            Self::Locked(_) => ErrorCode::Locked,
            Self::TooManyRequests(_) => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match &self {
            Self::BadRequest(m)
            | Self::Unauthorized(m)
            | Self::WrongPasscode(m)
            | Self::Forbidden(m)
            | Self::Conflict(m)
            | Self::Refused(_, m)
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
            Json(ErrorBody {
                error: code.class().to_owned(),
                code,
                message,
            }),
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
