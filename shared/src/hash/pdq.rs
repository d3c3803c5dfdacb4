//! PDQ, Meta's 256-bit perceptual hash for photographs, on decoded pixels.
//!
//! The algorithm follows Meta's reference (`pdq/cpp/hashing/pdqhashing.cpp` in
//! `facebook/ThreatExchange`, and its description in `hashing.pdf`):
//!
//! 1. luminance `Y = 0.299 R + 0.587 G + 0.114 B` as `f32`;
//! 2. two passes of a Jarosz box ("tent") filter along rows then columns, with a window of
//!    `ceil(dim / 128)`, and decimation to 64 × 64 by sampling the centre of each cell;
//! 3. a quality score from the gradient sum of the 64 × 64 image (0–100; below ~50 the hash is
//!    unreliable: flat or tiny images);
//! 4. a 16 × 16 DCT-II of the 64 × 64 image keeping frequencies 1..=16 (the DC term is skipped);
//! 5. one bit per coefficient: set when the coefficient is above the median of the 256.
//!
//! Bit `k` of the hash is coefficient `(k / 16, k % 16)` (row, column), as in the reference, and
//! [`Hash256::to_hex`] prints the reference's string form. Our output is checked against the
//! `pdqhash` Python package (which wraps the reference C++) by the vectors in `docs/vectors/pdq/`.
//!
//! Dihedral variants (flips and rotations by multiples of 90°) are derived from the DCT matrix
//! itself, as the reference's `pdqDihedralHash256esFromFloatLuma` does: mirroring the image
//! negates the odd-frequency coefficients along that axis, and transposing it transposes the
//! matrix. Order and naming follow the reference (its `FlipX` mirrors about the X axis, i.e.
//! top–bottom); the vectors check all eight bit for bit.

use super::Hash256;

/// Side of the downsampled image the DCT runs on.
const DOWNSAMPLED: usize = 64;
/// Side of the kept DCT block.
const DCT_SIDE: usize = 16;
/// Number of Jarosz box-filter passes along each axis (the reference uses two: a tent filter).
const JAROSZ_PASSES: usize = 2;

/// A PDQ hash with the reference's quality score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqHash {
    /// The 256 bits.
    pub hash: Hash256,
    /// 0 (flat, unusable) to 100 (plenty of gradient); the reference suggests ignoring < 50.
    pub quality: u8,
}

/// The eight images reachable by flips and quarter turns, in the order of
/// [`PdqDihedral::hashes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dihedral {
    /// The image as given.
    Original,
    /// Turned 90° counter-clockwise.
    Rotate90,
    /// Turned 180°.
    Rotate180,
    /// Turned 270° counter-clockwise (90° clockwise).
    Rotate270,
    /// Mirrored about the horizontal (X) axis, i.e. top–bottom; the reference's naming.
    FlipX,
    /// Mirrored about the vertical (Y) axis, i.e. left–right; the reference's naming.
    FlipY,
    /// Mirrored about the main diagonal (transposed).
    FlipPlus1,
    /// Mirrored about the anti-diagonal.
    FlipMinus1,
}

impl Dihedral {
    /// All eight, in hash order.
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Original,
        Dihedral::Rotate90,
        Dihedral::Rotate180,
        Dihedral::Rotate270,
        Dihedral::FlipX,
        Dihedral::FlipY,
        Dihedral::FlipPlus1,
        Dihedral::FlipMinus1,
    ];

    /// A short stable name, used in stored hits ("orig", "rot90", "flipx", ...).
    pub fn name(self) -> &'static str {
        match self {
            Dihedral::Original => "orig",
            Dihedral::Rotate90 => "rot90",
            Dihedral::Rotate180 => "rot180",
            Dihedral::Rotate270 => "rot270",
            Dihedral::FlipX => "flipx",
            Dihedral::FlipY => "flipy",
            Dihedral::FlipPlus1 => "flipplus1",
            Dihedral::FlipMinus1 => "flipminus1",
        }
    }
}

/// The hashes of the eight dihedral transforms of one image, sharing one quality score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdqDihedral {
    /// Hashes indexed like [`Dihedral::ALL`].
    pub hashes: [Hash256; 8],
    /// Quality of the original image (identical for every transform).
    pub quality: u8,
}

