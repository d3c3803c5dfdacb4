//! Every piece of data access of the review console, and nothing else: the SQL over the
//! crawler's tables (`crawl_hit`, `catalog_reference`) and the server's `hit_review`, and the
//! files on disk (WARC records, catalog reference images, WARC files for evidence bundles).
//!
//! The rest of the console goes through these typed functions (they take [`AppState`] and
//! return `Result<_, AppError>`), so the store behind them can change without touching pages,
//! filters or bundles.

use std::path::{Component, Path as FsPath, PathBuf};

use sqlx::{Row, SqlitePool};

use super::model::{Hit, LeakTrace};
use crate::{AppError, AppState, now_secs};

fn pool(state: &AppState) -> Result<SqlitePool, AppError> {
    state.store.sqlite_pool().ok_or_else(|| {
        AppError::BadRequest("the review console needs the embedded SQLite store".into())
    })
}

async fn has_hits_table(pool: &SqlitePool) -> Result<bool, AppError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'crawl_hit'",
    )
    .fetch_one(pool)
    .await
    .map_err(anyhow::Error::from)?;
    Ok(n > 0)
}

const HIT_SELECT: &str = "SELECT h.id, h.marketplace, h.page_url, h.image_url, h.image_sha256, \
     h.fetched_at, h.listing_title, h.listing_price, h.listing_seller, h.reference_id, h.sku, \
     h.hash_kind, h.distance, h.watermark_session, h.warc_file, h.warc_page_offset, \
     h.warc_image_offset, COALESCE(r.state, 'new') AS review_state, COALESCE(r.note, '') AS note \
     FROM crawl_hit h LEFT JOIN hit_review r ON r.hit_id = h.id";

fn hit_from(row: &sqlx::sqlite::SqliteRow) -> Hit {
    Hit {
        id: row.get("id"),
        marketplace: row.get("marketplace"),
        page_url: row.get("page_url"),
        image_url: row.get("image_url"),
        image_sha256: row.get("image_sha256"),
        fetched_at: row.get("fetched_at"),
        title: row.get("listing_title"),
        price: row.get("listing_price"),
        seller: row.get("listing_seller"),
        reference_id: row.get("reference_id"),
        sku: row.get("sku"),
        hash_kind: row.get("hash_kind"),
        distance: row.get("distance"),
        watermark_session: row.get("watermark_session"),
        leaked_by: None,
        warc_file: row.get("warc_file"),
        warc_page_offset: row.get("warc_page_offset"),
        warc_image_offset: row.get("warc_image_offset"),
        review_state: row.get("review_state"),
        note: row.get("note"),
    }
}

