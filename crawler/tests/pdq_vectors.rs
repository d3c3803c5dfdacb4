//! Our PDQ against Meta's reference (via the `pdqhash` Python package), one case per file in
//! `docs/vectors/pdq/`: decode the PNG, apply the lossless transform, hash, compare.

use std::path::Path;

use veilmark_shared::hash::Hash256;
use veilmark_shared::hash::pdq::{Dihedral, pdq_dihedral, pdq_hash};

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("missing {key}"))
}

#[test]
fn pdq_agrees_with_the_reference_on_every_vector() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/pdq");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected the committed vectors, found {}",
        cases.len()
    );
    let mut worst = 0;
    let mut report = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).unwrap();
        let img = image::open(dir.join(field(&text, "pixels"))).unwrap();
        let img = match field(&text, "transform") {
            "identity" => img,
            "flip-x" => img.fliph(),
            "flip-y" => img.flipv(),
            "rotate-90" => img.rotate270(), // numpy rot90 turns counter-clockwise
            "rotate-180" => img.rotate180(),
            "transpose" => img.rotate90().fliph(),
            other => panic!("unknown transform {other}"),
        };
        let rgb = img.to_rgb8();
        let ours = pdq_hash(rgb.as_raw(), rgb.width(), rgb.height(), 3).unwrap();
        let want = Hash256::from_hex(field(&text, "expect-pdq")).unwrap();
        let tolerance: u32 = field(&text, "tolerance").parse().unwrap();
        let d = ours.hash.distance(&want);
        let q_want: i32 = field(&text, "expect-quality").parse().unwrap();
        worst = worst.max(d);
        report.push(format!(
            "{:<28} distance {d:>2}  quality {} (reference {q_want})",
            case.file_name().unwrap().to_string_lossy(),
            ours.quality
        ));
        assert!(
            d <= tolerance,
            "{}: distance {d} > {tolerance}\nours {}\nwant {}",
            case.display(),
            ours.hash,
            want
        );
        assert!(
            (i32::from(ours.quality) - q_want).abs() <= 5,
            "{}: quality {} vs {q_want}",
            case.display(),
            ours.quality
        );
    }
    eprintln!(
        "{}\nworst distance {worst}/256 over {} vectors",
        report.join("\n"),
        cases.len()
    );
}

#[test]
fn dihedral_variants_from_the_dct_match_the_reference() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/pdq");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let case = entry.unwrap().path();
        let text = std::fs::read_to_string(&case).unwrap_or_default();
        let Some(line) = text
            .lines()
            .find_map(|l| l.strip_prefix("expect-dihedral: "))
        else {
            continue;
        };
        let want: Vec<Hash256> = line
            .split_whitespace()
            .map(|h| Hash256::from_hex(h).unwrap())
            .collect();
        let rgb = image::open(dir.join(field(&text, "pixels")))
            .unwrap()
            .to_rgb8();
        let all = pdq_dihedral(rgb.as_raw(), rgb.width(), rgb.height(), 3).unwrap();
        for (i, (got, exp)) in all.hashes.iter().zip(&want).enumerate() {
            let d = got.distance(exp);
            assert!(
                d <= 10,
                "{}: {:?} distance {d}",
                case.display(),
                Dihedral::ALL[i]
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} dihedral vectors");
}
