//! Console pages for the owner's own work: documents (upload and seal), links (create, copy,
//! revoke, who has it open now) and the audit log (filters, export, chain verification).
//!
//! Each page is a view struct drawn by its template (`templates/documents.html`, `links.html`,
//! `audit.html`); the templates escape every value.

use std::collections::HashMap;

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{Frame, Tab, bytes, parse_date, render, when};
use super::{Session, posted_form, require, require_post};
use crate::audit::{self, AuditEntry};
use crate::service::{ClientMeta, CreatedLink, NewLink};
use crate::{AppError, AppState, now_ms, now_secs};
use veilmark_store::classification::{LevelPolicy, default_level, find_level};
use veilmark_store::{OrgId, Permission};

/// `GET /console/documents`.
pub async fn documents(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, Response> {
    let s = require(&state, &headers, Some(Permission::ReadDocuments)).await?;
    let html = documents_page(&state, &s, None, None)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Html(html))
}

/// A document row.
struct DocRow<'a> {
    title: &'a str,
    id: &'a str,
    level: &'a str,
    /// The level's rank (colour of its badge).
    rank: i64,
    media_type: &'a str,
    size: String,
    sealed: String,
}

#[derive(Template)]
#[template(path = "documents.html")]
struct DocumentsPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    max_upload: usize,
    /// The upload limit for people.
    limit: String,
    docs: Vec<DocRow<'a>>,
    /// Whether the member may upload (owners and admins).
    can_seal: bool,
    /// The organisation's levels, lowest first.
    levels: Vec<LevelOpt>,
    /// The level new documents get.
    default_level: String,
    /// What the last action did.
    notice: Option<&'a str>,
    /// Why the last action was refused.
    error: Option<&'a str>,
}

/// A classification level in a `<select>`, with its ceilings in words.
struct LevelOpt {
    name: String,
    summary: String,
}

/// The rank of level `name` (for its badge's colour); past the highest when unknown.
fn rank_of(levels: &[LevelPolicy], name: &str) -> i64 {
    find_level(levels, name).map_or(i64::try_from(levels.len()).unwrap_or(7), |l| l.rank)
}

/// A level's ceilings in a few words.
fn level_summary(l: &LevelPolicy) -> String {
    let mut parts = vec![format!(
        "links up to {}",
        veilmark_store::classification::duration(l.max_link_secs)
    )];
    if let Some(v) = l.max_views {
        parts.push(format!("{v} views"));
    }
    if l.passcode_required {
        parts.push("passcode".into());
    }
    if l.approved_only {
        parts.push("approved suppliers only".into());
    }
    if l.owner_second_factor {
        parts.push("owner second factor".into());
    }
    parts.join(", ")
}

