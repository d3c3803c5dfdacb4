//! The STEP loader against the build123d/OpenCascade fixtures (`tests/fixtures/cad/`), whose
//! exact bounding boxes and B-rep surface areas `models.json` records, and against hostile
//! input.
//!
//! Tolerances: bounding boxes within 0.1 % of the diagonal; surface area within 1 % of the exact
//! B-rep area (the mesh's chords cut inside curved faces, so the tessellated area is slightly
//! below the exact one: with the 1/2000-diagonal chord tolerance and 20° angular limit the
//! deficit is a few tenths of a percent on these parts).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use veilmark_cad::step::{load_step, load_step_with_report};
use veilmark_cad::{CadError, LengthUnit, Limits, Mesh, Model};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cad")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).expect("fixture exists")
}

fn expected(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture_dir().join("models.json")).expect("models.json");
    let all: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    all["models"][name].clone()
}

fn load(name: &str) -> Model {
    let (model, report) =
        load_step_with_report(&fixture(&format!("{name}.step")), &Limits::default())
            .expect("loads");
    assert_eq!(report.skipped_faces, 0, "{name}: faces skipped");
    eprintln!(
        "{name}: {} triangles, area {:.3}, bounds {:?}, tolerance {:.4}",
        model.triangle_count(),
        model.surface_area(),
        model.bounds(),
        report.chord_tolerance
    );
    model
}

fn check_against_truth(name: &str, model: &Model) {
    let want = expected(name);
    assert!(model.triangle_count() > 0);
    let b = model.bounds();
    let diag = b.diagonal();
    for k in 0..3 {
        let lo = want["bbox"][0][k].as_f64().expect("number");
        let hi = want["bbox"][1][k].as_f64().expect("number");
        assert!(
            (b.min[k] - lo).abs() <= 1e-3 * diag,
            "{name}: min[{k}] {} vs {lo}",
            b.min[k]
        );
        assert!(
            (b.max[k] - hi).abs() <= 1e-3 * diag,
            "{name}: max[{k}] {} vs {hi}",
            b.max[k]
        );
    }
    let area = want["area"].as_f64().expect("number");
    let got = model.surface_area();
    assert!(
        (got - area).abs() <= 0.01 * area,
        "{name}: area {got} vs exact {area} ({:+.3} %)",
        100.0 * (got - area) / area
    );
    assert_eq!(model.unit, LengthUnit::Millimetre);
    assert!(model.unit_declared);
}

/// Edges of the position-welded mesh used by other than exactly two triangles.
fn open_edges(mesh: &Mesh) -> usize {
    let mut ids: HashMap<[u32; 3], u32> = HashMap::new();
    let weld: Vec<u32> = mesh
        .positions
        .iter()
        .map(|p| {
            let key = p.map(f32::to_bits);
            let n = u32::try_from(ids.len()).expect("fits");
            *ids.entry(key).or_insert(n)
        })
        .collect();
    // Per undirected edge: uses in each direction. A closed, consistently oriented mesh uses
    // every edge exactly once each way.
    let mut edges: HashMap<(u32, u32), [u32; 2]> = HashMap::new();
    for t in &mesh.triangles {
        for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
            let (a, b) = (weld[a as usize], weld[b as usize]);
            edges.entry((a.min(b), a.max(b))).or_default()[usize::from(a > b)] += 1;
        }
    }
    edges.values().filter(|&&c| c != [1, 1]).count()
}

#[test]
fn bracket_matches_the_exact_model() {
    let model = load("bracket");
    check_against_truth("bracket", &model);
    assert_eq!(model.parts.len(), 1);
    assert_eq!(model.parts[0].name, "bracket");
    let want = expected("bracket");
    let mesh = &model.parts[0].mesh;
    for (label, p) in want["known_points"].as_object().expect("object") {
        let p: Vec<f64> = p
            .as_array()
            .expect("array")
            .iter()
            .map(|c| c.as_f64().expect("n"))
            .collect();
        let hit = mesh
            .positions
            .iter()
            .any(|q| (0..3).all(|k| (f64::from(q[k]) - p[k]).abs() < 1e-4));
        assert!(hit, "known vertex {label} {p:?} is not a mesh vertex");
    }
}

