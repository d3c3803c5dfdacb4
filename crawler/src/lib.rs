//! Veilmark's marketplace crawler: finds listings whose images copy the brand's products or
//! carry Veilmark's forensic watermark, and stores each hit with evidence for a takedown.
//!
//! One module per job:
//! - [`profile`]: site profiles in TOML (seeds, scope, selectors, politeness, budgets);
//! - [`canon`]: URL canonicalisation and trap heuristics;
//! - [`robots`]: robots.txt rules and `Crawl-delay`;
//! - [`fetch`]: one safe HTTP request (address policy, caps, retries);
//! - [`extract`]: listing data from JSON-LD, OpenGraph, CSS selectors and `img` attributes;
//! - [`hash`]: safe decoding and PDQ/pHash fingerprints;
//! - [`matcher`]: catalog lookups with dihedral variants and thresholds;
//! - [`watermark`]: the seam for the forensic watermark decoder;
//! - [`evidence`]: WARC/1.1 records of the responses behind each hit;
//! - [`store`]: the crawler's tables in the shared SQLite database;
//! - [`catalog`]: adding reference images;
//! - [`crawl`]: the crawl loop tying them together.
#![forbid(unsafe_code)]

pub mod canon;
pub mod catalog;
pub mod crawl;
pub mod evidence;
pub mod extract;
pub mod fetch;
pub mod hash;
pub mod matcher;
pub mod profile;
pub mod robots;
pub mod store;
pub mod watermark;

/// The current time as RFC 3339 in UTC, second precision (`2026-11-23T12:00:00Z`).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
