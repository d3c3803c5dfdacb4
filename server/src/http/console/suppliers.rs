//! The suppliers page: the organisation's supplier companies with their status; admins approve,
//! suspend and off-board them (off-boarding needs a ticked confirmation and shows what it
//! revoked), and every member who may list links downloads a supplier's access report as CSV
//! or PDF (`docs/server.md#offboarding`).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use veilmark_store::Permission;
use veilmark_store::classification::SupplierStatus;

use super::html::{Frame, Tab, page, render, when};
use super::{Session, posted_form, require};
use crate::service::ClientMeta;
use crate::{AppError, AppState};

/// A supplier row.
struct SupplierRow {
    domain: String,
    name: String,
    status: String,
    status_class: &'static str,
    since: String,
}

#[derive(Template)]
#[template(path = "suppliers.html")]
struct SuppliersPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    suppliers: Vec<SupplierRow>,
    can_manage: bool,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

async fn render_page(
    state: &AppState,
    s: &Session,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<String, AppError> {
    let suppliers = state.store.suppliers(s.account.org).await?;
    render(&SuppliersPage {
        frame: Frame::new("Suppliers", Tab::Suppliers, s.who()),
        csrf: &s.csrf,
        can_manage: s.account.may(Permission::ManageMembers),
        suppliers: suppliers
            .into_iter()
            .map(|x| SupplierRow {
                status: x.status.to_string(),
                status_class: match x.status {
                    SupplierStatus::Approved => "live",
                    SupplierStatus::Suspended => "expired",
                    SupplierStatus::Offboarded => "revoked",
                },
                since: when(x.changed_at),
                domain: x.domain,
                name: x.name,
            })
            .collect(),
        error,
        notice,
    })
}

/// `GET /console/suppliers`.
pub async fn page_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match require(&state, &headers, Some(Permission::ReadLinks)).await {
        Ok(s) => page(StatusCode::OK, render_page(&state, &s, None, None).await),
        Err(r) => r,
    }
}

/// `POST /console/suppliers`: approve (adding it if new) or suspend a supplier.
pub async fn set(
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
    let status = match form.get("status").and_then(SupplierStatus::parse) {
        Some(st @ (SupplierStatus::Approved | SupplierStatus::Suspended)) => st,
        _ => {
            return page(
                StatusCode::BAD_REQUEST,
                render_page(&state, &s, Some("Choose approve or suspend."), None).await,
            );
        }
    };
    let name = form.get("name").map(str::trim).filter(|n| !n.is_empty());
    let domain = form.get("domain").unwrap_or_default();
    match state
        .set_supplier(domain, name, status, &s.actor(), &meta)
        .await
    {
        Ok(r) => {
            let msg = format!("{} ({}) is {}.", r.name, r.domain, r.status);
            page(
                StatusCode::OK,
                render_page(&state, &s, None, Some(&msg)).await,
            )
        }
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            render_page(&state, &s, Some(&format!("{e:#}")), None).await,
        ),
    }
}

/// `POST /console/suppliers/{domain}/offboard`: off-boards a supplier once the form's
/// confirmation names it.
pub async fn offboard(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(domain): Path<String>,
    body: Bytes,
) -> Response {
    let (s, form) =
        match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
            Ok(x) => x,
            Err(r) => return r,
        };
    match state.store.supplier(s.account.org, &domain).await {
        Ok(Some(_)) => {}
        Ok(None) => return AppError::NotFound("supplier").into_response(),
        Err(e) => return AppError::from(e).into_response(),
    }
    if form.get("confirm") != Some(domain.as_str()) {
        return page(
            StatusCode::BAD_REQUEST,
            render_page(
                &state,
                &s,
                Some("Tick the confirmation to off-board: every link of the supplier's people is revoked."),
                None,
            )
            .await,
        );
    }
    match state.offboard_supplier(&domain, &s.actor(), &meta).await {
        Ok(done) => {
            let msg = format!(
                "{} ({}) is off-boarded: {} live link(s) revoked, open viewers closed. Download the access report below for the termination file.",
                done.report.supplier.name,
                done.report.supplier.domain,
                done.revoked.len()
            );
            page(
                StatusCode::OK,
                render_page(&state, &s, None, Some(&msg)).await,
            )
        }
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            render_page(&state, &s, Some(&format!("{e:#}")), None).await,
        ),
    }
}

/// `GET /console/suppliers/{domain}/report/{csv,pdf}`: the supplier's access report.
pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((domain, format)): Path<(String, String)>,
) -> Response {
    let s = match require(&state, &headers, Some(Permission::ReadLinks)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.store.supplier(s.account.org, &domain).await {
        Ok(Some(_)) => {}
        Ok(None) => return AppError::NotFound("supplier").into_response(),
        Err(e) => return AppError::from(e).into_response(),
    }
    let report = match state.access_report(&domain, &s.actor()).await {
        Ok(r) => r,
        Err(e) => return AppError::from(e).into_response(),
    };
    report_response(&report, &format)
}

/// A report as a download: `csv` or `pdf` (404 for anything else).
pub fn report_response(report: &crate::offboarding::AccessReport, format: &str) -> Response {
    let stem = format!("supplier-access-{}", report.supplier.domain);
    let (kind, body) = match format {
        "csv" => ("text/csv; charset=utf-8", report.csv().into_bytes()),
        "pdf" => ("application/pdf", report.pdf()),
        _ => return AppError::NotFound("report format").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.{format}\""),
            ),
        ],
        body,
    )
        .into_response()
}
