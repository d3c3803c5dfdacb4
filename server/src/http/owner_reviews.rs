//! Owner API for access reviews (`docs/server.md#reviews`): list and start reviews, read one
//! with its links, decide a link, export as CSV, and the organisation's schedule.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use veilmark_store::Permission;
use veilmark_store::review::{ReviewDecision, ReviewSchedule};

use super::auth::Caller;
use crate::review::ReviewError;
use crate::service::ClientMeta;
use crate::{AppError, AppState};

/// The JSON body, parsed after the caller's role was checked (so a member without the right
/// learns nothing about what a valid body looks like). An empty body is `{}`.
pub(super) fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| AppError::BadRequest(format!("bad JSON body: {e}")))
}

/// A review failure as an answer: its own status for what the caller can fix, 500 otherwise.
pub fn review_error(e: anyhow::Error) -> AppError {
    match e.downcast_ref::<ReviewError>() {
        Some(ReviewError::NotFound(what)) => AppError::NotFound(what),
        Some(ReviewError::Refused(m)) => AppError::Forbidden(m.clone()),
        Some(ReviewError::Conflict(m)) => {
            AppError::Refused(veilmark_shared::wire::ErrorCode::Conflict, m.clone())
        }
        None => AppError::Internal(e),
    }
}

/// `GET /api/owner/reviews`: the organisation's reviews, newest first.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    let reviews = state.reviews(&caller.actor()).await.map_err(review_error)?;
    Ok(Json(reviews).into_response())
}

/// `POST /api/owner/reviews` body: `{"due_in_secs": 1209600}` (default: the schedule's window).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartReview {
    due_in_secs: Option<i64>,
}

/// `POST /api/owner/reviews`: starts a review of every live link now.
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    bytes: axum::body::Bytes,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let req: StartReview = body(&bytes)?;
    let review = state
        .start_review(req.due_in_secs, &caller.actor(), &meta)
        .await
        .map_err(review_error)?;
    Ok(Json(review).into_response())
}

/// `GET /api/owner/reviews/{id}`: one review with its links (`current`: the open one, else the
/// latest).
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    let id = (id != "current").then_some(id);
    let status = state
        .review_status(id.as_deref(), &caller.actor())
        .await
        .map_err(review_error)?
        .ok_or(AppError::NotFound("review"))?;
    Ok(Json(status).into_response())
}

/// `POST /api/owner/reviews/{id}/decisions` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    link: String,
    /// `confirm` or `revoke`.
    decision: String,
}

/// `POST /api/owner/reviews/{id}/decisions`: confirms or revokes one link of the review.
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageLinks)?;
    if id != "current" && state.store.review(caller.account.org, &id).await?.is_none() {
        return Err(AppError::NotFound("review"));
    }
    let req: Decide = body(&bytes)?;
    let decision = ReviewDecision::parse(&req.decision)
        .filter(|d| *d != ReviewDecision::Expired)
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "decision {:?} is not confirm or revoke",
                req.decision
            ))
        })?;
    let id = (id != "current").then_some(id);
    let outcome = state
        .decide_review(id.as_deref(), &req.link, decision, &caller.actor(), &meta)
        .await
        .map_err(review_error)?;
    let closed = matches!(
        outcome,
        veilmark_store::review::DecideOutcome::Decided { closed: true }
    );
    Ok(Json(serde_json::json!({
        "link": req.link,
        "decision": decision,
        "review_closed": closed,
    }))
    .into_response())
}

/// `GET /api/owner/reviews/{id}/export.csv`: the review and every decision as CSV.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    let id = (id != "current").then_some(id);
    let (review_id, csv) = state
        .review_export(id.as_deref(), &caller.actor())
        .await
        .map_err(review_error)?;
    Ok(csv_download(&review_id, csv))
}

/// A review's CSV as a download named after it.
pub fn csv_download(review_id: &str, csv: String) -> Response {
    let mut resp = csv.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    // The id is `rev_` and hex digits: safe in a header.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"access-review-{review_id}.csv\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `GET /api/owner/review-schedule`.
pub async fn schedule(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    caller.may(Permission::ReadLinks)?;
    Ok(Json(state.review_schedule(&caller.actor()).await?).into_response())
}

/// `PUT /api/owner/review-schedule` body: `{"every_secs": 7862400, "window_secs": 1209600}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSchedule {
    every_secs: i64,
    window_secs: i64,
}

/// `PUT /api/owner/review-schedule`.
pub async fn set_schedule(
    State(state): State<AppState>,
    caller: Caller,
    meta: ClientMeta,
    bytes: axum::body::Bytes,
) -> Result<Response, AppError> {
    caller.may(Permission::ManageMembers)?;
    let req: SetSchedule = body(&bytes)?;
    let schedule = ReviewSchedule {
        every_secs: req.every_secs,
        window_secs: req.window_secs,
    };
    state
        .set_review_schedule(schedule, &caller.actor(), &meta)
        .await
        .map_err(review_error)?;
    Ok(Json(schedule).into_response())
}
