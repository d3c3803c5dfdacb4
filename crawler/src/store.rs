//! The crawler's tables in the shared SQLite database (`<data dir>/veilmark.db`).
//!
//! The server owns migrations 1..=999 of the same database; ours are 1001+ and the migrator
//! ignores versions it does not know, so either side can migrate first. Hits are deduplicated
//! by a unique key (page, image bytes, cause), so a crawl resumed after `kill -9` re-inserts
//! nothing, and the frontier is persisted so that the resumed run carries on where it stopped.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Row;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Name of the database file inside the data directory (shared with the server).
pub const DB_FILE: &str = "veilmark.db";

fn migrator() -> Migrator {
    let sql = include_str!("../migrations/1001_catalog_and_hits.sql");
    Migrator {
        migrations: Cow::Owned(vec![Migration::new(
            1001,
            Cow::Borrowed("catalog and hits"),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        )]),
        ignore_missing: true,
        locking: true,
        no_tx: false,
    }
}

/// A catalog entry as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReferenceRow {
    /// Row id (stable reference id in hits).
    pub id: i64,
    /// Product SKU.
    pub sku: String,
    /// Optional human title.
    pub title: Option<String>,
    /// Path the image was added from.
    pub source_path: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Pixel width.
    pub width: i64,
    /// Pixel height.
    pub height: i64,
    /// PDQ quality (0–100).
    pub pdq_quality: i64,
    /// Eight PDQ hashes (hex), dihedral order.
    pub pdq: Vec<String>,
    /// Eight pHashes (hex), dihedral order.
    pub phash: Vec<String>,
    /// Sub-window PDQ hashes as `name:hex`.
    pub pdq_windows: Vec<String>,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

/// A hit as stored and exported (one JSON line each in `--export`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct HitRecord {
    /// Marketplace (profile name).
    pub marketplace: String,
    /// Listing page.
    pub page_url: String,
    /// Image URL.
    pub image_url: String,
    /// SHA-256 of the image bytes (hex).
    pub image_sha256: String,
    /// When the image was fetched (RFC 3339, UTC).
    pub fetched_at: String,
    /// HTTP status of the image response.
    pub http_status: u16,
    /// Response headers of the image, as a JSON object of name → value.
    pub http_headers: serde_json::Value,
    /// Listing title.
    pub listing_title: Option<String>,
    /// Listing price as written.
    pub listing_price: Option<String>,
    /// Seller or shop.
    pub listing_seller: Option<String>,
    /// Matched catalog reference id.
    pub reference_id: Option<i64>,
    /// Matched SKU.
    pub sku: Option<String>,
    /// Hash that matched (`pdq` or `phash`).
    pub hash_kind: Option<String>,
    /// Hamming distance of the match.
    pub distance: Option<i64>,
    /// Dihedral transform of the reference that matched (`orig`, `flipx`, ...).
    pub transform: Option<String>,
    /// Window of the crawled image that matched (`full`, `centre-80`, ...).
    pub window: Option<String>,
    /// Decoded forensic watermark session, if any.
    pub watermark_session: Option<String>,
    /// WARC file holding the page and image responses (relative to the data directory).
    pub warc_file: String,
    /// Offset of the page's response record in the WARC file.
    pub warc_page_offset: Option<i64>,
    /// Offset of the image's response record in the WARC file.
    pub warc_image_offset: i64,
}

/// Handle on the database.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    data_dir: PathBuf,
}

