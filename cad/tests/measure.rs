//! Picking, snapping and edge measurement on the bracket, against the dimensions it was built
//! with in `generate.py`.

use veilmark_cad::{
    Limits, Model, Plane, Ray, edge_chain_length, feature_edges, load_stl, nearest_feature_edge,
    pick, snap_to_vertex,
};

fn bracket() -> Model {
    let path = format!(
        "{}/../tests/fixtures/cad/bracket.stl",
        env!("CARGO_MANIFEST_DIR")
    );
    load_stl(&std::fs::read(path).unwrap(), &Limits::default()).unwrap()
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt()
}

/// Clicks the front face (y = 0) near `(x, z)` from in front and snaps within 2 mm.
fn click_front(model: &Model, x: f64, z: f64) -> [f64; 3] {
    let ray = Ray {
        origin: [x, -100.0, z],
        dir: [0.0, 1.0, 0.0],
    };
    let hit = pick(model, &[true], &ray, None).expect("the ray hits the bracket");
    assert!(hit.point[1].abs() < 1e-4, "{hit:?}");
    assert!((hit.distance - 100.0).abs() < 1e-4);
    snap_to_vertex(model, &hit, 2.0)
}

#[test]
fn snapped_corners_are_80_mm_apart() {
    let model = bracket();
    let left = click_front(&model, 0.4, 0.3);
    let right = click_front(&model, 79.6, 0.3);
    assert!(distance(left, [0.0, 0.0, 0.0]) < 1e-5, "{left:?}");
    assert!(distance(right, [80.0, 0.0, 0.0]) < 1e-5, "{right:?}");
    assert!((distance(left, right) - 80.0).abs() < 1e-4);
}

#[test]
fn hidden_parts_and_section_planes_are_not_picked() {
    let model = bracket();
    let ray = Ray {
        origin: [40.0, 20.0, 100.0],
        dir: [0.0, 0.0, -1.0],
    };
    let top = pick(&model, &[true], &ray, None).unwrap();
    assert!(
        (top.point[2] - 6.0).abs() < 1e-4,
        "the base's top face: {top:?}"
    );
    assert!(pick(&model, &[false], &ray, None).is_none());
    // Cut away everything above z = 3: the ray now first meets the base's bottom face.
    let cut = Plane {
        normal: [0.0, 0.0, 1.0],
        offset: 3.0,
    };
    let below = pick(&model, &[true], &ray, Some(cut)).unwrap();
    assert!(below.point[2].abs() < 1e-4, "{below:?}");
}

#[test]
fn hole_rim_chain_is_the_circumference() {
    let model = bracket();
    let mesh = &model.parts[0].mesh;
    let edges = feature_edges(mesh, 30.0);
    // A point on the Ø8 hole's top rim (hole centred at (30, 20), base top at z = 6).
    let edge =
        nearest_feature_edge(mesh, &edges, [34.0, 20.0, 6.0], 0.5).expect("an edge on the rim");
    let (len, vertices) = edge_chain_length(mesh, &edges, edge);
    let want = 2.0 * std::f64::consts::PI * 4.0;
    assert!(
        (len - want).abs() < 0.01 * want,
        "rim chain {len} mm over {} vertices, want {want}",
        vertices.len()
    );
    assert!(vertices.len() >= 16);
}

#[test]
fn base_front_edge_chain_is_80_mm() {
    let model = bracket();
    let mesh = &model.parts[0].mesh;
    let edges = feature_edges(mesh, 30.0);
    let edge =
        nearest_feature_edge(mesh, &edges, [40.0, 0.0, 0.0], 0.5).expect("the base front edge");
    let (len, _) = edge_chain_length(mesh, &edges, edge);
    assert!((len - 80.0).abs() < 1e-3, "{len}");
}

#[test]
fn feature_edges_of_a_flat_square_are_its_boundary() {
    let mesh = veilmark_cad::Mesh {
        positions: vec![
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
            [1.0, 1.0, 0.0],
        ],
        // The second triangle uses a duplicate of vertex 2 (index 4): welded by position.
        triangles: vec![[0, 1, 2], [0, 4, 3]],
    };
    let edges = feature_edges(&mesh, 30.0);
    assert_eq!(edges, [[0, 1], [0, 3], [1, 2], [2, 3]]);
    let (len, chain) = edge_chain_length(&mesh, &edges, 0);
    // Corners turn by 90°, so the chain is the one side.
    assert_eq!((len, chain.len()), (1.0, 2));
    assert_eq!(edge_chain_length(&mesh, &edges, 99), (0.0, Vec::new()));
}
