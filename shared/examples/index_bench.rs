//! Latency of a radius-31 PDQ lookup over a million hashes (multi-index hashing).
//!
//! `cargo run --release -p veilmark-shared --example index_bench [-- N]`

use std::time::Instant;

use veilmark_shared::hash::Hash256;
use veilmark_shared::hash::index::HashIndex;
use veilmark_shared::xorshift::XorShift64Star;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut s = XorShift64Star::new(42);
    let hashes: Vec<Hash256> = (0..n)
        .map(|_| Hash256([s.next_u64(), s.next_u64(), s.next_u64(), s.next_u64()]))
        .collect();
    let t = Instant::now();
    let index = HashIndex::build(hashes.iter().copied().zip(0..));
    println!("built index of {n} hashes in {:.2?}", t.elapsed());
    // Queries: half near a stored hash (flip 20 bits), half random.
    let queries: Vec<Hash256> = (0..2000)
        .map(|i| {
            if i % 2 == 0 {
                let mut h = hashes[usize::try_from(s.next_u64() % n as u64).unwrap()];
                for _ in 0..20 {
                    let k = usize::try_from(s.next_u64() % 256).unwrap();
                    h.0[k / 64] ^= 1 << (k % 64);
                }
                h
            } else {
                Hash256([s.next_u64(), s.next_u64(), s.next_u64(), s.next_u64()])
            }
        })
        .collect();
    let mut lat = Vec::new();
    let mut found = 0;
    for q in &queries {
        let t = Instant::now();
        found += index.within(q, 31).len();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    let t = Instant::now();
    let linear = hashes
        .iter()
        .filter(|h| h.distance(&queries[0]) <= 31)
        .count();
    let lin_us = t.elapsed().as_secs_f64() * 1e6;
    println!(
        "radius 31 over {n}: median {:.1} us, p99 {:.1} us, max {:.1} us ({found} neighbours in {} queries); linear scan {:.0} us ({linear})",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1],
        queries.len(),
        lin_us
    );
}
