//! One throwaway PostgreSQL database per test.

use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The environment variable naming the admin URL of the PostgreSQL server tests use.
pub const SERVER_ENV: &str = "VEILMARK_TEST_POSTGRES";

/// The server tests use when [`SERVER_ENV`] is not set: the one every development and CI machine
/// runs from boot.
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL of the test server.
#[must_use]
pub fn server_url() -> String {
    std::env::var(SERVER_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned())
}

/// A database created for one test, dropped (with any connection still open to it) on drop.
#[derive(Debug)]
pub struct PgTestDb {
    name: String,
    url: String,
    admin_url: String,
}

impl PgTestDb {
    /// Creates a fresh, empty database on the test server.
    ///
    /// # Panics
    /// When the server does not answer, with a message saying how to start one: a storage test
    /// that cannot reach its database must fail, not pass by doing nothing.
    pub async fn create() -> Self {
        match Self::try_create().await {
            Ok(db) => db,
            Err(e) => panic!(
                "{e:#}\n\nThe PostgreSQL tests need a server. `cargo xtask test` uses the one on \
                 127.0.0.1:5432 or starts a throwaway one (Debian's `postgresql` package); to run \
                 `cargo test` alone, start one and set {SERVER_ENV}=postgres://USER@HOST:PORT/postgres."
            ),
        }
    }

    /// [`PgTestDb::create`], returning the error instead of panicking.
    pub async fn try_create() -> Result<Self> {
        let admin_url = server_url();
        let mut admin = connect(&admin_url).await?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).context("no randomness")?;
        let name = format!("veilmark_test_{}", hex::encode(suffix));
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create database {name} on {admin_url}"))?;
        admin.close().await.ok();
        let url = replace_database(&admin_url, &name)?;
        Ok(Self {
            name,
            url,
            admin_url,
        })
    }

    /// The connection URL of this test's database.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        // Drop may run inside a runtime (async tests) or outside one: a thread with its own
        // runtime works in both.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = connect(&admin_url).await?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

async fn connect(url: &str) -> Result<PgConnection> {
    tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(url))
        .await
        .with_context(|| format!("PostgreSQL at {url} did not answer within 10 s"))?
        .with_context(|| format!("cannot connect to PostgreSQL at {url}"))
}

/// `url` with its database (the path) replaced by `database`.
fn replace_database(url: &str, database: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").context("not a URL")? + 3;
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_and_keeps_the_query() {
        assert_eq!(
            replace_database("postgres://u@h:5/postgres?sslmode=disable", "x").unwrap(),
            "postgres://u@h:5/x?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h:5", "x").unwrap(),
            "postgres://u@h:5/x"
        );
    }

    #[tokio::test]
    async fn a_test_database_is_created_and_dropped() {
        let db = PgTestDb::create().await;
        let mut c = connect(db.url()).await.unwrap();
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(one, 1);
        c.close().await.unwrap();
        let name = db.name().to_owned();
        drop(db);
        let mut admin = connect(&server_url()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, 0, "the test database was not dropped");
    }
}
