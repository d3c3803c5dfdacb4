//! Every fixture from `tests/fixtures/cad` loads through the public API and matches the
//! bounding boxes and surface areas that build123d recorded in `models.json`.

use veilmark_cad::{Aabb, Limits, Model};

/// A mesh loader of the public API.
type Loader = fn(&[u8], &Limits) -> Result<Model, veilmark_cad::CadError>;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/cad/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The bracket as recorded by `generate.py` (millimetres).
const BRACKET_BBOX: ([f64; 3], [f64; 3]) = ([0.0, 0.0, 0.0], [80.0, 40.0, 56.0]);
const BRACKET_AREA: f64 = 12_496.836_248_639_876;
const ASSEMBLY_BBOX: ([f64; 3], [f64; 3]) = ([0.0, 0.0, 0.0], [200.0, 80.0, 66.0]);
const ASSEMBLY_AREA: f64 = 67_244.800_420_919_43;

/// Checks bounds (within 0.1 % of the diagonal) and area (within 1 %) after scaling to mm.
fn assert_matches(model: &Model, bbox: ([f64; 3], [f64; 3]), area: f64, what: &str) {
    let scale = model.unit.in_mm();
    let b: Aabb = model.bounds();
    let diagonal = Aabb {
        min: bbox.0,
        max: bbox.1,
    }
    .diagonal();
    for k in 0..3 {
        let (lo, hi) = (b.min[k] * scale, b.max[k] * scale);
        assert!(
            (lo - bbox.0[k]).abs() <= 1e-3 * diagonal,
            "{what}: min[{k}] = {lo}, want {}",
            bbox.0[k]
        );
        assert!(
            (hi - bbox.1[k]).abs() <= 1e-3 * diagonal,
            "{what}: max[{k}] = {hi}, want {}",
            bbox.1[k]
        );
    }
    let got = model.surface_area() * scale * scale;
    assert!(
        (got - area).abs() <= 0.01 * area,
        "{what}: area {got}, want {area}"
    );
}

#[test]
fn bracket_in_every_mesh_format_matches_models_json() {
    let limits = Limits::default();
    let cases: [(&str, Loader); 5] = [
        ("bracket.stl", veilmark_cad::load_stl),
        ("bracket-ascii.stl", veilmark_cad::load_stl),
        ("bracket.obj", veilmark_cad::load_obj),
        ("bracket.gltf", veilmark_cad::load_gltf),
        ("bracket.glb", veilmark_cad::load_gltf),
    ];
    for (name, load) in cases {
        let model = load(&fixture(name), &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_matches(&model, BRACKET_BBOX, BRACKET_AREA, name);
        assert_eq!(model.parts.len(), 1, "{name}");
    }
}

#[test]
fn stl_and_obj_assume_millimetres_gltf_declares_metres() {
    let limits = Limits::default();
    let stl = veilmark_cad::load_stl(&fixture("bracket.stl"), &limits).unwrap();
    assert_eq!(
        (stl.unit, stl.unit_declared),
        (veilmark_cad::LengthUnit::Millimetre, false)
    );
    let obj = veilmark_cad::load_obj(&fixture("bracket.obj"), &limits).unwrap();
    assert_eq!(
        (obj.unit, obj.unit_declared),
        (veilmark_cad::LengthUnit::Millimetre, false)
    );
    let gltf = veilmark_cad::load_gltf(&fixture("bracket.gltf"), &limits).unwrap();
    assert_eq!(
        (gltf.unit, gltf.unit_declared),
        (veilmark_cad::LengthUnit::Metre, true)
    );
}

#[test]
fn stl_mesh_is_welded() {
    let model = veilmark_cad::load_stl(&fixture("bracket.stl"), &Limits::default()).unwrap();
    let mesh = &model.parts[0].mesh;
    // A closed welded surface has far fewer vertices than 3 per triangle (about 1 per 2).
    assert!(
        mesh.positions.len() * 2 < mesh.triangles.len() + 10,
        "{} vertices for {} triangles",
        mesh.positions.len(),
        mesh.triangles.len()
    );
}

#[test]
fn flange_and_assembly_stl_match_models_json() {
    let limits = Limits::default();
    let flange = veilmark_cad::load_stl(&fixture("flange.stl"), &limits).unwrap();
    assert_matches(
        &flange,
        ([-30.0, -30.0, 0.0], [30.0, 30.0, 22.0]),
        10_206.450_922_587_424,
        "flange.stl",
    );
    let assembly = veilmark_cad::load_stl(&fixture("assembly.stl"), &limits).unwrap();
    assert_matches(&assembly, ASSEMBLY_BBOX, ASSEMBLY_AREA, "assembly.stl");
}

#[test]
fn assembly_gltf_and_glb_have_four_named_parts_in_a_tree() {
    for name in ["assembly.gltf", "assembly.glb"] {
        let model = veilmark_cad::load_gltf(&fixture(name), &Limits::default()).unwrap();
        assert_matches(&model, ASSEMBLY_BBOX, ASSEMBLY_AREA, name);
        let names: Vec<&str> = model.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["base-plate", "bracket-left", "bracket-right", "shaft"],
            "{name}"
        );
        let root = model
            .nodes
            .iter()
            .position(|n| n.name == "fixture")
            .expect("root node 'fixture'");
        assert_eq!(model.nodes[root].parent, None);
        for part in &model.parts {
            assert_eq!(
                model.nodes[part.node].parent,
                Some(root),
                "{name}: {}",
                part.name
            );
            assert_eq!(model.nodes[part.node].name, part.name);
        }
    }
}

#[test]
fn flange_gltf_and_glb_match_models_json() {
    for name in ["flange.gltf", "flange.glb"] {
        let model = veilmark_cad::load_gltf(&fixture(name), &Limits::default()).unwrap();
        assert_matches(
            &model,
            ([-30.0, -30.0, 0.0], [30.0, 30.0, 22.0]),
            10_206.450_922_587_424,
            name,
        );
    }
}
