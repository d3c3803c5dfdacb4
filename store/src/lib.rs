//! The one owner of Veilmark's persistent state.
//!
//! The server, the crawler and the CLI read and write everything that outlives a process through
//! this crate's typed functions; none of them names a table, a migration or a path inside the
//! data directory (`docs/architecture.md` has the table of what lives where).
//!
//! - [`open`]: the one way binaries open state (`--database`, `VEILMARK_DATABASE_URL`).
//! - [`DataDir`]: the layout of a data directory and its key files.
//! - [`tenancy`]: organisations, accounts and roles; the [`OrgId`] every tenant query takes.
//! - [`MetaStore`]: organisations, accounts, credentials, documents, links, sessions, nonces,
//!   revocations, audit.
//! - [`EvidenceStore`] (through the [`Evidence`] handle): catalog, crawl state, hits, reviews.
//! - [`warc`]: the WARC/1.1 evidence files hits point into.
//! - [`objects`]: where envelopes and finished WARC files live: the data directory or a bucket
//!   (`--objects s3://bucket/prefix`).
//! - [`durable`]: files written so that they are on disk before the row that names them commits.
//! - [`migrate`]: moves an embedded installation into PostgreSQL (`veilmark migrate`).
//! - [`sweep`]: the startup check that removes interrupted writes and reports missing files.
//! - [`audit`]: the audit log's hash chain.
//! - [`SqliteStore`]: the embedded implementation of both store traits.
//! - [`PostgresStore`]: the scale-out implementation of both, shared by several processes.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod audit;
pub mod classification;
mod data_dir;
pub mod durable;
pub mod evidence;
mod evidence_objects;
pub mod meta;
pub mod migrate;
pub mod objects;
pub mod open;
mod postgres;
pub mod review;
mod sqlite;
pub mod sweep;
pub mod tenancy;
pub mod warc;

pub use data_dir::{DataDir, KeyFile};
pub use evidence::{Evidence, EvidenceStore};
pub use meta::MetaStore;
pub use open::{Backend, DATABASE_ENV, Stores, open_stores};
pub use postgres::{PostgresStore, SharedBuckets, redact as redact_database_url};
pub use sqlite::{Durability, SqliteStore};
pub use tenancy::{Account, OrgId, Organisation, Permission, Role};

/// A storage failure. Backends map their own errors into this; the server turns it into a 500
/// without showing the details to the client.
pub type StoreResult<T> = Result<T, anyhow::Error>;

/// Where the envelope of document `document_id` (32 hex digits) lives in the blob store, a
/// local folder under the data directory or a bucket.
#[must_use]
pub fn envelope_blob(document_id: &str) -> object_store::path::Path {
    object_store::path::Path::from(format!("envelopes/{document_id}.vmk"))
}

/// The current time as RFC 3339 in UTC, second precision (`2026-11-23T12:00:00Z`), as crawl
/// rows and WARC records store it.
#[must_use]
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
