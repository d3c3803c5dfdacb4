//! The fixture marketplace for tests: generation (via the Python generator) and the server from
//! `veilmark_crawler_fixture`.

#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};

pub use veilmark_crawler_fixture::Server;

/// Generated fixture directory (ground_truth.json, site/, catalog/).
pub fn fixture(name: &str, listings: u32, references: u32) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = match std::env::var_os("VEILMARK_FIXTURE_DIR") {
        Some(d) => PathBuf::from(d),
        None => root.join("target/fixture-marketplace").join(name),
    };
    veilmark_crawler_fixture::generate(root, &dir, listings, references)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Serves `site` on 127.0.0.1 (random port) until the runtime ends.
pub async fn serve(site: PathBuf) -> Server {
    veilmark_crawler_fixture::serve(site).await.unwrap()
}

/// An empty evidence store in a fresh temporary data directory (kept alive by the `TempDir`).
pub async fn evidence_store() -> (tempfile::TempDir, veilmark_store::Evidence) {
    let data = tempfile::tempdir().unwrap();
    let store = veilmark_store::Evidence::open(
        &veilmark_store::DataDir::new(data.path()),
        veilmark_store::tenancy::DEFAULT_ORG,
    )
    .await
    .unwrap();
    (data, store)
}
