//! Crawler tests against the local fixture marketplace, and the PDQ vectors.
//!
//! One test binary for the crate (each module was its own binary before): the workspace
//! links once per crate instead of once per file. Run one group with `cargo test -p
//! veilmark-crawler --test crawler MODULE::`.

mod common;
mod crawl_limits;
mod marketplace;
mod pdq_vectors;
mod robots;
