//! Console pages for the owner's own work: documents (upload and seal), links (create, copy,
//! revoke, who has it open now) and the audit log (filters, export, chain verification).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{Tab, bytes, csrf_field, esc, page, parse_date, when};
use super::{Form, Session, require, require_post};
use crate::audit::{self, AuditEntry};
use crate::service::{ClientMeta, CreatedLink, NewLink};
use crate::{AppError, AppState, now_ms, now_secs};

/// `GET /console/documents`.
pub async fn documents(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Html<String>, Response> {
    let s = require(&state, &headers).await?;
    let html = documents_page(&state, &s)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Html(html))
}

async fn documents_page(state: &AppState, s: &Session) -> Result<String, AppError> {
    let docs = state.store.list_documents().await?;
    let mut rows = String::new();
    for d in &docs {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td><a href=\"/console/links?document={}#new-link\">Share…</a></td></tr>",
            esc(&d.title),
            esc(&d.id),
            esc(&d.media_type),
            bytes(d.plaintext_len),
            when(d.created_at),
            esc(&d.id)
        );
    }
    let table = if docs.is_empty() {
        "<p class=\"empty\">No documents yet. Upload one above.</p>".to_owned()
    } else {
        format!(
            "<table><caption>{} sealed documents</caption><thead><tr><th scope=\"col\">Title</th>\
             <th scope=\"col\">Id</th><th scope=\"col\">Type</th><th scope=\"col\" class=\"num\">Size</th>\
             <th scope=\"col\">Sealed</th><th scope=\"col\"><span class=\"sr-only\">Actions</span></th></tr></thead>\
             <tbody>{rows}</tbody></table>",
            docs.len()
        )
    };
    let body = format!(
        "<h1>Documents</h1>\
<section class=\"card\" aria-labelledby=\"up-h\"><h2 id=\"up-h\">Upload and seal</h2>\
<form id=\"upload\" class=\"upload\" data-csrf=\"{csrf}\" data-max=\"{max}\">\
<div class=\"drop\" id=\"drop\"><p>Drop a PDF, STEP or DXF file here, or</p>\
<label for=\"file\" class=\"button\">Choose a file</label>\
<input id=\"file\" name=\"file\" type=\"file\" class=\"sr-only\" required></div>\
<label for=\"title\">Title</label><input id=\"title\" name=\"title\" type=\"text\" maxlength=\"200\" placeholder=\"Taken from the file name\">\
<progress id=\"progress\" max=\"100\" value=\"0\" hidden></progress>\
<p id=\"upload-status\" role=\"status\" aria-live=\"polite\"></p>\
<button type=\"submit\" class=\"primary\">Seal</button>\
<noscript><p class=\"alert\">Uploading needs JavaScript; or seal on the server with \
<code>veilmark seal FILE</code>.</p></noscript></form>\
<p class=\"muted\">Files up to {limit} are sealed on the server (AES-256-GCM envelope); the plaintext is not kept.</p>\
</section>\
<section class=\"card\">{table}</section>",
        csrf = esc(&s.csrf),
        max = state.config.limits.max_upload,
        limit = bytes(i64::try_from(state.config.limits.max_upload).unwrap_or(i64::MAX)),
    );
    Ok(page("Documents", Tab::Documents, s.who(), &body))
}

/// Upload query.
#[derive(Deserialize)]
pub struct UploadQuery {
    title: Option<String>,
}

/// `POST /console/documents/upload?title=…`: the raw file, with an `X-CSRF-Token` header.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Query(q): Query<UploadQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let s = match require_post(&state, &headers, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = match body {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => return AppError::BadRequest("the file is empty".into()).into_response(),
        Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return AppError::PayloadTooLarge(format!(
                "uploads are limited to {}; seal large files with `veilmark seal` on the server",
                bytes(i64::try_from(state.config.limits.max_upload).unwrap_or(i64::MAX))
            ))
            .into_response();
        }
        Err(rej) => return AppError::BadRequest(rej.body_text()).into_response(),
    };
    let title = q
        .title
        .map(|t| t.trim().chars().take(200).collect::<String>())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "untitled".into());
    match state
        .ingest_plaintext(&body, &title, &s.owner.email, &meta)
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
    let s = require(&state, &headers).await?;
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

