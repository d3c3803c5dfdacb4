//! The forensic watermark: an invisible, keyed mark in every rendered frame that names the
//! viewing session, readable from a screenshot without the original (`docs/watermark.md`).
//!
//! # Why this design
//!
//! A leaked screenshot arrives rescaled, cropped, framed by a browser, re-encoded as JPEG or
//! WebP, and sometimes slightly rotated. The decoder has no original to compare with, so it must
//! find the geometry by itself. We use a **periodic tile** (Kutter's self-reference idea): a
//! 128×128 key-dependent pattern repeated over the whole frame. Repetition makes the
//! autocorrelation of any large enough region peak on the tile lattice, which gives scale and
//! rotation in one FFT without searching; folding the region onto one tile then adds up the
//! watermark from every repetition while the picture averages out, and a known sync template
//! inside the tile gives the translation. The alternatives — a Fourier template (a few strong
//! peaks, visible on flat white drawings and easy to remove) or exhaustive scale/rotation search
//! (slow) — fit our frames less well.
//!
//! The tile is a smooth interpolation of 32×32 random ±1 "chips" (spread spectrum): a quarter
//! form the sync template, the rest carry a 258-bit codeword with keyed signs. Its energy sits in
//! mid frequencies (periods of 8 pixels and longer), which survive downscaling to 0.5×, JPEG
//! quality 50 and blur. It is added to luminance at a peak of ±1.9 grey levels (twice that on
//! saturated white, where clipping keeps only the dark half), which measured PSNR ≥ 42 dB and
//! SSIM ≥ 0.98 on white drawings, shaded renders and sample photos (`docs/watermark.md#results`).
//! The detector down-weights strokes, edges and texture, where the picture drowns the mark. Embedding is the
//! addition of a precomputed tile — no transform per frame — so it is cheap in WebAssembly.
//!
//! The payload is a 48-bit [`SessionCode`] plus a 32-bit keyed check (truncated
//! HMAC-SHA256), protected by a rate-1/3 convolutional code with soft Viterbi decoding. The
//! check makes false detections on unmarked images a 2⁻³² event per decoding attempt, and the
//! key makes payloads impossible to read or forge without the server's watermark key.

mod detect;
mod embed;
mod fec;
mod fft;
mod pattern;

pub use detect::{Detector, MAX_ATTEMPTS, MIN_SIDE};
pub use embed::{DEFAULT_STRENGTH, Embedder, TILE_BYTES_LEN, TILE_FORMAT_VERSION, TILE_MAGIC};
pub use pattern::WatermarkKey;

use thiserror::Error;

/// Number of significant bits in a [`SessionCode`].
pub const SESSION_CODE_BITS: u32 = 48;

/// The session identifier the server issues and the watermark carries (48 significant bits):
/// the one session code of Veilmark. The licence carries it (in a 64-bit field whose top 16
/// bits are zero, `docs/licence.md#layout`), the visible and forensic watermarks show it, the
/// audit log, the console and `veilmark identify` print it, always in one form: twelve lowercase
/// hexadecimal digits ([`Display`](std::fmt::Display), parsed back by
/// [`SessionCode::from_hex`]).
///
/// The server maps it back to link, recipient and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionCode(u64);

impl SessionCode {
    /// The largest code the watermark can carry, 2⁴⁸ − 1.
    pub const MAX: u64 = (1 << SESSION_CODE_BITS) - 1;

    /// Wraps a code.
    ///
    /// # Errors
    /// [`WatermarkError::CodeTooLarge`] when `code` needs more than 48 bits.
    pub fn new(code: u64) -> Result<Self, WatermarkError> {
        if code > Self::MAX {
            return Err(WatermarkError::CodeTooLarge(code));
        }
        Ok(Self(code))
    }

    /// The code as an integer.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }

    /// Parses the printed form: 1 to 12 hexadecimal digits (either case) of a code below 2⁴⁸.
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(text, 16)
            .ok()
            .and_then(|c| Self::new(c).ok())
    }
}

impl std::fmt::Display for SessionCode {
    /// Twelve hexadecimal digits, the form `veilmark identify` prints and the server looks up.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:012x}", self.0)
    }
}

/// How the watermark tile was found in the image (useful to judge a detection and to debug).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Geometry {
    /// Size of the image relative to the frame that was marked (0.5 = shrunk to half).
    pub scale: f32,
    /// Clockwise rotation of the image in degrees (image y axis points down).
    pub rotation_degrees: f32,
    /// Position in the image of one corner of the tile (any tile; the pattern repeats).
    pub tile_origin: (f32, f32),
}

/// A watermark found in an image.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// The session code carried by the watermark (its 32-bit keyed check passed).
    pub code: SessionCode,
    /// Mean agreement of the soft coded bits with the decoded codeword (at most 1.0; about 0.95
    /// for an unattacked frame, lower as attacks weaken the mark). Only marks whose keyed check
    /// passed are reported at all, so this grades a detection; it is not a probability.
    pub confidence: f32,
    /// Coded bits (of 258) whose hard decision disagreed with the decoded codeword: the errors
    /// the convolutional code corrected.
    pub bit_errors_corrected: u32,
    /// Height of the synchronisation peak in standard deviations above the mean of all 16 384
    /// candidate translations (about 9–18 for the detections in our attack suite; the maximum
    /// of 16 384 noise values is typically near 4).
    pub sync_score: f32,
    /// Where the tile lattice was found.
    pub geometry: Geometry,
}

/// A watermark operation could not run on the given input.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WatermarkError {
    /// The frame has a zero side, or more pixels than memory can address.
    #[error("invalid frame size {width}x{height}: both sides must be at least 1 pixel")]
    InvalidDimensions {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
    },
    /// The pixel buffer does not hold `width × height` RGBA pixels.
    #[error(
        "the RGBA buffer holds {actual} bytes but a {width}x{height} frame needs {expected} (4 bytes per pixel)"
    )]
    BufferSize {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
        /// Bytes a frame of that size needs.
        expected: usize,
        /// Bytes supplied.
        actual: usize,
    },
    /// The session code does not fit in the watermark's 48 bits.
    #[error(
        "session code {0:#x} does not fit in the watermark's 48 bits (largest is 0xffffffffffff)"
    )]
    CodeTooLarge(u64),
    /// Bytes given as a session tile (`docs/watermark.md#session-tile`) are not one.
    #[error("invalid watermark session tile: {0}")]
    SessionTile(&'static str),
}

/// Checks that `len` bytes hold a `width`×`height` RGBA frame; returns the sides as `usize`.
fn validate_frame(len: usize, width: u32, height: u32) -> Result<(usize, usize), WatermarkError> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 {
        return Err(WatermarkError::InvalidDimensions { width, height });
    }
    let expected = w
        .checked_mul(h)
        .and_then(|n| n.checked_mul(4))
        .ok_or(WatermarkError::InvalidDimensions { width, height })?;
    if expected != len {
        return Err(WatermarkError::BufferSize {
            width,
            height,
            expected,
            actual: len,
        });
    }
    Ok((w, h))
}
