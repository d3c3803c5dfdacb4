//! Catalog matching: which reference product, if any, a crawled image copies.
//!
//! Every catalog image contributes its eight dihedral PDQ hashes and the PDQ hashes of its
//! sub-windows (quadrants, centre crops, bands, and a grid of 90–95 % crops; see
//! [`crate::hash::Window`]) to a [`HashIndex`], so a mirrored, rotated, trimmed, overlaid or
//! collaged copy is found by lookups of the crawled image's own windows:
//!
//! - whole image against whole image (any dihedral variant): PDQ distance ≤ `pdq_full`;
//! - whole against whole within `pdq_loose` when the 64-bit pHash of the same transform is
//!   within `phash_max` (a second opinion for near misses);
//! - any pair involving a sub-window: PDQ distance ≤ `pdq_window`.
//!
//! The defaults were calibrated on the fixture marketplace's knock-off suite (see
//! `docs/crawler.md`: the closest negative window pair was 42 bits on the full fixture); a
//! crawled image whose whole-image PDQ quality is below `min_quality` (flat) never matches.

use veilmark_shared::hash::Hash256;
use veilmark_shared::hash::index::HashIndex;
use veilmark_shared::hash::pdq::Dihedral;

use crate::hash::{FULL, Fingerprint};
use veilmark_store::evidence::ReferenceRow;

/// Decision thresholds (Hamming distances in bits).
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// PDQ distance accepted between whole images (of 256), any dihedral variant.
    pub pdq_full: u32,
    /// PDQ distance accepted between windows when at least one is a sub-window.
    pub pdq_window: u32,
    /// PDQ distance accepted between whole images when pHash agrees.
    pub pdq_loose: u32,
    /// pHash distance (of 64) that confirms a loose PDQ match.
    pub phash_max: u32,
    /// Lowest PDQ quality of the whole crawled image considered.
    pub min_quality: u8,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            pdq_full: 31,
            pdq_window: 44,
            pdq_loose: 47,
            phash_max: 10,
            min_quality: 20,
        }
    }
}

/// A crawled image matched to a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Catalog row id.
    pub reference_id: i64,
    /// Its SKU.
    pub sku: String,
    /// `"pdq"`, `"pdq+phash"` or `"pdq-window"`.
    pub hash_kind: &'static str,
    /// PDQ distance.
    pub distance: u32,
    /// The reference transform that matched (`orig` for sub-windows).
    pub transform: &'static str,
    /// `crawled window/reference window`, e.g. `full/full` or `top-left/full` (collage).
    pub window: String,
}

struct Reference {
    id: i64,
    sku: String,
    phash: [u64; 8],
    windows: Vec<String>,
}

/// Index payload: `slot * SLOTS + k`, `k` < 8 a dihedral variant of the whole image, else
/// `8 + i` for the reference's `i`-th window.
const SLOTS: u32 = 128;

/// The catalog, indexed for lookups.
pub struct Matcher {
    refs: Vec<Reference>,
    index: HashIndex,
    thresholds: Thresholds,
}

impl Matcher {
    /// Builds the index from stored catalog rows (rows with malformed hashes are skipped).
    pub fn new(rows: &[ReferenceRow], thresholds: Thresholds) -> Matcher {
        let mut refs = Vec::new();
        let mut entries = Vec::new();
        for row in rows {
            let pdq: Vec<Hash256> = row
                .pdq
                .iter()
                .filter_map(|h| Hash256::from_hex(h).ok())
                .collect();
            let phash: Vec<u64> = row
                .phash
                .iter()
                .filter_map(|h| u64::from_str_radix(h, 16).ok())
                .collect();
            let (Ok(pdq), Ok(phash)) = (<[Hash256; 8]>::try_from(pdq), <[u64; 8]>::try_from(phash))
            else {
                continue;
            };
            let slot = u32::try_from(refs.len()).expect("catalog below 2^27 images");
            for (v, h) in (0u32..).zip(pdq) {
                entries.push((h, slot * SLOTS + v));
            }
            let mut windows = Vec::new();
            for w in row.pdq_windows.iter().take((SLOTS - 8) as usize) {
                let Some((name, hex)) = w.split_once(':') else {
                    continue;
                };
                let Ok(h) = Hash256::from_hex(hex) else {
                    continue;
                };
                entries.push((
                    h,
                    slot * SLOTS + 8 + u32::try_from(windows.len()).expect("few windows"),
                ));
                windows.push(name.to_string());
            }
            refs.push(Reference {
                id: row.id,
                sku: row.sku.clone(),
                phash,
                windows,
            });
        }
        Matcher {
            refs,
            index: HashIndex::build(entries),
            thresholds,
        }
    }

    /// Number of reference images.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// True when the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The best match of a crawled image, if any.
    pub fn best(&self, fp: &Fingerprint) -> Option<Match> {
        let t = self.thresholds;
        if fp.quality < t.min_quality {
            return None;
        }
        let mut best: Option<Match> = None;
        for (window, hash, _) in &fp.pdq {
            let crawled_full = *window == FULL;
            let radius = if crawled_full {
                t.pdq_loose.max(t.pdq_full).max(t.pdq_window)
            } else {
                t.pdq_window
            };
            for n in self.index.within(hash, radius) {
                let r = &self.refs[(n.payload / SLOTS) as usize];
                let k = (n.payload % SLOTS) as usize;
                let full_pair = crawled_full && k < 8;
                let kind = if full_pair && n.distance <= t.pdq_full {
                    "pdq"
                } else if full_pair
                    && (fp.phash ^ r.phash[k]).count_ones() <= t.phash_max
                    && n.distance <= t.pdq_loose
                {
                    "pdq+phash"
                } else if !full_pair && n.distance <= t.pdq_window {
                    "pdq-window"
                } else {
                    continue;
                };
                // Whole-image matches rank before window matches at equal distance.
                let rank = |m: &Match| (m.distance, m.hash_kind == "pdq-window");
                let (transform, ref_window) = if k < 8 {
                    (Dihedral::ALL[k].name(), FULL)
                } else {
                    ("orig", r.windows[k - 8].as_str())
                };
                let cand = Match {
                    reference_id: r.id,
                    sku: r.sku.clone(),
                    hash_kind: kind,
                    distance: n.distance,
                    transform,
                    window: format!("{window}/{ref_window}"),
                };
                if best.as_ref().is_none_or(|b| rank(&cand) < rank(b)) {
                    best = Some(cand);
                }
            }
        }
        best
    }
}
