//! Test scaffolding for the storage backends that run as separate servers.
//!
//! Tests of the PostgreSQL backend talk to a real server over a real connection, never a mock.
//! Each test makes its own database with [`PgTestDb::create`] and drops it when the value is
//! dropped, so tests run in parallel and leave nothing behind.
//!
//! Where the server is: `VEILMARK_TEST_POSTGRES` (an admin connection URL; `cargo xtask test`
//! sets it when it had to start a throwaway server), else the machine's own server on
//! `postgres://postgres@127.0.0.1:5432/postgres`. A test that cannot reach it fails with a
//! message saying how to start one; nothing is skipped.
//!
//! Tests of the S3 object store start their own S3-compatible server with
//! [`S3TestServer::start`] (`s3s-fs` on loopback, signatures checked, a fresh bucket), stopped
//! when the value is dropped.
//!
//! Tests that send e-mail start a real SMTP server with [`SmtpTestServer::start`]: Python's
//! `aiosmtpd` (from PyPI; `cargo xtask test` installs it) on a free loopback port, delivering
//! into a Maildir the test reads.
#![forbid(unsafe_code)]

pub mod pg;
pub mod s3;
pub mod smtp;

pub use pg::PgTestDb;
pub use s3::S3TestServer;
pub use smtp::SmtpTestServer;
