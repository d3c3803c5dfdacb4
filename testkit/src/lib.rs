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
#![forbid(unsafe_code)]

pub mod pg;

pub use pg::PgTestDb;
