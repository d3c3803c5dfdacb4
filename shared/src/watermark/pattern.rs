//! The key-dependent tile: which chip carries the sync template, which carries which coded bit,
//! with which pseudo-random sign (`docs/watermark.md#tile`).
//!
//! Everything here is derived from the 32-byte watermark key with HMAC-SHA256, so the tile layout
//! and signs (and therefore the payload) cannot be read or forged without the key.

use hmac::Mac;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::fec;

/// Side of the square tile, in pixels at embedding scale.
pub(crate) const TILE: usize = 128;
/// Spacing of chips (independent pattern samples), in pixels.
pub(crate) const CHIP: usize = 4;
/// Chips per tile side.
pub(crate) const GRID: usize = TILE / CHIP;
/// Chips per tile.
pub(crate) const CHIPS: usize = GRID * GRID;
/// Chips reserved for the synchronisation template (known to the decoder).
pub(crate) const SYNC_CHIPS: usize = 256;
/// Bits of session code carried.
pub(crate) const CODE_BITS: usize = super::SESSION_CODE_BITS as usize;
/// Bits of keyed check (truncated HMAC-SHA256 of the code).
pub(crate) const CHECK_BITS: usize = 32;
/// Information bits fed to the convolutional code.
pub(crate) const INFO_BITS: usize = CODE_BITS + CHECK_BITS;
/// Coded bits spread over the payload chips.
pub(crate) const CODED_BITS: usize = fec::coded_len(INFO_BITS);

/// A 256-bit watermark key, held by the server; it drives every pseudo-random choice of the
/// codec. Wiped from memory when dropped; never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct WatermarkKey([u8; 32]);

impl WatermarkKey {
    /// Length of a watermark key in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 key bytes (from a CSPRNG or the server's key store).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes. Handle with care: copies are not zeroized for you.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256 of `parts` under this key.
    pub(crate) fn prf(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for WatermarkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatermarkKey(..)")
    }
}

/// Label for the tile layout stream.
const LABEL_LAYOUT: &[u8] = b"veilmark/watermark/v1/layout";
/// Label for the keyed payload check.
const LABEL_CHECK: &[u8] = b"veilmark/watermark/v1/check";

