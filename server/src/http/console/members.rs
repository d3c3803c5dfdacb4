//! The members page (admins): who is in the organisation with which role; add a member (the
//! account is created without a password and a one-time set-password link is shown), change a
//! role, sign a member out everywhere, remove a member; and the organisation's setting that
//! every member must use a second factor.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use veilmark_store::Permission;
use veilmark_store::tenancy::{NO_PASSWORD, Role};

use super::html::{Frame, Tab, render};
use super::{Session, posted_form, require};
use crate::audit::AuditKind;
use crate::service::ClientMeta;
use crate::{AppError, AppState};

/// A member row.
struct MemberRow {
    id: i64,
    email: String,
    role: &'static str,
    totp: bool,
    password_set: bool,
    is_me: bool,
}

/// The one-time link of a member just added.
struct Welcome {
    email: String,
    url: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    org: &'a str,
    roles: Vec<&'static str>,
    members: Vec<MemberRow>,
    require_totp: bool,
    welcome: Option<Welcome>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

async fn render_page(
    state: &AppState,
    s: &Session,
    welcome: Option<Welcome>,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<String, AppError> {
    let org = state.store.org(s.account.org).await?;
    let members = state
        .store
        .list_accounts(s.account.org)
        .await?
        .into_iter()
        .map(|a| MemberRow {
            id: a.id,
            totp: a.has_totp(),
            password_set: a.password_hash != NO_PASSWORD,
            is_me: a.id == s.account.id,
            role: a.role.as_str(),
            email: a.email,
        })
        .collect();
    render(&MembersPage {
        frame: Frame::new("Members", Tab::Members, s.who()),
        csrf: &s.csrf,
        org: &s.account.org_name,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        members,
        require_totp: org.require_totp,
        welcome,
        error,
        notice,
    })
}

async fn answer(
    state: &AppState,
    s: &Session,
    status: StatusCode,
    welcome: Option<Welcome>,
    error: Option<&str>,
) -> Response {
    match render_page(state, s, welcome, error, None).await {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /console/members`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, Response> {
    let s = require(&state, &headers, Some(Permission::ManageMembers)).await?;
    render_page(&state, &s, None, None, None)
        .await
        .map(Html)
        .map_err(IntoResponse::into_response)
}

/// `POST /console/members`: `email`, `role`.
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, form) =
        match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    match state
        .add_member(
            &s.actor(),
            &email,
            form.get("role").unwrap_or_default(),
            &meta,
        )
        .await
    {
        Ok((_, url)) => {
            answer(
                &state,
                &s,
                StatusCode::CREATED,
                Some(Welcome { email, url }),
                None,
            )
            .await
        }
        Err(e) => {
            answer(
                &state,
                &s,
                StatusCode::BAD_REQUEST,
                None,
                Some(&format!("{e:#}")),
            )
            .await
        }
    }
}

/// `POST /console/members/{id}/role`: `role`.
pub async fn role(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, form) =
        match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    match state
        .change_role(&s.actor(), id, form.get("role").unwrap_or_default(), &meta)
        .await
    {
        Ok(()) => Redirect::to("/console/members").into_response(),
        Err(AppError::BadRequest(msg)) => {
            answer(&state, &s, StatusCode::BAD_REQUEST, None, Some(&msg)).await
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /console/members/{id}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, _) = match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.remove_member(&s.actor(), id, &meta).await {
        Ok(()) if id == s.account.id => Redirect::to("/console/login").into_response(),
        Ok(()) => Redirect::to("/console/members").into_response(),
        Err(AppError::BadRequest(msg)) => {
            answer(&state, &s, StatusCode::BAD_REQUEST, None, Some(&msg)).await
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /console/members/{id}/sign-out`: ends every session and token of the member.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, _) = match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let member = match state.store.account(s.account.org, id).await {
        Ok(Some(m)) => m,
        Ok(None) => return AppError::NotFound("member").into_response(),
        Err(e) => return AppError::Internal(e).into_response(),
    };
    match state.sign_out_everywhere(&member, &s.actor(), &meta).await {
        Ok(_) => Redirect::to("/console/members").into_response(),
        Err(e) => AppError::Internal(e).into_response(),
    }
}

/// `POST /console/members/settings`: `require_totp` (checkbox).
pub async fn settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, form) =
        match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    let required = form.get("require_totp").is_some();
    if let Err(e) = state
        .store
        .set_org_require_totp(s.account.org, required)
        .await
    {
        return AppError::Internal(e).into_response();
    }
    let entry = s.actor().entry(
        &meta,
        AuditKind::Settings,
        format!(
            "second factor {}",
            if required { "required" } else { "optional" }
        ),
    );
    if let Err(e) = state.store.append_audit(&entry).await {
        return AppError::Internal(e).into_response();
    }
    Redirect::to("/console/members").into_response()
}

/// `POST /console/members/{id}/second-factor/remove`: for a member who lost phone and codes.
pub async fn reset_second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let (s, _) = match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let member = match state.store.account(s.account.org, id).await {
        Ok(Some(m)) => m,
        Ok(None) => return AppError::NotFound("member").into_response(),
        Err(e) => return AppError::Internal(e).into_response(),
    };
    match state.remove_totp(&member, &s.actor(), &meta).await {
        Ok(()) => Redirect::to("/console/members").into_response(),
        Err(e) => AppError::Internal(e).into_response(),
    }
}