#[test]
fn bracket_mesh_is_watertight_and_consistently_oriented() {
    let model = load("bracket");
    assert_eq!(open_edges(&model.parts[0].mesh), 0);
}

#[test]
fn flange_matches_the_exact_model() {
    let model = load("flange");
    check_against_truth("flange", &model);
    assert_eq!(open_edges(&model.parts[0].mesh), 0);
}

#[test]
fn assembly_places_four_named_parts_under_one_root() {
    let model = load("assembly");
    check_against_truth("assembly", &model);
    let roots: Vec<_> = model.nodes.iter().filter(|n| n.parent.is_none()).collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].name, "fixture");
    let names: Vec<&str> = model.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["base-plate", "bracket-left", "bracket-right", "shaft"]
    );
    for p in &model.parts {
        assert_eq!(model.nodes[p.node].parent, Some(0));
        assert_eq!(model.nodes[p.node].name, p.name);
    }
}

fn wrap(data: &str) -> Vec<u8> {
    format!(
        "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nENDSEC;\nDATA;\n{data}\nENDSEC;\nEND-ISO-10303-21;\n"
    )
    .into_bytes()
}

/// Loads hostile bytes: must return (either way) without panicking, within `limit`.
fn load_quickly(bytes: &[u8], limit: Duration) -> Result<Model, CadError> {
    let start = Instant::now();
    let result = load_step(bytes, &Limits::default());
    let took = start.elapsed();
    assert!(took < limit, "took {took:?}");
    result
}

#[test]
fn refuses_what_is_not_step() {
    for bytes in [
        &b""[..],
        b"solid cube\nendsolid",
        b"ISO-10303-21;",
        b"\xff\xfe\x00",
    ] {
        assert!(matches!(
            load_step(bytes, &Limits::default()),
            Err(CadError::Malformed { format: "STEP", .. })
        ));
    }
    assert!(matches!(
        load_step(&wrap(""), &Limits::default()),
        Err(CadError::Empty { .. })
    ));
}

#[test]
fn every_prefix_of_a_file_fails_cleanly() {
    let bytes = fixture("bracket.step");
    let start = Instant::now();
    // The last byte is the final newline: without it the file is still complete.
    for cut in (0..bytes.len())
        .step_by(61)
        .chain(bytes.len() - 64..bytes.len() - 1)
    {
        assert!(load_step(&bytes[..cut], &Limits::default()).is_err());
    }
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// Cutting the DATA section short (and closing the file properly) leaves dangling references
/// everywhere: each cut gives a partial model or an error, quickly.
#[test]
fn data_cut_short_gives_a_partial_model_or_an_error() {
    let text = String::from_utf8(fixture("bracket.step")).expect("ASCII");
    let data_start = text.find("DATA;").expect("DATA") + 5;
    let data_end = text.rfind("ENDSEC;").expect("ENDSEC");
    let entities: Vec<&str> = text[data_start..data_end].split_inclusive(";\n").collect();
    let mut partial = 0;
    for cut in (0..entities.len()).step_by(7) {
        // Keep the first `cut` instances whole, and of the rest drop every fifth, so that
        // references dangle inside faces, not only at the end.
        let kept: String = entities
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < cut || i % 5 != 0)
            .map(|(_, e)| *e)
            .collect();
        if let Ok(m) = load_quickly(&wrap(&kept), Duration::from_secs(5)) {
            assert!(m.triangle_count() > 0);
            partial += 1;
        }
    }
    assert!(partial > 0, "some cuts should still show something");
}

