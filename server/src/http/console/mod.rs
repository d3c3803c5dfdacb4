//! The owner console in the browser: server-rendered pages over the same service as the JSON
//! API (`docs/console.md`).
//!
//! Pages are askama templates under `server/templates/`, checked at compile time and escaped by
//! default (see [`html`] for why askama, and `docs/console.md`). One external stylesheet and one external script (embedded from
//! `www/console/`, so the console works without a `www` folder) keep the strict CSP intact.
//! Form posts carry a per-session CSRF token (derived from the session cookie, so nothing more
//! is stored) on top of the `SameSite=Strict` cookie.

pub mod html;
mod owner_pages;
pub mod review;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::owner::COOKIE;
use crate::service::ClientMeta;
use crate::store::{CredentialKind, Owner};
use crate::{AppError, AppState, now_secs, secrets};
use askama::Template;
use html::{Frame, Tab};

const CSS: &str = include_str!("../../../../www/console/console.css");
const JS: &str = include_str!("../../../../www/console/console.js");

/// The console's routes (merged into [`super::app`]).
pub fn routes(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/documents") }),
        )
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/documents") }),
        )
        .route("/console/static/console.css", get(css))
        .route("/console/static/console.js", get(js))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/documents", get(owner_pages::documents))
        .route(
            "/console/links",
            get(owner_pages::links).post(owner_pages::create_link),
        )
        .route("/console/links/{id}/revoke", post(owner_pages::revoke))
        .route("/console/audit", get(owner_pages::audit))
        .route("/console/audit/export", get(owner_pages::audit_export))
        .route("/console/review", get(review::page).post(review::act))
        .route("/console/review/image/{id}/{which}", get(review::image))
        .route("/console/review/bundle", get(review::bundle))
        .route(
            "/console/documents/upload",
            post(owner_pages::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JS,
    )
        .into_response()
}

/// A logged-in owner with the session's CSRF token.
pub struct Session {
    /// The owner.
    pub owner: Owner,
    /// The CSRF token forms must carry.
    pub csrf: String,
}

impl Session {
    /// `(email, csrf)` for the page frame.
    #[must_use]
    pub fn who(&self) -> Option<(&str, &str)> {
        Some((&self.owner.email, &self.csrf))
    }
}

/// The CSRF token of a session: a keyed digest of the (secret, HttpOnly) cookie value.
fn csrf_for(cookie: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"veilmark/console-csrf/v1\0");
    h.update(cookie.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The session behind the request's cookie, if it is live.
pub async fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, AppError> {
    let Some(cookie) = cookie_value(headers) else {
        return Ok(None);
    };
    let owner = state
        .store
        .owner_by_credential(
            &secrets::owner_secret_hash(&cookie),
            CredentialKind::Cookie,
            now_secs(),
        )
        .await?;
    Ok(owner.map(|owner| Session {
        owner,
        csrf: csrf_for(&cookie),
    }))
}

/// For pages: the session, or a redirect to the login page.
pub async fn require(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    match session(state, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Redirect::to("/console/login").into_response()),
        Err(e) => Err(e.into_response()),
    }
}

/// For posts: the session, and the request's CSRF token must match it.
pub async fn require_post(
    state: &AppState,
    headers: &HeaderMap,
    form_token: Option<&str>,
) -> Result<Session, Response> {
    let s = match session(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(AppError::Unauthorized("log in first".into()).into_response());
        }
        Err(e) => return Err(e.into_response()),
    };
    let sent = form_token
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes())) {
        Ok(s)
    } else {
        Err(AppError::Forbidden(
            "the form's CSRF token is missing or stale; reload the page".into(),
        )
        .into_response())
    }
}

/// A form body as ordered key/value pairs (repeated keys kept, for checkboxes).
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded`.
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        serde_urlencoded::from_bytes(body)
            .map(Self)
            .map_err(|e| AppError::BadRequest(format!("malformed form: {e}")))
    }

    /// First value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All values of `key`.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    frame: Frame<'a>,
    error: Option<&'a str>,
}

fn login_form(error: Option<&str>) -> Result<Html<String>, AppError> {
    html::render(&LoginPage {
        frame: Frame::new("Sign in", Tab::None, None),
        error,
    })
    .map(Html)
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = session(&state, &headers).await {
        return Redirect::to("/console/documents").into_response();
    }
    login_form(None).into_response()
}

/// `POST /console/login`: e-mail and password from the form; sets the session cookie.
async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // Login CSRF: browsers say where a request comes from; refuse cross-site posts.
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(AppError::Forbidden("cross-site login refused".into()));
    }
    let form = Form::parse(&body)?;
    let email = form.get("email").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    state
        .login_limiter
        .check(&meta.ip.clone().unwrap_or_default())
        .map_err(AppError::TooManyRequests)?;
    let Some((cookie, _owner)) = state.login(email, password, &meta).await? else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            login_form(Some("Wrong e-mail or password."))?,
        )
            .into_response());
    };
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        12 * 3600
    );
    let mut resp = Redirect::to("/console/documents").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&value)?);
    Ok(resp)
}

/// `POST /console/logout`.
async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if let Err(r) = require_post(&state, &headers, form.get("csrf")).await {
        return r;
    }
    if let Some(cookie) = cookie_value(&headers) {
        let _ = state
            .store
            .delete_credential(&secrets::owner_secret_hash(&cookie))
            .await;
    }
    let mut resp = Redirect::to("/console/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vm_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    resp
}
