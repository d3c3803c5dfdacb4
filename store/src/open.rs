//! The one way every binary opens Veilmark's state.
//!
//! `veilmark serve`, the owner commands, `catalog`, `identify` and `migrate` all take
//! `--database URL` (or the environment variable [`DATABASE_ENV`]); without either they use the
//! data directory's embedded SQLite database, as before. This module turns that setting into a
//! [`Backend`] and the backend into the two store trait objects the rest of the program holds,
//! so that no binary names `SqliteStore` or `PostgresStore` itself and a third backend would be
//! added here only.
//!
//! A database URL may carry a password: it is printed only through
//! [`crate::redact_database_url`], in messages and in errors alike.

use std::sync::Arc;

use anyhow::Context;

use crate::{DataDir, Durability, EvidenceStore, MetaStore, PostgresStore, SqliteStore};

/// The environment variable a database URL is read from when `--database` is not given.
pub const DATABASE_ENV: &str = "VEILMARK_DATABASE_URL";

/// A database setting that names no backend Veilmark has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseUrlError {
    /// The URL's scheme is not one Veilmark speaks. Only the scheme is kept: the rest of
    /// what was given may hold a password in a form no redaction recognises.
    #[error(
        "unsupported database URL ({scheme}): give postgres://USER@HOST:PORT/DATABASE (or \
         postgresql://…), or leave --database and {DATABASE_ENV} unset to use the data \
         directory's own SQLite database"
    )]
    UnsupportedScheme {
        /// `scheme "mysql"`, or `no scheme` when the value has no `scheme://`.
        scheme: String,
    },
}

/// Where the metadata and evidence live.
#[derive(Clone, PartialEq, Eq)]
pub enum Backend {
    /// The data directory's SQLite database (the embedded default).
    Embedded,
    /// A PostgreSQL database shared by several processes; the URL may hold a password.
    Postgres(String),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded => f.write_str("Embedded"),
            Self::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&crate::redact_database_url(url))
                .finish(),
        }
    }
}

impl Backend {
    /// Parses a database setting: `None` or an empty string is the embedded database,
    /// `postgres://…` or `postgresql://…` PostgreSQL; anything else an error naming the
    /// accepted forms (and never the password it may hold).
    pub fn parse(setting: Option<&str>) -> Result<Self, DatabaseUrlError> {
        let Some(url) = setting.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Self::Embedded);
        };
        // A scheme is letters, digits, `+`, `-` and `.` (RFC 3986); anything else before `://`
        // (`user:password@host://…`) is not shown.
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 32
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            });
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Ok(Self::Postgres(url.to_owned())),
            Some(other) => Err(DatabaseUrlError::UnsupportedScheme {
                scheme: format!("scheme {other:?}"),
            }),
            None => Err(DatabaseUrlError::UnsupportedScheme {
                scheme: "no scheme".to_owned(),
            }),
        }
    }

    /// The backend a command runs on: its `--database` flag when given, else
    /// [`DATABASE_ENV`], else the embedded database.
    pub fn from_flag_or_env(flag: Option<&str>) -> Result<Self, DatabaseUrlError> {
        match flag {
            Some(url) => Self::parse(Some(url)),
            None => Self::parse(std::env::var(DATABASE_ENV).ok().as_deref()),
        }
    }

    /// Whether several processes share this database (so per-process state, such as rate
    /// limits, must live in it too).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// The backend for messages: the database file, or the URL with its password hidden.
    #[must_use]
    pub fn describe(&self, data: &DataDir) -> String {
        match self {
            Self::Embedded => data.database_display(),
            Self::Postgres(url) => crate::redact_database_url(url),
        }
    }
}

/// The concrete store behind [`Stores`], for the few callers that need more than the traits
/// (the embedded store's startup sweep, the shared rate limiter's pool).
#[derive(Clone)]
pub enum Opened {
    /// The embedded SQLite store.
    Sqlite(SqliteStore),
    /// The PostgreSQL store.
    Postgres(PostgresStore),
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(_) => f.write_str("Sqlite"),
            Self::Postgres(pg) => pg.fmt(f),
        }
    }
}