async fn links_page(
    state: &AppState,
    s: &Session,
    preselect: Option<&str>,
    created: Option<&CreatedLink>,
    error: Option<&str>,
) -> Result<String, AppError> {
    let docs = state.store.list_documents().await?;
    let links = state.store.list_links().await?;
    let entries = state.audit_log().await?;
    let open = open_sessions(&entries, state.config.limits.lease_secs);
    let titles: HashMap<&str, &str> = docs
        .iter()
        .map(|d| (d.id.as_str(), d.title.as_str()))
        .collect();
    let now = now_secs();

    let mut flash = String::new();
    if let Some(c) = created {
        let _ = write!(
            flash,
            "<section class=\"alert success\" role=\"status\"><h2>Link created for {}</h2>\
<p>Send this link to the recipient. It is shown only once.</p>\
<div class=\"copy\"><label for=\"new-url\" class=\"sr-only\">Protected link</label>\
<input id=\"new-url\" type=\"text\" readonly value=\"{}\">\
<button type=\"button\" class=\"copy-btn\" data-copy=\"new-url\">Copy</button></div>",
            esc(&c.link.recipient),
            esc(&c.url)
        );
        if let Some(p) = &c.passcode {
            let _ = write!(
                flash,
                "<p>Passcode (send it through another channel): </p><div class=\"copy\">\
<label for=\"new-pass\" class=\"sr-only\">Passcode</label>\
<input id=\"new-pass\" type=\"text\" readonly value=\"{}\">\
<button type=\"button\" class=\"copy-btn\" data-copy=\"new-pass\">Copy</button></div>",
                esc(p)
            );
        }
        flash.push_str("</section>");
    }
    if let Some(e) = error {
        let _ = write!(
            flash,
            "<p class=\"alert error\" role=\"alert\">{}</p>",
            esc(e)
        );
    }

    let mut options = String::new();
    for d in &docs {
        let sel = if Some(d.id.as_str()) == preselect {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            options,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(&d.id),
            esc(&d.title)
        );
    }
    let form = if docs.is_empty() {
        "<p class=\"empty\">Upload a document first.</p>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"/console/links\" class=\"grid-form\">{}\
<div><label for=\"document\">Document</label><select id=\"document\" name=\"document\" required>{options}</select></div>\
<div><label for=\"recipient\">Recipient e-mail</label><input id=\"recipient\" name=\"recipient\" type=\"email\" required placeholder=\"alice@supplier.example\"></div>\
<div><label for=\"expires\">Expires after (days)</label><input id=\"expires\" name=\"expires_days\" type=\"number\" min=\"1\" max=\"366\" value=\"7\" required></div>\
<div><label for=\"max-views\">View limit</label><input id=\"max-views\" name=\"max_views\" type=\"number\" min=\"1\" placeholder=\"Unlimited\"></div>\
<div class=\"check\"><input id=\"passcode\" name=\"passcode\" type=\"checkbox\" value=\"1\"><label for=\"passcode\">Require a passcode</label></div>\
<div class=\"actions\"><button type=\"submit\" class=\"primary\">Create link</button></div></form>",
            csrf_field(&s.csrf)
        )
    };

    let mut rows = String::new();
    for l in &links {
        let status = if l.revoked_at.is_some() {
            "<span class=\"badge revoked\">Revoked</span>"
        } else if l.expires_at <= now {
            "<span class=\"badge expired\">Expired</span>"
        } else if l.max_views.is_some_and(|m| l.views >= m) {
            "<span class=\"badge expired\">Used up</span>"
        } else {
            "<span class=\"badge live\">Live</span>"
        };
        let open_now = open.get(&l.id).copied().unwrap_or(0);
        let open_cell = if open_now > 0 && l.revoked_at.is_none() {
            format!("<span class=\"badge live\">{open_now} open now</span>")
        } else {
            "<span class=\"muted\">—</span>".to_owned()
        };
        let action = if l.revoked_at.is_none() {
            format!(
                "<form method=\"post\" action=\"/console/links/{}/revoke\">{}\
<button type=\"submit\" class=\"danger small\" aria-label=\"Revoke the link for {}\">Revoke</button></form>",
                esc(&l.id),
                csrf_field(&s.csrf),
                esc(&l.recipient)
            )
        } else {
            format!(
                "<span class=\"muted\">{}</span>",
                when(l.revoked_at.unwrap_or_default())
            )
        };
        let _ = write!(
            rows,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{status}</td><td>{open_cell}</td>\
<td class=\"num\">{}{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            esc(&l.id),
            esc(titles.get(l.document_id.as_str()).copied().unwrap_or("?")),
            esc(&l.recipient),
            l.views,
            l.max_views.map_or_else(String::new, |m| format!(" / {m}")),
            if l.has_passcode { "Yes" } else { "No" },
            when(l.expires_at),
        );
    }
    let table = if links.is_empty() {
        "<p class=\"empty\">No links yet.</p>".to_owned()
    } else {
        format!(
            "<div class=\"scroll\"><table><caption>{} links</caption><thead><tr><th scope=\"col\">Link</th>\
<th scope=\"col\">Document</th><th scope=\"col\">Recipient</th><th scope=\"col\">Status</th>\
<th scope=\"col\">Viewing</th><th scope=\"col\" class=\"num\">Views</th><th scope=\"col\">Passcode</th>\
<th scope=\"col\">Expires</th><th scope=\"col\"><span class=\"sr-only\">Actions</span></th></tr></thead>\
<tbody>{rows}</tbody></table></div>",
            links.len()
        )
    };
    let body = format!(
        "<h1>Links</h1>{flash}<section class=\"card\" aria-labelledby=\"new-link\">\
<h2 id=\"new-link\">Share a document</h2>{form}</section><section class=\"card\">{table}</section>"
    );
    Ok(page("Links", Tab::Links, s.who(), &body))
}