const FACE: &str = "#1 = MANIFOLD_SOLID_BREP('',#2);
#2 = CLOSED_SHELL('',(#3));
#3 = ADVANCED_FACE('',(#4),#20,.T.);
#4 = FACE_OUTER_BOUND('',#5,.T.);
#5 = EDGE_LOOP('',(#6,#7,#8));
#6 = ORIENTED_EDGE('',*,*,#9,.T.);
#7 = ORIENTED_EDGE('',*,*,#10,.T.);
#8 = ORIENTED_EDGE('',*,*,#11,.T.);
#9 = EDGE_CURVE('',#12,#13,#30,.T.);
#10 = EDGE_CURVE('',#13,#14,#31,.T.);
#11 = EDGE_CURVE('',#14,#12,#32,.T.);
#12 = VERTEX_POINT('',#15);
#13 = VERTEX_POINT('',#16);
#14 = VERTEX_POINT('',#17);
#15 = CARTESIAN_POINT('',(0.,0.,0.));
#16 = CARTESIAN_POINT('',(1.,0.,0.));
#17 = CARTESIAN_POINT('',(0.,1.,0.));
#20 = PLANE('',#21);
#21 = AXIS2_PLACEMENT_3D('',#15,$,$);
#30 = LINE('',#15,#33);
#31 = LINE('',#16,#33);
#32 = LINE('',#17,#33);
#33 = VECTOR('',#34,1.);
#34 = DIRECTION('',(1.,0.,0.));";

#[test]
fn a_minimal_solid_loads() {
    let m = load_quickly(&wrap(FACE), Duration::from_secs(1)).expect("loads");
    assert_eq!(m.triangle_count(), 1);
    assert!((m.surface_area() - 0.5).abs() < 1e-6);
    assert!(!m.unit_declared);
}

#[test]
fn hostile_geometry_is_refused_or_skipped() {
    let cases = [
        // Reference cycles through curves and surfaces.
        FACE.replace("#30 = LINE('',#15,#33);", "#30 = TRIMMED_CURVE('',#30,(),(),.T.,.PARAMETER.);"),
        FACE.replace("#30 = LINE('',#15,#33);", "#30 = SURFACE_CURVE('',#35,(),.CURVE_3D.);\n#35 = SURFACE_CURVE('',#30,(),.CURVE_3D.);"),
        FACE.replace("#20 = PLANE('',#21);", "#20 = SURFACE_OF_REVOLUTION('',#20,#21);"),
        FACE.replace("#2 = CLOSED_SHELL('',(#3));", "#2 = ORIENTED_CLOSED_SHELL('',*,#2,.F.);"),
        // Dangling references.
        FACE.replace("#20 = PLANE('',#21);", "#20 = PLANE('',#999);"),
        FACE.replace("#9 = EDGE_CURVE('',#12,#13,#30,.T.);", "#9 = EDGE_CURVE('',#12,#13,#777,.T.);"),
        // Absurd B-splines.
        FACE.replace("#30 = LINE('',#15,#33);", "#30 = B_SPLINE_CURVE_WITH_KNOTS('',1000000,(#15,#16),.UNSPECIFIED.,.F.,.F.,(2,2),(0.,1.),.UNSPECIFIED.);"),
        FACE.replace("#30 = LINE('',#15,#33);", "#30 = B_SPLINE_CURVE_WITH_KNOTS('',1,(#15,#16),.UNSPECIFIED.,.F.,.F.,(9223372036854775807,2),(0.,1.),.UNSPECIFIED.);"),
        FACE.replace("#20 = PLANE('',#21);", "#20 = B_SPLINE_SURFACE_WITH_KNOTS('',3,3,((#15,#16),(#17,#15)),.UNSPECIFIED.,.F.,.F.,.F.,(4,4),(4,4),(0.,1.),(0.,1.),.UNSPECIFIED.);"),
        // Huge and tiny numbers.
        FACE.replace("(1.,0.,0.));\n#17", "(1.E308,0.,0.));\n#17"),
        FACE.replace("#21 = AXIS2_PLACEMENT_3D('',#15,$,$);", "#21 = AXIS2_PLACEMENT_3D('',#15,#22,$);\n#22 = DIRECTION('',(0.,0.,0.));"),
        FACE.replace("#20 = PLANE('',#21);", "#20 = CYLINDRICAL_SURFACE('',#21,1.E-300);"),
        FACE.replace("#20 = PLANE('',#21);", "#20 = SPHERICAL_SURFACE('',#21,1.E300);"),
    ];
    for (k, case) in cases.iter().enumerate() {
        assert_ne!(case, FACE, "case {k} changed nothing");
        let result = load_quickly(&wrap(case), Duration::from_secs(2));
        if let Ok(m) = result {
            assert!(m.triangle_count() <= 1_000, "case {k}");
        }
    }
}

