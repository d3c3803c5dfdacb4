//! Who is calling, and may they: the one place the owner API and the consoles authenticate a
//! request and check its role.
//!
//! - [`Caller`]: the account behind an `Authorization: Bearer` API token or the console's
//!   session cookie (with the idle timeout), for the JSON API. `caller.may(permission)?`
//!   answers 403 when the role does not allow it.
//! - [`cross_site_guard`]: refuses state-changing requests to `/console/` and `/api/owner/`
//!   that a browser says come from another site (`Sec-Fetch-Site`) or another origin
//!   (`Origin`), unless they carry an API token, which no browser sends on its own. The console's
//!   per-session CSRF token is checked on top of this by each form handler.
//!
//! Scoping is the store's job: every query takes the caller's organisation, so what another
//! organisation owns is simply not found (404).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use veilmark_store::Permission;
use veilmark_store::meta::{CredentialCheck, CredentialKind};
use veilmark_store::tenancy::Account;

use crate::service::Actor;
use crate::{AppError, AppState, now_secs, secrets};

/// Name of the browser session cookie.
pub const COOKIE: &str = "vm_session";

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer` API token.
    ApiToken,
    /// The console's session cookie.
    Cookie,
}

/// An authenticated account, from an API token or the session cookie.
pub struct Caller {
    /// The account.
    pub account: Account,
    /// How it authenticated.
    pub via: Via,
}

impl Caller {
    /// `Ok` if the caller's role allows `p`, else 403 naming the role.
    pub fn may(&self, p: Permission) -> Result<(), AppError> {
        if self.account.may(p) {
            Ok(())
        } else {
            Err(forbidden(&self.account))
        }
    }

    /// The caller as the actor of an operation.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor::account(&self.account)
    }
}

/// The 403 for an account whose role does not allow something.
#[must_use]
pub fn forbidden(account: &Account) -> AppError {
    AppError::Forbidden(format!(
        "the {} role cannot do this; ask an admin of {}",
        account.role, account.org_name
    ))
}

/// The session cookie's value, if the request has one.
#[must_use]
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

/// The live console session behind a cookie value: the account, if the session has neither
/// ended, run past its absolute lifetime, nor been idle too long.
pub async fn session_account(state: &AppState, cookie: &str) -> Result<Option<Account>, AppError> {
    Ok(state
        .store
        .account_by_credential(
            &secrets::owner_secret_hash(cookie),
            CredentialCheck {
                kind: CredentialKind::Cookie,
                now: now_secs(),
                idle_secs: Some(state.config.limits.console_idle_secs),
            },
        )
        .await?
        .map(|(account, _)| account))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(token) = bearer(&parts.headers) {
            let found = state
                .store
                .account_by_credential(
                    &secrets::owner_secret_hash(&token),
                    CredentialCheck {
                        kind: CredentialKind::ApiToken,
                        now: now_secs(),
                        idle_secs: None,
                    },
                )
                .await?;
            return match found {
                // A token made before the organisation required a second factor stops
                // working until its holder enrols.
                Some((account, _)) if account.org_requires_totp && !account.has_totp() => {
                    Err(AppError::Unauthorized(
                        "the organisation requires a second factor: enrol in the console first"
                            .into(),
                    ))
                }
                Some((account, _)) => Ok(Self {
                    account,
                    via: Via::ApiToken,
                }),
                None => Err(AppError::Unauthorized(
                    "the API token is not valid (expired or revoked?)".into(),
                )),
            };
        }
        let Some(cookie) = cookie_value(&parts.headers) else {
            return Err(AppError::Unauthorized("log in or send an API token".into()));
        };
        match session_account(state, &cookie).await? {
            Some(account) if account.org_requires_totp && !account.has_totp() => Err(
                AppError::Unauthorized("enrol a second factor in the console first".into()),
            ),
            Some(account) => Ok(Self {
                account,
                via: Via::Cookie,
            }),
            None => Err(AppError::Unauthorized(
                "the session ended; log in again".into(),
            )),
        }
    }
}

/// Whether a request to `path` with `method` changes state on behalf of a logged-in browser.
fn guarded(method: &Method, path: &str) -> bool {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    !safe && (path.starts_with("/console") || path.starts_with("/api/owner/"))
}

/// Refuses cross-site state changes to the consoles and the owner API (login CSRF included).
///
/// Browsers send `Sec-Fetch-Site` on every request, and `Origin` on every POST; a form or
/// `fetch` from another site says `cross-site` (or `same-site` from a sibling subdomain) and
/// carries that site's origin (or `null`). Either is refused. Requests with neither header (command-line
/// clients) and requests with an API token (which a browser never attaches by itself) pass;
/// the console's forms also carry a per-session CSRF token, checked by each handler.
pub async fn cross_site_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if guarded(req.method(), req.uri().path()) && bearer(req.headers()).is_none() {
        let h = req.headers();
        let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if let Some(site) = fetch_site
            && site != "same-origin"
            && site != "none"
        {
            return AppError::Forbidden(format!("cross-site request refused ({site})"))
                .into_response();
        }
        // With `Referrer-Policy: no-referrer` (ours) browsers send `Origin: null` even on
        // same-origin form posts, so a null origin is judged by `Sec-Fetch-Site` when the
        // browser sends it, and refused when it does not.
        let origin = h.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("null"));
        if let Some(origin) = origin.filter(|o| *o != "null" || fetch_site.is_none()) {
            let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
            if !same_origin(origin, host, &state.config.public_url) {
                return AppError::Forbidden(
                    "cross-origin request refused: the Origin is not this server".into(),
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

/// Whether `origin` is this server: its `Host` over either scheme, or the public URL.
fn same_origin(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    if origin == public_url.trim_end_matches('/') {
        return true;
    }
    let Some(host) = host else { return false };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(same_origin(
            "http://127.0.0.1:8080",
            Some("127.0.0.1:8080"),
            "x"
        ));
        assert!(same_origin(
            "https://share.brand.example",
            None,
            "https://share.brand.example/"
        ));
        assert!(!same_origin(
            "http://evil.example",
            Some("127.0.0.1:8080"),
            "x"
        ));
        assert!(!same_origin("null", Some("127.0.0.1:8080"), "x"));
        assert!(!same_origin(
            "http://127.0.0.1:8080.evil.example",
            Some("127.0.0.1:8080"),
            "x"
        ));
        assert!(guarded(&Method::POST, "/console/links"));
        assert!(guarded(&Method::POST, "/api/owner/login"));
        assert!(!guarded(&Method::GET, "/console/links"));
        assert!(!guarded(&Method::POST, "/api/v/x/licence"));
    }
}
