//! Perceptual hashing on decoded pixels: PDQ and a Hamming-distance index.
//!
//! The crawler decodes images (with size limits) and hands pixels here; nothing in this module
//! decodes files or does I/O, so it runs in the wasm viewer as well.
//!
//! - [`pdq`]: Meta's 256-bit PDQ hash with its quality score and dihedral variants.
//! - [`index`]: multi-index hashing, an exact radius search over millions of 256-bit hashes.

pub mod index;
pub mod pdq;

use std::fmt;

/// A 256-bit hash (PDQ). Bit `k` lives in `self.0[k / 64]` at position `k % 64`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hash256(pub [u64; 4]);

impl Hash256 {
    /// Number of differing bits.
    pub fn distance(&self, other: &Hash256) -> u32 {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Reads bit `k` (0..256).
    pub fn bit(&self, k: usize) -> bool {
        self.0[k / 64] >> (k % 64) & 1 == 1
    }

    /// The 64 hex digits of Meta's reference string form (bits 255..0, most significant first),
    /// as printed by `pdq-photo-hasher` and by the `pdqhash` Python package's tooling.
    pub fn to_hex(&self) -> String {
        format!(
            "{:016x}{:016x}{:016x}{:016x}",
            self.0[3], self.0[2], self.0[1], self.0[0]
        )
    }

    /// Parses [`Hash256::to_hex`]'s form.
    pub fn from_hex(s: &str) -> Result<Hash256, ParseHashError> {
        if s.len() != 64 || !s.is_ascii() {
            return Err(ParseHashError);
        }
        let mut words = [0u64; 4];
        for (i, w) in words.iter_mut().rev().enumerate() {
            *w = u64::from_str_radix(&s[i * 16..i * 16 + 16], 16).map_err(|_| ParseHashError)?;
        }
        Ok(Hash256(words))
    }

    /// The 16 bits `16 c .. 16 c + 16` (chunk `c` of 16), used by the index.
    pub fn chunk16(&self, c: usize) -> u16 {
        let bytes = self.0[c / 4].to_le_bytes();
        u16::from_le_bytes([bytes[2 * (c % 4)], bytes[2 * (c % 4) + 1]])
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A hash string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a 256-bit hash is written as 64 hexadecimal digits")]
pub struct ParseHashError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_orders_bits_like_the_reference() {
        let mut h = Hash256::default();
        h.0[0] = 1; // bit 0 is the last hex digit
        h.0[3] = 1 << 63; // bit 255 is the first
        let s = h.to_hex();
        assert!(s.starts_with('8') && s.ends_with('1'), "{s}");
        assert_eq!(Hash256::from_hex(&s), Ok(h));
        assert!(Hash256::from_hex("xyz").is_err());
        assert_eq!(h.chunk16(0), 1);
        assert_eq!(h.chunk16(15), 0x8000);
        assert!(h.bit(255) && h.bit(0) && !h.bit(1));
    }
}
