//! [`EvidenceStore`] on SQLite: the catalog, crawl runs and frontier, last-seen URLs, hits and
//! their review state.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use super::SqliteStore;
use crate::StoreResult;
use crate::evidence::{
    EvidenceStore, FrontierEntry, HitRecord, NewReference, ReferenceRow, ReviewedHit, Seen,
    SeenTable,
};
use crate::tenancy::OrgId;

#[async_trait]
impl EvidenceStore for SqliteStore {
    async fn add_reference(&self, org: OrgId, r: &NewReference<'_>) -> StoreResult<(i64, bool)> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO catalog_reference (org_id, sku, title, source_path, sha256, width, height, pdq_quality, pdq, phash, pdq_windows, added_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(org.get())
        .bind(r.sku)
        .bind(r.title)
        .bind(r.source_path)
        .bind(r.sha256)
        .bind(i64::from(r.width))
        .bind(i64::from(r.height))
        .bind(i64::from(r.pdq_quality))
        .bind(r.pdq.join(" "))
        .bind(r.phash.join(" "))
        .bind(r.pdq_windows.join(" "))
        .bind(crate::now_rfc3339())
        .execute(&self.pool)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM catalog_reference WHERE org_id = ? AND sku = ? AND sha256 = ?",
        )
        .bind(org.get())
        .bind(r.sku)
        .bind(r.sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok((id, done.rows_affected() == 1))
    }

