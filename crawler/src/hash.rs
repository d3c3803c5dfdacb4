//! Safe image decoding and the fingerprints the matcher compares.
//!
//! Bytes from marketplaces are hostile: the format is sniffed from the content (never the
//! `Content-Type` or file name), dimensions are checked from the header before any pixel is
//! allocated, and the decoder runs under [`image::Limits`] so a small file that claims to be a
//! gigapixel image (a decompression bomb) is refused instead of exhausting memory.
//!
//! Fingerprints: PDQ (256 bits, from `veilmark_shared::hash::pdq`) as the primary hash, with
//! its eight dihedral variants for catalog entries, plus the classic 64-bit pHash (DCT +
//! median) from `image_hasher` as a second opinion. Both sides are also hashed in the same
//! sub-windows ([`WINDOWS`]: quadrants, centre crops, 80 % bands, 85 % corners), and references
//! in a grid of 90–95 % crops, so that a trimmed copy, a product pasted on a new background, one
//! with a banner along an edge or one inside a collage still meets its reference.

use std::io::Cursor;

use image::{DynamicImage, GenericImageView, ImageFormat, ImageReader};
use image_hasher::{HashAlg, HasherConfig};
use veilmark_shared::hash::Hash256;
use veilmark_shared::hash::pdq::{self, PdqDihedral};

/// Longest side images are reduced to before hashing (speed; PDQ itself works at 64 × 64).
const HASH_SIDE: u32 = 512;

/// Why an image was not hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The bytes are not JPEG, PNG, GIF or WebP.
    #[error("not a supported image (sniffed {0})")]
    NotAnImage(&'static str),
    /// The header announces more pixels than the limit.
    #[error("image is {width}x{height}, above the limit of {limit} pixels")]
    TooLarge {
        /// Announced width.
        width: u32,
        /// Announced height.
        height: u32,
        /// Limit in pixels.
        limit: u64,
    },
    /// Too small to hash meaningfully.
    #[error("image is {0}x{1}, too small to compare")]
    TooSmall(u32, u32),
    /// The decoder failed (corrupt or truncated data, or a decoding limit hit).
    #[error("cannot decode image: {0}")]
    Decode(#[from] image::ImageError),
}

/// Sniffs the image format from magic bytes.
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(ImageFormat::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Ok(ImageFormat::Gif)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok(ImageFormat::WebP)
    } else {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).to_ascii_lowercase();
        Err(ImageError::NotAnImage(
            if head.contains("<html") || head.contains("<!doctype") {
                "HTML"
            } else if bytes.is_empty() {
                "empty body"
            } else {
                "unknown bytes"
            },
        ))
    }
}

/// Width and height from the image's header, without decoding its pixels.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let format = sniff(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image::Limits::default());
    Ok(reader.into_dimensions()?)
}

/// Decodes `bytes` with a pixel limit (and a matching allocation limit).
pub fn decode_limited(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, ImageError> {
    let format = sniff(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8));
    let side = u32::try_from(max_pixels.min(u64::from(u32::MAX))).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    reader.limits(limits);
    let (width, height) = reader.into_dimensions()?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            limit: max_pixels,
        });
    }
    if width < 16 || height < 16 {
        return Err(ImageError::TooSmall(width, height));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8));
    reader.limits(limits);
    Ok(reader.decode()?)
}

/// A sub-rectangle of an image in fractions of its width and height, hashed on both sides:
/// quadrants meet a reference placed in a collage, centre crops meet a trimmed copy or one
/// pasted on a new background, and the 80 % bands meet a copy with a banner or logo along one
/// edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Stable name stored with hits.
    pub name: &'static str,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

const fn win(name: &'static str, x0: f32, y0: f32, x1: f32, y1: f32) -> Window {
    Window {
        name,
        x0,
        y0,
        x1,
        y1,
    }
}

