//! Knock-off suite on a generated fixture marketplace: per-variant recall and precision of our
//! matcher, with the distance distributions used to calibrate its thresholds.
//!
//! `cargo run -p veilmark-crawler --example knockoff_bench -- target/fixture-marketplace/small`
//! (generate with `tests/fixtures/marketplace/generate.py`). `--json` prints every image's
//! distances for the Python side of the benchmark (`tests/fixtures/marketplace/bench.py`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use veilmark_crawler::hash::{FULL, decode_limited, fingerprint, reference_print};
use veilmark_crawler::matcher::{Matcher, Thresholds};
use veilmark_store::evidence::ReferenceRow;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("fixture directory"));
    let gt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap())
            .unwrap();
    let mut rows = Vec::new();
    let mut ref_prints = Vec::new();
    for (i, r) in gt["references"].as_array().unwrap().iter().enumerate() {
        let bytes = std::fs::read(dir.join(r["file"].as_str().unwrap())).unwrap();
        let p = reference_print(&decode_limited(&bytes, 100_000_000).unwrap());
        rows.push(ReferenceRow {
            id: i as i64 + 1,
            sku: r["sku"].as_str().unwrap().to_string(),
            title: None,
            source_path: String::new(),
            sha256: String::new(),
            width: 0,
            height: 0,
            pdq_quality: 0,
            pdq: p.pdq.hashes.iter().map(|h| h.to_hex()).collect(),
            phash: p.phash.iter().map(|h| format!("{h:016x}")).collect(),
            pdq_windows: p
                .windows
                .iter()
                .map(|(n, h)| format!("{n}:{}", h.to_hex()))
                .collect(),
            added_at: String::new(),
        });
        ref_prints.push(p);
    }
    let matcher = Matcher::new(&rows, Thresholds::default());
    // variant -> (found, total); also min distances per window for the true reference.
    let mut recall: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut dist: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut tp, mut fp) = (0u32, 0u32);
    let mut neg_min_full = Vec::new();
    let mut neg_min_win = Vec::new();
    let mut neg_phash = Vec::new();
    for l in gt["listings"].as_array().unwrap() {
        for img in l["images"].as_array().unwrap() {
            let path = dir
                .join("site")
                .join(img["url"].as_str().unwrap().trim_start_matches('/'));
            let bytes = std::fs::read(&path).unwrap();
            let f = fingerprint(&decode_limited(&bytes, 100_000_000).unwrap());
            let variant = img["variant"].as_str().unwrap().to_string();
            let sku = img["sku"].as_str();
            let m = matcher.best(&f);
            match (sku, &m) {
                (Some(s), Some(m)) if m.sku == s => tp += 1,
                (_, Some(_)) => fp += 1,
                _ => {}
            }
            // Smallest distance from a crawled window to any hash of the given references:
            // (whole-to-whole, any pair involving a sub-window).
            let min_over = |refs: &mut dyn Iterator<Item = usize>| -> (u32, u32) {
                let mut best = (256, 256);
                for r in refs {
                    let p = &ref_prints[r];
                    for (w, h, _) in &f.pdq {
                        for rh in &p.pdq.hashes {
                            let d = rh.distance(h);
                            if *w == FULL {
                                best.0 = best.0.min(d)
                            } else {
                                best.1 = best.1.min(d)
                            }
                        }
                        for (_, rh) in &p.windows {
                            best.1 = best.1.min(rh.distance(h));
                        }
                    }
                }
                best
            };
            if let Some(s) = sku {
                let e = recall.entry(variant.clone()).or_default();
                e.1 += 1;
                if m.as_ref().is_some_and(|m| m.sku == s) {
                    e.0 += 1;
                }
                let r = rows.iter().position(|x| x.sku == s).unwrap();
                let (full, win) = min_over(&mut std::iter::once(r));
                let ph = ref_prints[r]
                    .phash
                    .iter()
                    .map(|p| (p ^ f.phash).count_ones())
                    .min()
                    .unwrap();
                let how = m
                    .as_ref()
                    .map_or("-".to_string(), |m| format!("{}@{}", m.hash_kind, m.window));
                dist.entry(variant)
                    .or_default()
                    .push(format!("[{full},{win} ph{ph} {how}]"));
            } else {
                let (full, win) = min_over(&mut (0..rows.len()));
                neg_min_full.push(full);
                neg_min_win.push(win);
                neg_phash.push(
                    ref_prints
                        .iter()
                        .flat_map(|r| r.phash.iter())
                        .map(|p| (p ^ f.phash).count_ones())
                        .min()
                        .unwrap(),
                );
            }
        }
    }
    println!(
        "variant      recall   PDQ distance to its reference [whole/whole, best window pair] best pHash, how matched"
    );
    for (v, (f, t)) in &recall {
        println!("{v:<12} {f:>3}/{t:<3}  {}", dist[v].join(" "));
    }
    for (name, v) in [
        ("negatives: min PDQ full", &mut neg_min_full),
        ("negatives: min PDQ windows", &mut neg_min_win),
        ("negatives: min pHash", &mut neg_phash),
    ] {
        v.sort_unstable();
        println!(
            "{name}: min {} p1 {} median {}",
            v[0],
            v[v.len() / 100],
            v[v.len() / 2]
        );
    }
    println!(
        "precision {:.3} ({tp} true, {fp} false), recall {:.3}",
        f64::from(tp) / f64::from((tp + fp).max(1)),
        f64::from(tp) / f64::from(recall.values().map(|x| x.1).sum::<u32>())
    );
}