async fn documents_page(
    state: &AppState,
    s: &Session,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<String, AppError> {
    // Subsets cut for need-to-know links are the links' own; the page lists what was sealed.
    let docs: Vec<_> = state
        .store
        .list_documents(s.account.org)
        .await?
        .into_iter()
        .filter(|d| d.derived_from.is_none())
        .collect();
    let levels = state.store.levels(s.account.org).await?;
    render(&DocumentsPage {
        notice,
        error,
        default_level: default_level(&levels)
            .map(|l| l.name.clone())
            .unwrap_or_default(),
        levels: levels
            .iter()
            .map(|l| LevelOpt {
                name: l.name.clone(),
                summary: level_summary(l),
            })
            .collect(),
        can_seal: s.account.may(Permission::SealDocuments),
        frame: Frame::new("Documents", Tab::Documents, s.who())
            .with_review_reminder(super::reviews::reminder(state, s).await),
        csrf: &s.csrf,
        max_upload: state.config.limits.max_upload,
        limit: bytes(i64::try_from(state.config.limits.max_upload).unwrap_or(i64::MAX)),
        docs: docs
            .iter()
            .map(|d| DocRow {
                title: &d.title,
                id: &d.id,
                level: &d.level,
                rank: rank_of(&levels, &d.level),
                media_type: &d.media_type,
                size: bytes(d.plaintext_len),
                sealed: when(d.created_at),
            })
            .collect(),
    })
}

/// Upload query.
#[derive(Deserialize)]
pub struct UploadQuery {
    title: Option<String>,
    /// Classification level (default: the organisation's default level).
    level: Option<String>,
}

/// `POST /console/documents/{id}/level`: moves a document to another classification level
/// (its live links are re-checked against the new ceilings).
pub async fn set_level(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (s, form) =
        match posted_form(&state, &headers, &body, Some(Permission::SealDocuments)).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    match state.store.document(s.account.org, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return AppError::NotFound("document").into_response(),
        Err(e) => return AppError::from(e).into_response(),
    }
    let level = form.get("level").unwrap_or_default().to_owned();
    let (status, notice, error) = match state
        .set_document_level(&id, &level, &s.actor(), &meta)
        .await
    {
        Ok(change) => (StatusCode::OK, Some(change.describe()), None),
        Err(e) => (StatusCode::BAD_REQUEST, None, Some(format!("{e:#}"))),
    };
    match documents_page(&state, &s, notice.as_deref(), error.as_deref()).await {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /console/documents/upload?title=…`: the raw file, with an `X-CSRF-Token` header.
/// The session, token and role are checked first; the file is then streamed to a temporary
/// file and sealed from it (never held whole in memory).
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Query(q): Query<UploadQuery>,
    req: axum::extract::Request,
) -> Response {
    // The session, token and role are checked before a byte of the body is read, so an
    // anonymous client cannot make the server buffer an upload.
    let s = match require_post(&state, &headers, None, Some(Permission::SealDocuments)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (parts, body) = req.into_parts();
    let upload = match crate::http::upload::receive(&state, &parts.headers, body).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let title = q
        .title
        .map(|t| t.trim().chars().take(200).collect::<String>())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "untitled".into());
    let level = q.level.filter(|l| !l.trim().is_empty());
    match state
        .ingest_plaintext_file(
            upload.temp_path(),
            &title,
            level.as_deref(),
            &s.actor(),
            &meta,
        )
        .await
    {
        Ok(doc) => (StatusCode::CREATED, Json(doc)).into_response(),
        Err(e) => AppError::BadRequest(format!("{e:#}")).into_response(),
    }
}

/// Links query: preselect a document in the form.
#[derive(Deserialize, Default)]
pub struct LinksQuery {
    document: Option<String>,
}

/// `GET /console/links`.
pub async fn links(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LinksQuery>,
) -> Result<Html<String>, Response> {
    let s = require(&state, &headers, Some(Permission::ReadLinks)).await?;
    let html = links_page(&state, &s, q.document.as_deref(), None, None)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Html(html))
}

/// Sessions whose lease is live now, per link id, from the audit log (grants and renewals).
fn open_sessions(entries: &[AuditEntry], lease_secs: i64) -> HashMap<String, usize> {
    let cutoff = now_ms() - lease_secs * 1000;
    let mut last: HashMap<(&str, &str), i64> = HashMap::new();
    for e in entries {
        if let (Some(link), Some(session)) = (&e.link_id, &e.session_id)
            && (e.kind == "grant" || e.kind == "renew" || e.kind == "page-view")
        {
            last.insert((link.as_str(), session.as_str()), e.at_ms);
        }
    }
    let mut open: HashMap<String, usize> = HashMap::new();
    for ((link, _), at) in last {
        if at >= cutoff {
            *open.entry(link.to_owned()).or_default() += 1;
        }
    }
    open
}

/// An `<option>`.
struct Opt<'a> {
    value: &'a str,
    label: String,
    selected: bool,
}

/// The link just created, shown once.
struct Created<'a> {
    recipient: &'a str,
    url: &'a str,
    passcode: Option<&'a str>,
}

/// A row of the links table.
struct LinkRow<'a> {
    id: &'a str,
    document: &'a str,
    level: &'a str,
    /// The level's rank (colour of its badge).
    rank: i64,
    recipient: &'a str,
    status_class: &'static str,
    status: &'static str,
    /// Sessions open now (0 for a revoked link).
    open_now: usize,
    views: i64,
    max_views: Option<i64>,
    passcode: &'static str,
    expires: String,
    /// When it was revoked; `None` while it can still be revoked.
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "links.html")]
struct LinksPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    created: Option<Created<'a>>,
    error: Option<&'a str>,
    docs: Vec<Opt<'a>>,
    links: Vec<LinkRow<'a>>,
    /// Whether the member may create and revoke links.
    can_manage: bool,
}

async fn links_page(
    state: &AppState,
    s: &Session,
    preselect: Option<&str>,
    created: Option<&CreatedLink>,
    error: Option<&str>,
) -> Result<String, AppError> {
    let org = s.account.org;
    let docs = state.store.list_documents(org).await?;
    let links = state.store.list_links(org).await?;
    let levels = state.store.levels(org).await?;
    let entries = state.audit_log(org).await?;
    let open = open_sessions(&entries, state.config.limits.lease_secs);
    let titles: HashMap<&str, &str> = docs
        .iter()
        .map(|d| (d.id.as_str(), d.title.as_str()))
        .collect();
    let now = now_secs();
    let rows = links
        .iter()
        .map(|l| {
            let (status_class, status) = if l.revoked_at.is_some() {
                ("revoked", "Revoked")
            } else if l.expires_at <= now {
                ("expired", "Expired")
            } else if l.max_views.is_some_and(|m| l.views >= m) {
                ("expired", "Used up")
            } else {
                ("live", "Live")
            };
            LinkRow {
                id: &l.id,
                document: titles.get(l.document_id.as_str()).copied().unwrap_or("?"),
                level: &l.level,
                rank: rank_of(&levels, &l.level),
                recipient: &l.recipient,
                status_class,
                status,
                open_now: if l.revoked_at.is_none() {
                    open.get(&l.id).copied().unwrap_or(0)
                } else {
                    0
                },
                views: l.views,
                max_views: l.max_views,
                passcode: if l.has_passcode { "Yes" } else { "No" },
                expires: when(l.expires_at),
                revoked: l.revoked_at.map(when),
            }
        })
        .collect();
    render(&LinksPage {
        can_manage: s.account.may(Permission::ManageLinks),
        frame: Frame::new("Links", Tab::Links, s.who())
            .with_review_reminder(super::reviews::reminder(state, s).await),
        csrf: &s.csrf,
        created: created.map(|c| Created {
            recipient: &c.link.recipient,
            url: &c.url,
            passcode: c.passcode.as_deref(),
        }),
        error,
        docs: docs
            .iter()
            .filter(|d| d.derived_from.is_none())
            .map(|d| Opt {
                value: &d.id,
                label: format!("{} ({})", d.title, d.level),
                selected: Some(d.id.as_str()) == preselect,
            })
            .collect(),
        links: rows,
    })
}

/// `POST /console/links`.
pub async fn create_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let (s, form) = match posted_form(&state, &headers, &body, Some(Permission::ManageLinks)).await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let days: Option<i64> = form.get("expires_days").and_then(|v| v.trim().parse().ok());
    let max_views = match form.get("max_views").map(str::trim) {
        None | Some("") => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return render_links_error(&state, &s, "The view limit must be a number.").await;
            }
        },
    };
    let req = NewLink {
        document_id: form.get("document").unwrap_or_default().to_owned(),
        recipient: form.get("recipient").unwrap_or_default().trim().to_owned(),
        expires_in_secs: days.map(|d| d.saturating_mul(86_400)),
        max_views,
        passcode: form.get("passcode").is_some().then_some(true),
        pages: form
            .get("pages")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
        parts: form
            .get("parts")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    };
    match state.create_link(&req, &s.actor(), &meta).await {
        Ok(created) => match links_page(&state, &s, None, Some(&created), None).await {
            Ok(html) => (StatusCode::CREATED, Html(html)).into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => render_links_error(&state, &s, &format!("{e:#}")).await,
    }
}

async fn render_links_error(state: &AppState, s: &Session, msg: &str) -> Response {
    match links_page(state, s, None, None, Some(msg)).await {
        Ok(html) => (StatusCode::BAD_REQUEST, Html(html)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /console/links/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (s, _) = match posted_form(&state, &headers, &body, Some(Permission::ManageLinks)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.store.link(s.account.org, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return AppError::NotFound("link").into_response(),
        Err(e) => return AppError::from(e).into_response(),
    }
    if let Err(e) = state.revoke(&id, &s.actor(), &meta).await {
        return AppError::from(e).into_response();
    }
    Redirect::to("/console/links").into_response()
}

/// Audit filters (all optional; dates are `YYYY-MM-DD`, UTC, `to` inclusive).
#[derive(Deserialize, Default, Clone)]
pub struct AuditFilter {
    document: Option<String>,
    recipient: Option<String>,
    event: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

fn set(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl AuditFilter {
    fn matches(&self, e: &AuditEntry, link_recipient: &HashMap<&str, &str>) -> bool {
        if let Some(d) = set(&self.document)
            && e.document_id.as_deref() != Some(d)
        {
            return false;
        }
        if let Some(r) = set(&self.recipient) {
            let r = r.to_lowercase();
            let via_link = e
                .link_id
                .as_deref()
                .and_then(|l| link_recipient.get(l))
                .is_some_and(|x| x.to_lowercase().contains(&r));
            let via_actor = e
                .actor
                .as_deref()
                .is_some_and(|a| a.to_lowercase().contains(&r));
            if !via_link && !via_actor {
                return false;
            }
        }
        if let Some(k) = set(&self.event)
            && e.kind != k
        {
            return false;
        }
        if let Some(from) = set(&self.from).and_then(parse_date)
            && e.at_ms < from * 1000
        {
            return false;
        }
        if let Some(to) = set(&self.to).and_then(parse_date)
            && e.at_ms >= (to + 86_400) * 1000
        {
            return false;
        }
        true
    }

    fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("document", &self.document),
            ("recipient", &self.recipient),
            ("event", &self.event),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

const EVENTS: &[&str] = &[
    "grant",
    "renew",
    "deny",
    "page-view",
    "link-created",
    "revoke",
    "owner-login",
    "document-sealed",
    "member",
    "credentials",
    "settings",
    "level",
    "supplier",
    "terms-accepted",
    "review",
    "alert",
];

async fn filtered(
    state: &AppState,
    org: OrgId,
    f: &AuditFilter,
) -> Result<(Vec<AuditEntry>, Vec<AuditEntry>), AppError> {
    let all = state.audit_log(org).await?;
    let links = state.store.list_links(org).await?;
    let recipients: HashMap<&str, &str> = links
        .iter()
        .map(|l| (l.id.as_str(), l.recipient.as_str()))
        .collect();
    let picked = all
        .iter()
        .filter(|e| f.matches(e, &recipients))
        .cloned()
        .collect();
    Ok((all, picked))
}

/// `GET /console/audit`.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<AuditFilter>,
) -> Result<Html<String>, Response> {
    let s = require(&state, &headers, Some(Permission::ReadAudit)).await?;
    let html = audit_page(&state, &s, &f)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Html(html))
}

/// A row of the audit table.
struct AuditRow<'a> {
    seq: i64,
    time: String,
    kind: &'a str,
    document: &'a str,
    actor: &'a str,
    link: &'a str,
    ip: &'a str,
    detail: &'a str,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    frame: Frame<'a>,
    /// `(entries, head prefix)` when the chain verifies, the failure when it does not.
    chain: Result<(usize, String), String>,
    docs: Vec<Opt<'a>>,
    events: Vec<Opt<'a>>,
    recipient: &'a str,
    from: &'a str,
    to: &'a str,
    /// Entries that match the filters.
    matching: usize,
    /// How many of them are listed (the newest).
    shown: usize,
    /// `&` and the filters' query string, for the export links (empty without filters).
    export_query: String,
    rows: Vec<AuditRow<'a>>,
}

/// Rows the audit page lists: the newest entries that match its filters.
const AUDIT_PAGE_ROWS: usize = 100;

/// Entries read from the store at a time while the page is built.
const AUDIT_READ_PAGE: u32 = 500;

/// The audit page reads the log a page at a time ([`crate::store::MetaStore::audit_range`]),
/// verifying the chain and counting matches as it goes and keeping only the newest
/// [`AUDIT_PAGE_ROWS`] matches, so a log of millions of renewals costs time, not memory.
async fn audit_page(state: &AppState, s: &Session, f: &AuditFilter) -> Result<String, AppError> {
    let org = s.account.org;
    let links = state.store.list_links(org).await?;
    let recipients: HashMap<&str, &str> = links
        .iter()
        .map(|l| (l.id.as_str(), l.recipient.as_str()))
        .collect();
    let mut verifier = audit::ChainVerifier::new();
    let mut broken = None;
    let mut matching = 0;
    let mut picked = std::collections::VecDeque::with_capacity(AUDIT_PAGE_ROWS + 1);
    let mut after = 0;
    loop {
        let (page, next) = state
            .store
            .audit_range(Some(org), after, AUDIT_READ_PAGE)
            .await?;
        if page.is_empty() {
            break;
        }
        after = next;
        for e in page {
            if broken.is_none()
                && let Err(err) = verifier.push(&e)
            {
                broken = Some(err.to_string());
            }
            if f.matches(&e, &recipients) {
                matching += 1;
                picked.push_back(e);
                if picked.len() > AUDIT_PAGE_ROWS {
                    picked.pop_front();
                }
            }
        }
    }
    let chain = match broken {
        Some(err) => Err(err),
        None => {
            let (n, head) = verifier.finish();
            Ok((n, hex::encode(head)[..16].to_owned()))
        }
    };
    let docs = state.store.list_documents(org).await?;
    let titles: HashMap<&str, &str> = docs
        .iter()
        .map(|d| (d.id.as_str(), d.title.as_str()))
        .collect();
    let rows = picked
        .iter()
        .rev()
        .map(|e| AuditRow {
            seq: e.seq,
            time: crate::rfc3339(e.at_ms / 1000)
                .replace('T', " ")
                .replace('Z', ""),
            kind: &e.kind,
            document: e
                .document_id
                .as_deref()
                .and_then(|d| titles.get(d).copied())
                .unwrap_or(""),
            actor: e.actor.as_deref().unwrap_or(""),
            link: e.link_id.as_deref().unwrap_or(""),
            ip: e.ip.as_deref().unwrap_or(""),
            detail: &e.detail,
        })
        .collect();
    let qs = f.query_string();
    render(&AuditPage {
        frame: Frame::new("Audit", Tab::Audit, s.who()),
        chain,
        docs: docs
            .iter()
            .map(|d| Opt {
                value: &d.id,
                label: d.title.clone(),
                selected: f.document.as_deref() == Some(d.id.as_str()),
            })
            .collect(),
        events: EVENTS
            .iter()
            .map(|e| Opt {
                value: e,
                label: (*e).to_owned(),
                selected: f.event.as_deref() == Some(*e),
            })
            .collect(),
        recipient: f.recipient.as_deref().unwrap_or_default(),
        from: f.from.as_deref().unwrap_or_default(),
        to: f.to.as_deref().unwrap_or_default(),
        matching,
        shown: picked.len(),
        export_query: if qs.is_empty() {
            String::new()
        } else {
            format!("&{qs}")
        },
        rows,
    })
}

/// `GET /console/audit/export?format=csv|json&…filters`: the filtered entries as a download.
pub async fn audit_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<AuditFilter>,
) -> Response {
    let s = match require(&state, &headers, Some(Permission::ReadAudit)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let picked = match filtered(&state, s.account.org, &f).await {
        Ok((_, p)) => p,
        Err(e) => return e.into_response(),
    };
    match f.format.as_deref() {
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"veilmark-audit.csv\"",
                ),
            ],
            audit::to_csv(&picked),
        )
            .into_response(),
        None | Some("json") => (
            [(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"veilmark-audit.json\"",
            )],
            Json(picked),
        )
            .into_response(),
        Some(other) => AppError::BadRequest(format!("unknown format {other:?}; use json or csv"))
            .into_response(),
    }
}
