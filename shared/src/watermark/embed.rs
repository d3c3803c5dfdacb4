//! Embedding: add a precomputed tile to every frame (`docs/watermark.md#embedding`).
//!
//! All the work that depends on the key and the session code (layout, error correction, tile
//! rendering) happens once in [`Embedder::new`]; per frame the viewer only adds a small integer
//! from the tile to each pixel, which is cheap enough for every frame in WebAssembly.
//!
//! The viewer never holds the watermark key: the server builds the session's [`Embedder`] and
//! sends it as a *session tile* ([`Embedder::to_bytes`], format in
//! `docs/watermark.md#session-tile`); the viewer rebuilds it with [`Embedder::from_bytes`].

use super::pattern::{self, Layout, TILE, WatermarkKey};
use super::{SessionCode, WatermarkError, fec, validate_frame};

/// Fixed-point scale of the stored tile (8 fractional bits; the tile's peak is 256).
const FRACTION_BITS: u32 = 8;

/// Default peak strength in grey levels (0–255 scale) of the added pattern in mid-tones.
pub const DEFAULT_STRENGTH: f32 = 1.9;

/// How much stronger the pattern is on saturated white, where clipping at 255 removes half of
/// it and where line drawings have most of their area. (Not on black: a dip below black is
/// clipped the same way, but a bump above it is easier to see; dark themes use dark grey.)
const EXTREME_BOOST: f32 = 2.0;

/// Gain (strength × 256) for a channel value: `strength` up to 250, ramping up to
/// `strength × EXTREME_BOOST` at 254 and 255, where the pattern clips. Values just below white
/// (antialiasing, photos) keep the plain strength: there the whole pattern is visible.
fn gain_table(strength: f32) -> [i32; 256] {
    let mut table = [0i32; 256];
    for (value, gain) in table.iter_mut().enumerate() {
        let v = value as f32;
        let near_white = ((v - 250.0) / 4.0).clamp(0.0, 1.0);
        let boost = 1.0 + (EXTREME_BOOST - 1.0) * near_white;
        // At most 16 × 1.7 × 256, far inside i32.
        #[allow(clippy::cast_possible_truncation)]
        {
            *gain = (strength * boost * 256.0).round() as i32;
        }
    }
    table
}

/// Magic bytes that open a session tile (`docs/watermark.md#session-tile`).
pub const TILE_MAGIC: [u8; 4] = *b"VMWT";

/// Version of the session-tile format.
pub const TILE_FORMAT_VERSION: u8 = 1;

/// Length of the session-tile header: magic, version, reserved byte, side (u16), strength (f32).
const TILE_HEADER_LEN: usize = 12;

/// Exact length in bytes of a serialised session tile.
pub const TILE_BYTES_LEN: usize = TILE_HEADER_LEN + TILE * TILE * 2;

/// Strength range [`Embedder::with_strength`] accepts.
const STRENGTH_RANGE: std::ops::RangeInclusive<f32> = 0.5..=16.0;

/// Adds the forensic watermark for one session to RGBA frames.
///
/// Build one per session (the licence gives the code) and call [`Embedder::embed`] on every
/// rendered frame.
#[derive(Clone)]
pub struct Embedder {
    /// The pattern, peak ±256, row-major `TILE`×`TILE`.
    tile: Vec<i32>,
    /// Per channel value, the strength in 1/256 grey level.
    gain: [i32; 256],
    /// Peak strength in grey levels the gain table was built from.
    strength: f32,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embedder(..)")
    }
}

impl Embedder {
    /// Prepares the pattern for `code` under `key` at the default strength.
    #[must_use]
    pub fn new(key: &WatermarkKey, code: SessionCode) -> Self {
        Self::with_strength(key, code, DEFAULT_STRENGTH)
    }

    /// Prepares the pattern with a chosen peak strength in grey levels (clamped to 0.5–16).
    ///
    /// Higher is more robust and more visible; see `docs/watermark.md#robustness` for the
    /// trade-off measured at the default.
    #[must_use]
    pub fn with_strength(key: &WatermarkKey, code: SessionCode, strength: f32) -> Self {
        let strength = if strength.is_finite() {
            strength.clamp(*STRENGTH_RANGE.start(), *STRENGTH_RANGE.end())
        } else {
            DEFAULT_STRENGTH
        };
        let layout = Layout::new(key);
        let coded = fec::encode(&pattern::info_bits(key, code.get()));
        let pattern = pattern::render_tile(&layout.amplitudes(Some(&coded)));
        let peak = pattern.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        let scale = (1u32 << FRACTION_BITS) as f32 / peak;
        // |value| <= 16 * 256, far inside i32.
        #[allow(clippy::cast_possible_truncation)]
        let tile = pattern.iter().map(|v| (v * scale).round() as i32).collect();
        Self {
            tile,
            gain: gain_table(strength),
            strength,
        }
    }

