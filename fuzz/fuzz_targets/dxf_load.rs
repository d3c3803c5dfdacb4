//! DXF from an uploaded file is decoded in the viewer: the loader (blocks, inserts, text
//! codes) and the drawing's bounds must not panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_cad::{Limits, load_dxf};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_drawing_points: 200_000,
        ..Limits::default()
    };
    if let Ok(drawing) = load_dxf(data, &limits) {
        let _ = drawing.bounds();
    }
});
