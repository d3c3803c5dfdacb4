//! The ezdxf-generated plate drawing, and small hand-written DXF files for single behaviours.

use veilmark_cad::{CadError, Drawing, LengthUnit, Limits, load_dxf};

fn plate() -> Drawing {
    let path = format!(
        "{}/../tests/fixtures/cad/plate.dxf",
        env!("CARGO_MANIFEST_DIR")
    );
    load_dxf(&std::fs::read(path).unwrap(), &Limits::default()).unwrap()
}

/// A minimal DXF: the given entity groups in an ENTITIES section, optional BLOCKS first.
fn dxf(blocks: &str, entities: &str) -> Vec<u8> {
    format!("0\nSECTION\n2\nBLOCKS\n{blocks}0\nENDSEC\n0\nSECTION\n2\nENTITIES\n{entities}0\nENDSEC\n0\nEOF\n").into_bytes()
}

#[test]
fn plate_has_layers_unit_circles_outline_and_text() {
    let d = plate();
    assert_eq!(d.unit, Some(LengthUnit::Millimetre));
    let names: Vec<&str> = d.layers.iter().map(|l| l.name.as_str()).collect();
    for layer in ["OUTLINE", "HOLES", "CENTER", "TEXT"] {
        assert!(names.contains(&layer), "{layer} missing from {names:?}");
    }
    let outline = d.layers.iter().find(|l| l.name == "OUTLINE").unwrap();
    assert_eq!(outline.color, [0, 0, 0], "colour 7 is black on paper");
    assert_eq!(
        d.layers.iter().find(|l| l.name == "HOLES").unwrap().color,
        [255, 0, 0]
    );
    let circles = d
        .paths
        .iter()
        .filter(|p| p.closed && p.points.len() == 2 && p.bulges == [1.0, 1.0])
        .count();
    assert!(circles >= 4, "{circles} circles");
    let hole_a = d.paths.iter().any(|p| {
        p.closed
            && p.points.len() == 2
            && p.points[0] == [19.0, 15.0]
            && p.points[1] == [11.0, 15.0]
    });
    assert!(hole_a, "the Ø8 hole at (15, 15)");
    let outline_path = d
        .paths
        .iter()
        .find(|p| p.points.len() == 8 && p.closed)
        .expect("the bulged outline");
    assert_eq!(
        outline_path
            .bulges
            .iter()
            .filter(|&&b| (b - 0.414_213_562_4).abs() < 1e-9)
            .count(),
        4
    );
    let texts: Vec<&str> = d.texts.iter().map(|t| t.value.as_str()).collect();
    assert_eq!(texts, ["MOUNTING PLATE  MP-120", "4x D8 THRU"]);
    assert_eq!(d.texts[0].position, [0.0, 90.0]);
    assert!((d.texts[0].height - 5.0).abs() < 1e-12);
    // Arcs: the slot's two half circles, bulge tan(180°/4) = 1.
    let arcs = d
        .paths
        .iter()
        .filter(|p| !p.closed && p.points.len() == 2 && (p.bulges[0] - 1.0).abs() < 1e-9)
        .count();
    assert_eq!(arcs, 2);
}

#[test]
fn plate_bounds_include_arc_extents() {
    let b = plate().bounds();
    // The centre lines reach -5..125 × -5..85; the title's baseline is at y = 90 and its
    // estimated box (1.1 × the 5-unit cap height, for accents) reaches 95.5.
    assert_eq!((b.min[0], b.min[1], b.max[0]), (-5.0, -5.0, 125.0));
    assert!((b.max[1] - 95.5).abs() < 1e-9, "{}", b.max[1]);
    // A lone circle: its bounds are the whole disc, not the two diameter points.
    let d = load_dxf(
        &dxf("", "0\nCIRCLE\n8\n0\n10\n0\n20\n0\n40\n2\n"),
        &Limits::default(),
    )
    .unwrap();
    let b = d.bounds();
    assert!(
        (b.min[1] + 2.0).abs() < 1e-9 && (b.max[1] - 2.0).abs() < 1e-9,
        "{b:?}"
    );
}