/// Maps each watermark hit's session code to the link and recipient that leaked it.
async fn trace_leaks(state: &AppState, hits: &mut [Hit]) -> Result<(), AppError> {
    for h in hits.iter_mut() {
        let Some(code) = h
            .watermark_session
            .as_deref()
            .and_then(|c| u64::from_str_radix(c, 16).ok())
        else {
            continue;
        };
        let Some(session) = state.store.session_by_code(code).await? else {
            continue;
        };
        if let Some(link) = state.store.link(&session.link_id).await? {
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
pub async fn all_hits(state: &AppState) -> Result<Vec<Hit>, AppError> {
    let pool = pool(state)?;
    if !has_hits_table(&pool).await? {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&format!("{HIT_SELECT} ORDER BY h.id DESC LIMIT 5000"))
        .fetch_all(&pool)
        .await
        .map_err(anyhow::Error::from)?;
    let mut hits: Vec<Hit> = rows.iter().map(hit_from).collect();
    trace_leaks(state, &mut hits).await?;
    Ok(hits)
}

/// One hit by id (`NotFound` when there is none, or no crawl has run here).
pub async fn hit(state: &AppState, id: i64) -> Result<Hit, AppError> {
    let pool = pool(state)?;
    if !has_hits_table(&pool).await? {
        return Err(AppError::NotFound("hit"));
    }
    let row = sqlx::query(&format!("{HIT_SELECT} WHERE h.id = ?"))
        .bind(id)
        .fetch_optional(&pool)
        .await
        .map_err(anyhow::Error::from)?;
    let mut found = [row
        .as_ref()
        .map(hit_from)
        .ok_or(AppError::NotFound("hit"))?];
    trace_leaks(state, &mut found).await?;
    let [found] = found;
    Ok(found)
}

/// Sets the review state (and, if given, the note) of `ids`.
pub async fn set_review(
    state: &AppState,
    ids: &[i64],
    new_state: Option<&str>,
    note: Option<&str>,
    reviewer: &str,
) -> Result<u64, AppError> {
    let pool = pool(state)?;
    let mut tx = pool.begin().await.map_err(anyhow::Error::from)?;
    let mut n = 0;
    for id in ids {
        let res = sqlx::query(
            "INSERT INTO hit_review (hit_id, state, note, reviewer, reviewed_at) \
             SELECT id, COALESCE(?2, 'new'), COALESCE(?3, ''), ?4, ?5 FROM crawl_hit WHERE id = ?1 \
             ON CONFLICT (hit_id) DO UPDATE SET state = COALESCE(?2, state), \
             note = COALESCE(?3, note), reviewer = ?4, reviewed_at = ?5",
        )
        .bind(id)
        .bind(new_state)
        .bind(note)
        .bind(reviewer)
        .bind(now_secs())
        .execute(&mut *tx)
        .await
        .map_err(anyhow::Error::from)?;
        n += res.rows_affected();
    }
    tx.commit().await.map_err(anyhow::Error::from)?;
    Ok(n)
}

/// Reads the WARC record at `offset` of `rel` (relative to `data_dir`, under `evidence/`):
/// returns the HTTP response block.
fn warc_block(data_dir: &FsPath, rel: &str, offset: i64) -> Result<Vec<u8>, AppError> {
    let relp = PathBuf::from(rel);
    let safe = relp.starts_with("evidence")
        && relp.components().all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return Err(AppError::NotFound("evidence"));
    }
    let data = std::fs::read(data_dir.join(relp)).map_err(|_| AppError::NotFound("evidence"))?;
    let start = usize::try_from(offset).map_err(|_| AppError::NotFound("evidence"))?;
    let rest = data.get(start..).ok_or(AppError::NotFound("evidence"))?;
    let end = rest
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(AppError::NotFound("evidence"))?;
    let head = String::from_utf8_lossy(&rest[..end]);
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(AppError::NotFound("evidence"))?;
    rest.get(end + 4..end + 4 + len)
        .map(<[u8]>::to_vec)
        .ok_or(AppError::NotFound("evidence"))
}

/// The body of an HTTP response block.
fn http_body(block: &[u8]) -> &[u8] {
    block
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |i| &block[i + 4..])
}

/// The image the crawler found for `h`: the body of its WARC image record.
pub async fn found_image(state: &AppState, h: &Hit) -> Result<Vec<u8>, AppError> {
    let block = warc_block(&state.config.data_dir, &h.warc_file, h.warc_image_offset)?;
    Ok(http_body(&block).to_vec())
}

/// The catalog reference image `h` matched, read from the path the catalog stored.
pub async fn reference_image(state: &AppState, h: &Hit) -> Result<Vec<u8>, AppError> {
    let Some(rid) = h.reference_id else {
        return Err(AppError::NotFound("reference image"));
    };
    let path: Option<String> =
        sqlx::query_scalar("SELECT source_path FROM catalog_reference WHERE id = ?")
            .bind(rid)
            .fetch_optional(&pool(state)?)
            .await
            .map_err(anyhow::Error::from)?;
    let path = PathBuf::from(path.ok_or(AppError::NotFound("reference image"))?);
    // `veilmark catalog add` stores the path as given; a relative one is tried as it is (the
    // server started where the catalog was built) and then under the data directory.
    let mut tries = vec![path.clone()];
    if path.is_relative() {
        tries.push(state.config.data_dir.join(&path));
    }
    for p in tries {
        if let Ok(bytes) = tokio::fs::read(&p).await {
            return Ok(bytes);
        }
    }
    Err(AppError::NotFound("reference image"))
}

/// The saved listing page of `h`: the HTTP response block of its WARC page record.
pub async fn page_block(state: &AppState, h: &Hit) -> Result<Vec<u8>, AppError> {
    let off = h.warc_page_offset.ok_or(AppError::NotFound("evidence"))?;
    warc_block(&state.config.data_dir, &h.warc_file, off)
}

/// A whole WARC file, `rel` relative to the data directory and under `evidence/`.
pub async fn warc_file(state: &AppState, rel: &str) -> Result<Vec<u8>, AppError> {
    let relp = PathBuf::from(rel);
    if relp.starts_with("evidence")
        && relp.components().all(|c| matches!(c, Component::Normal(_)))
        && let Ok(bytes) = tokio::fs::read(state.config.data_dir.join(&relp)).await
    {
        return Ok(bytes);
    }
    Err(AppError::NotFound("evidence"))
}
