//! Review actions: confirm, dismiss, reopen and note hits one by one or in bulk, or export
//! their evidence; then back to the page the form was on.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::super::{parse_form, require_post};
use super::bundle::bundle_response;
use super::data::set_review;
use crate::{AppError, AppState};

/// `POST /console/review`: `action` = confirm | dismiss | reopen | note | bundle, `id` repeated.
pub async fn act(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let s = match require_post(
        &state,
        &headers,
        form.get("csrf"),
        Some(veilmark_store::Permission::ReviewHits),
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ids: Vec<i64> = form.all("id").filter_map(|v| v.parse().ok()).collect();
    if ids.is_empty() {
        return AppError::BadRequest("select at least one hit".into()).into_response();
    }
    let note = form
        .get("note")
        .map(|n| n.chars().take(2000).collect::<String>());
    let note = note.as_deref().filter(|n| !n.trim().is_empty());
    let new_state = match form.get("action") {
        Some("confirm") => Some("confirmed"),
        Some("dismiss") => Some("dismissed"),
        Some("reopen") => Some("new"),
        Some("note") => None,
        Some("bundle") => return bundle_response(&state, s.account.org, &ids).await,
        _ => return AppError::BadRequest("unknown action".into()).into_response(),
    };
    if let Err(e) = set_review(
        &state,
        s.account.org,
        &ids,
        new_state,
        note,
        &s.account.email,
    )
    .await
    {
        return e.into_response();
    }
    let back = form
        .get("back")
        .filter(|b| {
            b.starts_with("/console/review")
                && !b.contains("//")
                && !b.contains('\\')
                && !b.chars().any(char::is_control)
        })
        .unwrap_or("/console/review")
        .to_owned();
    Redirect::to(&back).into_response()
}
