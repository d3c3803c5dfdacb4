//! Tests of the `veilmark` binary as a user runs it: envelope, owner, catalog, identify and demo commands.
//!
//! One test binary for the crate (each module was its own binary before): the workspace
//! links once per crate instead of once per file. Run one group with `cargo test -p
//! veilmark --test cli MODULE::`.

mod catalog_cli;
mod crawl_crash;
mod crawl_profiles;
mod crawl_workers;
mod demo;
mod envelope_cli;
mod identify;
mod migrate_cli;
mod owner_cli;
