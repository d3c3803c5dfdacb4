//! Signing in and out of the console: the password step, the second-factor step for accounts
//! that have one, and the one-time welcome link a new member chooses a password with.
//!
//! Between the two login steps the browser holds a short-lived `vm_login` cookie whose secret
//! is stored (hashed) as a one-time `second-factor` credential: it is taken atomically by the
//! code step, so it cannot be replayed, and it never grants access by itself.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use veilmark_store::meta::{CredentialCheck, CredentialKind, NewCredential};
use veilmark_store::tenancy::Account;

use super::html::{self, Frame, Tab};
use super::{parse_form, require_post, session};
use crate::http::auth::{COOKIE, cookie_value};
use crate::service::{Actor, ClientMeta, LoginCheck};
use crate::{AppError, AppState, now_secs, secrets};

/// The cookie that carries a login waiting for its second factor.
const LOGIN_COOKIE: &str = "vm_login";

/// How long the second-factor step may take.
const CODE_STEP_SECS: i64 = 5 * 60;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    frame: Frame<'a>,
    code_step: bool,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

fn login_form(
    code_step: bool,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<Html<String>, AppError> {
    html::render(&LoginPage {
        frame: Frame::new("Sign in", Tab::None, None),
        code_step,
        error,
        notice,
    })
    .map(Html)
}

/// `GET /console/login`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = session(&state, &headers).await {
        return Redirect::to("/console").into_response();
    }
    login_form(false, None, None).into_response()
}

fn set_cookie(
    resp: &mut Response,
    name: &str,
    value: &str,
    max_age: i64,
    secure: bool,
) -> Result<(), AppError> {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/console; Max-Age={max_age}{secure}"
    );
    let v = if name == COOKIE {
        v.replace("Path=/console", "Path=/")
    } else {
        v
    };
    resp.headers_mut()
        .append(header::SET_COOKIE, HeaderValue::from_str(&v)?);
    Ok(())
}

/// Opens the console session of an account that passed every check and redirects into the
/// console (to the account page when it must still enrol a second factor).
async fn signed_in(state: &AppState, account: &Account) -> Result<Response, AppError> {
    let cookie = state.open_console_session(account).await?;
    let to = if account.org_requires_totp && !account.has_totp() {
        "/console/account"
    } else {
        "/console"
    };
    let mut resp = Redirect::to(to).into_response();
    set_cookie(
        &mut resp,
        COOKIE,
        &cookie,
        state.config.limits.console_session_secs,
        state.config.secure_cookies,
    )?;
    set_cookie(&mut resp, LOGIN_COOKIE, "", 0, state.config.secure_cookies)?;
    Ok(resp)
}

/// Starts the second-factor step: a one-time credential in a cookie, and the code form.
async fn code_step(
    state: &AppState,
    account: &Account,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let secret = secrets::new_owner_secret()?;
    let now = now_secs();
    state
        .store
        .add_credential(&NewCredential {
            token_hash: &secrets::owner_secret_hash(&secret),
            account_id: account.id,
            kind: CredentialKind::SecondFactor,
            label: "",
            now,
            expires_at: now + CODE_STEP_SECS,
        })
        .await?;
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut resp = (status, login_form(true, error, None)?).into_response();
    set_cookie(
        &mut resp,
        LOGIN_COOKIE,
        &secret,
        CODE_STEP_SECS,
        state.config.secure_cookies,
    )?;
    Ok(resp)
}

fn refused(status: StatusCode, msg: &str) -> Result<Response, AppError> {
    Ok((status, login_form(false, Some(msg), None)?).into_response())
}

/// `POST /console/login`: e-mail and password from the form.
pub async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = parse_form(&body)?;
    let email = form.get("email").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    state
        .login_limiter
        .check(&meta.rate_key())
        .await
        .map_err(AppError::TooManyRequests)?;
    match state.check_login(email, password, &meta).await? {
        LoginCheck::Ok(account) => signed_in(&state, &account).await,
        LoginCheck::NeedsSecondFactor(account) => code_step(&state, &account, None).await,
        LoginCheck::Refused => refused(StatusCode::UNAUTHORIZED, "Wrong e-mail or password."),
        LoginCheck::Locked(until) => refused(
            StatusCode::LOCKED,
            &format!(
                "Too many failed sign-ins: this account is locked until {}.",
                html::when(until)
            ),
        ),
    }
}

