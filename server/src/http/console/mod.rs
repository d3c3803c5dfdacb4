//! The owner console in the browser: server-rendered pages over the same service as the JSON
//! API (`docs/console.md`).
//!
//! Pages are askama templates under `server/templates/`, checked at compile time and escaped by
//! default (see [`html`] for why askama, and `docs/console.md`). One external stylesheet and one external script (embedded from
//! `www/console/`, so the console works without a `www` folder) keep the strict CSP intact.
//! Form posts carry a per-session CSRF token (derived from the session cookie, so nothing more
//! is stored) on top of the `SameSite=Strict` cookie.

mod account;
mod alerts;
pub mod html;
mod members;
mod owner_pages;
pub mod review;
mod reviews;
mod sign_in;
mod suppliers;

pub use suppliers::report_response as supplier_report_response;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::auth::{self, cookie_value};
use super::routes::{Access, Route, member};
use crate::service::Actor;
use crate::{AppError, AppState};
use axum::http::Method;
use html::Who;
use veilmark_store::Permission;
use veilmark_store::tenancy::Account;

const CSS: &str = include_str!("../../../../www/console/console.css");
const JS: &str = include_str!("../../../../www/console/console.js");

/// The console's routes, with who may call each (merged into [`super::route_table`]).
#[must_use]
pub fn route_table(upload_limit: usize) -> Vec<Route> {
    use Access::{Member, Public, SignInStep};
    use Method as M;
    use Permission as P;
    vec![
        Route::new(M::GET, "/console", Member(None), get(home)),
        Route::new(M::GET, "/console/", Member(None), get(home)),
        Route::new(M::GET, "/console/static/console.css", Public, get(css)),
        Route::new(M::GET, "/console/static/console.js", Public, get(js)),
        Route::new(M::GET, "/console/login", Public, get(sign_in::page)),
        Route::new(M::POST, "/console/login", Public, post(sign_in::login)),
        Route::new(
            M::POST,
            "/console/login/code",
            SignInStep,
            post(sign_in::code),
        ),
        Route::new(
            M::POST,
            "/console/logout",
            Member(None),
            post(sign_in::logout),
        ),
        Route::new(
            M::GET,
            "/console/welcome/{secret}",
            SignInStep,
            get(sign_in::welcome_page),
        ),
        Route::new(
            M::POST,
            "/console/welcome/{secret}",
            SignInStep,
            post(sign_in::welcome),
        ),
        Route::new(
            M::GET,
            "/console/documents",
            member(P::ReadDocuments),
            get(owner_pages::documents),
        ),
        Route::new(
            M::POST,
            "/console/documents/upload",
            member(P::SealDocuments),
            post(owner_pages::upload).layer(DefaultBodyLimit::max(upload_limit)),
        ),
        Route::new(
            M::POST,
            "/console/documents/{id}/level",
            member(P::SealDocuments),
            post(owner_pages::set_level),
        ),
        Route::new(
            M::GET,
            "/console/suppliers",
            member(P::ReadLinks),
            get(suppliers::page_get),
        ),
        Route::new(
            M::POST,
            "/console/suppliers",
            member(P::ManageMembers),
            post(suppliers::set),
        ),
        Route::new(
            M::POST,
            "/console/suppliers/{domain}/offboard",
            member(P::ManageMembers),
            post(suppliers::offboard),
        ),
        Route::new(
            M::GET,
            "/console/suppliers/{domain}/report/{format}",
            member(P::ReadLinks),
            get(suppliers::report),
        ),
        Route::new(
            M::GET,
            "/console/alerts",
            member(P::ReadLinks),
            get(alerts::page_get),
        ),
        Route::new(
            M::POST,
            "/console/alerts/{id}/acknowledge",
            member(P::ManageLinks),
            post(alerts::acknowledge),
        ),
        Route::new(
            M::POST,
            "/console/alerts/webhooks",
            member(P::ManageMembers),
            post(alerts::add_webhook),
        ),
        Route::new(
            M::POST,
            "/console/alerts/webhooks/{id}/remove",
            member(P::ManageMembers),
            post(alerts::remove_webhook),
        ),
        Route::new(
            M::GET,
            "/console/reviews",
            member(P::ReadLinks),
            get(reviews::page_get),
        ),
        Route::new(
            M::POST,
            "/console/reviews",
            member(P::ManageMembers),
            post(reviews::start),
        ),
        Route::new(
            M::POST,
            "/console/reviews/schedule",
            member(P::ManageMembers),
            post(reviews::schedule),
        ),
        Route::new(
            M::POST,
            "/console/reviews/{id}/links/{link}",
            member(P::ManageLinks),
            post(reviews::decide),
        ),
        Route::new(
            M::GET,
            "/console/reviews/{id}/export.csv",
            member(P::ReadLinks),
            get(reviews::export),
        ),
        Route::new(
            M::GET,
            "/console/links",
            member(P::ReadLinks),
            get(owner_pages::links),
        ),
        Route::new(
            M::POST,
            "/console/links",
            member(P::ManageLinks),
            post(owner_pages::create_link),
        ),
        Route::new(
            M::POST,
            "/console/links/{id}/revoke",
            member(P::ManageLinks),
            post(owner_pages::revoke),
        ),
        Route::new(
            M::GET,
            "/console/audit",
            member(P::ReadAudit),
            get(owner_pages::audit),
        ),
        Route::new(
            M::GET,
            "/console/audit/export",
            member(P::ReadAudit),
            get(owner_pages::audit_export),
        ),
        Route::new(
            M::GET,
            "/console/review",
            member(P::ReviewHits),
            get(review::page),
        ),
        Route::new(
            M::POST,
            "/console/review",
            member(P::ReviewHits),
            post(review::act),
        ),
        Route::new(
            M::GET,
            "/console/review/image/{id}/{which}",
            member(P::ReviewHits),
            get(review::image),
        ),
        Route::new(
            M::GET,
            "/console/review/bundle",
            member(P::ReviewHits),
            get(review::bundle),
        ),
        Route::new(M::GET, "/console/account", Member(None), get(account::page)),
        Route::new(
            M::POST,
            "/console/account/password",
            Member(None),
            post(account::password),
        ),
        Route::new(
            M::POST,
            "/console/account/totp",
            Member(None),
            post(account::totp),
        ),
        Route::new(
            M::POST,
            "/console/account/tokens",
            Member(None),
            post(account::create_token),
        ),
        Route::new(
            M::POST,
            "/console/account/tokens/{id}/revoke",
            Member(None),
            post(account::revoke_token),
        ),
        Route::new(
            M::POST,
            "/console/account/sign-out-everywhere",
            Member(None),
            post(account::sign_out_everywhere),
        ),
        Route::new(
            M::GET,
            "/console/members",
            member(P::ManageMembers),
            get(members::page),
        ),
        Route::new(
            M::POST,
            "/console/members",
            member(P::ManageMembers),
            post(members::add),
        ),
        Route::new(
            M::POST,
            "/console/members/settings",
            member(P::ManageMembers),
            post(members::settings),
        ),
        Route::new(
            M::POST,
            "/console/members/{id}/role",
            member(P::ManageMembers),
            post(members::role),
        ),
        Route::new(
            M::POST,
            "/console/members/{id}/remove",
            member(P::ManageMembers),
            post(members::remove),
        ),
        Route::new(
            M::POST,
            "/console/members/{id}/second-factor/remove",
            member(P::ManageMembers),
            post(members::reset_second_factor),
        ),
        Route::new(
            M::POST,
            "/console/members/{id}/sign-out",
            member(P::ManageMembers),
            post(members::sign_out),
        ),
    ]
}