/// A deterministic byte stream: HMAC-SHA256(key, label ‖ counter) blocks.
struct KeyStream<'k> {
    key: &'k WatermarkKey,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl<'k> KeyStream<'k> {
    fn new(key: &'k WatermarkKey) -> Self {
        Self {
            key,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn next_u32(&mut self) -> u32 {
        if self.used + 4 > 32 {
            self.block = self.key.prf(&[LABEL_LAYOUT, &self.counter.to_le_bytes()]);
            self.counter += 1;
            self.used = 0;
        }
        let bytes: [u8; 4] = self.block[self.used..self.used + 4]
            .try_into()
            .expect("four bytes");
        self.used += 4;
        u32::from_le_bytes(bytes)
    }

    /// Uniform in `0..n` (rejection sampling, so unbiased).
    fn below(&mut self, n: u32) -> u32 {
        let zone = u32::MAX - (u32::MAX % n);
        loop {
            let v = self.next_u32();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// What one chip of the tile carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChipRole {
    /// Part of the sync template, with this sign (+1 or −1).
    Sync(i8),
    /// Carries coded bit `bit`, multiplied by this sign.
    Data {
        /// Index of the coded bit.
        bit: u16,
        /// Pseudo-random sign (+1 or −1).
        sign: i8,
    },
}

/// The key-dependent layout of chips in the tile.
pub(crate) struct Layout {
    /// Role of chip `gy * GRID + gx`.
    pub(crate) roles: Vec<ChipRole>,
}

impl Layout {
    /// Derives the layout from the key.
    pub(crate) fn new(key: &WatermarkKey) -> Self {
        let mut stream = KeyStream::new(key);
        let mut order: Vec<usize> = (0..CHIPS).collect();
        for i in (1..CHIPS).rev() {
            let j = stream.below(u32::try_from(i + 1).expect("small")) as usize;
            order.swap(i, j);
        }
        let mut roles = vec![ChipRole::Sync(1); CHIPS];
        for (rank, &chip) in order.iter().enumerate() {
            let sign = if stream.next_u32() & 1 == 1 { 1 } else { -1 };
            roles[chip] = if rank < SYNC_CHIPS {
                ChipRole::Sync(sign)
            } else {
                let bit = u16::try_from((rank - SYNC_CHIPS) % CODED_BITS).expect("small");
                ChipRole::Data { bit, sign }
            };
        }
        Self { roles }
    }

    /// Chip amplitudes (±1) for the given coded bits; sync chips only when `coded` is `None`.
    pub(crate) fn amplitudes(&self, coded: Option<&[u8]>) -> Vec<f32> {
        self.roles
            .iter()
            .map(|role| match (*role, coded) {
                (ChipRole::Sync(s), _) => f32::from(s),
                (ChipRole::Data { bit, sign }, Some(coded)) => {
                    let b = if coded[usize::from(bit)] == 1 {
                        1.0
                    } else {
                        -1.0
                    };
                    b * f32::from(sign)
                }
                (ChipRole::Data { .. }, None) => 0.0,
            })
            .collect()
    }
}

/// The chip kernel: a raised cosine of half-width [`CHIP`]; kernels at chip spacing sum to one,
/// so the tile is a smooth interpolation of the chip amplitudes (no blocky high frequencies that
/// JPEG would remove and the eye would see).
pub(crate) fn kernel(t: f32) -> f32 {
    let half = CHIP as f32;
    if t.abs() >= half {
        0.0
    } else {
        0.5 * (1.0 + (std::f32::consts::PI * t / half).cos())
    }
}

/// Renders chip amplitudes into a periodic `TILE`×`TILE` pattern (row-major).
pub(crate) fn render_tile(amplitudes: &[f32]) -> Vec<f32> {
    let mut tile = vec![0.0f32; TILE * TILE];
    let reach = CHIP as isize;
    for gy in 0..GRID {
        for gx in 0..GRID {
            let a = amplitudes[gy * GRID + gx];
            if a == 0.0 {
                continue;
            }
            let (cx, cy) = ((gx * CHIP) as isize, (gy * CHIP) as isize);
            for dy in -reach + 1..reach {
                let ky = kernel(dy as f32);
                let y = (cy + dy).rem_euclid(TILE as isize) as usize;
                for dx in -reach + 1..reach {
                    let x = (cx + dx).rem_euclid(TILE as isize) as usize;
                    tile[y * TILE + x] += a * ky * kernel(dx as f32);
                }
            }
        }
    }
    tile
}

/// The keyed check over a session code: the first [`CHECK_BITS`] bits of
/// HMAC-SHA256(key, "veilmark/watermark/v1/check" ‖ code as 8 bytes little-endian).
pub(crate) fn check(key: &WatermarkKey, code: u64) -> u32 {
    let mac = key.prf(&[LABEL_CHECK, &code.to_le_bytes()]);
    u32::from_be_bytes(mac[..4].try_into().expect("four bytes"))
}

/// Information bits (MSB first): 48 bits of code, then 32 bits of check.
pub(crate) fn info_bits(key: &WatermarkKey, code: u64) -> Vec<u8> {
    let check = check(key, code);
    let mut bits = Vec::with_capacity(INFO_BITS);
    for i in (0..CODE_BITS).rev() {
        bits.push(((code >> i) & 1) as u8);
    }
    for i in (0..CHECK_BITS).rev() {
        bits.push(((check >> i) & 1) as u8);
    }
    bits
}

/// Splits decoded information bits into (code, check).
pub(crate) fn split_info(bits: &[u8]) -> (u64, u32) {
    let code = bits[..CODE_BITS]
        .iter()
        .fold(0u64, |acc, &b| (acc << 1) | u64::from(b));
    let check = bits[CODE_BITS..INFO_BITS]
        .iter()
        .fold(0u32, |acc, &b| (acc << 1) | u32::from(b));
    (code, check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_partition_unity() {
        for i in 0..CHIP {
            let t = i as f32;
            let sum = kernel(t) + kernel(t - CHIP as f32);
            assert!((sum - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn layout_uses_every_coded_bit_and_depends_on_key() {
        let a = Layout::new(&WatermarkKey::from_bytes([1; 32]));
        let b = Layout::new(&WatermarkKey::from_bytes([2; 32]));
        assert_ne!(a.roles, b.roles);
        let mut seen = vec![0; CODED_BITS];
        let mut sync = 0;
        for role in &a.roles {
            match role {
                ChipRole::Sync(_) => sync += 1,
                ChipRole::Data { bit, .. } => seen[usize::from(*bit)] += 1,
            }
        }
        assert_eq!(sync, SYNC_CHIPS);
        assert!(seen.iter().all(|&n| n >= 2), "{seen:?}");
    }

    #[test]
    fn info_bits_round_trip() {
        let key = WatermarkKey::from_bytes([7; 32]);
        let code = 0xABCD_EF01_2345;
        let (c, k) = split_info(&info_bits(&key, code));
        assert_eq!(c, code);
        assert_eq!(k, check(&key, code));
    }
}
