//! Owner API: login (HttpOnly, SameSite=Strict cookie) or `Authorization: Bearer` API token,
//! then documents, links, revocation and the audit log as JSON (audit also as CSV), the
//! caller's own API tokens, and the organisation's members (admins).
//!
//! Every handler takes a [`Caller`] and checks one [`Permission`] first; every store call is
//! scoped to the caller's organisation, so another organisation's ids answer 404.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use veilmark_store::classification::SupplierStatus;

use crate::classification::LevelDefinition;

use super::ApiJson;
use super::auth::Caller;
use crate::audit;
use crate::service::{ClientMeta, DEFAULT_TOKEN_SECS, LoginRefusal, NewLink};
use crate::store::CredentialKind;
use crate::{AppError, AppState, now_secs, secrets};
use veilmark_store::Permission;
use veilmark_store::tenancy::{Account, Role};

pub use super::auth::COOKIE;

/// Login body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
    /// The second factor: a 6-digit TOTP code or a recovery code (accounts that have one).
    code: Option<String>,
}

/// `POST /api/owner/login`.
pub async fn login(
    State(state): State<AppState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, AppError> {
    state
        .login_limiter
        .check(&meta.rate_key())
        .await
        .map_err(AppError::TooManyRequests)?;
    let (cookie, account) = match state
        .login(&body.email, &body.password, body.code.as_deref(), &meta)
        .await?
    {
        Ok(ok) => ok,
        Err(refusal) => return Err(login_refusal(refusal)),
    };
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        state.config.limits.console_session_secs
    );
    let mut resp = Json(me_json(&account)).into_response();
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

/// The answer to a refused login.
pub fn login_refusal(refusal: LoginRefusal) -> AppError {
    match refusal {
        LoginRefusal::WrongPassword => AppError::Unauthorized("wrong e-mail or password".into()),
        LoginRefusal::Locked(until) => AppError::Locked(format!(
            "too many failed logins; the account is locked until {}",
            crate::rfc3339(until)
        )),
        LoginRefusal::SecondFactorRequired => AppError::Unauthorized(
            "this account has a second factor: send the code from the app as \"code\"".into(),
        ),
        LoginRefusal::WrongSecondFactor => {
            AppError::Unauthorized("wrong or already used second-factor code".into())
        }
        LoginRefusal::EnrolmentRequired(_) => AppError::Unauthorized(
            "the organisation requires a second factor: enrol in the console first".into(),
        ),
    }
}

fn me_json(a: &Account) -> serde_json::Value {
    serde_json::json!({
        "email": a.email,
        "organisation": a.org_name,
        "role": a.role,
        "second_factor": a.has_totp(),
    })
}

/// `GET /api/owner/me`: who the credentials belong to.
pub async fn me(caller: Caller) -> Json<serde_json::Value> {
    Json(me_json(&caller.account))
}

/// `GET /api/owner/documents`.
pub async fn documents(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, AppError> {
    caller.may(Permission::ReadDocuments)?;
    Ok(Json(state.store.list_documents(caller.account.org).await?).into_response())
}

/// Upload query.
#[derive(Deserialize)]
pub struct UploadQuery {
    title: Option<String>,
    /// Classification level (default: the organisation's default level).
    level: Option<String>,
}

/// `POST /api/owner/documents?title=…`: the raw file as the body; sealed on the server. The
/// caller's role is checked before the body is read, and the body is streamed to a temporary
/// file (never buffered in memory).
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Query(q): Query<UploadQuery>,
    req: axum::extract::Request,
) -> Result<Response, AppError> {
    caller.may(Permission::SealDocuments)?;
    let (parts, body) = req.into_parts();
    let upload = super::upload::receive(&state, &parts.headers, body).await?;
    let title = q.title.unwrap_or_else(|| "untitled".into());
    let level = q.level;
    let doc = state
        .ingest_plaintext_file(
            upload.temp_path(),
            &title,
            level.as_deref(),
            &caller.actor(),
            &meta,
        )
        .await?;
    drop(upload);
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// `GET /api/owner/levels`: the organisation's classification levels, lowest first.
pub async fn levels(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ReadDocuments)?;
    Ok(Json(state.store.levels(caller.account.org).await?).into_response())
}

/// `PUT /api/owner/levels`: replaces the organisation's levels (a JSON list, lowest first).
pub async fn define_levels(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    // The role is checked before the body is read, so a member without the right learns
    // nothing about what a valid body looks like.
    caller.may(Permission::ManageMembers)?;
    let defs: Vec<LevelDefinition> = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!("the body must be a JSON list of levels: {e}"))
    })?;
    let levels = defs
        .iter()
        .map(LevelDefinition::policy)
        .collect::<Result<Vec<_>, _>>()
        .map_err(AppError::BadRequest)?;
    state
        .define_levels(levels, &caller.actor(), &meta)
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok(Json(state.store.levels(caller.account.org).await?).into_response())
}

