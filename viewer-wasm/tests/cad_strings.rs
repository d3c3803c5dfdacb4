//! Strings from inside a CAD file never leave wasm (`docs/threat-model.md#viewer-document-strings`).
//!
//! Part, node and layer names and loader errors are what the page's script would otherwise
//! receive as text. Each fixture here carries [`MARKER`] as a part or layer name, or as the
//! offending token of a broken file; the test checks every string the wasm layer hands to
//! JavaScript — the outline JSON, the measurement JSON and error messages — for it.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use veilmark_shared::media::MediaType;
use veilmark_viewer_wasm::cad::CadView;
use zeroize::Zeroizing;

/// A name no real file holds, so any hit is a leak.
const MARKER: &str = "SECRET-PART-NAME-7f3a";

const W: f64 = 800.0;
const H: f64 = 600.0;

fn fixture_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/cad")
        .join(name);
    std::fs::read_to_string(&path).expect("fixture")
}

fn open(media: MediaType, bytes: Vec<u8>) -> Result<CadView, String> {
    CadView::open(media, Zeroizing::new(bytes)).map_err(|e| {
        // What the page's script gets: `Error(message)` with `name = kind`.
        format!("{}: {e}", e.kind())
    })
}

fn assert_clean(what: &str, exported: &str) {
    assert!(
        !exported.contains(MARKER) && !exported.contains("7f3a"),
        "{what} hands a file string to JavaScript: {exported}"
    );
}

/// The files with the marker as a part name (models) or a layer name (the drawing).
fn named_files() -> Vec<(&'static str, MediaType, Vec<u8>)> {
    let step = fixture_text("assembly.step").replace("base-plate", MARKER);
    let gltf = fixture_text("assembly.gltf").replace("base-plate", MARKER);
    let obj = fixture_text("bracket.obj").replace("o bracket", &format!("o {MARKER}"));
    let stl = fixture_text("bracket-ascii.stl")
        .replacen("solid ", &format!("solid {MARKER}"), 1)
        .replace("endsolid", &format!("endsolid {MARKER}"));
    let dxf: String = fixture_text("plate.dxf")
        .split_inclusive('\n')
        .map(|line| {
            if line.trim_end() == "HOLES" {
                line.replace("HOLES", MARKER)
            } else {
                line.to_owned()
            }
        })
        .collect();
    vec![
        ("assembly.step", MediaType::Step, step.into_bytes()),
        ("assembly.gltf", MediaType::Gltf, gltf.into_bytes()),
        ("bracket.obj", MediaType::Obj, obj.into_bytes()),
        ("bracket-ascii.stl", MediaType::Stl, stl.into_bytes()),
        ("plate.dxf", MediaType::Dxf, dxf.into_bytes()),
    ]
}