    /// Serialises the embedder as a *session tile* for a viewer that must not hold the key:
    /// `VMWT`, version 1, a zero byte, the side 128 (u16 BE), the strength (f32 BE), then
    /// 128×128 tile values (i16 BE, row-major, each within ±256). 32 780 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TILE_BYTES_LEN);
        out.extend_from_slice(&TILE_MAGIC);
        out.push(TILE_FORMAT_VERSION);
        out.push(0);
        // TILE is 128, far inside u16.
        #[allow(clippy::cast_possible_truncation)]
        out.extend_from_slice(&(TILE as u16).to_be_bytes());
        out.extend_from_slice(&self.strength.to_be_bytes());
        for &v in &self.tile {
            // Tile values are within ±256 by construction (normalised to peak 256).
            #[allow(clippy::cast_possible_truncation)]
            out.extend_from_slice(&(v as i16).to_be_bytes());
        }
        out
    }

    /// Rebuilds an embedder from a session tile made by [`Embedder::to_bytes`].
    ///
    /// A tampered tile can only weaken or remove the mark it carries; it cannot make frames
    /// decode as another session, because a valid payload needs the keyed check.
    ///
    /// # Errors
    /// [`WatermarkError::SessionTile`] when the bytes are not a version-1 session tile: wrong
    /// length, magic, version, side or strength, or a tile value beyond ±256.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WatermarkError> {
        let bad = WatermarkError::SessionTile;
        if bytes.len() != TILE_BYTES_LEN {
            return Err(bad("wrong length"));
        }
        let (header, values) = bytes.split_at(TILE_HEADER_LEN);
        if header[..4] != TILE_MAGIC {
            return Err(bad("not a session tile (bad magic)"));
        }
        if header[4] != TILE_FORMAT_VERSION || header[5] != 0 {
            return Err(bad("unsupported version"));
        }
        if usize::from(u16::from_be_bytes([header[6], header[7]])) != TILE {
            return Err(bad("tile side is not 128"));
        }
        let strength = f32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        if !STRENGTH_RANGE.contains(&strength) {
            return Err(bad("strength out of range"));
        }
        let mut tile = Vec::with_capacity(TILE * TILE);
        for pair in values.chunks_exact(2) {
            let v = i32::from(i16::from_be_bytes([pair[0], pair[1]]));
            if v.abs() > 1 << FRACTION_BITS {
                return Err(bad("tile value out of range"));
            }
            tile.push(v);
        }
        Ok(Self {
            tile,
            gain: gain_table(strength),
            strength,
        })
    }

    /// Adds the watermark to an RGBA frame in place (alpha is left alone).
    ///
    /// The same luminance offset goes to R, G and B (scaled by each channel's gain, stronger
    /// near white and black), each with a different rounding threshold so that the three
    /// channels together carry sub-grey-level steps.
    ///
    /// # Errors
    /// [`WatermarkError::InvalidDimensions`] or [`WatermarkError::BufferSize`] when the buffer
    /// does not hold `width`×`height` RGBA pixels.
    pub fn embed(&self, rgba: &mut [u8], width: u32, height: u32) -> Result<(), WatermarkError> {
        let (w, _h) = validate_frame(rgba.len(), width, height)?;
        const SHIFT: u32 = 2 * FRACTION_BITS;
        const ROUND: [i32; 3] = [
            43 << FRACTION_BITS,
            128 << FRACTION_BITS,
            213 << FRACTION_BITS,
        ];
        let gain = &self.gain;
        for (y, row) in rgba.chunks_exact_mut(w * 4).enumerate() {
            let tile_row = &self.tile[(y % TILE) * TILE..(y % TILE + 1) * TILE];
            // One tile width of pixels at a time, so no modulo per pixel.
            for span in row.chunks_mut(TILE * 4) {
                for (px, &d) in span.chunks_exact_mut(4).zip(tile_row) {
                    for (c, round) in px[..3].iter_mut().zip(ROUND) {
                        let v = i32::from(*c) + ((d * gain[usize::from(*c)] + round) >> SHIFT);
                        // Clamped into 0..=255 first, so the cast is exact.
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        {
                            *c = v.clamp(0, 255) as u8;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
