//! Owner API: login (HttpOnly, SameSite=Strict cookie) or `Authorization: Bearer` API token,
//! then documents, links, revocation and the audit log as JSON (audit also as CSV).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiJson;
use crate::audit;
use crate::service::{ClientMeta, NewLink};
use crate::store::{CredentialKind, Owner};
use crate::{AppError, AppState, now_secs, secrets};

/// Name of the browser session cookie.
pub const COOKIE: &str = "vm_session";

/// An authenticated owner (from the API token or the session cookie).
pub struct AuthOwner(pub Owner);

impl FromRequestParts<AppState> for AuthOwner {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| (t.trim().to_owned(), CredentialKind::ApiToken));
        let cookie = || {
            parts
                .headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|c| c.trim().split_once('='))
                .find(|(k, _)| *k == COOKIE)
                .map(|(_, v)| (v.to_owned(), CredentialKind::Cookie))
        };
        let Some((secret, kind)) = bearer.or_else(cookie) else {
            return Err(AppError::Unauthorized("log in or send an API token".into()));
        };
        state
            .store
            .owner_by_credential(&secrets::owner_secret_hash(&secret), kind, now_secs())
            .await?
            .map(AuthOwner)
            .ok_or_else(|| AppError::Unauthorized("the session or API token is not valid".into()))
    }
}

/// Login body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

/// `POST /api/owner/login`.
pub async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, AppError> {
    state
        .login_limiter
        .check(&meta.ip.clone().unwrap_or_default())
        .map_err(AppError::TooManyRequests)?;
    let Some((cookie, owner)) = state.login(&body.email, &body.password, &meta).await? else {
        return Err(AppError::Unauthorized("wrong e-mail or password".into()));
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
    let mut resp = Json(serde_json::json!({ "email": owner.email })).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&value)?);
    Ok(resp)
}

/// `POST /api/owner/logout`: forgets the cookie's session.
pub async fn logout(State(state): State<AppState>, parts: axum::http::HeaderMap) -> Response {
    for v in parts
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for c in v.split(';') {
            if let Some((COOKIE, secret)) = c.trim().split_once('=') {
                let _ = state
                    .store
                    .delete_credential(&secrets::owner_secret_hash(secret))
                    .await;
            }
        }
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vm_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    resp
}

/// `GET /api/owner/documents`.
pub async fn documents(
    State(state): State<AppState>,
    _owner: AuthOwner,
) -> Result<Response, AppError> {
    Ok(Json(state.store.list_documents().await?).into_response())
}

/// Upload query.
#[derive(Deserialize)]
pub struct UploadQuery {
    title: Option<String>,
}

/// `POST /api/owner/documents?title=…`: the raw file as the body; sealed on the server.
pub async fn upload(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    meta: ClientMeta,
    Query(q): Query<UploadQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, AppError> {
    let body = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(format!(
                "uploads are limited to {} bytes; seal large files with `veilmark seal` on the server",
                state.config.limits.max_upload
            ))
        } else {
            AppError::BadRequest(rej.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(AppError::BadRequest("the body is empty".into()));
    }
    let title = q.title.unwrap_or_else(|| "untitled".into());
    let doc = state
        .ingest_plaintext(&body, &title, &owner.email, &meta)
        .await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// `GET /api/owner/links`.
pub async fn links(State(state): State<AppState>, _owner: AuthOwner) -> Result<Response, AppError> {
    Ok(Json(state.store.list_links().await?).into_response())
}

/// `POST /api/owner/links`.
pub async fn create_link(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    meta: ClientMeta,
    ApiJson(req): ApiJson<NewLink>,
) -> Result<Response, AppError> {
    if state.store.document(&req.document_id).await?.is_none() {
        return Err(AppError::NotFound("document"));
    }
    let created = state
        .create_link(&req, &owner.email, &meta)
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `POST /api/owner/links/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    meta: ClientMeta,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if state.store.link(&id).await?.is_none() {
        return Err(AppError::NotFound("link"));
    }
    let revoked = state.revoke(&id, &owner.email, &meta).await?;
    Ok(Json(serde_json::json!({ "id": id, "revoked": true, "changed": revoked })).into_response())
}

/// Audit export query.
#[derive(Deserialize)]
pub struct AuditQuery {
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// `GET /api/owner/audit?format=json|csv`.
pub async fn audit(
    State(state): State<AppState>,
    _owner: AuthOwner,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let entries = state.audit_log().await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(entries).into_response()),
        Some("csv") => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            audit::to_csv(&entries),
        )
            .into_response()),
        Some(other) => Err(AppError::BadRequest(format!(
            "unknown format {other:?}; use json or csv"
        ))),
    }
}

/// `GET /api/owner/audit/verify`.
pub async fn verify_audit(
    State(state): State<AppState>,
    _owner: AuthOwner,
) -> Result<Response, AppError> {
    let entries = state.audit_log().await?;
    let body = match audit::verify(&entries) {
        Ok((n, head)) => serde_json::json!({ "ok": true, "entries": n, "head": hex::encode(head) }),
        Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
    };
    Ok(Json(body).into_response())
}
