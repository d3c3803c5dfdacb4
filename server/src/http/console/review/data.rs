//! Every piece of data access of the review console, and nothing else: hits with their review
//! state, WARC records and files, and catalog reference images, all through
//! [`veilmark_store::Evidence`] (`state.evidence(org)`). This module names no table and no path.
//!
//! The rest of the console goes through these typed functions (they take [`AppState`] and the
//! reviewer's organisation, and return `Result<_, AppError>`), so the store behind them can
//! change without touching pages, filters or bundles, and no hit of another organisation is
//! ever read.

use veilmark_store::evidence::ReviewedHit;
use veilmark_store::warc::WarcRecord;

use super::model::{Hit, LeakTrace};
use crate::{AppError, AppState, now_secs};
use veilmark_store::OrgId;

/// Most hits the console loads at once.
const MAX_HITS: u32 = 5000;

fn hit_from(r: ReviewedHit) -> Hit {
    let h = r.hit;
    Hit {
        id: r.id,
        marketplace: h.marketplace,
        page_url: h.page_url,
        image_url: h.image_url,
        image_sha256: h.image_sha256,
        fetched_at: h.fetched_at,
        title: h.listing_title,
        price: h.listing_price,
        seller: h.listing_seller,
        reference_id: h.reference_id,
        sku: h.sku,
        hash_kind: h.hash_kind,
        distance: h.distance,
        watermark_session: h.watermark_session,
        leaked_by: None,
        warc_file: h.warc_file,
        warc_page_offset: h.warc_page_offset,
        warc_image_offset: h.warc_image_offset,
        review_state: r.review_state,
        note: r.note,
    }
}

/// Maps each watermark hit's session code to the link and recipient that leaked it.
async fn trace_leaks(state: &AppState, org: OrgId, hits: &mut [Hit]) -> Result<(), AppError> {
    for h in hits.iter_mut() {
        let Some(code) = h
            .watermark_session
            .as_deref()
            .and_then(|c| u64::from_str_radix(c, 16).ok())
        else {
            continue;
        };
        let Some(session) = state.store.session_by_code(org, code).await? else {
            continue;
        };
        if let Some(link) = state.store.link(org, &session.link_id).await? {
            h.leaked_by = Some(LeakTrace {
                recipient: link.recipient,
                link_id: link.id,
                session_id: session.id,
                opened_at: crate::rfc3339(session.created_at),
            });
        }
    }
    Ok(())
}

/// All hits (newest first), or none when no crawl has run against this database.
pub async fn all_hits(state: &AppState, org: OrgId) -> Result<Vec<Hit>, AppError> {
    let rows = state.evidence(org).reviewed_hits(MAX_HITS).await?;
    let mut hits: Vec<Hit> = rows.into_iter().map(hit_from).collect();
    trace_leaks(state, org, &mut hits).await?;
    Ok(hits)
}

/// One hit by id (`NotFound` when there is none).
pub async fn hit(state: &AppState, org: OrgId, id: i64) -> Result<Hit, AppError> {
    let row = state
        .evidence(org)
        .reviewed_hit(id)
        .await?
        .ok_or(AppError::NotFound("hit"))?;
    let mut found = [hit_from(row)];
    trace_leaks(state, org, &mut found).await?;
    let [found] = found;
    Ok(found)
}

/// Sets the review state (and, if given, the note) of `ids`.
pub async fn set_review(
    state: &AppState,
    org: OrgId,
    ids: &[i64],
    new_state: Option<&str>,
    note: Option<&str>,
    reviewer: &str,
) -> Result<u64, AppError> {
    Ok(state
        .evidence(org)
        .set_review(ids, new_state, note, reviewer, now_secs())
        .await?)
}

/// The largest image a thumbnail or a bundle reads (a found image's WARC record, a catalog
/// reference file): a record beyond it is not read at all.
pub const MAX_IMAGE_BYTES: u64 = 32 << 20;

/// The largest saved page a review reads from its WARC record.
const MAX_PAGE_BYTES: u64 = 32 << 20;

/// The HTTP response block of the WARC record at `offset` of the hit's evidence file, read on a
/// blocking thread and only that record's bytes.
async fn warc_block(
    state: &AppState,
    org: OrgId,
    warc_file: &str,
    offset: i64,
    cap: u64,
) -> Result<WarcRecord, AppError> {
    state
        .evidence(org)
        .warc_record_within(warc_file, offset, cap)
        .await
        .map_err(|_| AppError::NotFound("evidence"))
}

/// The image the crawler found for `h`: the body of its WARC image record.
pub async fn found_image(state: &AppState, org: OrgId, h: &Hit) -> Result<Vec<u8>, AppError> {
    let record = warc_block(
        state,
        org,
        &h.warc_file,
        h.warc_image_offset,
        MAX_IMAGE_BYTES,
    )
    .await?;
    Ok(record.http_body().to_vec())
}

/// The catalog reference image `h` matched, read from the path the catalog stored.
pub async fn reference_image(state: &AppState, org: OrgId, h: &Hit) -> Result<Vec<u8>, AppError> {
    let Some(rid) = h.reference_id else {
        return Err(AppError::NotFound("reference image"));
    };
    state
        .evidence(org)
        .reference_image(rid, MAX_IMAGE_BYTES)
        .await?
        .ok_or(AppError::NotFound("reference image"))
}

/// The saved listing page of `h`: the HTTP response block of its WARC page record.
pub async fn page_block(state: &AppState, org: OrgId, h: &Hit) -> Result<Vec<u8>, AppError> {
    let off = h.warc_page_offset.ok_or(AppError::NotFound("evidence"))?;
    Ok(warc_block(state, org, &h.warc_file, off, MAX_PAGE_BYTES)
        .await?
        .block)
}