/// Previously seen content of a URL.
#[derive(Debug, Clone)]
pub struct Seen {
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// `ETag` the server gave.
    pub etag: Option<String>,
    /// Catalog generation it was matched against.
    pub catalog_gen: i64,
    /// Whether it produced a hit last time.
    pub hit: bool,
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/veilmark.db` and applies our migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        migrator().run(&pool).await?;
        Ok(Store {
            pool,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Adds a reference; returns its id and whether it was new (same SKU + bytes = same row).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_reference(
        &self,
        sku: &str,
        title: Option<&str>,
        source_path: &str,
        sha256: &str,
        print: &crate::hash::ReferencePrint,
    ) -> anyhow::Result<(i64, bool)> {
        let pdq = print
            .pdq
            .hashes
            .iter()
            .map(|h| h.to_hex())
            .collect::<Vec<_>>()
            .join(" ");
        let phash = print
            .phash
            .iter()
            .map(|h| format!("{h:016x}"))
            .collect::<Vec<_>>()
            .join(" ");
        let windows = print
            .windows
            .iter()
            .map(|(n, h)| format!("{n}:{}", h.to_hex()))
            .collect::<Vec<_>>()
            .join(" ");
        let done = sqlx::query(
            "INSERT OR IGNORE INTO catalog_reference (sku, title, source_path, sha256, width, height, pdq_quality, pdq, phash, pdq_windows, added_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(sku)
        .bind(title)
        .bind(source_path)
        .bind(sha256)
        .bind(i64::from(print.width))
        .bind(i64::from(print.height))
        .bind(i64::from(print.pdq.quality))
        .bind(pdq)
        .bind(phash)
        .bind(windows)
        .bind(crate::now_rfc3339())
        .execute(&self.pool)
        .await?;
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM catalog_reference WHERE sku = ? AND sha256 = ?")
                .bind(sku)
                .bind(sha256)
                .fetch_one(&self.pool)
                .await?;
        Ok((id, done.rows_affected() == 1))
    }

    /// Every catalog entry, oldest first.
    pub async fn references(&self) -> anyhow::Result<Vec<ReferenceRow>> {
        let rows = sqlx::query("SELECT * FROM catalog_reference ORDER BY id")
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

    /// A number that grows whenever the catalog grows (re-crawls re-match when it changes).
    pub async fn catalog_generation(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + COUNT(*) FROM catalog_reference")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The unfinished run of `profile` if there is one (a crash or kill), else a new run.
    /// Returns `(run id, resumed)`.
    pub async fn resume_or_start_run(&self, profile: &str) -> anyhow::Result<(i64, bool)> {
        if let Some(id) = sqlx::query_scalar::<_, i64>(
            "SELECT id FROM crawl_run WHERE profile = ? AND state = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(profile)
        .fetch_optional(&self.pool)
        .await?
        {
            return Ok((id, true));
        }
        let id = sqlx::query(
            "INSERT INTO crawl_run (profile, started_at, state) VALUES (?, ?, 'running')",
        )
        .bind(profile)
        .bind(crate::now_rfc3339())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok((id, false))
    }

    /// Marks a run finished with its counters.
    pub async fn finish_run(&self, run: i64, pages: u64, images: u64) -> anyhow::Result<()> {
        sqlx::query("UPDATE crawl_run SET state = 'finished', finished_at = ?, pages = pages + ?, images = images + ? WHERE id = ?")
            .bind(crate::now_rfc3339())
            .bind(i64::try_from(pages)?)
            .bind(i64::try_from(images)?)
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds a URL to a run's frontier; false if it was already there.
    pub async fn enqueue(&self, run: i64, url: &str, depth: u32) -> anyhow::Result<bool> {
        let r = sqlx::query("INSERT OR IGNORE INTO crawl_frontier (run_id, url, depth, state) VALUES (?, ?, ?, 'queued')")
            .bind(run)
            .bind(url)
            .bind(i64::from(depth))
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Sets the state of a frontier entry (`done`, `failed`, `skipped`).
    pub async fn set_frontier_state(&self, run: i64, url: &str, state: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE crawl_frontier SET state = ? WHERE run_id = ? AND url = ?")
            .bind(state)
            .bind(run)
            .bind(url)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every frontier URL of a run with its depth and state.
    pub async fn frontier(&self, run: i64) -> anyhow::Result<Vec<(String, u32, String)>> {
        let rows = sqlx::query(
            "SELECT url, depth, state FROM crawl_frontier WHERE run_id = ? ORDER BY rowid",
        )
        .bind(run)
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

    /// What was seen at an image (`table` = `crawl_image`) or page (`crawl_page`) URL last time.
    pub async fn seen(&self, table: SeenTable, url: &str) -> anyhow::Result<Option<Seen>> {
        let row = sqlx::query(&format!(
            "SELECT sha256, etag, catalog_gen, hit FROM {} WHERE url = ?",
            table.name()
        ))
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

    /// Records what was seen at a URL.
    pub async fn record_seen(
        &self,
        table: SeenTable,
        url: &str,
        seen: &Seen,
    ) -> anyhow::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO {} (url, sha256, etag, fetched_at, catalog_gen, hit) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (url) DO UPDATE SET sha256 = excluded.sha256, etag = excluded.etag,
             fetched_at = excluded.fetched_at, catalog_gen = excluded.catalog_gen, hit = excluded.hit",
            table.name()
        ))
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

    /// Stores a hit unless the same (page, image bytes, cause) is already stored; true if new.
    pub async fn insert_hit(&self, run: i64, hit: &HitRecord) -> anyhow::Result<bool> {
        let key = format!(
            "{}|{}|{}|{}",
            hit.page_url,
            hit.image_sha256,
            hit.reference_id.map_or("-".to_string(), |r| r.to_string()),
            hit.watermark_session.as_deref().unwrap_or("-")
        );
        let r = sqlx::query(
            "INSERT OR IGNORE INTO crawl_hit (dedup_key, run_id, marketplace, page_url, image_url, image_sha256, fetched_at,
               http_status, http_headers, listing_title, listing_price, listing_seller, reference_id, sku, hash_kind,
               distance, transform, hash_window, watermark_session, warc_file, warc_page_offset, warc_image_offset, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
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

    /// Every stored hit of a marketplace (all runs), oldest first.
    pub async fn hits(&self, marketplace: &str) -> anyhow::Result<Vec<HitRecord>> {
        let rows = sqlx::query("SELECT * FROM crawl_hit WHERE marketplace = ? ORDER BY id")
            .bind(marketplace)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
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
            })
            .collect()
    }
}

/// Which "last seen" table.
#[derive(Debug, Clone, Copy)]
pub enum SeenTable {
    /// `crawl_page`.
    Page,
    /// `crawl_image`.
    Image,
}

impl SeenTable {
    fn name(self) -> &'static str {
        match self {
            SeenTable::Page => "crawl_page",
            SeenTable::Image => "crawl_image",
        }
    }
}
