//! Thumbnails: a hit's found image and its catalog reference, served by hit id (never by a path
//! from the request) with a sniffed image Content-Type.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::super::require;
use super::data::{found_image, hit, reference_image};
use super::model::sniff_image;
use crate::{AppError, AppState};
use veilmark_store::Permission;

/// `GET /console/review/image/{id}/{found|reference}`.
pub async fn image(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, which)): Path<(i64, String)>,
) -> Response {
    let s = match require(&state, &headers, Some(Permission::ReviewHits)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let org = s.account.org;
    let result = async {
        let h = hit(&state, org, id).await?;
        let bytes = match which.as_str() {
            "found" => found_image(&state, org, &h).await?,
            "reference" => reference_image(&state, org, &h).await?,
            _ => return Err(AppError::NotFound("image")),
        };
        let ct = sniff_image(&bytes).ok_or(AppError::NotFound("image"))?;
        Ok((
            [
                (header::CONTENT_TYPE, ct),
                (header::CACHE_CONTROL, "private, max-age=3600"),
                (header::CONTENT_DISPOSITION, "inline"),
            ],
            bytes,
        )
            .into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
