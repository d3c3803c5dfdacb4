//! Veilmark's marketplace crawler: finds listings whose images copy the brand's products or
//! carry Veilmark's forensic watermark, and stores each hit with evidence for a takedown.
//!
//! One module per job:
//! - [`profile`]: site profiles in TOML (seeds, scope, selectors, politeness, budgets);
//! - [`canon`]: URL canonicalisation and trap heuristics;
//! - [`robots`]: robots.txt rules and `Crawl-delay`;
//! - [`robots_fetch`]: fetching robots.txt (redirects, 4xx, 5xx, unreachable hosts);
//! - [`fetch`]: one safe HTTP request (address policy, caps, retries);
//! - [`extract`]: listing data from JSON-LD, OpenGraph, CSS selectors and `img` attributes;
//! - [`hash`]: safe decoding and PDQ/pHash fingerprints;
//! - [`decode_budget`]: the memory budget all concurrent image decodes share;
//! - [`matcher`]: catalog lookups with dihedral variants and thresholds;
//! - [`watermark`]: the seam for the forensic watermark decoder;
//!
//! Everything it stores (catalog, frontier, hits, WARC evidence) goes through
//! [`veilmark_store::Evidence`], the one owner of the data directory.
//! - [`catalog`]: adding reference images;
//! - [`crawl`]: the crawl loop tying them together.
#![forbid(unsafe_code)]

pub mod canon;
#[cfg(feature = "crawl")]
pub mod catalog;
#[cfg(feature = "crawl")]
pub mod crawl;
#[cfg(feature = "crawl")]
pub mod decode_budget;
#[cfg(feature = "crawl")]
pub mod dry_run;
pub mod extract;
#[cfg(feature = "crawl")]
pub mod fetch;
pub mod hash;
#[cfg(feature = "crawl")]
pub mod matcher;
pub mod profile;
pub mod robots;
#[cfg(feature = "crawl")]
pub mod robots_fetch;
#[cfg(feature = "crawl")]
pub mod watermark;

#[cfg(feature = "crawl")]
pub use veilmark_store::now_rfc3339;