#[test]
fn outline_and_measurements_carry_no_name_from_the_file() {
    for (file, media, bytes) in named_files() {
        let mut view = open(media, bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let outline = view.outline_json();
        assert_clean(&format!("{file}: outline"), &outline);
        let entries: Vec<serde_json::Value> = serde_json::from_str(&outline).unwrap();
        assert!(!entries.is_empty(), "{file}: the outline lists something");
        for e in &entries {
            let label = e["label"].as_str().unwrap_or_default();
            let kind = e["kind"].as_str().unwrap_or_default();
            assert!(
                ["part", "assembly", "layer"].contains(&kind),
                "{file}: kind {kind}"
            );
            // Neutral labels only: "Part 3", "Assembly 1", "Layer 2".
            let (word, number) = label.split_once(' ').unwrap_or(("", ""));
            assert!(
                ["Part", "Assembly", "Layer"].contains(&word) && number.parse::<u32>().is_ok(),
                "{file}: label '{label}'"
            );
            assert!(e["depth"].as_u64().is_some(), "{file}: depth in {e}");
        }
        // Measuring on the named part: the measurement names the entry by id.
        view.fit(W, H);
        for _ in 0..2 {
            for (x, y) in [(0.5, 0.5), (0.45, 0.55), (0.3, 0.6), (0.6, 0.4)] {
                let m = view.measure_click(x * W, y * H, W, H, false);
                assert_clean(&format!("{file}: measurement"), &view.measurement_json(&m));
                let m = view.measure_click(x * W, y * H, W, H, true);
                assert_clean(
                    &format!("{file}: edge measurement"),
                    &view.measurement_json(&m),
                );
            }
        }
    }
}

#[test]
fn the_marked_part_is_measured_by_id_and_its_name_drawn_in_wasm() {
    let step = fixture_text("assembly.step").replace("base-plate", MARKER);
    let mut view = open(MediaType::Step, step.into_bytes()).unwrap();
    view.fit(W, H);
    // The base plate spans x 0..200 at y = 0, z = 0 (tests/fixtures/cad/generate.py).
    let a = view.project([0.0, 0.0, 0.0], W, H).unwrap();
    let b = view.project([100.0, 0.0, 2.0], W, H).unwrap();
    let len = (b[0] - a[0]).hypot(b[1] - a[1]);
    let m = view.measure_click(
        a[0] + 4.0 * (b[0] - a[0]) / len,
        a[1] + 4.0 * (b[1] - a[1]) / len,
        W,
        H,
        false,
    );
    let exported: serde_json::Value = serde_json::from_str(&view.measurement_json(&m)).unwrap();
    assert_eq!(exported["kind"], "point", "{exported}");
    let id = exported["part"]
        .as_u64()
        .and_then(|id| usize::try_from(id).ok())
        .expect("the measurement names the clicked part by its outline id");
    let outline: Vec<serde_json::Value> = serde_json::from_str(&view.outline_json()).unwrap();
    let entry = outline
        .iter()
        .find(|e| e["id"] == id)
        .expect("the measurement's part is an outline entry");
    assert_eq!(entry["kind"], "part");

    // Its real name exists only as pixels: longer names give more ink, and the marker's
    // pixels differ from another part's.
    let ink =
        |img: &veilmark_render::RgbaImage| img.rgba.chunks_exact(4).filter(|p| p[3] > 0).count();
    let marked = view
        .draw_name(id, 400, 24, 0x20_20_20)
        .expect("a name image");
    assert_eq!((marked.width, marked.height), (400, 24));
    assert!(
        ink(&marked) > 200,
        "the name is drawn: {} pixels",
        ink(&marked)
    );
    let other = outline
        .iter()
        .find(|e| e["kind"] == "part" && e["id"] != id)
        .and_then(|e| e["id"].as_u64())
        .unwrap();
    let other = view
        .draw_name(usize::try_from(other).unwrap(), 400, 24, 0x20_20_20)
        .unwrap();
    assert_ne!(marked.rgba, other.rgba);
    // Ids that name nothing, and absurd sizes, draw nothing.
    assert!(view.draw_name(10_000, 400, 24, 0).is_none());
    assert!(view.draw_name(id, 100_000, 24, 0).is_none());
    assert!(view.draw_name(id, 0, 24, 0).is_none());
}

/// Broken files whose offending token is the marker.
#[test]
fn loader_errors_report_format_and_line_never_content() {
    let m = MARKER;
    let gltf_external = fixture_text("assembly.gltf").replacen(
        "data:application/octet-stream;base64,",
        &format!("{m}.bin#"),
        1,
    );
    let cases: Vec<(&str, MediaType, String, &str)> = vec![
        (
            "OBJ number",
            MediaType::Obj,
            format!("v 1 2 {m}\nf 1 1 1\n"),
            "line 1",
        ),
        (
            "OBJ index",
            MediaType::Obj,
            format!("v 1 2 3\nf 1 {m} 1\n"),
            "line 2",
        ),
        (
            "STL number",
            MediaType::Stl,
            format!("solid {m}\nfacet normal 0 0 1\nouter loop\nvertex 0 0 {m}\n"),
            "line 4",
        ),
        (
            "DXF group code",
            MediaType::Dxf,
            format!("0\nSECTION\n{m}\nx\n"),
            "line 3",
        ),
        (
            "DXF group value",
            MediaType::Dxf,
            format!("0\nSECTION\n2\nENTITIES\n0\nLINE\n8\n0\n10\n{m}\n0\nENDSEC\n0\nEOF\n"),
            // DXF names the line of the group's code; the value is on the next.
            "line 9",
        ),
        (
            "DXF self-inserting block",
            MediaType::Dxf,
            format!(
                "0\nSECTION\n2\nBLOCKS\n0\nBLOCK\n2\n{m}\n10\n0\n20\n0\n0\nINSERT\n2\n{m}\n10\n0\n20\n0\n0\nENDBLK\n0\nENDSEC\n\
                 0\nSECTION\n2\nENTITIES\n0\nINSERT\n2\n{m}\n10\n0\n20\n0\n0\nLINE\n10\n0\n20\n0\n11\n1\n21\n1\n0\nENDSEC\n0\nEOF\n"
            ),
            "",
        ),
        (
            "glTF JSON type",
            MediaType::Gltf,
            format!("{{\"asset\":{{\"version\":\"2.0\"}},\"scene\":\"{m}\"}}"),
            "line 1",
        ),
        ("glTF external buffer", MediaType::Gltf, gltf_external, ""),
        (
            "STEP syntax",
            MediaType::Step,
            format!(
                "ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1={m}(;\nENDSEC;\nEND-ISO-10303-21;\n"
            ),
            "line 5",
        ),
    ];
    for (what, media, text, location) in cases {
        let err = open(media, text.into_bytes()).expect_err(what);
        assert_clean(what, &err);
        assert!(err.starts_with("render: "), "{what}: {err}");
        assert!(err.contains(location), "{what}: '{err}' names {location}");
        println!("{what}: {err}");
    }
}
