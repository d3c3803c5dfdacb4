//! The startup sweep: what a `kill -9` or a power cut in the middle of a write left behind.
//!
//! Files are written before the row that names them commits ([`crate::durable`]), so a crash
//! can leave a temporary file, or a whole envelope whose row never committed; neither was ever
//! acknowledged to anyone. The sweep removes them once they are older than a grace period (a
//! CLI `seal` or another process may be writing one right now), and reports the opposite case,
//! a document row whose envelope is missing or not the length its row records, which only a
//! lost disk, a missing `fsync` or a hand edit causes.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::durable::is_temp_name;
use crate::meta::MetaStore;
use crate::{DataDir, StoreResult};

/// What the startup sweep found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Files removed: temporary files of interrupted writes and envelopes no row names
    /// (paths relative to the data directory).
    pub removed: Vec<String>,
    /// Orphans younger than the grace period, left for a later start.
    pub kept_young: usize,
    /// Documents (ids) whose envelope file is missing or not the length their row records.
    pub missing_envelopes: Vec<String>,
}

impl SweepReport {
    /// Whether nothing needed attention.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.removed.is_empty() && self.missing_envelopes.is_empty()
    }
}

/// Sweeps `data`: removes temporary files and unreferenced envelopes older than `grace` from
/// the envelope, upload and evidence folders, and lists documents whose envelope is missing or
/// not the length their row records.
/// Only the local envelope folder is checked; a remote blob store keeps its own guarantees.
pub async fn sweep(
    data: &DataDir,
    store: &dyn MetaStore,
    grace: Duration,
) -> StoreResult<SweepReport> {
    // Document id → the envelope length its row records.
    let mut documents = HashMap::new();
    for org in store.list_orgs().await? {
        for doc in store.list_documents(org.id).await? {
            documents.insert(doc.id, u64::try_from(doc.envelope_len).unwrap_or(u64::MAX));
        }
    }
    let mut report = SweepReport::default();
    let now = SystemTime::now();
    let old = |path: &Path| -> bool {
        fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= grace)
    };
    let envelope_dir = data.envelope_dir();
    // Envelope id → its file's length.
    let mut present = HashMap::new();
    for (dir, everything_is_temporary) in [
        (envelope_dir.clone(), false),
        (data.temp_dir(), true),
        (data.evidence_dir(), false),
    ] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let unreferenced_envelope = dir == envelope_dir
                && name
                    .strip_suffix(".vmk")
                    .is_some_and(|id| !documents.contains_key(id));
            if dir == envelope_dir
                && let Some(id) = name.strip_suffix(".vmk")
            {
                present.insert(id.to_owned(), entry.metadata().map_or(0, |m| m.len()));
            }
            if !(everything_is_temporary || is_temp_name(&name) || unreferenced_envelope) {
                continue;
            }
            let path = entry.path();
            if !old(&path) {
                report.kept_young += 1;
                continue;
            }
            fs::remove_file(&path)?;
            let relative = path.strip_prefix(data.root()).unwrap_or(&path);
            report.removed.push(relative.display().to_string());
        }
    }
    let mut missing: Vec<String> = documents
        .into_iter()
        .filter(|(id, len)| present.get(id) != Some(len))
        .map(|(id, _)| id)
        .collect();
    missing.sort();
    report.missing_envelopes = missing;
    report.removed.sort();
    Ok(report)
}
