//! The brand's reference catalog: product images the crawler looks for.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::hash::{decode_limited, reference_print};
use veilmark_store::Evidence as Store;
use veilmark_store::evidence::NewReference;

/// Largest reference image accepted, in pixels.
const MAX_REFERENCE_PIXELS: u64 = 100_000_000;

/// The result of adding one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Added {
    /// File added.
    pub path: String,
    /// Catalog id.
    pub id: i64,
    /// False when the same SKU already had these exact bytes.
    pub new: bool,
    /// PDQ quality; below 50 the image is a poor reference (flat or tiny).
    pub quality: u8,
}

/// Adds image files as references of product `sku`.
pub async fn add_files(
    store: &Store,
    paths: &[impl AsRef<Path>],
    sku: &str,
    title: Option<&str>,
) -> anyhow::Result<Vec<Added>> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let print = tokio::task::spawn_blocking(move || {
            let img = decode_limited(&bytes, MAX_REFERENCE_PIXELS)?;
            Ok::<_, crate::hash::ImageError>(reference_print(&img))
        })
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let shown = path.display().to_string();
        let (id, new) = store
            .add_reference(&NewReference {
                sku,
                title,
                source_path: &shown,
                sha256: &sha,
                width: print.width,
                height: print.height,
                pdq_quality: print.pdq.quality,
                pdq: print.pdq.hashes.iter().map(|h| h.to_hex()).collect(),
                phash: print.phash.iter().map(|h| format!("{h:016x}")).collect(),
                pdq_windows: print
                    .windows
                    .iter()
                    .map(|(n, h)| format!("{n}:{}", h.to_hex()))
                    .collect(),
            })
            .await?;
        out.push(Added {
            path: shown,
            id,
            new,
            quality: print.pdq.quality,
        });
    }
    Ok(out)
}

/// Writes every hit of `marketplace` as JSON Lines; returns how many.
pub async fn export_hits(store: &Store, marketplace: &str, out: &Path) -> anyhow::Result<usize> {
    let hits = store.hits(marketplace).await?;
    let mut text = String::new();
    for h in &hits {
        text.push_str(&serde_json::to_string(h)?);
        text.push('\n');
    }
    std::fs::write(out, text)?;
    Ok(hits.len())
}
