//! The review console: crawler hits beside their reference images, confirm / dismiss / note one
//! by one or in bulk, sellers grouped, a chart of confirmed hits, and evidence bundles.
//!
//! Hits, their review state, catalog images and WARC evidence come from the data owner,
//! `veilmark_store::Evidence`, through [`data`].
//! Everything a marketplace wrote (titles, sellers, prices, URLs) is untrusted: it is escaped
//! everywhere, and URLs become links only when they are `http(s)`. Images are served by hit id,
//! never by a path from the request, with a sniffed image Content-Type (anything else is
//! refused) and `nosniff`.
//!
//! One module per concern: [`data`] is every call into the store, [`model`] the
//! types, `filter` the query string, `pages` the HTML (askama templates under
//! `server/templates/review/`), `chart` the SVG chart, `actions` the review form posts,
//! `images` the thumbnails and `bundle` evidence zips.

mod actions;
mod bundle;
mod chart;
pub mod data;
mod filter;
mod images;
pub mod model;
mod pages;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

pub use actions::act;
pub use bundle::{bundle, evidence_zip};
pub use chart::chart;
pub use data::{all_hits, set_review};
pub use filter::ReviewQuery;
pub use images::image;
pub use model::{Hit, LeakTrace, sniff_image};

use super::require;
use crate::AppState;

/// `GET /console/review`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReviewQuery>,
) -> Result<Html<String>, Response> {
    let s = require(
        &state,
        &headers,
        Some(veilmark_store::Permission::ReviewHits),
    )
    .await?;
    let html = pages::render(&state, &s, &q)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Html(html))
}