#[test]
fn huge_circles_and_tiny_tolerances_are_bounded() {
    // A full circle of radius 1e9 in a model whose vertices span 1e-6: the tolerance is tiny.
    let data = "#1 = MANIFOLD_SOLID_BREP('',#2);
#2 = CLOSED_SHELL('',(#3));
#3 = ADVANCED_FACE('',(#4),#20,.T.);
#4 = FACE_OUTER_BOUND('',#5,.T.);
#5 = EDGE_LOOP('',(#6));
#6 = ORIENTED_EDGE('',*,*,#9,.T.);
#9 = EDGE_CURVE('',#12,#12,#30,.T.);
#12 = VERTEX_POINT('',#15);
#15 = CARTESIAN_POINT('',(1.E9,0.,0.));
#16 = CARTESIAN_POINT('',(0.,0.,0.));
#20 = SPHERICAL_SURFACE('',#21,1.E9);
#21 = AXIS2_PLACEMENT_3D('',#16,$,$);
#30 = CIRCLE('',#21,1.E9);";
    let result = load_quickly(&wrap(data), Duration::from_secs(10));
    if let Ok(m) = result {
        assert!(m.triangle_count() < 200_000);
    }
}

#[test]
fn deep_nesting_and_assembly_cycles_are_bounded() {
    let deep = format!("#1 = A({}1{});", "(".repeat(100_000), ")".repeat(100_000));
    assert!(matches!(
        load_quickly(&wrap(&deep), Duration::from_secs(2)),
        Err(CadError::Malformed { .. })
    ));
    // Two product definitions, each a component of the other, plus one of itself.
    let cycle = format!(
        "{FACE}
#100 = PRODUCT('a','a','',());
#101 = PRODUCT_DEFINITION_FORMATION('','',#100);
#102 = PRODUCT_DEFINITION('design','',#101,$);
#103 = PRODUCT_DEFINITION('design','',#101,$);
#104 = NEXT_ASSEMBLY_USAGE_OCCURRENCE('1','x','',#102,#103,$);
#105 = NEXT_ASSEMBLY_USAGE_OCCURRENCE('2','y','',#103,#102,$);
#106 = NEXT_ASSEMBLY_USAGE_OCCURRENCE('3','z','',#102,#102,$);
#107 = SHAPE_DEFINITION_REPRESENTATION(#108,#109);
#108 = PRODUCT_DEFINITION_SHAPE('','',#102);
#109 = ADVANCED_BREP_SHAPE_REPRESENTATION('',(#1),$);"
    );
    let result = load_quickly(&wrap(&cycle), Duration::from_secs(10));
    assert!(result.is_ok() || matches!(result, Err(CadError::TooLarge { .. })));
}

#[test]
fn limits_are_enforced() {
    let bytes = fixture("assembly.step");
    let few_triangles = Limits {
        max_triangles: 100,
        ..Limits::default()
    };
    assert!(matches!(
        load_step(&bytes, &few_triangles),
        Err(CadError::TooLarge {
            what: "triangles",
            ..
        })
    ));
    let few_nodes = Limits {
        max_nodes: 2,
        ..Limits::default()
    };
    assert!(matches!(
        load_step(&bytes, &few_nodes),
        Err(CadError::TooLarge { .. })
    ));
}
