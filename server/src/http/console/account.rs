//! The member's own account page: the second factor (enrolment with a QR code drawn on the
//! server, recovery codes shown once, removal), API tokens (create with a label and lifetime,
//! list with last use, revoke), password change and "sign out everywhere".

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use veilmark_store::meta::CredentialKind;

use super::html::{Frame, Tab, render, when};
use super::{Session, posted_form, require};
use crate::service::ClientMeta;
use crate::{AppError, AppState, now_secs, secrets};

/// A pending enrolment as the page shows it.
struct Pending {
    qr_data_uri: String,
    secret: String,
}

/// A token row.
struct TokenRow {
    id: String,
    label: String,
    created: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    email: &'a str,
    org: &'a str,
    role: &'a str,
    must_enrol: bool,
    org_requires: bool,
    totp_on: bool,
    codes_left: i64,
    pending: Option<Pending>,
    recovery_codes: Vec<String>,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

/// What a post wants shown once on the page it answers with.
#[derive(Default)]
struct Shown<'a> {
    recovery_codes: Vec<String>,
    new_token: Option<String>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

async fn render_page(state: &AppState, s: &Session, shown: Shown<'_>) -> Result<String, AppError> {
    // Reload: a post may have changed the account.
    let a = state
        .store
        .account(s.account.org, s.account.id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    let pending = match state.pending_totp(&a)? {
        Some(e) => {
            let svg = crate::qr::svg(&e.uri, "QR code for the authenticator app")
                .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
            Some(Pending {
                qr_data_uri: format!(
                    "data:image/svg+xml;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(svg)
                ),
                secret: e.secret_base32,
            })
        }
        None => None,
    };
    let tokens = state
        .store
        .list_credentials(a.org, a.id, CredentialKind::ApiToken, now_secs())
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            label: if t.label.is_empty() {
                "—".into()
            } else {
                t.label
            },
            created: when(t.created_at),
            expires: when(t.expires_at),
            last_used: t.last_used_at.map_or_else(|| "never".into(), when),
        })
        .collect();
    let must_enrol = a.org_requires_totp && !a.has_totp();
    render(&AccountPage {
        frame: Frame::new("Account", Tab::Account, s.who()),
        csrf: &s.csrf,
        email: &a.email,
        org: &a.org_name,
        role: a.role.as_str(),
        must_enrol,
        org_requires: a.org_requires_totp,
        totp_on: a.has_totp(),
        codes_left: state.store.recovery_codes_left(a.id).await?,
        pending,
        recovery_codes: shown.recovery_codes,
        tokens,
        new_token: shown.new_token,
        error: shown.error,
        notice: shown.notice,
    })
}

/// `GET /console/account`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, Response> {
    let s = require(&state, &headers, None).await?;
    render_page(&state, &s, Shown::default())
        .await
        .map(Html)
        .map_err(IntoResponse::into_response)
}

