//! The alerts page (`docs/server.md#alerts`): unusual openings, newest first, with each
//! webhook delivery's state; owners acknowledge them; admins add and remove webhooks (the
//! signing secret is shown once, when added).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use veilmark_store::Permission;

use super::html::{Frame, Tab, page, render, when};
use super::{Session, posted_form, require};
use crate::service::ClientMeta;
use crate::{AppError, AppState};

struct AlertRow {
    id: String,
    kind: String,
    summary: &'static str,
    when: String,
    link_id: String,
    recipient: String,
    detail: String,
    ip: String,
    acknowledged: Option<String>,
    deliveries: String,
}

struct WebhookRow {
    id: String,
    url: String,
    added: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    alerts: Vec<AlertRow>,
    webhooks: Vec<WebhookRow>,
    can_ack: bool,
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
    let org = s.account.org;
    let alerts = state.alerts(&s.actor(), 200).await?;
    let can_manage = s.account.may(Permission::ManageMembers);
    let deliveries = state.store.deliveries(org, 1000).await?;
    let webhooks = if can_manage {
        state.store.webhooks(org).await?
    } else {
        Vec::new()
    };
    render(&AlertsPage {
        frame: Frame::new("Alerts", Tab::Alerts, s.who()),
        csrf: &s.csrf,
        alerts: alerts
            .into_iter()
            .map(|a| {
                let mine: Vec<String> = deliveries
                    .iter()
                    .filter(|d| d.alert_id == a.id)
                    .map(|d| match (d.delivered_at, d.next_attempt_at) {
                        (Some(t), _) => format!("delivered {}", when(t)),
                        (None, Some(t)) => format!(
                            "{} attempt(s), next {}{}",
                            d.attempts,
                            when(t),
                            d.last_error
                                .as_deref()
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default()
                        ),
                        (None, None) => format!("given up after {} attempts", d.attempts),
                    })
                    .collect();
                AlertRow {
                    summary: a.kind.describe(),
                    kind: a.kind.as_str().to_owned(),
                    when: when(a.created_at),
                    acknowledged: a.acknowledged_at.map(|t| {
                        format!("{} by {}", when(t), a.acknowledged_by.unwrap_or_default())
                    }),
                    deliveries: if mine.is_empty() {
                        "no webhook".into()
                    } else {
                        mine.join("; ")
                    },
                    id: a.id,
                    link_id: a.link_id,
                    recipient: a.recipient,
                    detail: a.detail,
                    ip: a.ip.unwrap_or_default(),
                }
            })
            .collect(),
        webhooks: webhooks
            .into_iter()
            .map(|w| WebhookRow {
                added: format!("{} by {}", when(w.created_at), w.created_by),
                id: w.id,
                url: w.url,
            })
            .collect(),
        can_ack: s.account.may(Permission::ManageLinks),
        can_manage,
        error,
        notice,
    })
}

/// `GET /console/alerts`.
pub async fn page_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match require(&state, &headers, Some(Permission::ReadLinks)).await {
        Ok(s) => page(StatusCode::OK, render_page(&state, &s, None, None).await),
        Err(r) => r,
    }
}

/// `POST /console/alerts/{id}/acknowledge`.
pub async fn acknowledge(
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
    match state.acknowledge_alert(&id, &s.actor(), &meta).await {
        Ok(true) => page(
            StatusCode::OK,
            render_page(&state, &s, None, Some(&format!("Alert {id} acknowledged."))).await,
        ),
        Ok(false) => AppError::NotFound("unacknowledged alert").into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// `POST /console/alerts/webhooks`: an admin adds a webhook (`url`).
pub async fn add_webhook(
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
    let url = form.get("url").unwrap_or_default();
    match state.add_webhook(url, &s.actor(), &meta).await {
        Ok((w, secret)) => {
            let msg = format!(
                "Webhook {} added. Its signing secret, shown only now: {secret}",
                w.id
            );
            page(
                StatusCode::OK,
                render_page(&state, &s, None, Some(&msg)).await,
            )
        }
        Err(e) => match crate::http::owner_alerts::webhook_error(e) {
            AppError::BadRequest(m) => page(
                StatusCode::BAD_REQUEST,
                render_page(&state, &s, Some(&m), None).await,
            ),
            other => other.into_response(),
        },
    }
}

/// `POST /console/alerts/webhooks/{id}/remove`.
pub async fn remove_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: ClientMeta,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (s, _) = match posted_form(&state, &headers, &body, Some(Permission::ManageMembers)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.remove_webhook(&id, &s.actor(), &meta).await {
        Ok(true) => page(
            StatusCode::OK,
            render_page(&state, &s, None, Some(&format!("Webhook {id} removed."))).await,
        ),
        Ok(false) => AppError::NotFound("webhook").into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}
