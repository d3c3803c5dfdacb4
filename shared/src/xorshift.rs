//! A small deterministic pseudo-random generator (xorshift64*, Vigna 2016) for tests,
//! benchmarks and generated test data: runs are reproducible and need no random-number crate.
//!
//! One copy for the workspace (the PDQ index tests, the watermark test pictures and attack
//! suite, the index benchmark, the CLI's and `cargo xtask bench`'s large test files). It lives
//! here, in the lowest crate that needs it, as plain code with no I/O, so it builds for wasm too.
//!
//! **Not for secrets.** Keys, salts, nonces and tokens come from the operating system's
//! generator (`getrandom`) in the crates that do I/O; see [`crate::envelope::SealRandomness`].

/// Multiplier of the output scrambler (xorshift64*).
const SCRAMBLE: u64 = 0x2545_F491_4F6C_DD1D;

/// 2⁶⁴ / φ: spreads small seeds over the whole state space in [`XorShift64Star::seeded`].
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// An xorshift64* generator: 64-bit state, period 2⁶⁴ − 1, fast and good enough for test data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XorShift64Star(u64);

impl XorShift64Star {
    /// A generator whose state is exactly `state` (zero, which xorshift never leaves, is taken
    /// as `0x9E37_79B9_7F4A_7C15`).
    #[must_use]
    pub const fn new(state: u64) -> Self {
        Self(if state == 0 { GOLDEN } else { state })
    }

    /// A generator from any seed, small ones included: the seed is spread by the golden-ratio
    /// multiplier so that seeds 1, 2, 3… start unrelated streams.
    #[must_use]
    pub const fn seeded(seed: u64) -> Self {
        Self(seed.wrapping_mul(GOLDEN) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(SCRAMBLE)
    }

    /// Fills `out` with random bytes (each output word little-endian, the last one cut short).
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_sequence() {
        // xorshift64* from state 1, as in Vigna's reference implementation.
        let mut r = XorShift64Star::new(1);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut x = 1u64;
        let want: Vec<u64> = (0..3)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                x.wrapping_mul(SCRAMBLE)
            })
            .collect();
        assert_eq!(first, want);
        assert_eq!(XorShift64Star::new(0), XorShift64Star::new(GOLDEN));
    }

    #[test]
    fn fill_bytes_uses_whole_words_little_endian() {
        let (mut a, mut b) = (XorShift64Star::seeded(7), XorShift64Star::seeded(7));
        let mut out = [0u8; 11];
        a.fill_bytes(&mut out);
        assert_eq!(out[..8], b.next_u64().to_le_bytes());
        assert_eq!(out[8..], b.next_u64().to_le_bytes()[..3]);
    }
}
