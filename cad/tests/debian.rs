//! A CAD file from a Debian package rather than from our generator: the clock-tower OBJ in
//! `asymptote-doc` (exported by CtrlView from 3DS; a free-text licence line heads the file).
//! `cargo xtask test` installs the package.

use veilmark_cad::{Limits, load_obj};

const UHRTURM: &str = "/usr/share/doc/asymptote/examples/uhrturm.obj";

#[test]
fn debian_clock_tower_obj_loads_with_its_groups() {
    let bytes = std::fs::read(UHRTURM)
        .unwrap_or_else(|e| panic!("{UHRTURM}: {e} (apt-get install asymptote-doc)"));
    let model = load_obj(&bytes, &Limits::default()).expect("loads");
    assert_eq!(model.parts.len(), 26, "one part per group");
    assert_eq!(model.triangle_count(), 510);
    let b = model.bounds();
    assert!(!b.is_empty() && b.diagonal().is_finite() && b.diagonal() > 0.0);
    assert!(model.surface_area() > 0.0);
    // Every part has geometry and every triangle indexes a vertex of its own part.
    for part in &model.parts {
        assert!(!part.mesh.triangles.is_empty(), "{}", part.name);
        let n = part.mesh.positions.len();
        assert!(
            part.mesh
                .triangles
                .iter()
                .flatten()
                .all(|&i| (i as usize) < n)
        );
    }
}