/// `POST /api/owner/documents/{id}/level` body.
#[derive(Deserialize)]
pub struct SetLevel {
    level: String,
}

/// `POST /api/owner/documents/{id}/level`: moves a document to another level; answers what
/// happened to its live links.
pub async fn set_level(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetLevel>,
) -> Result<Response, AppError> {
    caller.may(Permission::SealDocuments)?;
    if state
        .store
        .document(caller.account.org, &id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("document"));
    }
    let change = state
        .set_document_level(&id, &req.level, &caller.actor(), &meta)
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok(Json(change).into_response())
}

/// `GET /api/owner/suppliers`.
pub async fn suppliers(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    Ok(Json(state.store.suppliers(caller.account.org).await?).into_response())
}

/// `POST /api/owner/suppliers` body.
#[derive(Deserialize)]
pub struct SetSupplier {
    domain: String,
    name: Option<String>,
    status: String,
}

/// `POST /api/owner/suppliers`: adds a supplier or changes its status.
pub async fn set_supplier(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    ApiJson(req): ApiJson<SetSupplier>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let status = SupplierStatus::parse(&req.status).ok_or_else(|| {
        AppError::BadRequest(format!(
            "status {:?} is not approved, suspended or offboarded",
            req.status
        ))
    })?;
    let record = state
        .set_supplier(
            &req.domain,
            req.name.as_deref(),
            status,
            &caller.actor(),
            &meta,
        )
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok(Json(record).into_response())
}

/// `POST /api/owner/suppliers/{domain}/offboard`: off-boards a supplier (revokes every live
/// link of its people, open viewers told); answers the revoked links and the access report.
pub async fn offboard_supplier(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(domain): Path<String>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let done = state
        .offboard_supplier(&domain, &caller.actor(), &meta)
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok(Json(done).into_response())
}

/// `GET /api/owner/suppliers/{domain}/report/{format}`: the supplier's access report as
/// `json`, `csv` or `pdf`.
pub async fn supplier_report(
    State(state): State<AppState>,
    caller: Caller,
    Path((domain, format)): Path<(String, String)>,
) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    let domain = domain.to_ascii_lowercase();
    if state
        .store
        .supplier(caller.account.org, &domain)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("supplier"));
    }
    let report = state.access_report(&domain, &caller.actor()).await?;
    if format == "json" {
        return Ok(Json(report).into_response());
    }
    Ok(super::console::supplier_report_response(&report, &format))
}

/// `GET /api/owner/terms`: the organisation's terms before viewing (`null` when none).
pub async fn terms(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ReadDocuments)?;
    Ok(Json(state.store.terms(caller.account.org).await?).into_response())
}

/// `PUT /api/owner/terms` body: `{"text": "…", "from_level": "Confidential"}`; a `null` text
/// removes the terms.
#[derive(Deserialize)]
pub struct SetTerms {
    text: Option<String>,
    from_level: Option<String>,
}

/// `PUT /api/owner/terms` (admins).
pub async fn set_terms(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let req: SetTerms = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body must be {{\"text\", \"from_level\"}}: {e}"
        ))
    })?;
    let terms = state
        .set_terms(
            req.text.as_deref(),
            req.from_level.as_deref(),
            &caller.actor(),
            &meta,
        )
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok(Json(terms).into_response())
}

/// `GET /api/owner/links`.
pub async fn links(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    Ok(Json(state.store.list_links(caller.account.org).await?).into_response())
}