/// `POST /console/login/code`: the second factor, with the `vm_login` cookie.
pub async fn code(
    State(state): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = parse_form(&body)?;
    let code = form.get("code").unwrap_or_default();
    let pending = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_COOKIE)
        .map(|(_, v)| v.to_owned());
    let account = match pending {
        Some(p) => {
            state
                .store
                .take_credential(
                    &secrets::owner_secret_hash(&p),
                    CredentialKind::SecondFactor,
                    now_secs(),
                )
                .await?
        }
        None => None,
    };
    let Some(account) = account else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "The sign-in took too long; start again.",
        );
    };
    if state.check_second_factor(&account, code).await? {
        state.store.login_succeeded(account.id).await?;
        state
            .record_login(Some(&account), &account.email, &meta, "ok (second factor)")
            .await?;
        return signed_in(&state, &account).await;
    }
    state
        .record_login(
            Some(&account),
            &account.email,
            &meta,
            "refused: wrong second factor",
        )
        .await?;
    let limits = &state.config.limits;
    match state
        .store
        .login_attempt(
            account.id,
            now_secs(),
            limits.login_max_failures,
            limits.login_lockout_secs,
        )
        .await?
    {
        veilmark_store::meta::LoginAttempt::Locked(until) => refused(
            StatusCode::LOCKED,
            &format!(
                "Too many failed sign-ins: this account is locked until {}.",
                html::when(until)
            ),
        ),
        veilmark_store::meta::LoginAttempt::Counted(_) => {
            code_step(&state, &account, Some("Wrong or already used code.")).await
        }
    }
}

/// `POST /console/logout`.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if let Err(r) = require_post(&state, &headers, form.get("csrf"), None).await {
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

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage<'a> {
    frame: Frame<'a>,
    org: &'a str,
    email: &'a str,
    secret: &'a str,
    error: Option<&'a str>,
}

/// The account a live welcome link belongs to (without spending it).
async fn welcome_account(state: &AppState, secret: &str) -> Result<Option<Account>, AppError> {
    Ok(state
        .store
        .account_by_credential(
            &secrets::owner_secret_hash(secret),
            CredentialCheck {
                kind: CredentialKind::SetPassword,
                now: now_secs(),
                idle_secs: None,
            },
        )
        .await?
        .map(|(a, _)| a))
}

fn welcome_form(
    account: &Account,
    secret: &str,
    error: Option<&str>,
) -> Result<Html<String>, AppError> {
    html::render(&WelcomePage {
        frame: Frame::new("Choose a password", Tab::None, None),
        org: &account.org_name,
        email: &account.email,
        secret,
        error,
    })
    .map(Html)
}

/// `GET /console/welcome/{secret}`: the set-password form of a new member.
pub async fn welcome_page(
    State(state): State<AppState>,
    Path(secret): Path<String>,
) -> Result<Response, AppError> {
    let Some(account) = welcome_account(&state, &secret).await? else {
        return Err(AppError::NotFound("welcome link (used or expired)"));
    };
    Ok(welcome_form(&account, &secret, None)?.into_response())
}

/// `POST /console/welcome/{secret}`: sets the password and spends the link.
pub async fn welcome(
    State(state): State<AppState>,
    meta: ClientMeta,
    Path(secret): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = parse_form(&body)?;
    let password = form.get("password").unwrap_or_default();
    let Some(account) = welcome_account(&state, &secret).await? else {
        return Err(AppError::NotFound("welcome link (used or expired)"));
    };
    if password != form.get("again").unwrap_or_default() {
        return Ok((
            StatusCode::BAD_REQUEST,
            welcome_form(&account, &secret, Some("The two passwords differ."))?,
        )
            .into_response());
    }
    if password.chars().count() < 12 {
        return Ok((
            StatusCode::BAD_REQUEST,
            welcome_form(&account, &secret, Some("Use at least 12 characters."))?,
        )
            .into_response());
    }
    // Spend the link first: two posts of the same link cannot both set a password.
    let Some(account) = state
        .store
        .take_credential(
            &secrets::owner_secret_hash(&secret),
            CredentialKind::SetPassword,
            now_secs(),
        )
        .await?
    else {
        return Err(AppError::NotFound("welcome link (used or expired)"));
    };
    state
        .change_password(&account, password, &Actor::account(&account), &meta)
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok((
        StatusCode::OK,
        login_form(false, None, Some("Password set. Sign in with it now."))?,
    )
        .into_response())
}
