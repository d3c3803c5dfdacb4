//! STEP files arrive from anyone who can upload: the loader must not panic, hang or allocate
//! without bound on any bytes. Small limits keep each run quick.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_cad::Limits;
use veilmark_cad::step::load_step;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_triangles: 200_000,
        max_nodes: 1_000,
        ..Limits::default()
    };
    let _ = load_step(data, &limits);
});
