//! glTF and GLB from an uploaded file is decoded in the viewer: the loader, and feature-edge
//! extraction on whatever it returns, must not panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_cad::{Limits, feature_edges, load_gltf};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_triangles: 200_000,
        ..Limits::default()
    };
    if let Ok(model) = load_gltf(data, &limits) {
        for part in &model.parts {
            let _ = feature_edges(&part.mesh, 30.0);
        }
    }
});