#[test]
fn arc_bulge_and_direction() {
    let d = load_dxf(
        &dxf("", "0\nARC\n10\n0\n20\n0\n40\n1\n50\n0\n51\n90\n"),
        &Limits::default(),
    )
    .unwrap();
    let p = &d.paths[0];
    assert!((p.points[0][0] - 1.0).abs() < 1e-12 && (p.points[1][1] - 1.0).abs() < 1e-12);
    assert!((p.bulges[0] - (std::f64::consts::FRAC_PI_2 / 4.0).tan()).abs() < 1e-12);
    let b = d.bounds();
    assert!(
        (b.max[0] - 1.0).abs() < 1e-12 && (b.max[1] - 1.0).abs() < 1e-12 && b.min[0].abs() < 1e-12
    );
}

#[test]
fn inserts_place_block_entities_and_mtext_splits_lines() {
    let blocks = "0\nBLOCK\n2\nPEG\n10\n0\n20\n0\n0\nLINE\n8\n0\n62\n0\n10\n0\n20\n0\n11\n1\n21\n0\n0\nENDBLK\n";
    let entities = "0\nINSERT\n8\nPEGS\n62\n3\n2\nPEG\n10\n10\n20\n5\n41\n2\n42\n2\n50\n90\n\
                    0\nMTEXT\n8\nNOTES\n10\n0\n20\n0\n40\n2\n1\n{\\fArial;Line one}\\PLine two\n";
    let d = load_dxf(&dxf(blocks, entities), &Limits::default()).unwrap();
    let line = &d.paths[0];
    assert_eq!(
        d.layers[line.layer].name, "PEGS",
        "layer-0 entities take the insert's layer"
    );
    assert_eq!(line.color, [0, 255, 0], "BYBLOCK takes the insert's colour");
    assert!(
        (line.points[1][0] - 10.0).abs() < 1e-9 && (line.points[1][1] - 7.0).abs() < 1e-9,
        "{line:?}"
    );
    let texts: Vec<&str> = d.texts.iter().map(|t| t.value.as_str()).collect();
    assert_eq!(texts, ["Line one", "Line two"]);
    assert!(d.texts[1].position[1] < d.texts[0].position[1]);
}

#[test]
fn polyline_vertices_and_crlf() {
    let entities = "0\r\nPOLYLINE\r\n70\r\n1\r\n0\r\nVERTEX\r\n10\r\n0\r\n20\r\n0\r\n42\r\n1\r\n0\r\nVERTEX\r\n10\r\n2\r\n20\r\n0\r\n0\r\nSEQEND\r\n";
    let d = load_dxf(&dxf("", entities), &Limits::default()).unwrap();
    assert_eq!(d.paths[0].points, [[0.0, 0.0], [2.0, 0.0]]);
    assert_eq!(d.paths[0].bulges, [1.0, 0.0]);
    assert!(d.paths[0].closed);
}

