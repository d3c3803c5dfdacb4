//! The evidence store's backends for the tests that run against each of them: the embedded
//! SQLite file of a fresh data directory, and a fresh PostgreSQL database (`PgTestDb`, dropped
//! after). Every handle comes with two organisations, so that each test can also check that
//! one never sees the other's rows.

#![allow(dead_code)]

use std::sync::Arc;

use veilmark_store::{DataDir, Durability, Evidence, EvidenceStore, MetaStore, OrgId};
use veilmark_store::{PostgresStore, SqliteStore};
use veilmark_testkit::PgTestDb;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The data directory's SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// Both backends, for tests that loop over them.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// One backend set up for a test: two organisations' evidence handles over one store, and
/// how to open more connection pools to the same store (other "workers").
pub struct EvidenceBackend {
    /// The backend.
    pub backend: Backend,
    /// The data directory (evidence files; the SQLite file on SQLite).
    pub dir: tempfile::TempDir,
    /// Organisation A's handle.
    pub ev: Evidence,
    /// Organisation B's handle on the same store.
    pub other: Evidence,
    db: Option<PgTestDb>,
}

impl EvidenceBackend {
    /// A fresh store of `backend` with organisations `evidence-a` and `evidence-b`.
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let (store, db): (Arc<dyn EvidenceStore>, _) = match backend {
            Backend::Sqlite => {
                let s = SqliteStore::open(&data, Durability::Normal).await.unwrap();
                let (a, b) = two_orgs(&s).await;
                let s: Arc<dyn EvidenceStore> = Arc::new(s);
                return Self {
                    backend,
                    ev: Evidence::new(s.clone(), data.clone(), a),
                    other: Evidence::new(s, data, b),
                    dir,
                    db: None,
                };
            }
            Backend::Postgres => {
                let db = PgTestDb::create().await;
                let s = PostgresStore::connect(db.url()).await.unwrap();
                let (a, b) = two_orgs(&s).await;
                let s: Arc<dyn EvidenceStore> = Arc::new(s);
                (s, (db, a, b))
            }
        };
        let (db, a, b) = db;
        Self {
            backend,
            ev: Evidence::new(store.clone(), data.clone(), a),
            other: Evidence::new(store, data, b),
            dir,
            db: Some(db),
        }
    }

    /// Another connection pool to the same store, as organisation A: what another worker
    /// process would open.
    pub async fn another_pool(&self) -> Evidence {
        let data = DataDir::new(self.dir.path());
        let store: Arc<dyn EvidenceStore> = match &self.db {
            None => Arc::new(SqliteStore::open(&data, Durability::Normal).await.unwrap()),
            Some(db) => Arc::new(PostgresStore::connect(db.url()).await.unwrap()),
        };
        Evidence::new(store, data, self.ev.org())
    }
}

async fn two_orgs<S: MetaStore>(store: &S) -> (OrgId, OrgId) {
    let a = store.create_org("evidence-a", 1).await.unwrap();
    let b = store.create_org("evidence-b", 1).await.unwrap();
    (a, b)
}