/// Every window, the whole image first.
pub const WINDOWS: [Window; 19] = [
    win("full", 0.0, 0.0, 1.0, 1.0),
    win("centre-90", 0.05, 0.05, 0.95, 0.95),
    win("centre-80", 0.1, 0.1, 0.9, 0.9),
    win("centre-70", 0.15, 0.15, 0.85, 0.85),
    win("top-left", 0.0, 0.0, 0.5, 0.5),
    win("top-right", 0.5, 0.0, 1.0, 0.5),
    win("bottom-left", 0.0, 0.5, 0.5, 1.0),
    win("bottom-right", 0.5, 0.5, 1.0, 1.0),
    win("top-80", 0.0, 0.0, 1.0, 0.8),
    win("bottom-80", 0.0, 0.2, 1.0, 1.0),
    win("left-80", 0.0, 0.0, 0.8, 1.0),
    win("right-80", 0.2, 0.0, 1.0, 1.0),
    win("corner-85-tl", 0.0, 0.0, 0.85, 0.85),
    win("corner-85-tr", 0.15, 0.0, 1.0, 0.85),
    win("corner-85-bl", 0.0, 0.15, 0.85, 1.0),
    win("corner-85-br", 0.15, 0.15, 1.0, 1.0),
    win("centre-95", 0.025, 0.025, 0.975, 0.975),
    win("centre-88", 0.06, 0.06, 0.94, 0.94),
    win("centre-85", 0.075, 0.075, 0.925, 0.925),
];

/// Reference-only crops: a grid of 90–95 % crops at 2.5 % steps, so that a copy whose borders
/// were trimmed meets one of them (PDQ, like every global hash, does not survive a shift of
/// more than a few per cent).
fn reference_crops() -> Vec<(String, f32, f32, f32)> {
    let mut out = Vec::new();
    for (scale, steps) in [(0.9f32, 5), (0.925, 4), (0.95, 3)] {
        for iy in 0..steps {
            for ix in 0..steps {
                let (x, y) = (ix as f32 * 0.025, iy as f32 * 0.025);
                out.push((format!("crop-{}-{ix}{iy}", frac(scale, 1000)), x, y, scale));
            }
        }
    }
    out
}

/// The whole image.
pub const FULL: &str = "full";

/// Windows below this PDQ quality are not used (flat sky, plain background).
pub const MIN_WINDOW_QUALITY: u8 = 35;

/// `f · n` rounded down, for fractions in `0.0..=1.0` (so the result fits in `u32`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn frac(f: f32, n: u32) -> u32 {
    (f64::from(f.clamp(0.0, 1.0)) * f64::from(n)) as u32
}

impl Window {
    fn rect(self, w: u32, h: u32) -> (u32, u32, u32, u32) {
        let x = frac(self.x0, w);
        let y = frac(self.y0, h);
        let x1 = frac(self.x1, w).min(w);
        let y1 = frac(self.y1, h).min(h);
        (x, y, x1.saturating_sub(x), y1.saturating_sub(y))
    }
}

/// PDQ of each usable window (quality ≥ [`MIN_WINDOW_QUALITY`], the whole image always).
fn window_hashes(small: &DynamicImage) -> Vec<(&'static str, Hash256, u8)> {
    let (w, h) = small.dimensions();
    let mut out = Vec::new();
    for win in WINDOWS {
        let (x, y, cw, ch) = win.rect(w, h);
        if cw < 16 || ch < 16 {
            continue;
        }
        let p = if win.name == FULL {
            pdq_of(small)
        } else {
            pdq_of(&small.crop_imm(x, y, cw, ch))
        };
        if win.name == FULL || p.quality >= MIN_WINDOW_QUALITY {
            out.push((win.name, p.hash, p.quality));
        }
    }
    out
}

/// Fingerprints of one crawled image.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    /// Decoded width.
    pub width: u32,
    /// Decoded height.
    pub height: u32,
    /// PDQ quality of the full image (0–100).
    pub quality: u8,
    /// PDQ and quality of each usable window, whole image first.
    pub pdq: Vec<(&'static str, Hash256, u8)>,
    /// 64-bit pHash of the full image.
    pub phash: u64,
}