/// `POST /api/owner/links`.
pub async fn create_link(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    ApiJson(req): ApiJson<NewLink>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageLinks)?;
    if state
        .store
        .document(caller.account.org, &req.document_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("document"));
    }
    let created = state
        .create_link(&req, &caller.actor(), &meta)
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `POST /api/owner/links/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageLinks)?;
    if state.store.link(caller.account.org, &id).await?.is_none() {
        return Err(AppError::NotFound("link"));
    }
    let revoked = state.revoke(&id, &caller.actor(), &meta).await?;
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
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    caller.may(Permission::ReadAudit)?;
    let entries = state.audit_log(caller.account.org).await?;
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
    caller: Caller,
) -> Result<Response, AppError> {
    caller.may(Permission::ReadAudit)?;
    let body = match state.verify_audit_log(Some(caller.account.org)).await? {
        Ok((n, head)) => serde_json::json!({ "ok": true, "entries": n, "head": hex::encode(head) }),
        Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
    };
    Ok(Json(body).into_response())
}

/// New API token body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// A label to recognise it by.
    #[serde(default)]
    label: String,
    /// Lifetime in seconds (default 90 days).
    expires_in_secs: Option<i64>,
}

/// `GET /api/owner/tokens`: the caller's own live API tokens, with last use.
pub async fn tokens(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    let a = &caller.account;
    let list = state
        .store
        .list_credentials(a.org, a.id, CredentialKind::ApiToken, now_secs())
        .await?;
    Ok(Json(list).into_response())
}

/// `POST /api/owner/tokens`: a new API token for the caller, shown once.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<Response, AppError> {
    let (id, token) = state
        .issue_api_token(
            &caller.account,
            req.expires_in_secs.unwrap_or(DEFAULT_TOKEN_SECS),
            &req.label,
        )
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    let entry = caller.actor().entry(
        &meta,
        crate::audit::AuditKind::Credentials,
        format!("API token {id} issued"),
    );
    state.store.append_audit(&entry).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": id, "token": token })),
    )
        .into_response())
}

/// `POST /api/owner/tokens/{id}/revoke`: ends one of the caller's tokens (admins: any
/// member's in their organisation).
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let a = &caller.account;
    let holder = state
        .store
        .credential_account(&id)
        .await?
        .filter(|h| h.org == a.org)
        .ok_or(AppError::NotFound("token"))?;
    if holder.id != a.id {
        caller.may(Permission::ManageMembers)?;
    }
    if !state.store.revoke_credential(a.org, &id).await? {
        return Err(AppError::NotFound("token"));
    }
    let entry = caller.actor().entry(
        &meta,
        crate::audit::AuditKind::Credentials,
        format!("API token {id} of {} revoked", holder.email),
    );
    state.store.append_audit(&entry).await?;
    Ok(Json(serde_json::json!({ "id": id, "revoked": true })).into_response())
}

/// `POST /api/owner/sign-out-everywhere`: ends every session and token of the caller.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
) -> Result<Response, AppError> {
    let n = state
        .sign_out_everywhere(&caller.account, &caller.actor(), &meta)
        .await?;
    Ok(Json(serde_json::json!({ "ended": n })).into_response())
}

/// A member as the members API lists it.
#[derive(serde::Serialize)]
pub struct MemberJson {
    id: i64,
    email: String,
    role: Role,
    second_factor: bool,
    password_set: bool,
}

/// `GET /api/owner/members` (admins).
pub async fn members(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let list: Vec<MemberJson> = state
        .store
        .list_accounts(caller.account.org)
        .await?
        .into_iter()
        .map(|a| MemberJson {
            id: a.id,
            second_factor: a.has_totp(),
            password_set: a.password_hash != veilmark_store::tenancy::NO_PASSWORD,
            email: a.email,
            role: a.role,
        })
        .collect();
    Ok(Json(list).into_response())
}

/// New member body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    email: String,
    role: String,
}

/// `POST /api/owner/members` (admins): creates the account and returns a one-time link for
/// the member to choose a password.
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    ApiJson(req): ApiJson<NewMember>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let (id, url) = state
        .add_member(&caller.actor(), &req.email, &req.role, &meta)
        .await
        .map_err(|e| AppError::BadRequest(format!("{e:#}")))?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": id, "set_password_url": url })),
    )
        .into_response())
}

/// Role change body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: String,
}

/// `POST /api/owner/members/{id}/role` (admins).
pub async fn set_member_role(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<RoleChange>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    state
        .change_role(&caller.actor(), id, &req.role, &meta)
        .await?;
    Ok(Json(serde_json::json!({ "id": id, "role": req.role })).into_response())
}

/// `POST /api/owner/members/{id}/remove` (admins): deletes the account, ending its sessions
/// and tokens.
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    state.remove_member(&caller.actor(), id, &meta).await?;
    Ok(Json(serde_json::json!({ "id": id, "removed": true })).into_response())
}

/// `POST /api/owner/members/{id}/sign-out` (admins): ends every session and token of a member.
pub async fn sign_out_member(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let member = state
        .store
        .account(caller.account.org, id)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    let n = state
        .sign_out_everywhere(&member, &caller.actor(), &meta)
        .await?;
    Ok(Json(serde_json::json!({ "id": id, "ended": n })).into_response())
}

/// `POST /api/owner/members/{id}/second-factor/remove` (admins): for a member who lost both
/// phone and recovery codes; they enrol again at their next login if the organisation requires
/// it.
pub async fn reset_member_second_factor(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let member = state
        .store
        .account(caller.account.org, id)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    state.remove_totp(&member, &caller.actor(), &meta).await?;
    Ok(Json(serde_json::json!({ "id": id, "second_factor": false })).into_response())
}