/// Both stores of one backend, ready to use.
#[derive(Clone)]
pub struct Stores {
    /// Organisations, accounts, documents, links, sessions, audit.
    pub meta: Arc<dyn MetaStore>,
    /// Catalog, crawl state, hits, reviews.
    pub evidence: Arc<dyn EvidenceStore>,
    /// The implementation both are.
    pub opened: Opened,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("opened", &self.opened)
            .finish_non_exhaustive()
    }
}

impl Stores {
    /// The PostgreSQL store, when that is the backend.
    #[must_use]
    pub fn postgres(&self) -> Option<&PostgresStore> {
        match &self.opened {
            Opened::Postgres(pg) => Some(pg),
            Opened::Sqlite(_) => None,
        }
    }
}

/// Opens `backend`'s stores (creating and migrating the database if needed). The embedded
/// backend keeps its database in `data`; PostgreSQL ignores `durability` (every commit is
/// durable there).
pub async fn open_stores(
    backend: &Backend,
    data: &DataDir,
    durability: Durability,
) -> anyhow::Result<Stores> {
    match backend {
        Backend::Embedded => {
            let store = SqliteStore::open(data, durability)
                .await
                .with_context(|| format!("cannot open data directory {}", data.root().display()))?;
            Ok(Stores {
                meta: Arc::new(store.clone()),
                evidence: Arc::new(store.clone()),
                opened: Opened::Sqlite(store),
            })
        }
        Backend::Postgres(url) => {
            let store = PostgresStore::connect(url).await?;
            let (meta, evidence) = postgres_traits(&store)?;
            Ok(Stores {
                meta,
                evidence,
                opened: Opened::Postgres(store),
            })
        }
    }
}

/// The PostgreSQL store as the two trait objects (one pool behind both).
#[allow(clippy::unnecessary_wraps)]
fn postgres_traits(
    store: &PostgresStore,
) -> anyhow::Result<(Arc<dyn MetaStore>, Arc<dyn EvidenceStore>)> {
    Ok((Arc::new(store.clone()), Arc::new(store.clone())))
}

/// Opens the stores of an existing installation for reading (`identify`, `catalog list`): the
/// embedded backend must already have a database in `data` (a mistyped `--data` is an error,
/// not a new empty database).
pub async fn open_existing(backend: &Backend, data: &DataDir) -> anyhow::Result<Stores> {
    if *backend == Backend::Embedded && !data.has_database() {
        anyhow::bail!(
            "{} has no server database ({} is missing); give the right --data, or --database \
             for a PostgreSQL installation",
            data.root().display(),
            data.database_display()
        );
    }
    open_stores(backend, data, Durability::Full).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_to_backends() {
        assert_eq!(Backend::parse(None).unwrap(), Backend::Embedded);
        assert_eq!(Backend::parse(Some("  ")).unwrap(), Backend::Embedded);
        for url in [
            "postgres://u@h/d",
            "postgresql://u:p@h:5432/d?sslmode=require",
            "POSTGRES://u@h/d",
        ] {
            assert_eq!(
                Backend::parse(Some(url)).unwrap(),
                Backend::Postgres(url.to_owned())
            );
            assert!(Backend::parse(Some(url)).unwrap().is_shared());
        }
        assert!(!Backend::Embedded.is_shared());
    }

    #[test]
    fn an_unknown_scheme_is_refused_without_showing_its_password() {
        for url in [
            "mysql://admin:hunter2@db/veilmark",
            "sqlite://admin:hunter2@x/veilmark.db",
            "admin:hunter2@db",
            "admin:hunter2@db://x",
            "veilmark-data/veilmark.db",
        ] {
            let e = Backend::parse(Some(url)).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(e.contains("postgres://"), "{e}");
            assert!(e.contains(DATABASE_ENV), "{e}");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let b = Backend::parse(Some("postgres://u:hunter2@h/d")).unwrap();
        let shown = format!("{b:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("u:***@h/d"), "{shown}");
    }

    #[tokio::test]
    async fn a_missing_embedded_database_is_an_error_when_reading() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("typo"));
        let e = open_existing(&Backend::Embedded, &data).await.unwrap_err();
        assert!(format!("{e:#}").contains("has no server database"), "{e:#}");
        assert!(!data.has_database(), "nothing was created");
    }
}
