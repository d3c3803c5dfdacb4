//! [`EvidenceStore`] on SQLite: the catalog, crawl runs and frontier, last-seen URLs, hits and
//! their review state.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use super::SqliteStore;
use crate::StoreResult;
use crate::evidence::{
    EvidenceStore, FrontierEntry, HitRecord, NewReference, ReferenceRow, ReviewedHit, RobotsClaim,
    Seen, SeenTable, StoredRobots, check_completion_state,
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

    async fn running_run(&self, org: OrgId, profile: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM crawl_run WHERE org_id = ? AND profile = ? AND state = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(org.get())
        .bind(profile)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn run_finished(&self, org: OrgId, run: i64) -> StoreResult<bool> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM crawl_run WHERE id = ? AND org_id = ?")
                .bind(run)
                .bind(org.get())
                .fetch_optional(&self.pool)
                .await?;
        Ok(state.as_deref() == Some("finished"))
    }

    async fn lease_frontier(
        &self,
        org: OrgId,
        run: i64,
        worker: &str,
        limit: u32,
        lease: Duration,
    ) -> StoreResult<Vec<FrontierEntry>> {
        // IMMEDIATE: the write lock is taken before the free entries are read, so two workers
        // (connections) can never both see one entry free.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE crawl_frontier SET lease_owner = ?1, lease_until = ?2
             WHERE rowid IN (
                 SELECT f.rowid FROM crawl_frontier f JOIN crawl_run r ON r.id = f.run_id
                 WHERE f.run_id = ?3 AND r.org_id = ?4 AND r.state = 'running'
                   AND f.state = 'queued' AND (f.lease_until IS NULL OR f.lease_until <= ?5)
                 ORDER BY f.rowid LIMIT ?6)
             RETURNING rowid AS position, url, depth",
        )
        .bind(worker)
        .bind(now.saturating_add(millis(lease)))
        .bind(run)
        .bind(org.get())
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out = rows
            .into_iter()
            .map(|r| {
                Ok(FrontierEntry {
                    position: r.try_get("position")?,
                    url: r.try_get("url")?,
                    depth: u32::try_from(r.try_get::<i64, _>("depth")?)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|e| e.position);
        Ok(out)
    }

    async fn renew_leases(
        &self,
        org: OrgId,
        run: i64,
        worker: &str,
        lease: Duration,
    ) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE crawl_frontier SET lease_until = ?1
             WHERE run_id = ?2 AND lease_owner = ?3 AND state = 'queued'
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?2 AND org_id = ?4)",
        )
        .bind(now_ms().saturating_add(millis(lease)))
        .bind(run)
        .bind(worker)
        .bind(org.get())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    async fn complete_leased(
        &self,
        org: OrgId,
        run: i64,
        worker: &str,
        url: &str,
        state: &str,
    ) -> StoreResult<bool> {
        check_completion_state(state)?;
        let r = if state == "queued" {
            sqlx::query(
                "UPDATE crawl_frontier SET lease_owner = NULL, lease_until = NULL
                 WHERE run_id = ?1 AND url = ?2 AND state = 'queued' AND lease_owner = ?3
                   AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?4)",
            )
            .bind(run)
            .bind(url)
            .bind(worker)
            .bind(org.get())
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query(
                "UPDATE crawl_frontier SET state = ?3, lease_owner = NULL, lease_until = NULL
                 WHERE run_id = ?1 AND url = ?2 AND state = 'queued'
                   AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?4)",
            )
            .bind(run)
            .bind(url)
            .bind(state)
            .bind(org.get())
            .execute(&self.pool)
            .await?
        };
        Ok(r.rows_affected() == 1)
    }

    async fn release_leases(&self, org: OrgId, run: i64, worker: &str) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE crawl_frontier SET lease_owner = NULL, lease_until = NULL
             WHERE run_id = ?1 AND lease_owner = ?2 AND state = 'queued'
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?3)",
        )
        .bind(run)
        .bind(worker)
        .bind(org.get())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    async fn lease_holders(&self, org: OrgId, run: i64) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT lease_owner FROM crawl_frontier WHERE run_id = ?1 AND state = 'queued' AND lease_owner IS NOT NULL
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?2)
             UNION SELECT holder FROM crawl_host_permit WHERE run_id = ?1 AND holder IS NOT NULL
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?2)
             UNION SELECT robots_claim FROM crawl_host WHERE run_id = ?1 AND robots_claim IS NOT NULL
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?2)",
        )
        .bind(run)
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?)
    }

    async fn release_holder(&self, org: OrgId, run: i64, prefix: &str) -> StoreResult<u64> {
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT id FROM crawl_run WHERE id = ?1 AND org_id = ?2")
                .bind(run)
                .bind(org.get())
                .fetch_optional(&self.pool)
                .await?;
        if owned.is_none() {
            return Ok(0);
        }
        let mut n = 0;
        for sql in [
            "UPDATE crawl_frontier SET lease_owner = NULL, lease_until = NULL
             WHERE run_id = ?1 AND state = 'queued' AND substr(lease_owner, 1, length(?2)) = ?2",
            "UPDATE crawl_host_permit SET holder = NULL, until = NULL
             WHERE run_id = ?1 AND substr(holder, 1, length(?2)) = ?2",
            "UPDATE crawl_host SET robots_claim = NULL, robots_claim_until = NULL
             WHERE run_id = ?1 AND substr(robots_claim, 1, length(?2)) = ?2",
        ] {
            n += sqlx::query(sql)
                .bind(run)
                .bind(prefix)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    async fn host_slot(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        interval: Duration,
    ) -> StoreResult<Duration> {
        let now = now_ms();
        let step = millis(interval);
        // One statement: the upsert holds the write lock from reading next_at to writing it.
        let next: Option<i64> = sqlx::query_scalar(
            "INSERT INTO crawl_host (run_id, host, next_at)
             SELECT ?1, ?2, ?3 + ?4 WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?5)
             ON CONFLICT (run_id, host) DO UPDATE SET next_at = MAX(next_at, ?3) + ?4
             RETURNING next_at",
        )
        .bind(run)
        .bind(host)
        .bind(now)
        .bind(step)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        let next =
            next.ok_or_else(|| anyhow::anyhow!("no crawl run {run} in this organisation"))?;
        let slot = next - step;
        Ok(Duration::from_millis(
            u64::try_from(slot.saturating_sub(now)).unwrap_or(0),
        ))
    }

    async fn take_host_permit(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        worker: &str,
        max: u32,
        hold: Duration,
    ) -> StoreResult<Option<u32>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = now_ms();
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM crawl_run WHERE id = ? AND org_id = ?")
                .bind(run)
                .bind(org.get())
                .fetch_optional(&mut *tx)
                .await?;
        anyhow::ensure!(owned.is_some(), "no crawl run {run} in this organisation");
        for slot in 0..max {
            sqlx::query(
                "INSERT OR IGNORE INTO crawl_host_permit (run_id, host, slot) VALUES (?, ?, ?)",
            )
            .bind(run)
            .bind(host)
            .bind(i64::from(slot))
            .execute(&mut *tx)
            .await?;
        }
        let slot: Option<i64> = sqlx::query_scalar(
            "UPDATE crawl_host_permit SET holder = ?1, until = ?2
             WHERE rowid = (SELECT rowid FROM crawl_host_permit
                 WHERE run_id = ?3 AND host = ?4 AND slot < ?5 AND (until IS NULL OR until <= ?6)
                 ORDER BY slot LIMIT 1)
             RETURNING slot",
        )
        .bind(worker)
        .bind(now.saturating_add(millis(hold)))
        .bind(run)
        .bind(host)
        .bind(i64::from(max))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(slot.map(u32::try_from).transpose()?)
    }

    async fn release_host_permit(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        worker: &str,
        slot: u32,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE crawl_host_permit SET holder = NULL, until = NULL
             WHERE run_id = ?1 AND host = ?2 AND slot = ?3 AND holder = ?4
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?5)",
        )
        .bind(run)
        .bind(host)
        .bind(i64::from(slot))
        .bind(worker)
        .bind(org.get())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_robots(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        worker: &str,
        claim_for: Duration,
    ) -> StoreResult<RobotsClaim> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = now_ms();
        sqlx::query(
            "INSERT OR IGNORE INTO crawl_host (run_id, host, next_at)
             SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?4)",
        )
        .bind(run)
        .bind(host)
        .bind(now)
        .bind(org.get())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT h.robots_kind, h.robots_body, h.robots_note, h.robots_retry_at, h.robots_claim_until
             FROM crawl_host h JOIN crawl_run r ON r.id = h.run_id
             WHERE h.run_id = ? AND h.host = ? AND r.org_id = ?",
        )
        .bind(run)
        .bind(host)
        .bind(org.get())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no crawl run {run} in this organisation"))?;
        let kind: Option<String> = row.try_get("robots_kind")?;
        let retry_at: Option<i64> = row.try_get("robots_retry_at")?;
        let claim_until: Option<i64> = row.try_get("robots_claim_until")?;
        let stored = kind.as_deref().map(|k| {
            Ok::<_, anyhow::Error>(StoredRobots::from_columns(
                k,
                row.try_get("robots_body")?,
                row.try_get("robots_note")?,
            ))
        });
        let stored = stored.transpose()?;
        let due = stored.is_none() || retry_at.is_some_and(|t| t <= now);
        let claimed = claim_until.is_some_and(|t| t > now);
        let answer = if due && !claimed {
            sqlx::query(
                "UPDATE crawl_host SET robots_claim = ?, robots_claim_until = ? WHERE run_id = ? AND host = ?",
            )
            .bind(worker)
            .bind(now.saturating_add(millis(claim_for)))
            .bind(run)
            .bind(host)
            .execute(&mut *tx)
            .await?;
            RobotsClaim::Fetch
        } else {
            match stored {
                Some(s) => RobotsClaim::Stored(s),
                None => RobotsClaim::Wait,
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn store_robots(
        &self,
        org: OrgId,
        run: i64,
        host: &str,
        answer: &StoredRobots,
        retry_after: Option<Duration>,
    ) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO crawl_host (run_id, host, next_at, robots_kind, robots_body, robots_note, robots_retry_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = ?1 AND org_id = ?8)
             ON CONFLICT (run_id, host) DO UPDATE SET robots_kind = ?4, robots_body = ?5,
                 robots_note = ?6, robots_retry_at = ?7, robots_claim = NULL, robots_claim_until = NULL",
        )
        .bind(run)
        .bind(host)
        .bind(now)
        .bind(answer.kind())
        .bind(answer.body())
        .bind(answer.note())
        .bind(retry_after.map(|d| now.saturating_add(millis(d))))
        .bind(org.get())
        .execute(&self.pool)
        .await?;
        Ok(())
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

/// Now as Unix milliseconds (the SQLite store's lease and slot times; workers sharing a SQLite
/// file share a machine and its clock).
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