/// Why pixels could not be hashed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PdqError {
    /// Zero width or height.
    #[error("image is empty ({width}x{height})")]
    Empty {
        /// Width given.
        width: u32,
        /// Height given.
        height: u32,
    },
    /// The buffer length does not match `width * height * channels`.
    #[error("pixel buffer holds {actual} bytes, expected {expected} for the given size")]
    BufferSize {
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
}

/// Luminance of an interleaved 8-bit buffer with `channels` = 1 (grey), 3 (RGB) or 4 (RGBA,
/// alpha ignored), row-major, as the reference computes it.
pub fn luma(pixels: &[u8], width: u32, height: u32, channels: usize) -> Result<Vec<f32>, PdqError> {
    if width == 0 || height == 0 {
        return Err(PdqError::Empty { width, height });
    }
    let n = width as usize * height as usize;
    let expected = n * channels;
    if pixels.len() != expected || !matches!(channels, 1 | 3 | 4) {
        return Err(PdqError::BufferSize {
            expected,
            actual: pixels.len(),
        });
    }
    Ok(if channels == 1 {
        pixels.iter().map(|&v| f32::from(v)).collect()
    } else {
        pixels
            .chunks_exact(channels)
            .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
            .collect()
    })
}

/// PDQ of an interleaved 8-bit RGB(A) or grey buffer (see [`luma`]).
pub fn pdq_hash(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: usize,
) -> Result<PdqHash, PdqError> {
    let y = luma(pixels, width, height, channels)?;
    Ok(pdq_from_luma(&y, width as usize, height as usize))
}

/// PDQ of the eight dihedral transforms of an interleaved 8-bit buffer (see [`luma`]).
pub fn pdq_dihedral(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: usize,
) -> Result<PdqDihedral, PdqError> {
    let y = luma(pixels, width, height, channels)?;
    Ok(pdq_dihedral_from_luma(&y, width as usize, height as usize))
}

/// PDQ of a row-major luminance image. Panics if `luma.len() != width * height` or either is 0.
pub fn pdq_from_luma(luma: &[f32], width: usize, height: usize) -> PdqHash {
    let (dct, quality) = dct16_from_luma(luma, width, height);
    PdqHash {
        hash: threshold_at_median(&dct),
        quality,
    }
}

/// PDQ of the eight dihedral transforms of a luminance image, from one DCT.
pub fn pdq_dihedral_from_luma(luma: &[f32], width: usize, height: usize) -> PdqDihedral {
    let (dct, quality) = dct16_from_luma(luma, width, height);
    let hashes = Dihedral::ALL.map(|d| threshold_at_median(&transform_dct(&dct, d)));
    PdqDihedral { hashes, quality }
}

type Dct16 = [[f32; DCT_SIDE]; DCT_SIDE];

/// Applies a dihedral transform to the DCT coefficients. Coefficient `(i, j)` has frequency
/// `(i + 1, j + 1)`; mirroring an axis multiplies frequency `k` by `(-1)^k`.
fn transform_dct(b: &Dct16, d: Dihedral) -> Dct16 {
    let sign = |k: usize| if k.is_multiple_of(2) { -1.0f32 } else { 1.0 }; // index k ↔ frequency k+1
    let mut out = [[0.0f32; DCT_SIDE]; DCT_SIDE];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            // Row index = vertical frequency, column index = horizontal frequency.
            *v = match d {
                Dihedral::Original => b[i][j],
                Dihedral::FlipX => sign(i) * b[i][j],
                Dihedral::FlipY => sign(j) * b[i][j],
                Dihedral::Rotate180 => sign(i) * sign(j) * b[i][j],
                Dihedral::FlipPlus1 => b[j][i],
                Dihedral::FlipMinus1 => sign(i) * sign(j) * b[j][i],
                // Rotating 90° counter-clockwise: out(x, y) = in(W-1-y, x): transpose, then flip
                // vertically.
                Dihedral::Rotate90 => sign(i) * b[j][i],
                Dihedral::Rotate270 => sign(j) * b[j][i],
            };
        }
    }
    out
}

