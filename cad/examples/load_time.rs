//! Times the CAD loading path the viewer runs on a file: load, then feature edges.
//!
//!     cargo run --release -p veilmark-cad --example load_time -- MODEL

use std::time::Instant;

use veilmark_cad::{Content, Limits, load, measure::feature_edges};
use veilmark_shared::media::MediaType;

fn main() {
    let path = std::env::args().nth(1).expect("usage: load_time MODEL");
    let bytes = std::fs::read(&path).expect("readable file");
    let media = MediaType::detect(&bytes, bytes.len() as u64);
    let t = Instant::now();
    let content = load(media, &bytes, &Limits::default()).expect("loads");
    let loaded = t.elapsed();
    let Content::Model(model) = content else {
        println!("{path}: drawing loaded in {loaded:?}");
        return;
    };
    let t = Instant::now();
    let edges: usize = model
        .parts
        .iter()
        .map(|p| feature_edges(&p.mesh, 30.0).len())
        .sum();
    println!(
        "{path}: {} triangles; load {loaded:?}, feature edges ({edges}) {:?}",
        model.triangle_count(),
        t.elapsed()
    );
}