#[test]
fn hostile_dxf_is_refused_cleanly() {
    let limits = Limits::default();
    assert!(matches!(
        load_dxf(b"", &limits),
        Err(CadError::Empty { .. })
    ));
    assert!(matches!(
        load_dxf(b"AutoCAD Binary DXF\r\n\x1a\0", &limits),
        Err(CadError::Unsupported { .. })
    ));
    // Unterminated section: what was read still draws.
    assert!(
        load_dxf(
            b"0\nSECTION\n2\nENTITIES\n0\nLINE\n10\n0\n20\n0\n11\n1\n21\n1\n",
            &limits
        )
        .is_ok()
    );
    // NaN coordinates.
    assert!(matches!(
        load_dxf(&dxf("", "0\nLINE\n10\nNaN\n20\n0\n11\n1\n21\n1\n"), &limits),
        Err(CadError::Malformed { .. })
    ));
    // A block inserting itself.
    let selfish = "0\nBLOCK\n2\nLOOP\n0\nLINE\n11\n1\n0\nINSERT\n2\nLOOP\n0\nENDBLK\n";
    let r = load_dxf(&dxf(selfish, "0\nINSERT\n2\nLOOP\n"), &limits);
    assert!(matches!(r, Err(CadError::Malformed { .. })), "{r:?}");
    // Fan-out: each block inserts the next ten times, 2^... work stopped by the budget.
    let mut blocks = String::new();
    for level in 0..12 {
        blocks += &format!("0\nBLOCK\n2\nB{level}\n0\nLINE\n11\n1\n");
        for _ in 0..10 {
            blocks += &format!("0\nINSERT\n2\nB{}\n", level + 1);
        }
        blocks += "0\nENDBLK\n";
    }
    let small = Limits {
        max_drawing_points: 100_000,
        ..Limits::default()
    };
    let start = std::time::Instant::now();
    let r = load_dxf(&dxf(&blocks, "0\nINSERT\n2\nB0\n"), &small);
    assert!(matches!(r, Err(CadError::TooLarge { .. })), "{r:?}");
    assert!(start.elapsed().as_secs() < 5);
    // Absurd counts: an LWPOLYLINE claiming 4 billion vertices holds what is present.
    let d = load_dxf(
        &dxf(
            "",
            "0\nLWPOLYLINE\n90\n4294967295\n10\n0\n20\n0\n10\n1\n20\n1\n",
        ),
        &limits,
    )
    .unwrap();
    assert_eq!(d.paths[0].points.len(), 2);
    // An INSERT array of 32767 × 32767 copies hits the budget instead of running for hours.
    let arr = load_dxf(
        &dxf(
            "0\nBLOCK\n2\nP\n0\nLINE\n11\n1\n0\nENDBLK\n",
            "0\nINSERT\n2\nP\n70\n32767\n71\n32767\n",
        ),
        &small,
    );
    assert!(matches!(arr, Err(CadError::TooLarge { .. })));
    // Not a group code.
    assert!(matches!(
        load_dxf(b"zero\nSECTION\n", &limits),
        Err(CadError::Malformed { .. })
    ));
}

#[test]
fn every_prefix_of_the_plate_loads_or_fails_cleanly() {
    let path = format!(
        "{}/../tests/fixtures/cad/plate.dxf",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let limits = Limits::default();
    // A sample of prefixes over the whole file, and every prefix of a small drawing that has
    // each kind of entity.
    for len in (0..=bytes.len()).step_by(29) {
        let _ = load_dxf(&bytes[..len], &limits);
    }
    let blocks = "0\nBLOCK\n2\nB\n10\n1\n20\n1\n0\nCIRCLE\n40\n2\n0\nENDBLK\n";
    let entities = "0\nLWPOLYLINE\n70\n1\n10\n0\n20\n0\n42\n0.5\n10\n4\n20\n0\n0\nARC\n40\n1\n50\n10\n51\n80\n\
                    0\nTEXT\n1\n%%c8\n40\n2.5\n0\nINSERT\n2\nB\n41\n-1\n0\nPOLYLINE\n0\nVERTEX\n10\n1\n0\nSEQEND\n\
                    0\nELLIPSE\n11\n2\n40\n0.5\n0\nSPLINE\n71\n2\n40\n0\n40\n0\n40\n0\n40\n1\n40\n1\n40\n1\n10\n0\n20\n0\n10\n1\n20\n1\n10\n2\n20\n0\n";
    let small = dxf(blocks, entities);
    assert!(load_dxf(&small, &limits).is_ok());
    for len in 0..=small.len() {
        let _ = load_dxf(&small[..len], &limits);
    }
}

#[test]
fn overlong_text_is_cut_and_charged_per_character() {
    let long = "X".repeat(50_000);
    let d = load_dxf(
        &dxf(
            "",
            &format!("0\nTEXT\n8\n0\n10\n0\n20\n0\n40\n2\n1\n{long}\n"),
        ),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        d.texts[0].value.chars().count(),
        veilmark_cad::dxf::MAX_TEXT_CHARS
    );
    // Many long texts run into the drawing budget instead of into memory.
    let many = format!(
        "0\nTEXT\n8\n0\n10\n0\n20\n0\n40\n2\n1\n{}\n",
        "Y".repeat(999)
    )
    .repeat(200);
    let tight = Limits {
        max_drawing_points: 100_000,
        ..Limits::default()
    };
    assert!(matches!(
        load_dxf(&dxf("", &many), &tight),
        Err(veilmark_cad::CadError::TooLarge { .. })
    ));
}