/// Fingerprints of one catalog image: all dihedral variants.
#[derive(Debug, Clone)]
pub struct ReferencePrint {
    /// Decoded width.
    pub width: u32,
    /// Decoded height.
    pub height: u32,
    /// PDQ of the eight dihedral transforms (order of `pdq::Dihedral::ALL`).
    pub pdq: PdqDihedral,
    /// pHash of the same eight transforms.
    pub phash: [u64; 8],
    /// PDQ of the usable sub-windows of the untransformed image (not the whole image).
    pub windows: Vec<(String, Hash256)>,
}

fn reduced(img: &DynamicImage) -> DynamicImage {
    let (w, h) = img.dimensions();
    if w.max(h) > HASH_SIDE {
        img.resize(HASH_SIDE, HASH_SIDE, image::imageops::FilterType::Triangle)
    } else {
        img.clone()
    }
}

fn pdq_of(img: &DynamicImage) -> pdq::PdqHash {
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    pdq::pdq_hash(rgb.as_raw(), w, h, 3).expect("buffer sized by the image crate")
}

/// The 64-bit pHash (`image_hasher` Median + DCT preprocessing, 8 × 8).
pub fn phash(img: &DynamicImage) -> u64 {
    let hasher = HasherConfig::new()
        .hash_size(8, 8)
        .hash_alg(HashAlg::Median)
        .preproc_dct()
        .to_hasher();
    let h = hasher.hash_image(img);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_be_bytes(b)
}

/// Fingerprints a crawled image in every [`Window`].
pub fn fingerprint(img: &DynamicImage) -> Fingerprint {
    let (width, height) = img.dimensions();
    let small = reduced(img);
    let pdq = window_hashes(&small);
    Fingerprint {
        width,
        height,
        quality: pdq[0].2,
        pdq,
        phash: phash(&small),
    }
}

/// Fingerprints a catalog image with its dihedral variants.
pub fn reference_print(img: &DynamicImage) -> ReferencePrint {
    let (width, height) = img.dimensions();
    let small = reduced(img);
    let rgb = small.to_rgb8();
    let (w, h) = rgb.dimensions();
    let pdq = pdq::pdq_dihedral(rgb.as_raw(), w, h, 3).expect("buffer sized by the image crate");
    let variants = [
        small.clone(),
        small.rotate270(), // image's rotate270 is clockwise 270° = 90° counter-clockwise
        small.rotate180(),
        small.rotate90(),
        small.flipv(),             // FlipX: about the horizontal axis
        small.fliph(),             // FlipY: about the vertical axis
        small.rotate90().fliph(),  // transpose
        small.rotate270().fliph(), // anti-transpose
    ];
    let phash = variants.map(|v| phash(&v));
    let mut windows: Vec<(String, Hash256)> = window_hashes(&small)
        .into_iter()
        .filter(|(n, ..)| *n != FULL)
        .map(|(n, h, _)| (n.to_string(), h))
        .collect();
    for (name, x, y, scale) in reference_crops() {
        let (cx, cy, cw, ch) = (frac(x, w), frac(y, h), frac(scale, w), frac(scale, h));
        let p = pdq_of(&small.crop_imm(cx, cy, cw.min(w - cx), ch.min(h - cy)));
        if p.quality >= MIN_WINDOW_QUALITY {
            windows.push((name, p.hash));
        }
    }
    ReferencePrint {
        width,
        height,
        pdq,
        phash,
        windows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_ignores_names_and_types() {
        assert!(matches!(
            sniff(b"<!DOCTYPE html><html>"),
            Err(ImageError::NotAnImage("HTML"))
        ));
        assert!(matches!(
            sniff(b""),
            Err(ImageError::NotAnImage("empty body"))
        ));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(), ImageFormat::WebP);
    }

    #[test]
    fn decompression_bomb_is_refused_before_decoding() {
        // A valid PNG header announcing 60000 x 60000 pixels, with almost no data.
        let img = image::RgbImage::new(1, 1);
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        // Patch IHDR width/height (bytes 16..24) and leave the CRC wrong: decoders must stop at
        // the header either way.
        png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let err = decode_limited(&png, 40_000_000).unwrap_err();
        assert!(
            matches!(err, ImageError::TooLarge { .. } | ImageError::Decode(_)),
            "{err}"
        );
    }
}