/// `GET /console`: the first page the member's role may use.
async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match require(&state, &headers, None).await {
        Ok(s) if s.must_enrol() => Redirect::to("/console/account").into_response(),
        Ok(s) => {
            let first = html::nav_for(s.account.role)
                .first()
                .map_or("/console/account", |(_, href, _)| *href);
            Redirect::to(first).into_response()
        }
        Err(r) => r,
    }
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

/// A logged-in member with the session's CSRF token.
pub struct Session {
    /// The account.
    pub account: Account,
    /// The CSRF token forms must carry.
    pub csrf: String,
}

impl Session {
    /// The member as the page frame shows them.
    #[must_use]
    pub fn who(&self) -> Option<Who<'_>> {
        Some(Who {
            email: &self.account.email,
            org: &self.account.org_name,
            role: self.account.role,
            csrf: &self.csrf,
        })
    }

    /// The member as the actor of an operation.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor::account(&self.account)
    }

    /// Whether the organisation requires a second factor the member has not enrolled yet:
    /// then only the account page (to enrol) is open to them.
    #[must_use]
    pub fn must_enrol(&self) -> bool {
        self.account.org_requires_totp && !self.account.has_totp()
    }
}

/// The CSRF token of a session: a keyed digest of the (secret, HttpOnly) cookie value.
fn csrf_for(cookie: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"veilmark/console-csrf/v1\0");
    h.update(cookie.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The session behind the request's cookie, if it is live.
pub async fn session(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, AppError> {
    let Some(cookie) = cookie_value(headers) else {
        return Ok(None);
    };
    let account = auth::session_account(state, &cookie).await?;
    Ok(account.map(|account| Session {
        account,
        csrf: csrf_for(&cookie),
    }))
}

/// The 403 page of a console request whose role does not allow it.
fn forbidden_page(s: &Session) -> Response {
    auth::forbidden(&s.account).into_response()
}

/// For pages: the session, or a redirect to the login page; 403 if the member's role may not
/// do `need` (`None`: any member, such as the account page); a member who still has to enrol a
/// second factor is sent to the account page.
pub async fn require(
    state: &AppState,
    headers: &HeaderMap,
    need: Option<Permission>,
) -> Result<Session, Response> {
    let s = match session(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Redirect::to("/console/login").into_response()),
        Err(e) => return Err(e.into_response()),
    };
    if need.is_some() && s.must_enrol() {
        return Err(Redirect::to("/console/account").into_response());
    }
    if need.is_some_and(|p| !s.account.may(p)) {
        return Err(forbidden_page(&s));
    }
    Ok(s)
}

/// For posts: the session, the request's CSRF token must match it, and the member's role must
/// allow `need` (`None`: any member).
pub async fn require_post(
    state: &AppState,
    headers: &HeaderMap,
    form_token: Option<&str>,
    need: Option<Permission>,
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
    if !bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes())) {
        return Err(AppError::Forbidden(
            "the form's CSRF token is missing or stale; reload the page".into(),
        )
        .into_response());
    }
    if need.is_some() && s.must_enrol() {
        return Err(AppError::Forbidden(
            "the organisation requires a second factor: enrol on the account page first".into(),
        )
        .into_response());
    }
    if need.is_some_and(|p| !s.account.may(p)) {
        return Err(forbidden_page(&s));
    }
    Ok(s)
}

/// Parses a posted form and checks the session and CSRF token in one step (every console
/// form handler starts with this).
pub async fn posted_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    need: Option<Permission>,
) -> Result<(Session, Form), Response> {
    let form = parse_form(body).map_err(IntoResponse::into_response)?;
    let s = require_post(state, headers, form.get("csrf"), need).await?;
    Ok((s, form))
}

/// A console form body; parsed in `veilmark_shared::form` (pure, fuzzed on its own).
pub use veilmark_shared::form::Form;

/// [`Form::parse`], a malformed body answered 400.
///
/// # Errors
/// [`AppError::BadRequest`] naming what is malformed.
pub fn parse_form(body: &[u8]) -> Result<Form, AppError> {
    Form::parse(body).map_err(|e| AppError::BadRequest(e.to_string()))
}
