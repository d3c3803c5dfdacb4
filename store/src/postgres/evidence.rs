//! [`EvidenceStore`] on PostgreSQL: the catalog, crawl runs and their frontier, last-seen URLs,
//! hits and reviews, with the same behaviour as the SQLite store; and what several crawl
//! workers on several machines share through it: frontier leases taken with `FOR UPDATE SKIP
//! LOCKED`, each host's next request slot and request permits, and robots.txt fetched once per
//! run.
//!
//! Times that workers compare (lease expiry, request slots) are the database's
//! `clock_timestamp()`, never a worker's clock, so machines with skewed clocks still share one
//! schedule; a request slot comes back as how long to wait, not as a moment.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};

use super::PostgresStore;
use crate::StoreResult;
use crate::evidence::{
    EvidenceStore, FrontierEntry, HitRecord, NewReference, ReferenceRow, ReviewedHit, RobotsClaim,
    Seen, SeenTable, StoredRobots, check_completion_state,
};
use crate::tenancy::OrgId;

/// Key of the advisory lock that serialises "resume the running run or start one" per
/// organisation (two `veilmark crawl` started at once must not make two runs).
const RUN_LOCK: i32 = 0x7665_696c; // "veil"

#[async_trait]
impl EvidenceStore for PostgresStore {
    async fn add_reference(&self, org: OrgId, r: &NewReference<'_>) -> StoreResult<(i64, bool)> {
        let done = sqlx::query(
            "INSERT INTO catalog_reference (org_id, sku, title, source_path, sha256, width, height, pdq_quality, pdq, phash, pdq_windows, added_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (org_id, sku, sha256) DO NOTHING",
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
            "SELECT id FROM catalog_reference WHERE org_id = $1 AND sku = $2 AND sha256 = $3",
        )
        .bind(org.get())
        .bind(r.sku)
        .bind(r.sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok((id, done.rows_affected() == 1))
    }

    async fn references(&self, org: OrgId) -> StoreResult<Vec<ReferenceRow>> {
        let rows = sqlx::query("SELECT * FROM catalog_reference WHERE org_id = $1 ORDER BY id")
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

    async fn reference_source(&self, org: OrgId, id: i64) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT source_path FROM catalog_reference WHERE id = $1 AND org_id = $2",
        )
        .bind(id)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn catalog_generation(&self, org: OrgId) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) + COUNT(*) FROM catalog_reference WHERE org_id = $1",
        )
        .bind(org.get())
        .fetch_one(&self.pool)
        .await?)
    }

    async fn resume_or_start_run(&self, org: OrgId, profile: &str) -> StoreResult<(i64, bool)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(RUN_LOCK)
            .bind(i32::try_from(org.get().rem_euclid(i64::from(i32::MAX)))?)
            .execute(&mut *tx)
            .await?;
        let running: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM crawl_run WHERE org_id = $1 AND profile = $2 AND state = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(org.get())
        .bind(profile)
        .fetch_optional(&mut *tx)
        .await?;
        let answer = match running {
            Some(id) => (id, true),
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO crawl_run (org_id, profile, started_at, state) VALUES ($1, $2, $3, 'running') RETURNING id",
                )
                .bind(org.get())
                .bind(profile)
                .bind(crate::now_rfc3339())
                .fetch_one(&mut *tx)
                .await?;
                (id, false)
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    async fn finish_run(&self, org: OrgId, run: i64, pages: u64, images: u64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE crawl_run SET state = 'finished', finished_at = $1, pages = pages + $2, images = images + $3
             WHERE id = $4 AND org_id = $5",
        )
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
        self.enqueue_in_state(org, run, url, depth, "queued").await
    }

    async fn set_frontier_state(
        &self,
        org: OrgId,
        run: i64,
        url: &str,
        state: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE crawl_frontier SET state = $1, lease_owner = NULL, lease_until = NULL
             WHERE run_id = $2 AND url = $3
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $2 AND org_id = $4)",
        )
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
             WHERE f.run_id = $1 AND r.org_id = $2 ORDER BY f.position",
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
        let r = sqlx::query(
            "INSERT INTO crawl_frontier (run_id, url, depth, state)
             SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $5)
             ON CONFLICT (run_id, url) DO NOTHING",
        )
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
            "SELECT f.position, f.url, f.depth FROM crawl_frontier f JOIN crawl_run r ON r.id = f.run_id
             WHERE f.run_id = $1 AND r.org_id = $2 AND f.state = 'queued' AND f.position > $3
             ORDER BY f.position LIMIT $4",
        )
        .bind(run)
        .bind(org.get())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(frontier_entry).collect()
    }

    async fn queued_count(&self, org: OrgId, run: i64) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM crawl_frontier f JOIN crawl_run r ON r.id = f.run_id
             WHERE f.run_id = $1 AND r.org_id = $2 AND f.state = 'queued'",
        )
        .bind(run)
        .bind(org.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n)?)
    }

    async fn running_run(&self, org: OrgId, profile: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM crawl_run WHERE org_id = $1 AND profile = $2 AND state = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(org.get())
        .bind(profile)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn run_finished(&self, org: OrgId, run: i64) -> StoreResult<bool> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM crawl_run WHERE id = $1 AND org_id = $2")
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
        // SKIP LOCKED: entries another worker is leasing right now are passed over, not waited
        // for; one whose lease was renewed or taken since this statement's snapshot is
        // re-checked against the WHERE clause on its new version and dropped.
        let rows = sqlx::query(
            "UPDATE crawl_frontier f
             SET lease_owner = $1, lease_until = clock_timestamp() + make_interval(secs => $2)
             FROM (SELECT c.run_id, c.url FROM crawl_frontier c
                   WHERE c.run_id = $3 AND c.state = 'queued'
                     AND (c.lease_until IS NULL OR c.lease_until <= clock_timestamp())
                     AND EXISTS (SELECT 1 FROM crawl_run r
                                 WHERE r.id = $3 AND r.org_id = $4 AND r.state = 'running')
                   ORDER BY c.position LIMIT $5
                   FOR UPDATE OF c SKIP LOCKED) pick
             WHERE f.run_id = pick.run_id AND f.url = pick.url
             RETURNING f.position, f.url, f.depth",
        )
        .bind(worker)
        .bind(lease.as_secs_f64())
        .bind(run)
        .bind(org.get())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(frontier_entry)
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
            "UPDATE crawl_frontier SET lease_until = clock_timestamp() + make_interval(secs => $1)
             WHERE run_id = $2 AND lease_owner = $3 AND state = 'queued'
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $2 AND org_id = $4)",
        )
        .bind(lease.as_secs_f64())
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
                 WHERE run_id = $1 AND url = $2 AND state = 'queued' AND lease_owner = $3
                   AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $4)",
            )
            .bind(run)
            .bind(url)
            .bind(worker)
            .bind(org.get())
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query(
                "UPDATE crawl_frontier SET state = $3, lease_owner = NULL, lease_until = NULL
                 WHERE run_id = $1 AND url = $2 AND state = 'queued'
                   AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $4)",
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
             WHERE run_id = $1 AND lease_owner = $2 AND state = 'queued'
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $3)",
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
            "SELECT lease_owner FROM crawl_frontier WHERE run_id = $1 AND state = 'queued' AND lease_owner IS NOT NULL
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $2)
             UNION SELECT holder FROM crawl_host_permit WHERE run_id = $1 AND holder IS NOT NULL
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $2)
             UNION SELECT robots_claim FROM crawl_host WHERE run_id = $1 AND robots_claim IS NOT NULL
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $2)",
        )
        .bind(run)
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?)
    }

    async fn release_holder(&self, org: OrgId, run: i64, prefix: &str) -> StoreResult<u64> {
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT id FROM crawl_run WHERE id = $1 AND org_id = $2")
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
             WHERE run_id = $1 AND state = 'queued' AND left(lease_owner, length($2)) = $2",
            "UPDATE crawl_host_permit SET holder = NULL, until = NULL
             WHERE run_id = $1 AND left(holder, length($2)) = $2",
            "UPDATE crawl_host SET robots_claim = NULL, robots_claim_until = NULL
             WHERE run_id = $1 AND left(robots_claim, length($2)) = $2",
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
        // The upsert locks the host's row: concurrent workers queue on it and each moves
        // next_at on from the value the previous one wrote.
        let wait: Option<f64> = sqlx::query_scalar(
            "INSERT INTO crawl_host AS h (run_id, host, next_at)
             SELECT $1, $2, clock_timestamp() + make_interval(secs => $3)
             WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $4)
             ON CONFLICT (run_id, host) DO UPDATE
                 SET next_at = GREATEST(h.next_at, clock_timestamp()) + make_interval(secs => $3)
             RETURNING EXTRACT(EPOCH FROM (h.next_at - make_interval(secs => $3) - clock_timestamp()))::float8",
        )
        .bind(run)
        .bind(host)
        .bind(interval.as_secs_f64())
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        let wait =
            wait.ok_or_else(|| anyhow::anyhow!("no crawl run {run} in this organisation"))?;
        Ok(Duration::try_from_secs_f64(wait.max(0.0)).unwrap_or_default())
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
        sqlx::query(
            "INSERT INTO crawl_host_permit (run_id, host, slot)
             SELECT $1, $2, s FROM generate_series(0, $3 - 1) AS s
             WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(run)
        .bind(host)
        .bind(i64::from(max))
        .bind(org.get())
        .execute(&self.pool)
        .await?;
        let slot: Option<i64> = sqlx::query_scalar(
            "UPDATE crawl_host_permit p
             SET holder = $1, until = clock_timestamp() + make_interval(secs => $2)
             FROM (SELECT c.run_id, c.host, c.slot FROM crawl_host_permit c
                   WHERE c.run_id = $3 AND c.host = $4 AND c.slot < $5
                     AND (c.until IS NULL OR c.until <= clock_timestamp())
                     AND EXISTS (SELECT 1 FROM crawl_run r WHERE r.id = $3 AND r.org_id = $6)
                   ORDER BY c.slot LIMIT 1
                   FOR UPDATE OF c SKIP LOCKED) pick
             WHERE p.run_id = pick.run_id AND p.host = pick.host AND p.slot = pick.slot
             RETURNING p.slot",
        )
        .bind(worker)
        .bind(hold.as_secs_f64())
        .bind(run)
        .bind(host)
        .bind(i64::from(max))
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
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
             WHERE run_id = $1 AND host = $2 AND slot = $3 AND holder = $4
               AND EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $5)",
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO crawl_host (run_id, host, next_at)
             SELECT $1, $2, clock_timestamp() WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $3)
             ON CONFLICT (run_id, host) DO NOTHING",
        )
        .bind(run)
        .bind(host)
        .bind(org.get())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT h.robots_kind, h.robots_body, h.robots_note,
                    COALESCE(h.robots_retry_at <= clock_timestamp(), FALSE) AS retry_due,
                    COALESCE(h.robots_claim_until > clock_timestamp(), FALSE) AS claimed
             FROM crawl_host h JOIN crawl_run r ON r.id = h.run_id
             WHERE h.run_id = $1 AND h.host = $2 AND r.org_id = $3
             FOR UPDATE OF h",
        )
        .bind(run)
        .bind(host)
        .bind(org.get())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no crawl run {run} in this organisation"))?;
        let kind: Option<String> = row.try_get("robots_kind")?;
        let stored = match kind {
            Some(k) => Some(StoredRobots::from_columns(
                &k,
                row.try_get("robots_body")?,
                row.try_get("robots_note")?,
            )),
            None => None,
        };
        let due = stored.is_none() || row.try_get::<bool, _>("retry_due")?;
        let claimed: bool = row.try_get("claimed")?;
        let answer = if due && !claimed {
            sqlx::query(
                "UPDATE crawl_host SET robots_claim = $1,
                     robots_claim_until = clock_timestamp() + make_interval(secs => $2)
                 WHERE run_id = $3 AND host = $4",
            )
            .bind(worker)
            .bind(claim_for.as_secs_f64())
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
        sqlx::query(
            "INSERT INTO crawl_host AS h (run_id, host, next_at, robots_kind, robots_body, robots_note, robots_retry_at)
             SELECT $1, $2, clock_timestamp(), $3, $4, $5, clock_timestamp() + make_interval(secs => $6)
             WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = $1 AND org_id = $7)
             ON CONFLICT (run_id, host) DO UPDATE SET robots_kind = EXCLUDED.robots_kind,
                 robots_body = EXCLUDED.robots_body, robots_note = EXCLUDED.robots_note,
                 robots_retry_at = EXCLUDED.robots_retry_at, robots_claim = NULL,
                 robots_claim_until = NULL",
        )
        .bind(run)
        .bind(host)
        .bind(answer.kind())
        .bind(answer.body())
        .bind(answer.note())
        .bind(retry_after.map(|d| d.as_secs_f64()))
        .bind(org.get())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn seen(&self, org: OrgId, table: SeenTable, url: &str) -> StoreResult<Option<Seen>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT sha256, etag, catalog_gen, hit FROM {} WHERE org_id = $1 AND url = $2",
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
                hit: r.try_get("hit")?,
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
            "INSERT INTO {} (org_id, url, sha256, etag, fetched_at, catalog_gen, hit)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (org_id, url) DO UPDATE SET sha256 = EXCLUDED.sha256, etag = EXCLUDED.etag,
             fetched_at = EXCLUDED.fetched_at, catalog_gen = EXCLUDED.catalog_gen, hit = EXCLUDED.hit",
            seen_table(table)
        )))
        .bind(org.get())
        .bind(url)
        .bind(&seen.sha256)
        .bind(&seen.etag)
        .bind(crate::now_rfc3339())
        .bind(seen.catalog_gen)
        .bind(seen.hit)
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
            "INSERT INTO crawl_hit (org_id, dedup_key, run_id, marketplace, page_url, image_url, image_sha256, fetched_at,
               http_status, http_headers, listing_title, listing_price, listing_seller, reference_id, sku, hash_kind,
               distance, transform, hash_window, watermark_session, warc_file, warc_page_offset, warc_image_offset, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
               $19, $20, $21, $22, $23, $24
             WHERE EXISTS (SELECT 1 FROM crawl_run WHERE id = $3 AND org_id = $1)
             ON CONFLICT (org_id, dedup_key) DO NOTHING",
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
        let rows = sqlx::query(
            "SELECT * FROM crawl_hit WHERE org_id = $1 AND marketplace = $2 ORDER BY id",
        )
        .bind(org.get())
        .bind(marketplace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hit_from).collect()
    }

    async fn reviewed_hits(&self, org: OrgId, limit: u32) -> StoreResult<Vec<ReviewedHit>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{REVIEWED_HIT} WHERE h.org_id = $1 ORDER BY h.id DESC LIMIT $2"
        )))
        .bind(org.get())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(reviewed_hit_from).collect()
    }

    async fn reviewed_hit(&self, org: OrgId, id: i64) -> StoreResult<Option<ReviewedHit>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{REVIEWED_HIT} WHERE h.id = $1 AND h.org_id = $2"
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
                "INSERT INTO hit_review (hit_id, state, note, reviewer, reviewed_at)
                 SELECT id, COALESCE($2, 'new'), COALESCE($3, ''), $4, $5 FROM crawl_hit WHERE id = $1 AND org_id = $6
                 ON CONFLICT (hit_id) DO UPDATE SET state = COALESCE($2, hit_review.state),
                 note = COALESCE($3, hit_review.note), reviewer = $4, reviewed_at = $5",
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

/// A hit joined with its review state (a hit never reviewed is `new` with no note).
const REVIEWED_HIT: &str = "SELECT h.*, COALESCE(r.state, 'new') AS reviewed_state, \
     COALESCE(r.note, '') AS note FROM crawl_hit h LEFT JOIN hit_review r ON r.hit_id = h.id";

fn frontier_entry(r: &PgRow) -> StoreResult<FrontierEntry> {
    Ok(FrontierEntry {
        position: r.try_get("position")?,
        url: r.try_get("url")?,
        depth: u32::try_from(r.try_get::<i64, _>("depth")?)?,
    })
}

fn hit_from(r: &PgRow) -> StoreResult<HitRecord> {
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

fn reviewed_hit_from(r: &PgRow) -> StoreResult<ReviewedHit> {
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
