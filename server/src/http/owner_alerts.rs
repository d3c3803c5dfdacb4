//! Owner API for unusual-access alerts and the webhooks they go to (`docs/server.md#alerts`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use veilmark_store::Permission;

use super::auth::Caller;
use crate::alerts::WebhookError;
use crate::service::ClientMeta;
use crate::{AppError, AppState};

/// `GET /api/owner/alerts`: the latest 200 alerts, newest first.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    Ok(Json(state.alerts(&caller.actor(), 200).await?).into_response())
}

/// `POST /api/owner/alerts/{id}/acknowledge`.
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageLinks)?;
    if !state.acknowledge_alert(&id, &caller.actor(), &meta).await? {
        return Err(AppError::NotFound("unacknowledged alert"));
    }
    Ok(Json(serde_json::json!({ "id": id, "acknowledged": true })).into_response())
}

/// `GET /api/owner/webhooks`: the organisation's webhooks with their latest deliveries.
pub async fn webhooks(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let org = caller.account.org;
    Ok(Json(serde_json::json!({
        "webhooks": state.store.webhooks(org).await?,
        "deliveries": state.store.deliveries(org, 200).await?,
    }))
    .into_response())
}

/// `POST /api/owner/webhooks` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddWebhook {
    url: String,
}

/// `POST /api/owner/webhooks`: adds one; answers 201 with its signing secret (shown only
/// here).
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    bytes: axum::body::Bytes,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let req: AddWebhook = super::owner_reviews::body(&bytes)?;
    let (webhook, secret) = state
        .add_webhook(&req.url, &caller.actor(), &meta)
        .await
        .map_err(webhook_error)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": webhook.id, "url": webhook.url, "secret": secret })),
    )
        .into_response())
}

/// `POST /api/owner/webhooks/{id}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    if !state.remove_webhook(&id, &caller.actor(), &meta).await? {
        return Err(AppError::NotFound("webhook"));
    }
    Ok(Json(serde_json::json!({ "id": id, "removed": true })).into_response())
}

/// A refused webhook as 400 with its reason; anything else as 500.
pub fn webhook_error(e: anyhow::Error) -> AppError {
    match e.downcast_ref::<WebhookError>() {
        Some(WebhookError::Refused(m)) => AppError::BadRequest(m.clone()),
        None => AppError::Internal(e),
    }
}
