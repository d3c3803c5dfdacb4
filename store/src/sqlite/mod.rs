//! The embedded store: one SQLite file in WAL mode, implementing both [`MetaStore`] and
//! [`EvidenceStore`] over one connection pool.
//!
//! Writes that read before they write (audit chain, view counting) run in `BEGIN IMMEDIATE`
//! transactions so that two processes sharing the file (the server, the owner CLI, a crawl)
//! serialise instead of failing on a lock upgrade.
//!
//! [`MetaStore`]: crate::MetaStore
//! [`EvidenceStore`]: crate::EvidenceStore

mod alerts;
mod evidence;
mod meta;
mod review;

use std::borrow::Cow;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlStr, SqlitePool};

use crate::DataDir;

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a commit returns only once the WAL is on disk, so an audit entry or a
    /// view grant acknowledged to a client survives power loss. The server's choice.
    Full,
    /// `synchronous=NORMAL`: a commit may be lost on power loss (never corrupted). A crawl
    /// re-does at most the pages in flight, so it trades that for speed.
    Normal,
}

/// Every migration of the one database, in order. Versions 1..999 were the server's and 1001+
/// the crawler's when they were migrated apart; the numbers (and the files' bytes, which sqlx
/// checksums) are kept so that existing data directories open unchanged.
fn migrator() -> Migrator {
    let migration = |version, name, sql| {
        Migration::new(
            version,
            Cow::Borrowed(name),
            MigrationType::Simple,
            SqlStr::from_static(sql),
            false,
        )
    };
    let mut migrator = Migrator::with_migrations(vec![
        migration(1, "init", include_str!("../../migrations/0001_init.sql")),
        migration(
            2,
            "hit review",
            include_str!("../../migrations/0002_hit_review.sql"),
        ),
        migration(
            1001,
            "catalog and hits",
            include_str!("../../migrations/1001_catalog_and_hits.sql"),
        ),
        // After 1001 because it rebuilds crawl tables; databases that had 1..2 and 1001 get
        // it next, fresh ones after 1001.
        migration(
            1002,
            "organisations",
            include_str!("../../migrations/1002_organisations.sql"),
        ),
        migration(
            1003,
            "crawl workers",
            include_str!("../../migrations/1003_crawl_workers.sql"),
        ),
        migration(
            1004,
            "audit order",
            include_str!("../../migrations/1004_audit_order.sql"),
        ),
        migration(
            1005,
            "classification",
            include_str!("../../migrations/1005_classification.sql"),
        ),
        migration(
            1006,
            "document subsets",
            include_str!("../../migrations/1006_document_subsets.sql"),
        ),
        migration(
            1007,
            "terms",
            include_str!("../../migrations/1007_terms.sql"),
        ),
        migration(
            1008,
            "access reviews",
            include_str!("../../migrations/1008_access_reviews.sql"),
        ),
        migration(
            1009,
            "alerts",
            include_str!("../../migrations/1009_alerts.sql"),
        ),
    ]);
    // A database written by a newer Veilmark may carry migrations this build does not know.
    migrator.set_ignore_missing(true);
    migrator
}

/// The SQLite implementation of both stores.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    audit_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database of `data` and applies the migrations.
    pub async fn open(data: &DataDir, durability: Durability) -> anyhow::Result<Self> {
        let path = data.database_path();
        if let Some(parent) = path.parent() {
            crate::durable::create_private_dir_all(parent)
                .with_context(|| format!("cannot create data directory {}", parent.display()))?;
        }
        // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the mode of
        // the database file.
        std::os::unix::fs::OpenOptionsExt::mode(
            std::fs::OpenOptions::new().create(true).append(true),
            crate::durable::FILE_MODE,
        )
        .open(&path)
        .with_context(|| format!("cannot create database {}", path.display()))?;
        crate::durable::tighten(&path, crate::durable::FILE_MODE)?;
        let (synchronous, connections) = match durability {
            Durability::Full => (SqliteSynchronous::Full, 8),
            Durability::Normal => (SqliteSynchronous::Normal, 4),
        };
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
        migrator()
            .run(&pool)
            .await
            .context("cannot apply the database migrations")?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            let side = std::path::PathBuf::from(side);
            if side.exists() {
                crate::durable::tighten(&side, crate::durable::FILE_MODE)?;
            }
        }
        Ok(Self {
            pool,
            audit_lock: std::sync::Arc::default(),
        })
    }

    /// The connection pool (`crate::migrate` reads the tables by name).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the connection pool: every later query fails. For shutdown, and for tests of what
    /// the server does when its database is gone (`/readyz`).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