/// Steps 1–4: filtered, decimated 64 × 64 image → quality and the 16 × 16 DCT block.
// Sample positions are below `width`/`height` by construction, so the float casts are exact.
#[allow(clippy::cast_possible_truncation)]
fn dct16_from_luma(luma: &[f32], width: usize, height: usize) -> (Dct16, u8) {
    assert!(
        width > 0 && height > 0 && luma.len() == width * height,
        "luma buffer size"
    );
    let mut a = luma.to_vec();
    let mut b = vec![0.0f32; a.len()];
    let window_along_rows = jarosz_window(width, DOWNSAMPLED);
    let window_along_cols = jarosz_window(height, DOWNSAMPLED);
    for _ in 0..JAROSZ_PASSES {
        for r in 0..height {
            box_1d(&a, &mut b, r * width, width, 1, window_along_rows);
        }
        for c in 0..width {
            box_1d(&b, &mut a, c, height, width, window_along_cols);
        }
    }
    let mut small = [[0.0f32; DOWNSAMPLED]; DOWNSAMPLED];
    for (i, row) in small.iter_mut().enumerate() {
        let src_i = ((i as f64 + 0.5) * height as f64 / DOWNSAMPLED as f64) as usize;
        for (j, v) in row.iter_mut().enumerate() {
            let src_j = ((j as f64 + 0.5) * width as f64 / DOWNSAMPLED as f64) as usize;
            *v = a[src_i * width + src_j];
        }
    }
    (dct64_to_16(&small), quality(&small))
}

/// Reference window: `(old + 2 new - 1) / (2 new)`, i.e. `ceil(old / (2 new))`.
fn jarosz_window(old: usize, new: usize) -> usize {
    old.div_ceil(2 * new)
}

/// One box-filter pass over `len` samples starting at `start`, `stride` apart, window `full`;
/// the window shrinks at both ends (the reference's `box1DFloat`, four phases).
fn box_1d(input: &[f32], out: &mut [f32], start: usize, len: usize, stride: usize, full: usize) {
    let full = full.min(len).max(1);
    let half = (full + 2) / 2;
    let phase1 = half - 1;
    let phase2 = full - half + 1;
    let phase3 = len - full;
    let phase4 = half - 1;
    let (mut li, mut ri, mut oi) = (start, start, start);
    let mut sum = 0.0f32;
    let mut count = 0.0f32;
    for _ in 0..phase1 {
        sum += input[ri];
        count += 1.0;
        ri += stride;
    }
    for _ in 0..phase2 {
        sum += input[ri];
        count += 1.0;
        out[oi] = sum / count;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase3 {
        sum += input[ri];
        sum -= input[li];
        out[oi] = sum / count;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase4 {
        sum -= input[li];
        count -= 1.0;
        out[oi] = sum / count;
        li += stride;
        oi += stride;
    }
}

/// Gradient-sum quality metric on the 64 × 64 image, 0..=100.
// Truncating each scaled difference to an integer is what the reference does.
#[allow(clippy::cast_possible_truncation)]
fn quality(img: &[[f32; DOWNSAMPLED]; DOWNSAMPLED]) -> u8 {
    let mut sum: i64 = 0;
    for (upper, lower) in img.iter().zip(img.iter().skip(1)) {
        for (u, v) in upper.iter().zip(lower) {
            sum += ((u - v) * 100.0 / 255.0).abs() as i64;
        }
    }
    for row in img {
        for pair in row.windows(2) {
            sum += ((pair[0] - pair[1]) * 100.0 / 255.0).abs() as i64;
        }
    }
    u8::try_from((sum / 90).min(100)).unwrap_or(100)
}

// DCT coefficients are computed in `f64` and stored as `f32`, like the reference's table.
#[allow(clippy::cast_possible_truncation)]
/// `D · A · Dᵀ` with `D[i][j] = sqrt(2/64) cos(π/128 · (i+1) · (2j+1))`.
fn dct64_to_16(a: &[[f32; DOWNSAMPLED]; DOWNSAMPLED]) -> Dct16 {
    let scale = (2.0f64 / DOWNSAMPLED as f64).sqrt();
    let mut d = [[0.0f32; DOWNSAMPLED]; DCT_SIDE];
    for (i, row) in d.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let angle = std::f64::consts::PI / 2.0 / DOWNSAMPLED as f64
                * (i + 1) as f64
                * (2 * j + 1) as f64;
            *v = (scale * angle.cos()) as f32;
        }
    }
    let mut t = [[0.0f32; DOWNSAMPLED]; DCT_SIDE];
    for i in 0..DCT_SIDE {
        for j in 0..DOWNSAMPLED {
            let mut s = 0.0f32;
            for k in 0..DOWNSAMPLED {
                s += d[i][k] * a[k][j];
            }
            t[i][j] = s;
        }
    }
    let mut b = [[0.0f32; DCT_SIDE]; DCT_SIDE];
    for i in 0..DCT_SIDE {
        for j in 0..DCT_SIDE {
            let mut s = 0.0f32;
            for k in 0..DOWNSAMPLED {
                s += t[i][k] * d[j][k];
            }
            b[i][j] = s;
        }
    }
    b
}

