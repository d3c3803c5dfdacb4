//! The backends every store test runs against: SQLite in a temporary data directory, and a
//! real PostgreSQL database made for the test by [`PgTestDb`] (dropped after). A test body is
//! an `async fn name(b: Backend)`; [`on_both_backends!`] makes `name::sqlite` and
//! `name::postgres` test functions from it.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;

use sqlx::AssertSqlSafe;
use veilmark_store::{DataDir, Durability, MetaStore, PostgresStore, SqliteStore};
use veilmark_testkit::PgTestDb;

/// Connections per PostgreSQL store in tests: several helpers' tests share one server (100
/// connections), and a test that wants more parallelism opens several stores (processes).
pub const PG_POOL: u32 = 4;

/// Which database a [`Backend`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One store under test, with what keeps its database alive.
pub struct Backend {
    /// The store, as the server sees it.
    pub meta: Arc<dyn MetaStore>,
    pub kind: Kind,
    pub sqlite: Option<SqliteStore>,
    pub postgres: Option<PostgresStore>,
    /// The data directory (SQLite's database; evidence files for both).
    pub dir: tempfile::TempDir,
    /// Dropped last: drops the PostgreSQL database.
    pub pg: Option<PgTestDb>,
}

impl Backend {
    /// SQLite in a fresh data directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&DataDir::new(dir.path()), Durability::Normal)
            .await
            .unwrap();
        Self {
            meta: Arc::new(store.clone()),
            kind: Kind::Sqlite,
            sqlite: Some(store),
            postgres: None,
            dir,
            pg: None,
        }
    }

    /// PostgreSQL in a fresh database; fails (never skips) when no server answers.
    pub async fn postgres() -> Self {
        let db = PgTestDb::create().await;
        let store = PostgresStore::connect_with_pool_size(db.url(), PG_POOL)
            .await
            .unwrap();
        Self {
            meta: Arc::new(store.clone()),
            kind: Kind::Postgres,
            sqlite: None,
            postgres: Some(store),
            dir: tempfile::tempdir().unwrap(),
            pg: Some(db),
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn MetaStore {
        self.meta.as_ref()
    }

    /// The data directory.
    pub fn data(&self) -> DataDir {
        DataDir::new(self.dir.path())
    }

    /// A second, independent store on the same database, as another process opens it.
    pub async fn reopen(&self) -> Arc<dyn MetaStore> {
        match self.kind {
            Kind::Sqlite => Arc::new(
                SqliteStore::open(&self.data(), Durability::Full)
                    .await
                    .unwrap(),
            ),
            Kind::Postgres => Arc::new(self.open_postgres().await),
        }
    }

    /// Another PostgreSQL store (own pool: another process) on this backend's database.
    ///
    /// # Panics
    /// On SQLite.
    pub async fn open_postgres(&self) -> PostgresStore {
        let db = self.pg.as_ref().expect("a PostgreSQL backend");
        PostgresStore::connect_with_pool_size(db.url(), PG_POOL)
            .await
            .unwrap()
    }

    /// Runs `sql` on the database behind the store's back, as someone holding the database
    /// would (tamper tests). The SQL must suit both databases.
    pub async fn tamper(&self, sql: &str) {
        match self.kind {
            Kind::Sqlite => {
                let url = format!("sqlite://{}", self.data().database_display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                sqlx::query(AssertSqlSafe(sql.to_owned()))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
            Kind::Postgres => {
                let pool = self.postgres.as_ref().unwrap().pool();
                sqlx::query(AssertSqlSafe(sql.to_owned()))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }
}

/// For each `async fn NAME(b: Backend)` named, a module `NAME` with the tests `sqlite` and
/// `postgres` running it on each backend (declare `#[macro_use] mod common;` first).
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(crate::common::Backend::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(crate::common::Backend::postgres().await).await;
                }
            }
        )+
    };
}
