//! The STEP loader against OpenCascade itself: `tests/interop/occt/compare.mjs` loads the same
//! fixtures with occt-import-js (OpenCascade in wasm) and records what it gets in
//! `tests/interop/occt/occt-results.jsonl` (or the file `OCCT_RESULTS` names, which
//! `cargo xtask test` writes fresh). Both must agree on the bounding box within 0.1 % of the
//! diagonal, on the surface area within 1 %, and on the part names.
//!
//! Triangle counts are only reported side by side and held to a loose 0.25×–4× band: the
//! two tessellators meet the same chord tolerance differently (OpenCascade also subdivides
//! planar faces' boundaries and samples curved faces on a grid; this loader keeps planar faces
//! to their boundary points), so the counts differ by design, not by error.

use std::path::PathBuf;

use veilmark_cad::Limits;
use veilmark_cad::step::load_step;

#[test]
fn agrees_with_occt_import_js() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // A relative OCCT_RESULTS is relative to the workspace root (tests run in `cad/`).
    let results = std::env::var_os("OCCT_RESULTS").map_or_else(
        || root.join("tests/interop/occt/occt-results.jsonl"),
        |p| root.join(p),
    );
    let text = std::fs::read_to_string(&results).expect("occt-import-js results");
    println!(
        "| file | triangles (ours) | triangles (occt) | area (ours) | area (occt) | bbox diff / diagonal |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut files = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let occt: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let file = occt["file"].as_str().expect("file name");
        let bytes = std::fs::read(root.join("tests/fixtures/cad").join(file)).expect("fixture");
        let model = load_step(&bytes, &Limits::default()).expect("loads");

        let b = model.bounds();
        let diag = b.diagonal();
        let mut worst: f64 = 0.0;
        for (corner, ours) in [b.min, b.max].iter().enumerate() {
            for (k, &c) in ours.iter().enumerate() {
                let theirs = occt["bbox"][corner][k].as_f64().expect("number");
                worst = worst.max((c - theirs).abs() / diag);
            }
        }
        let area = model.surface_area();
        let occt_area = occt["area"].as_f64().expect("area");
        let tris = model.triangle_count() as f64;
        let occt_tris = occt["triangles"].as_f64().expect("triangles");
        println!(
            "| {file} | {} | {occt_tris} | {area:.1} | {occt_area:.1} | {:.5} % |",
            model.triangle_count(),
            100.0 * worst
        );
        assert!(
            worst <= 1e-3,
            "{file}: bounding boxes differ by {worst} of the diagonal"
        );
        assert!(
            (area - occt_area).abs() <= 0.01 * occt_area,
            "{file}: area {area} vs occt {occt_area}"
        );
        let ratio = tris / occt_tris;
        assert!(
            (0.25..=4.0).contains(&ratio),
            "{file}: triangle ratio {ratio}"
        );
        let names: Vec<&str> = model.parts.iter().map(|p| p.name.as_str()).collect();
        let occt_names: Vec<&str> = occt["names"]
            .as_array()
            .expect("names")
            .iter()
            .filter_map(|n| n.as_str())
            .collect();
        assert_eq!(names, occt_names, "{file}: part names");
        files += 1;
    }
    assert!(files >= 3, "expected results for the three fixtures");
}