    async fn reference_source(&self, org: OrgId, id: i64) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT source_path FROM catalog_reference WHERE id = ? AND org_id = ?",
        )
        .bind(id)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn references(&self, org: OrgId) -> StoreResult<Vec<ReferenceRow>> {
        let rows = sqlx::query("SELECT * FROM catalog_reference WHERE org_id = ? ORDER BY id")
            .bind(org.get())
            .fetch_all(&self.pool)
            .await?;
        let split = |s: String| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        rows.into_iter()
            .map(|r| {
                Ok(ReferenceRow {
                    id: r.try_get("id")?,
                    sku: r.try_get("sku")?,
                    title: r.try_get("title")?,
                    source_path: r.try_get("source_path")?,
                    sha256: r.try_get("sha256")?,
                    width: r.try_get("width")?,
                    height: r.try_get("height")?,
                    pdq_quality: r.try_get("pdq_quality")?,
                    pdq: split(r.try_get("pdq")?),
                    phash: split(r.try_get("phash")?),
                    pdq_windows: split(r.try_get("pdq_windows")?),
                    added_at: r.try_get("added_at")?,
                })
            })
            .collect()
    }

    async fn catalog_generation(&self, org: OrgId) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) + COUNT(*) FROM catalog_reference WHERE org_id = ?",
        )
        .bind(org.get())
        .fetch_one(&self.pool)
        .await?)
    }

    async fn resume_or_start_run(&self, org: OrgId, profile: &str) -> StoreResult<(i64, bool)> {
        if let Some(id) = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM crawl_run WHERE org_id = ? AND profile = ? AND state = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(org.get())
        .bind(profile)
        .fetch_optional(&self.pool)
        .await?
        {
            return Ok((id, true));
        }
        let id = sqlx::query(
            "INSERT INTO crawl_run (org_id, profile, started_at, state) VALUES (?, ?, ?, 'running')",
        )
        .bind(org.get())
        .bind(profile)
        .bind(crate::now_rfc3339())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok((id, false))
    }

    async fn finish_run(&self, org: OrgId, run: i64, pages: u64, images: u64) -> StoreResult<()> {
        sqlx::query("UPDATE crawl_run SET state = 'finished', finished_at = ?, pages = pages + ?, images = images + ? WHERE id = ? AND org_id = ?")
            .bind(crate::now_rfc3339())
            .bind(i64::try_from(pages)?)
            .bind(i64::try_from(images)?)
            .bind(run)
            .bind(org.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn enqueue(&self, org: OrgId, run: i64, url: &str, depth: u32) -> StoreResult<bool> {
        let r = sqlx::query("INSERT OR IGNORE INTO crawl_frontier (run_id, url, depth, state) SELECT ?1, ?2, ?3, 'queued' WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?4)")
            .bind(run)
            .bind(url)
            .bind(i64::from(depth))
            .bind(org.get())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn set_frontier_state(
        &self,
        org: OrgId,
        run: i64,
        url: &str,
        state: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE crawl_frontier SET state = ? WHERE run_id = ? AND url = ? AND EXISTS (SELECT 1 FROM crawl_run WHERE id = run_id AND org_id = ?)")
            .bind(state)
            .bind(run)
            .bind(url)
            .bind(org.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn frontier(&self, org: OrgId, run: i64) -> StoreResult<Vec<(String, u32, String)>> {
        let rows = sqlx::query(
            "SELECT f.url, f.depth, f.state FROM crawl_frontier f JOIN crawl_run r ON r.id = f.run_id
             WHERE f.run_id = ? AND r.org_id = ? ORDER BY f.rowid",
        )
        .bind(run)
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get("url")?,
                    u32::try_from(r.try_get::<i64, _>("depth")?)?,
                    r.try_get("state")?,
                ))
            })
            .collect()
    }

    async fn enqueue_in_state(
        &self,
        org: OrgId,
        run: i64,
        url: &str,
        depth: u32,
        state: &str,
    ) -> StoreResult<bool> {
        let r = sqlx::query("INSERT OR IGNORE INTO crawl_frontier (run_id, url, depth, state) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?5)")
            .bind(run)
            .bind(url)
            .bind(i64::from(depth))
            .bind(state)
            .bind(org.get())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn queued_frontier(
        &self,
        org: OrgId,
        run: i64,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<FrontierEntry>> {
        let rows = sqlx::query(
            "SELECT f.rowid AS position, f.url, f.depth FROM crawl_frontier f JOIN crawl_run r ON r.id = f.run_id
             WHERE f.run_id = ? AND r.org_id = ? AND f.state = 'queued' AND f.rowid > ?
             ORDER BY f.rowid LIMIT ?",
        )
        .bind(run)
        .bind(org.get())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(FrontierEntry {
                    position: r.try_get("position")?,
                    url: r.try_get("url")?,
                    depth: u32::try_from(r.try_get::<i64, _>("depth")?)?,
                })
            })
            .collect()
    }

    async fn queued_count(&self, org: OrgId, run: i64) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM crawl_frontier f JOIN crawl_run r ON r.id = f.run_id
             WHERE f.run_id = ? AND r.org_id = ? AND f.state = 'queued'",
        )
        .bind(run)
        .bind(org.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n)?)
    }

    async fn seen(&self, org: OrgId, table: SeenTable, url: &str) -> StoreResult<Option<Seen>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT sha256, etag, catalog_gen, hit FROM {} WHERE org_id = ? AND url = ?",
            seen_table(table)
        )))
        .bind(org.get())
        .bind(url)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Seen {
                sha256: r.try_get("sha256")?,
                etag: r.try_get("etag")?,
                catalog_gen: r.try_get("catalog_gen")?,
                hit: r.try_get::<i64, _>("hit")? != 0,
            })
        })
        .transpose()
    }

    async fn record_seen(
        &self,
        org: OrgId,
        table: SeenTable,
        url: &str,
        seen: &Seen,
    ) -> StoreResult<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (org_id, url, sha256, etag, fetched_at, catalog_gen, hit) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (org_id, url) DO UPDATE SET sha256 = excluded.sha256, etag = excluded.etag,
             fetched_at = excluded.fetched_at, catalog_gen = excluded.catalog_gen, hit = excluded.hit",
            seen_table(table)
        )))
        .bind(org.get())
        .bind(url)
        .bind(&seen.sha256)
        .bind(&seen.etag)
        .bind(crate::now_rfc3339())
        .bind(seen.catalog_gen)
        .bind(i64::from(seen.hit))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_hit(&self, org: OrgId, run: i64, hit: &HitRecord) -> StoreResult<bool> {
        let key = format!(
            "{}|{}|{}|{}",
            hit.page_url,
            hit.image_sha256,
            hit.reference_id.map_or("-".to_string(), |r| r.to_string()),
            hit.watermark_session.as_deref().unwrap_or("-")
        );
        let r = sqlx::query(
            "INSERT OR IGNORE INTO crawl_hit (org_id, dedup_key, run_id, marketplace, page_url, image_url, image_sha256, fetched_at,
               http_status, http_headers, listing_title, listing_price, listing_seller, reference_id, sku, hash_kind,
               distance, transform, hash_window, watermark_session, warc_file, warc_page_offset, warc_image_offset, created_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
               ?19, ?20, ?21, ?22, ?23, ?24
             WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = ?3 AND org_id = ?1)",
        )
        .bind(org.get())
        .bind(key)
        .bind(run)
        .bind(&hit.marketplace)
        .bind(&hit.page_url)
        .bind(&hit.image_url)
        .bind(&hit.image_sha256)
        .bind(&hit.fetched_at)
        .bind(i64::from(hit.http_status))
        .bind(hit.http_headers.to_string())
        .bind(&hit.listing_title)
        .bind(&hit.listing_price)
        .bind(&hit.listing_seller)
        .bind(hit.reference_id)
        .bind(&hit.sku)
        .bind(&hit.hash_kind)
        .bind(hit.distance)
        .bind(&hit.transform)
        .bind(&hit.window)
        .bind(&hit.watermark_session)
        .bind(&hit.warc_file)
        .bind(hit.warc_page_offset)
        .bind(hit.warc_image_offset)
        .bind(crate::now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn hits(&self, org: OrgId, marketplace: &str) -> StoreResult<Vec<HitRecord>> {
        let rows =
            sqlx::query("SELECT * FROM crawl_hit WHERE org_id = ? AND marketplace = ? ORDER BY id")
                .bind(org.get())
                .bind(marketplace)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(hit_from).collect()
    }

    async fn reviewed_hits(&self, org: OrgId, limit: u32) -> StoreResult<Vec<ReviewedHit>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{REVIEWED_HIT} WHERE h.org_id = ? ORDER BY h.id DESC LIMIT ?"
        )))
        .bind(org.get())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(reviewed_hit_from).collect()
    }

    async fn reviewed_hit(&self, org: OrgId, id: i64) -> StoreResult<Option<ReviewedHit>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{REVIEWED_HIT} WHERE h.id = ? AND h.org_id = ?"
        )))
        .bind(id)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(reviewed_hit_from).transpose()
    }

    async fn set_review(
        &self,
        org: OrgId,
        ids: &[i64],
        state: Option<&str>,
        note: Option<&str>,
        reviewer: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for id in ids {
            let res = sqlx::query(
                "INSERT INTO hit_review (hit_id, state, note, reviewer, reviewed_at) \
                 SELECT id, COALESCE(?2, 'new'), COALESCE(?3, ''), ?4, ?5 FROM crawl_hit WHERE id = ?1 AND org_id = ?6 \
                 ON CONFLICT (hit_id) DO UPDATE SET state = COALESCE(?2, state), \
                 note = COALESCE(?3, note), reviewer = ?4, reviewed_at = ?5",
            )
            .bind(id)
            .bind(state)
            .bind(note)
            .bind(reviewer)
            .bind(now)
            .bind(org.get())
            .execute(&mut *tx)
            .await?;
            n += res.rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}

/// A hit joined with its review state (a hit never reviewed is `new` with no note). The alias
/// is not `review_state`: `crawl_hit` has an unused column of that name from its first version.
const REVIEWED_HIT: &str = "SELECT h.*, COALESCE(r.state, 'new') AS reviewed_state, \
     COALESCE(r.note, '') AS note FROM crawl_hit h LEFT JOIN hit_review r ON r.hit_id = h.id";

fn hit_from(r: &SqliteRow) -> StoreResult<HitRecord> {
    Ok(HitRecord {
        marketplace: r.try_get("marketplace")?,
        page_url: r.try_get("page_url")?,
        image_url: r.try_get("image_url")?,
        image_sha256: r.try_get("image_sha256")?,
        fetched_at: r.try_get("fetched_at")?,
        http_status: u16::try_from(r.try_get::<i64, _>("http_status")?)?,
        http_headers: serde_json::from_str(&r.try_get::<String, _>("http_headers")?)?,
        listing_title: r.try_get("listing_title")?,
        listing_price: r.try_get("listing_price")?,
        listing_seller: r.try_get("listing_seller")?,
        reference_id: r.try_get("reference_id")?,
        sku: r.try_get("sku")?,
        hash_kind: r.try_get("hash_kind")?,
        distance: r.try_get("distance")?,
        transform: r.try_get("transform")?,
        window: r.try_get("hash_window")?,
        watermark_session: r.try_get("watermark_session")?,
        warc_file: r.try_get("warc_file")?,
        warc_page_offset: r.try_get("warc_page_offset")?,
        warc_image_offset: r.try_get("warc_image_offset")?,
    })
}

fn reviewed_hit_from(r: &SqliteRow) -> StoreResult<ReviewedHit> {
    Ok(ReviewedHit {
        id: r.try_get("id")?,
        hit: hit_from(r)?,
        review_state: r.try_get("reviewed_state")?,
        note: r.try_get("note")?,
    })
}

fn seen_table(table: SeenTable) -> &'static str {
    match table {
        SeenTable::Page => "crawl_page",
        SeenTable::Image => "crawl_image",
    }
}
