//! The scale-out store: PostgreSQL, shared by several `veilmark serve` replicas, the owner CLI
//! and several crawl workers at once, implementing the same [`MetaStore`] and
//! [`EvidenceStore`] traits as [`crate::SqliteStore`], with the same behaviour.
//!
//! SQLite serialises writers with `BEGIN IMMEDIATE`; here many processes write concurrently,
//! so each domain operation makes itself atomic the PostgreSQL way: a single conditional
//! `UPDATE … RETURNING` (view counts, passcode and login lock-outs), a row lock taken before a
//! read-modify-write (the audit chain head), or `FOR UPDATE SKIP LOCKED` leases (the crawl
//! frontier). The migrations in `store/migrations/postgres/` are the SQLite ones in intent:
//! the same tables and columns, PostgreSQL types.
//!
//! [`MetaStore`]: crate::MetaStore
//! [`EvidenceStore`]: crate::EvidenceStore

mod alerts;
mod evidence;
mod meta;
mod notify;
mod rate_limit;
mod review;

pub use rate_limit::SharedBuckets;

use std::borrow::Cow;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Every migration of the PostgreSQL schema, in order.
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
        migration(
            1,
            "meta",
            include_str!("../../migrations/postgres/0001_meta.sql"),
        ),
        migration(
            2,
            "evidence",
            include_str!("../../migrations/postgres/0002_evidence.sql"),
        ),
        migration(
            3,
            "rate limits",
            include_str!("../../migrations/postgres/0003_rate_limits.sql"),
        ),
        migration(
            4,
            "classification",
            include_str!("../../migrations/postgres/0004_classification.sql"),
        ),
        migration(
            5,
            "document subsets",
            include_str!("../../migrations/postgres/0005_document_subsets.sql"),
        ),
        migration(
            6,
            "terms",
            include_str!("../../migrations/postgres/0006_terms.sql"),
        ),
        migration(
            7,
            "access reviews",
            include_str!("../../migrations/postgres/0007_access_reviews.sql"),
        ),
        migration(
            8,
            "alerts",
            include_str!("../../migrations/postgres/0008_alerts.sql"),
        ),
    ]);
    // A database migrated by a newer Veilmark may carry migrations this build does not know.
    migrator.set_ignore_missing(true);
    migrator
}

/// The PostgreSQL implementation of both stores. Cheap to clone (one shared pool).
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    url: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &redact(&self.url))
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// How many connections [`PostgresStore::connect`] opens at most.
    pub const DEFAULT_CONNECTIONS: u32 = 16;

    /// Connects to the database at `url` (`postgres://…`) and applies the migrations.
    /// Several processes may call this at once: sqlx takes an advisory lock while migrating.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with_pool_size(url, Self::DEFAULT_CONNECTIONS).await
    }

    /// [`PostgresStore::connect`] with a pool of at most `max_connections` (tests that open
    /// several stores on one server; a revocation listener takes one more of its own).
    pub async fn connect_with_pool_size(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options: PgConnectOptions = url
            .parse()
            .with_context(|| format!("not a PostgreSQL URL: {}", redact(url)))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
        migrator()
            .run(&pool)
            .await
            .context("cannot apply the PostgreSQL migrations")?;
        Ok(Self {
            pool,
            url: url.to_owned(),
        })
    }

    /// The connection pool (the revocation listener opens its own connection from the URL).
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Token buckets shared by every process on this database (rate limits across replicas).
    #[must_use]
    pub fn rate_buckets(&self) -> SharedBuckets {
        SharedBuckets::new(self.pool.clone())
    }

    /// The URL it was opened with (a password in it is a secret: print [`redact`]'s form).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without its password, for messages.
    fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// `url` with any password replaced by `***`, for messages and logs: the user-info password
/// (`postgres://user:PASSWORD@host/db`) and any query parameter whose name contains "password"
/// (`?password=…`, `?sslpassword=…`, both accepted by PostgreSQL clients).
#[must_use]
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return redact_parameters(url, ' ');
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = &rest[authority_end..];
    let tail = match tail.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_parameters(query, '&')),
        None => tail.to_owned(),
    };
    format!("{}{authority}{tail}", &url[..scheme_end])
}

/// `name=value` pairs separated by `sep` with the value of every password-like name hidden.
fn redact_parameters(text: &str, sep: char) -> String {
    text.split(sep)
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_password_never_appears_in_a_redacted_url() {
        assert_eq!(
            redact("postgres://veilmark:s3cret@db:5432/veilmark?sslmode=require"),
            "postgres://veilmark:***@db:5432/veilmark?sslmode=require"
        );
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("postgres://h/d"), "postgres://h/d");
        assert_eq!(
            redact("postgres://u@h/d?sslmode=require&password=s3cret&sslpassword=k3y"),
            "postgres://u@h/d?sslmode=require&password=***&sslpassword=***"
        );
        assert_eq!(
            redact("postgres://u:p@h?PASSWORD=s3cret"),
            "postgres://u:***@h?PASSWORD=***"
        );
        assert_eq!(
            redact("host=db user=u password=s3cret dbname=d"),
            "host=db user=u password=*** dbname=d"
        );
    }
}