async fn answer(state: &AppState, s: &Session, status: StatusCode, shown: Shown<'_>) -> Response {
    match render_page(state, s, shown).await {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /console/account/totp` with `action` = `begin`, `confirm` (and `code`) or `remove`.
pub async fn totp(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, form) = match posted_form(&state, &headers, &body, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match form.get("action") {
        Some("begin") => match state.begin_totp(&s.account).await {
            Ok(_) => Redirect::to("/console/account").into_response(),
            Err(e) => AppError::Internal(e).into_response(),
        },
        Some("confirm") => {
            let Ok(Some(account)) = state.store.account(s.account.org, s.account.id).await else {
                return AppError::NotFound("account").into_response();
            };
            match state
                .confirm_totp(&account, form.get("code").unwrap_or_default(), &meta)
                .await
            {
                Ok(codes) => {
                    let shown = Shown {
                        recovery_codes: codes,
                        notice: Some("Second factor on."),
                        ..Shown::default()
                    };
                    answer(&state, &s, StatusCode::OK, shown).await
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    let shown = Shown {
                        error: Some(&msg),
                        ..Shown::default()
                    };
                    answer(&state, &s, StatusCode::BAD_REQUEST, shown).await
                }
            }
        }
        Some("remove") if !s.account.org_requires_totp => {
            match state.remove_totp(&s.account, &s.actor(), &meta).await {
                Ok(()) => Redirect::to("/console/account").into_response(),
                Err(e) => AppError::Internal(e).into_response(),
            }
        }
        Some("remove") => AppError::Forbidden(
            "the organisation requires a second factor; move it to a new phone instead".into(),
        )
        .into_response(),
        _ => AppError::BadRequest("unknown action".into()).into_response(),
    }
}

async fn failed(state: &AppState, s: &Session, msg: &str) -> Response {
    let shown = Shown {
        error: Some(msg),
        ..Shown::default()
    };
    answer(state, s, StatusCode::BAD_REQUEST, shown).await
}

/// `POST /console/account/password`: current password, new one twice.
pub async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, form) = match posted_form(&state, &headers, &body, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let current = form.get("current").unwrap_or_default().to_owned();
    let new = form.get("password").unwrap_or_default();
    if new != form.get("again").unwrap_or_default() {
        return failed(&state, &s, "The two new passwords differ.").await;
    }
    if !secrets::verify_password_async(current, s.account.password_hash.clone()).await {
        return failed(&state, &s, "The current password is wrong.").await;
    }
    if let Err(e) = state
        .change_password(&s.account, new, &s.actor(), &meta)
        .await
    {
        return failed(&state, &s, &format!("{e:#}")).await;
    }
    // Every session ended, this one too.
    Redirect::to("/console/login").into_response()
}

/// `POST /console/account/tokens`: `label`, `days`.
pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, form) = match posted_form(&state, &headers, &body, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if s.must_enrol() {
        return AppError::Forbidden("enrol a second factor first".into()).into_response();
    }
    let days: i64 = form
        .get("days")
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(90);
    match state
        .issue_api_token(
            &s.account,
            days.saturating_mul(86_400),
            form.get("label").unwrap_or_default(),
        )
        .await
    {
        Ok((id, token)) => {
            let entry = s.actor().entry(
                &meta,
                crate::audit::AuditKind::Credentials,
                format!("API token {id} issued"),
            );
            if let Err(e) = state.store.append_audit(&entry).await {
                return AppError::Internal(e).into_response();
            }
            let shown = Shown {
                new_token: Some(token),
                ..Shown::default()
            };
            answer(&state, &s, StatusCode::CREATED, shown).await
        }
        Err(e) => {
            let msg = format!("{e:#}");
            let shown = Shown {
                error: Some(&msg),
                ..Shown::default()
            };
            answer(&state, &s, StatusCode::BAD_REQUEST, shown).await
        }
    }
}

/// `POST /console/account/tokens/{id}/revoke`: one of the member's own tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (s, _) = match posted_form(&state, &headers, &body, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mine = matches!(
        state.store.credential_account(&id).await,
        Ok(Some(holder)) if holder.id == s.account.id
    );
    if !mine {
        return AppError::NotFound("token").into_response();
    }
    match state.store.revoke_credential(s.account.org, &id).await {
        Ok(true) => {
            let entry = s.actor().entry(
                &meta,
                crate::audit::AuditKind::Credentials,
                format!("API token {id} revoked"),
            );
            match state.store.append_audit(&entry).await {
                Ok(_) => Redirect::to("/console/account").into_response(),
                Err(e) => AppError::Internal(e).into_response(),
            }
        }
        Ok(false) => AppError::NotFound("token").into_response(),
        Err(e) => AppError::Internal(e).into_response(),
    }
}

/// `POST /console/account/sign-out-everywhere`.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, _) = match posted_form(&state, &headers, &body, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state
        .sign_out_everywhere(&s.account, &s.actor(), &meta)
        .await
    {
        Ok(_) => Redirect::to("/console/login").into_response(),
        Err(e) => AppError::Internal(e).into_response(),
    }
}