/// `POST /console/links`.
pub async fn create_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    body: Bytes,
) -> Response {
    let form = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let s = match require_post(&state, &headers, form.get("csrf")).await {
        Ok(s) => s,
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
        expires_in_secs: Some(days.unwrap_or(7).saturating_mul(86_400)),
        max_views,
        passcode: form.get("passcode").is_some(),
    };
    match state.create_link(&req, &s.owner.email, &meta).await {
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
    let form = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let s = match require_post(&state, &headers, form.get("csrf")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.store.link(&id).await {
        Ok(Some(_)) => {}
        Ok(None) => return AppError::NotFound("link").into_response(),
        Err(e) => return AppError::from(e).into_response(),
    }
    if let Err(e) = state.revoke(&id, &s.owner.email, &meta).await {
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
];

async fn filtered(
    state: &AppState,
    f: &AuditFilter,
) -> Result<(Vec<AuditEntry>, Vec<AuditEntry>), AppError> {
    let all = state.audit_log().await?;
    let links = state.store.list_links().await?;
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
    let s = require(&state, &headers).await?;
    let html = audit_page(&state, &s, &f)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Html(html))
}

async fn audit_page(state: &AppState, s: &Session, f: &AuditFilter) -> Result<String, AppError> {
    let (all, picked) = filtered(state, f).await?;
    let docs = state.store.list_documents().await?;
    let chain = match audit::verify(&all) {
        Ok((n, head)) => format!(
            "<p class=\"alert success\" role=\"status\"><strong>Chain verified:</strong> {n} entries, \
             head <code>{}</code>.</p>",
            &hex::encode(head)[..16]
        ),
        Err(e) => format!(
            "<p class=\"alert error\" role=\"alert\"><strong>Chain broken:</strong> {}</p>",
            esc(&e.to_string())
        ),
    };
    let sel = |v: &Option<String>, x: &str| {
        if v.as_deref() == Some(x) {
            " selected"
        } else {
            ""
        }
    };
    let mut doc_opts = String::from("<option value=\"\">All documents</option>");
    for d in &docs {
        let _ = write!(
            doc_opts,
            "<option value=\"{}\"{}>{}</option>",
            esc(&d.id),
            sel(&f.document, &d.id),
            esc(&d.title)
        );
    }
    let mut ev_opts = String::from("<option value=\"\">All events</option>");
    for e in EVENTS {
        let _ = write!(ev_opts, "<option{}>{e}</option>", sel(&f.event, e));
    }
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or_default());
    let titles: HashMap<&str, &str> = docs
        .iter()
        .map(|d| (d.id.as_str(), d.title.as_str()))
        .collect();
    let mut rows = String::new();
    for e in picked.iter().rev().take(500) {
        let _ = write!(
            rows,
            "<tr><td class=\"num\">{}</td><td class=\"nowrap\">{}</td><td><span class=\"badge ev-{}\">{}</span></td>\
<td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            e.seq,
            esc(&crate::rfc3339(e.at_ms / 1000)
                .replace('T', " ")
                .replace('Z', "")),
            esc(&e.kind),
            esc(&e.kind),
            esc(e
                .document_id
                .as_deref()
                .and_then(|d| titles.get(d).copied())
                .unwrap_or("")),
            esc(e.actor.as_deref().unwrap_or("")),
            esc(e.link_id.as_deref().unwrap_or("")),
            esc(e.ip.as_deref().unwrap_or("")),
            esc(&e.detail),
        );
    }
    let qs = f.query_string();
    let amp = if qs.is_empty() { "" } else { "&amp;" };
    let shown = picked.len().min(500);
    let body = format!(
        "<h1>Audit log</h1>{chain}\
<form method=\"get\" action=\"/console/audit\" class=\"filters\" role=\"search\" aria-label=\"Filter the audit log\">\
<div><label for=\"f-doc\">Document</label><select id=\"f-doc\" name=\"document\">{doc_opts}</select></div>\
<div><label for=\"f-rec\">Recipient or actor</label><input id=\"f-rec\" name=\"recipient\" type=\"search\" value=\"{rec}\"></div>\
<div><label for=\"f-ev\">Event</label><select id=\"f-ev\" name=\"event\">{ev_opts}</select></div>\
<div><label for=\"f-from\">From</label><input id=\"f-from\" name=\"from\" type=\"date\" value=\"{from}\"></div>\
<div><label for=\"f-to\">To</label><input id=\"f-to\" name=\"to\" type=\"date\" value=\"{to}\"></div>\
<div class=\"actions\"><button type=\"submit\" class=\"primary\">Filter</button> <a href=\"/console/audit\">Clear</a></div></form>\
<section class=\"card\"><div class=\"toolbar\"><p>{n} matching entries{more}.</p>\
<p><a class=\"button\" href=\"/console/audit/export?format=csv{amp}{qsh}\" download>Export CSV</a> \
<a class=\"button\" href=\"/console/audit/export?format=json{amp}{qsh}\" download>Export JSON</a></p></div>\
<div class=\"scroll\"><table><caption class=\"sr-only\">Audit entries, newest first</caption><thead><tr>\
<th scope=\"col\" class=\"num\">#</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">Event</th>\
<th scope=\"col\">Document</th><th scope=\"col\">Actor</th><th scope=\"col\">Link</th><th scope=\"col\">IP</th>\
<th scope=\"col\">Detail</th></tr></thead><tbody>{rows}</tbody></table></div></section>",
        rec = v(&f.recipient),
        from = v(&f.from),
        to = v(&f.to),
        n = picked.len(),
        more = if shown < picked.len() {
            format!(", the newest {shown} shown; export for all")
        } else {
            String::new()
        },
        qsh = esc(&qs),
    );
    Ok(page("Audit", Tab::Audit, s.who(), &body))
}

/// `GET /console/audit/export?format=csv|json&…filters`: the filtered entries as a download.
pub async fn audit_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<AuditFilter>,
) -> Response {
    if let Err(r) = require(&state, &headers).await {
        return r;
    }
    let picked = match filtered(&state, &f).await {
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
