//! Embedding: add a precomputed tile to every frame (`docs/watermark.md#embedding`).
//!
//! All the work that depends on the key and the session code (layout, error correction, tile
//! rendering) happens once in [`Embedder::new`]; per frame the viewer only adds a small integer
//! from the tile to each pixel, which is cheap enough for every frame in WebAssembly.

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
            strength.clamp(0.5, 16.0)
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
        }
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