/// Bit `16 i + j` set when `b[i][j]` is strictly above the median of the 256 coefficients.
fn threshold_at_median(b: &Dct16) -> Hash256 {
    let mut flat: Vec<f32> = b.iter().flatten().copied().collect();
    let mid = flat.len() / 2;
    // The reference uses Torben's median, which returns the lower middle value for even counts.
    let (_, median, _) = flat.select_nth_unstable_by(mid - 1, f32::total_cmp);
    let median = *median;
    let mut words = [0u64; 4];
    for (k, v) in b.iter().flatten().enumerate() {
        if *v > median {
            words[k / 64] |= 1u64 << (k % 64);
        }
    }
    Hash256(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> Vec<f32> {
        (0..h)
            .flat_map(|y| {
                (0..w).map(move |x| ((x * 7 + y * 13) % 255) as f32 + ((x * y) % 17) as f32)
            })
            .collect()
    }

    #[test]
    fn box_filter_matches_naive_windowed_mean() {
        let input: Vec<f32> = (0..20).map(|v| (v * v % 11) as f32).collect();
        let mut out = vec![0.0; 20];
        box_1d(&input, &mut out, 0, 20, 1, 5);
        // Window of 5 centred (half = 3): output i averages input[i-2..=i+2] clipped.
        for (i, o) in out.iter().enumerate() {
            let lo = i.saturating_sub(2);
            let hi = (i + 2).min(19);
            let mean: f32 = input[lo..=hi].iter().sum::<f32>() / (hi - lo + 1) as f32;
            assert!((o - mean).abs() < 1e-4, "at {i}: {o} vs {mean}");
        }
    }

    #[test]
    fn flat_image_has_zero_quality() {
        let img = vec![128.0f32; 100 * 80];
        assert_eq!(pdq_from_luma(&img, 100, 80).quality, 0);
    }

    #[test]
    fn dihedral_hashes_match_hashes_of_transformed_pixels() {
        let (w, h) = (96usize, 64usize);
        let img = gradient(w, h);
        let at = |x: usize, y: usize| img[y * w + x];
        let flip_x: Vec<f32> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| at(w - 1 - x, y))
            .collect();
        let transposed: Vec<f32> = (0..w)
            .flat_map(|y| (0..h).map(move |x| (x, y)))
            .map(|(x, y)| at(y, x))
            .collect();
        // Rotate 90° counter-clockwise: new size h × w, new(x, y) = old(w-1-y, x).
        let rot90: Vec<f32> = (0..w)
            .flat_map(|y| (0..h).map(move |x| (x, y)))
            .map(|(x, y)| at(w - 1 - y, x))
            .collect();
        let all = pdq_dihedral_from_luma(&img, w, h);
        assert_eq!(all.hashes[0], pdq_from_luma(&img, w, h).hash);
        for (variant, pixels, vw, vh) in [
            (Dihedral::FlipY, &flip_x, w, h),
            (Dihedral::FlipPlus1, &transposed, h, w),
            (Dihedral::Rotate90, &rot90, h, w),
        ] {
            let direct = pdq_from_luma(pixels, vw, vh).hash;
            let derived = all.hashes[Dihedral::ALL.iter().position(|d| *d == variant).unwrap()];
            assert!(
                direct.distance(&derived) <= 16,
                "{variant:?}: {}",
                direct.distance(&derived)
            );
        }
    }

    #[test]
    fn rejects_bad_buffers() {
        assert!(matches!(
            pdq_hash(&[], 0, 5, 3),
            Err(PdqError::Empty { .. })
        ));
        assert!(matches!(
            pdq_hash(&[0; 10], 2, 2, 3),
            Err(PdqError::BufferSize { .. })
        ));
    }
}
