//! Exact Hamming-radius search over 256-bit hashes by multi-index hashing.
//!
//! Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with Multi-Index Hashing" (CVPR
//! 2012): split each hash into 16 chunks of 16 bits and keep one table per chunk. If two hashes
//! differ in at most `r` bits, then by the pigeonhole principle at least one chunk differs in at
//! most `⌊r / 16⌋` bits, so probing every chunk value within that distance of the query's chunk
//! finds every candidate; candidates are then checked on the full 256 bits. For PDQ's usual
//! threshold (31) that is 17 probes per table, and a query over a million hashes looks at a few
//! thousand candidates (see `shared/examples/index_bench.rs` for measured latency).
//!
//! Tables are stored as compressed rows (offsets + ids per chunk) built once by
//! [`HashIndex::build`]; the catalog is small enough to rebuild on change.

use super::Hash256;

/// Number of 16-bit chunks in a 256-bit hash.
const CHUNKS: usize = 16;
/// Number of distinct values of a chunk.
const BUCKETS: usize = 1 << 16;

/// An immutable index of hashes, each with a caller-chosen `u32` payload.
pub struct HashIndex {
    hashes: Vec<Hash256>,
    payloads: Vec<u32>,
    /// `offsets[c][v]..offsets[c][v + 1]` is the range of `ids[c]` whose chunk `c` equals `v`.
    offsets: Vec<Vec<u32>>,
    ids: Vec<Vec<u32>>,
}

/// One answer to a query: the stored hash's payload and its distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// Payload given at build time.
    pub payload: u32,
    /// Hamming distance to the query.
    pub distance: u32,
}

impl HashIndex {
    /// Builds the tables. Panics beyond `u32::MAX` entries.
    pub fn build(entries: impl IntoIterator<Item = (Hash256, u32)>) -> HashIndex {
        let (hashes, payloads): (Vec<Hash256>, Vec<u32>) = entries.into_iter().unzip();
        let n = u32::try_from(hashes.len()).expect("index holds at most u32::MAX hashes");
        let mut offsets = Vec::with_capacity(CHUNKS);
        let mut ids = Vec::with_capacity(CHUNKS);
        for c in 0..CHUNKS {
            let mut counts = vec![0u32; BUCKETS + 1];
            for h in &hashes {
                counts[h.chunk16(c) as usize + 1] += 1;
            }
            for v in 0..BUCKETS {
                counts[v + 1] += counts[v];
            }
            let mut cursor = counts.clone();
            let mut table = vec![0u32; hashes.len()];
            for (i, h) in (0..n).zip(&hashes) {
                let v = h.chunk16(c) as usize;
                table[cursor[v] as usize] = i;
                cursor[v] += 1;
            }
            offsets.push(counts);
            ids.push(table);
        }
        HashIndex {
            hashes,
            payloads,
            offsets,
            ids,
        }
    }

    /// Number of stored hashes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Every stored hash within `radius` bits of `query` (exact: no false negatives), closest
    /// first, each stored entry at most once. Radii up to 47 are supported (3 bits per chunk).
    pub fn within(&self, query: &Hash256, radius: u32) -> Vec<Neighbour> {
        let per_chunk = (radius / 16).min(2); // 16 = CHUNKS
        let mut found: Vec<(u32, u32)> = Vec::new(); // (distance, entry)
        let probe = |c: usize, v: u16, found: &mut Vec<(u32, u32)>| {
            let v = v as usize;
            let (lo, hi) = (self.offsets[c][v] as usize, self.offsets[c][v + 1] as usize);
            for &i in &self.ids[c][lo..hi] {
                let d = self.hashes[i as usize].distance(query);
                if d <= radius {
                    found.push((d, i));
                }
            }
        };
        for c in 0..CHUNKS {
            let q = query.chunk16(c);
            probe(c, q, &mut found);
            if per_chunk >= 1 {
                for b in 0..16 {
                    probe(c, q ^ (1 << b), &mut found);
                }
            }
            if per_chunk >= 2 {
                for b1 in 0..16 {
                    for b2 in b1 + 1..16 {
                        probe(c, q ^ (1 << b1) ^ (1 << b2), &mut found);
                    }
                }
            }
        }
        found.sort_unstable();
        found.dedup_by_key(|(_, i)| *i);
        found
            .into_iter()
            .map(|(distance, i)| Neighbour {
                payload: self.payloads[i as usize],
                distance,
            })
            .collect()
    }

    /// The closest stored hash within `radius`, if any.
    pub fn nearest(&self, query: &Hash256, radius: u32) -> Option<Neighbour> {
        self.within(query, radius).into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xorshift::XorShift64Star;

    fn flip_bits(h: Hash256, n: u32, s: &mut XorShift64Star) -> Hash256 {
        let mut out = h;
        while out.distance(&h) < n {
            let k = (s.next_u64() % 256) as usize;
            out.0[k / 64] |= 1 << (k % 64);
            if out.distance(&h) > n {
                out.0[k / 64] &= !(1 << (k % 64));
            }
        }
        out
    }

    #[test]
    fn radius_search_equals_linear_scan() {
        let mut s = XorShift64Star::new(0x9E37_79B9_7F4A_7C15);
        let mut stored: Vec<Hash256> = (0..2000)
            .map(|_| Hash256([s.next_u64(), s.next_u64(), s.next_u64(), s.next_u64()]))
            .collect();
        // Plant near neighbours at every distance 0..=40 around one base.
        let base = stored[0];
        for d in 0..=40 {
            stored.push(flip_bits(base, d, &mut s));
        }
        let index = HashIndex::build(stored.iter().copied().zip(0..));
        assert_eq!(index.len(), stored.len());
        for radius in [0, 10, 15, 16, 31, 32, 40, 47] {
            let got: Vec<u32> = {
                let mut v: Vec<u32> = index
                    .within(&base, radius)
                    .iter()
                    .map(|n| n.payload)
                    .collect();
                v.sort_unstable();
                v
            };
            let want: Vec<u32> = (0..)
                .zip(&stored)
                .filter(|(_, h)| h.distance(&base) <= radius)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(got, want, "radius {radius}");
        }
        let near = index.nearest(&flip_bits(base, 3, &mut s), 31).unwrap();
        assert!(near.distance <= 3);
        assert!(HashIndex::build(std::iter::empty()).is_empty());
    }
}
