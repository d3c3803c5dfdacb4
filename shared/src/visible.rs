//! The visible watermark: who is looking, when, and in which session, written diagonally across
//! every frame the viewer shows.
//!
//! It deters: a screenshot or photo of the screen carries the viewer's name in plain sight. It is
//! drawn as a tiled, rotated text block whose ink contrasts with the pixel under it (dark on
//! light, light on dark) over a thin halo of the opposite tone, so it stays legible on white
//! drawing sheets, dark CAD backgrounds and shaded renders alike, at an opacity that leaves the
//! drawing readable.
//!
//! The costly part (glyph rasterisation, rotation, tiling) happens once per frame size in
//! [`VisibleMark::prepare`]; [`VisibleMark::apply`] is then a per-pixel blend cheap enough for
//! every frame in WebAssembly. The forensic (invisible) watermark is separate and applied after
//! this one.

// Pixel arithmetic: float-to-integer `as` casts saturate in Rust, and every value cast here is
// already clamped to its target range; frame sizes are bounded by MAX_PIXELS.
#![allow(clippy::cast_possible_truncation)]

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use thiserror::Error;

/// DejaVu Sans Mono Bold (Bitstream Vera licence, `shared/assets/fonts/DejaVu-LICENSE.txt`):
/// the font the viewer embeds for the visible watermark.
pub const DEFAULT_FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSansMono-Bold.ttf");

/// Largest frame side accepted, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Largest frame accepted, in pixels (bounds the two alpha planes to 2 × 64 MiB).
pub const MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// Why a visible watermark could not be prepared or applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VisibleMarkError {
    /// The font bytes are not a TrueType/OpenType font.
    #[error("the watermark font could not be read")]
    InvalidFont,
    /// No text to draw.
    #[error("the visible watermark needs at least one non-empty line of text")]
    NoText,
    /// The frame size is zero or beyond the limits.
    #[error(
        "frame size {width}×{height} is outside 1×1 .. {MAX_SIDE}×{MAX_SIDE} (at most {MAX_PIXELS} pixels)"
    )]
    FrameSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The RGBA buffer does not match the prepared frame size.
    #[error("the frame buffer has {actual} bytes, but {expected} are needed for the prepared size")]
    BufferLength {
        /// Bytes expected (width × height × 4).
        expected: usize,
        /// Bytes supplied.
        actual: usize,
    },
}

/// How the watermark looks.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkStyle {
    /// Rotation of the text, in degrees counter-clockwise (a rising diagonal is positive).
    pub angle_degrees: f32,
    /// Opacity of the dark fill, 0–1.
    pub fill_opacity: f32,
    /// Opacity of the light halo around the letters, 0–1.
    pub halo_opacity: f32,
    /// Text height in pixels; `None` picks one from the frame size.
    pub text_height_px: Option<f32>,
    /// Gap between tiles as a multiple of the default gap (1.0); smaller is denser.
    pub spacing: f32,
}

impl Default for MarkStyle {
    fn default() -> Self {
        Self {
            angle_degrees: 30.0,
            fill_opacity: 0.26,
            halo_opacity: 0.12,
            text_height_px: None,
            spacing: 1.0,
        }
    }
}

impl MarkStyle {
    /// The style for a classification level's watermark density (`light`, `standard`,
    /// `dense`; anything else is `standard`).
    #[must_use]
    pub fn for_density(density: &str) -> Self {
        match density {
            "light" => Self {
                fill_opacity: 0.2,
                halo_opacity: 0.09,
                spacing: 1.6,
                ..Self::default()
            },
            "dense" => Self {
                fill_opacity: 0.3,
                halo_opacity: 0.14,
                spacing: 0.45,
                ..Self::default()
            },
            _ => Self::default(),
        }
    }
}

/// A visible watermark prepared for one frame size: two alpha planes, applied by blending.
#[derive(Clone)]
pub struct VisibleMark {
    width: u32,
    height: u32,
    fill: Vec<u8>,
    halo: Vec<u8>,
}

impl std::fmt::Debug for VisibleMark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VisibleMark({}×{})", self.width, self.height)
    }
}

/// A rasterised text block: coverage 0–255, row-major.
struct Block {
    width: usize,
    height: usize,
    fill: Vec<u8>,
    halo: Vec<u8>,
}

impl VisibleMark {
    /// Rasterises `lines` with `font` and lays the rotated, tiled text over a `width`×`height`
    /// frame.
    pub fn prepare(
        font: &[u8],
        lines: &[&str],
        width: u32,
        height: u32,
        style: &MarkStyle,
    ) -> Result<Self, VisibleMarkError> {
        if width == 0
            || height == 0
            || width > MAX_SIDE
            || height > MAX_SIDE
            || u64::from(width) * u64::from(height) > MAX_PIXELS
        {
            return Err(VisibleMarkError::FrameSize { width, height });
        }
        let lines: Vec<&str> = lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            return Err(VisibleMarkError::NoText);
        }
        let font = FontRef::try_from_slice(font).map_err(|_| VisibleMarkError::InvalidFont)?;
        let short_side = width.min(height) as f32;
        let text_px = style
            .text_height_px
            .unwrap_or((short_side / 32.0).clamp(13.0, 36.0));
        let block = rasterise(&font, &lines, text_px);

        // Tiles: the block plus gaps, every other row shifted by half a tile (brick pattern) so
        // that no straight crop avoids the text.
        let spacing = style.spacing.clamp(0.1, 4.0);
        let gap_x = (text_px * 3.0 * spacing) as usize;
        let gap_y = (text_px * 2.5 * spacing) as usize;
        let tile_w = block.width + gap_x;
        let tile_h = block.height + gap_y;
        let (sin, cos) = style.angle_degrees.to_radians().sin_cos();
        let fill_scale = style.fill_opacity.clamp(0.0, 1.0);
        let halo_scale = style.halo_opacity.clamp(0.0, 1.0);

        let n = width as usize * height as usize;
        let mut fill = vec![0u8; n];
        let mut halo = vec![0u8; n];
        let (tw, th) = (tile_w as f32, tile_h as f32);
        for y in 0..height as usize {
            let fy = y as f32 + 0.5;
            for x in 0..width as usize {
                let fx = x as f32 + 0.5;
                // Rotate the frame point into text space (screen y points down).
                let u = fx * cos - fy * sin;
                let v = fx * sin + fy * cos;
                let row = (v / th).floor();
                let shift = if (row as i64).rem_euclid(2) == 1 {
                    tw / 2.0
                } else {
                    0.0
                };
                let tu = (u + shift).rem_euclid(tw);
                let tv = v.rem_euclid(th);
                if tu >= block.width as f32 || tv >= block.height as f32 {
                    continue;
                }
                let (f, h) = block.sample(tu, tv);
                let i = y * width as usize + x;
                fill[i] = (f * fill_scale) as u8;
                halo[i] = (h * halo_scale) as u8;
            }
        }
        Ok(Self {
            width,
            height,
            fill,
            halo,
        })
    }

    /// Frame width this mark was prepared for.
    #[must_use]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height this mark was prepared for.
    #[must_use]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Blends the watermark into an RGBA frame of the prepared size (alpha left untouched).
    pub fn apply(&self, rgba: &mut [u8]) -> Result<(), VisibleMarkError> {
        let expected = self.fill.len() * 4;
        if rgba.len() != expected {
            return Err(VisibleMarkError::BufferLength {
                expected,
                actual: rgba.len(),
            });
        }
        // Ink contrasts with what lies under it: dark on light pixels, light on dark ones; the
        // halo, in the opposite tone, separates the letters from busy mid-tone backgrounds.
        const DARK: u16 = 24;
        const LIGHT: u16 = 235;
        for ((px, &f), &h) in rgba.chunks_exact_mut(4).zip(&self.fill).zip(&self.halo) {
            if f == 0 && h == 0 {
                continue;
            }
            let luma =
                (u16::from(px[0]) * 77 + u16::from(px[1]) * 150 + u16::from(px[2]) * 29) >> 8;
            let (ink, halo_tone) = if luma >= 128 {
                (DARK, LIGHT)
            } else {
                (LIGHT, DARK)
            };
            let (f, h) = (u16::from(f), u16::from(h));
            for c in &mut px[..3] {
                let v = u16::from(*c);
                let haloed = (v * (255 - h) + halo_tone * h) / 255;
                *c = ((haloed * (255 - f) + ink * f) / 255) as u8;
            }
        }
        Ok(())
    }

    /// Fraction of the frame's pixels the watermark touches (for tests and diagnostics).
    #[must_use]
    pub fn coverage(&self) -> f64 {
        let touched = self.fill.iter().filter(|&&a| a > 8).count();
        touched as f64 / self.fill.len() as f64
    }
}

/// A classification banner: a solid strip across the top and the bottom of a frame, in the
/// level's colour, with the level's name centred in white. Drawn by the viewer on every page
/// and frame (after the visible watermark, before the forensic one), so a screenshot or a
/// photo of any part of the screen that shows a whole edge carries the classification.
#[derive(Clone)]
pub struct Banner {
    width: u32,
    height: u32,
    strip: u32,
    colour: [u8; 3],
    /// Text coverage over one strip (`strip` rows × `width`), 0–255.
    text: Vec<u8>,
}

impl std::fmt::Debug for Banner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Banner({}×{}, strip {})",
            self.width, self.height, self.strip
        )
    }
}

impl Banner {
    /// The banner colour for a level's rank: green, blue, amber, then red for rank 3 and up.
    #[must_use]
    pub fn colour_for_rank(rank: u8) -> [u8; 3] {
        match rank {
            0 => [0x2f, 0x6b, 0x34],
            1 => [0x2c, 0x4a, 0x75],
            2 => [0x8a, 0x4b, 0x00],
            _ => [0x9b, 0x1c, 0x1c],
        }
    }

    /// Lays out `text` (upper-cased) in a strip for a `width`×`height` frame.
    pub fn prepare(
        font: &[u8],
        text: &str,
        width: u32,
        height: u32,
        colour: [u8; 3],
    ) -> Result<Self, VisibleMarkError> {
        if width == 0
            || height == 0
            || width > MAX_SIDE
            || height > MAX_SIDE
            || u64::from(width) * u64::from(height) > MAX_PIXELS
        {
            return Err(VisibleMarkError::FrameSize { width, height });
        }
        let text = text.trim().to_uppercase();
        if text.is_empty() {
            return Err(VisibleMarkError::NoText);
        }
        let font = FontRef::try_from_slice(font).map_err(|_| VisibleMarkError::InvalidFont)?;
        let strip = Self::strip_for(width, height);
        let block = rasterise(&font, &[&text], strip as f32 * 0.62);
        let mut coverage = vec![0u8; strip as usize * width as usize];
        let dx = (width as i64 - block.width as i64) / 2;
        let dy = (i64::from(strip) - block.height as i64) / 2;
        for by in 0..block.height {
            let y = by as i64 + dy;
            if y < 0 || y >= i64::from(strip) {
                continue;
            }
            for bx in 0..block.width {
                let x = bx as i64 + dx;
                if x < 0 || x >= i64::from(width) {
                    continue;
                }
                coverage[y as usize * width as usize + x as usize] =
                    block.fill[by * block.width + bx];
            }
        }
        Ok(Self {
            width,
            height,
            strip,
            colour,
            text: coverage,
        })
    }

    /// The strip height for a `width`×`height` frame: about 1/28 of the short side, at least
    /// 12 px, never more than a quarter of the height (two strips leave at least half the
    /// frame). Browser tests that compare frames with native renders skip these rows.
    #[must_use]
    pub fn strip_for(width: u32, height: u32) -> u32 {
        ((width.min(height) as f32 / 28.0).round() as u32)
            .max(12)
            .min(height / 4)
            .max(1)
    }

    /// Height of each strip in pixels.
    #[must_use]
    pub fn strip_height(&self) -> u32 {
        self.strip
    }

    /// Paints both strips into an RGBA frame of the prepared size (alpha left untouched).
    pub fn apply(&self, rgba: &mut [u8]) -> Result<(), VisibleMarkError> {
        let row_bytes = self.width as usize * 4;
        let expected = row_bytes * self.height as usize;
        if rgba.len() != expected {
            return Err(VisibleMarkError::BufferLength {
                expected,
                actual: rgba.len(),
            });
        }
        let strip_bytes = row_bytes * self.strip as usize;
        let (top, rest) = rgba.split_at_mut(strip_bytes);
        let bottom_start = rest.len() - strip_bytes;
        for strip in [top, &mut rest[bottom_start..]] {
            for (px, &t) in strip.chunks_exact_mut(4).zip(&self.text) {
                let t = u16::from(t);
                for (c, &bg) in px[..3].iter_mut().zip(&self.colour) {
                    *c = ((u16::from(bg) * (255 - t) + 255 * t) / 255) as u8;
                }
            }
        }
        Ok(())
    }
}

impl Block {
    /// Bilinear sample of (fill, halo) coverage at a point inside the block.
    fn sample(&self, u: f32, v: f32) -> (f32, f32) {
        let x0 = (u - 0.5).max(0.0);
        let y0 = (v - 0.5).max(0.0);
        let (xi, yi) = (x0 as usize, y0 as usize);
        let (fx, fy) = (x0 - xi as f32, y0 - yi as f32);
        let x1 = (xi + 1).min(self.width - 1);
        let y1 = (yi + 1).min(self.height - 1);
        let at = |plane: &[u8], x: usize, y: usize| f32::from(plane[y * self.width + x]);
        let lerp = |plane: &[u8]| {
            let top = at(plane, xi, yi) * (1.0 - fx) + at(plane, x1, yi) * fx;
            let bottom = at(plane, xi, y1) * (1.0 - fx) + at(plane, x1, y1) * fx;
            top * (1.0 - fy) + bottom * fy
        };
        (lerp(&self.fill), lerp(&self.halo))
    }
}

/// Draws the text lines, left-aligned, into a coverage block with a dilated halo.
fn rasterise(font: &FontRef<'_>, lines: &[&str], text_px: f32) -> Block {
    let scaled = font.as_scaled(PxScale::from(text_px));
    let line_height = (scaled.ascent() - scaled.descent() + scaled.line_gap()).ceil();
    let halo_radius = (text_px / 16.0).ceil().max(1.0) as usize;
    let pad = halo_radius + 1;
    let widest = lines
        .iter()
        .map(|line| {
            line.chars()
                .map(|c| scaled.h_advance(scaled.glyph_id(c)))
                .sum::<f32>()
        })
        .fold(0.0f32, f32::max);
    let width = widest.ceil() as usize + 2 * pad;
    let height = (line_height * lines.len() as f32) as usize + 2 * pad;
    let mut fill = vec![0u8; width * height];
    for (row, line) in lines.iter().enumerate() {
        let baseline = pad as f32 + line_height * row as f32 + scaled.ascent();
        let mut caret = pad as f32;
        for c in line.chars() {
            let id = scaled.glyph_id(c);
            let glyph = id
                .with_scale_and_position(PxScale::from(text_px), ab_glyph::point(caret, baseline));
            caret += scaled.h_advance(id);
            if let Some(outlined) = font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                outlined.draw(|gx, gy, coverage| {
                    let x = bounds.min.x as i64 + i64::from(gx);
                    let y = bounds.min.y as i64 + i64::from(gy);
                    if x >= 0 && y >= 0 && (x as usize) < width && (y as usize) < height {
                        let i = y as usize * width + x as usize;
                        let value = (coverage.clamp(0.0, 1.0) * 255.0) as u8;
                        fill[i] = fill[i].max(value);
                    }
                });
            }
        }
    }
    let halo = dilate(&fill, width, height, halo_radius);
    Block {
        width,
        height,
        fill,
        halo,
    }
}

/// Max filter over a square window (separable), giving the halo around the letters.
fn dilate(src: &[u8], width: usize, height: usize, radius: usize) -> Vec<u8> {
    let mut horizontal = vec![0u8; src.len()];
    for y in 0..height {
        let row = &src[y * width..(y + 1) * width];
        for x in 0..width {
            let lo = x.saturating_sub(radius);
            let hi = (x + radius).min(width - 1);
            horizontal[y * width + x] = row[lo..=hi].iter().copied().max().unwrap_or(0);
        }
    }
    let mut out = vec![0u8; src.len()];
    for x in 0..width {
        for y in 0..height {
            let lo = y.saturating_sub(radius);
            let hi = (y + radius).min(height - 1);
            out[y * width + x] = (lo..=hi)
                .map(|yy| horizontal[yy * width + x])
                .max()
                .unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: [&str; 3] = [
        "alice@supplier.example",
        "2026-11-23 14:05 UTC",
        "session 7Q4K-M2XD",
    ];

    fn mark(w: u32, h: u32) -> VisibleMark {
        VisibleMark::prepare(DEFAULT_FONT, &LINES, w, h, &MarkStyle::default()).unwrap()
    }

    fn frame(w: u32, h: u32, grey: u8) -> Vec<u8> {
        let mut f = vec![grey; (w * h * 4) as usize];
        f.iter_mut().skip(3).step_by(4).for_each(|a| *a = 255);
        f
    }

    #[test]
    fn a_banner_fills_the_top_and_bottom_strips_with_its_colour_and_white_text() {
        let colour = Banner::colour_for_rank(3);
        let b = Banner::prepare(DEFAULT_FONT, "Restricted", 640, 480, colour).unwrap();
        let strip = b.strip_height() as usize;
        assert!((12..=120).contains(&strip), "strip {strip}");
        let mut f = frame(640, 480, 255);
        b.apply(&mut f).unwrap();
        let row = |y: usize| &f[y * 640 * 4..(y + 1) * 640 * 4];
        for y in [0, strip - 1, 479, 480 - strip] {
            // The strip's left edge is the banner colour; somewhere in its middle is text.
            assert_eq!(&row(y)[..3], &colour[..], "row {y}");
        }
        let whitish = |y: usize| {
            row(y)
                .chunks_exact(4)
                .filter(|p| p[0] > 200 && p[1] > 200)
                .count()
        };
        assert!(whitish(strip / 2) > 5, "no text in the top strip");
        assert!(
            whitish(480 - strip / 2 - 1) > 5,
            "no text in the bottom strip"
        );
        // Between the strips the page is untouched.
        assert!(row(240).chunks_exact(4).all(|p| p[..3] == [255, 255, 255]));
        assert!(f.chunks_exact(4).all(|p| p[3] == 255), "alpha untouched");
        assert!(matches!(
            Banner::prepare(DEFAULT_FONT, "  ", 10, 10, colour),
            Err(VisibleMarkError::NoText)
        ));
        assert!(b.apply(&mut [0; 4]).is_err());
    }

    #[test]
    fn dense_marks_cover_more_of_the_frame_than_light_ones() {
        let cover = |d: &str| {
            VisibleMark::prepare(DEFAULT_FONT, &LINES, 640, 480, &MarkStyle::for_density(d))
                .unwrap()
                .coverage()
        };
        let (light, standard, dense) = (cover("light"), cover("standard"), cover("dense"));
        assert!(
            light < standard && standard < dense,
            "{light} {standard} {dense}"
        );
        assert!(
            dense > 1.5 * standard,
            "dense {dense} vs standard {standard}"
        );
    }

    #[test]
    fn darkens_white_pages_and_lightens_dark_scenes() {
        let m = mark(640, 480);
        let mut white = frame(640, 480, 255);
        m.apply(&mut white).unwrap();
        let darkened =
            white.chunks_exact(4).filter(|p| p[0] < 235).count() as f64 / (640.0 * 480.0);
        assert!((0.03..0.4).contains(&darkened), "darkened {darkened}");
        let mut black = frame(640, 480, 0);
        m.apply(&mut black).unwrap();
        let lightened =
            black.chunks_exact(4).filter(|p| p[0] > 20).count() as f64 / (640.0 * 480.0);
        assert!((0.03..0.5).contains(&lightened), "lightened {lightened}");
        assert!(
            white.chunks_exact(4).all(|p| p[3] == 255),
            "alpha untouched"
        );
        // The page stays readable: the darkest watermark pixel is still light grey on white.
        let darkest = white.chunks_exact(4).map(|p| p[0]).min().unwrap();
        assert!(darkest > 150, "watermark too heavy: {darkest}");
    }

    #[test]
    fn every_crop_of_a_quarter_screen_carries_text() {
        let m = mark(1280, 720);
        let mut f = frame(1280, 720, 255);
        m.apply(&mut f).unwrap();
        for (x0, y0) in [
            (0, 0),
            (960, 0),
            (0, 540),
            (960, 540),
            (500, 300),
            (200, 600),
        ] {
            let touched = (y0..(y0 + 180).min(720))
                .flat_map(|y| (x0..(x0 + 320).min(1280)).map(move |x| (x, y)))
                .filter(|&(x, y)| f[(y * 1280 + x) * 4] < 235)
                .count();
            assert!(
                touched > 200,
                "crop at ({x0},{y0}) has {touched} marked pixels"
            );
        }
    }

    #[test]
    fn is_deterministic_and_depends_on_the_text() {
        let a = mark(320, 240);
        let b = mark(320, 240);
        assert_eq!(a.fill, b.fill);
        let other = VisibleMark::prepare(
            DEFAULT_FONT,
            &["bob@other.example"],
            320,
            240,
            &MarkStyle::default(),
        )
        .unwrap();
        assert_ne!(a.fill, other.fill);
        assert!(a.coverage() > 0.02);
    }

    #[test]
    fn refuses_bad_input_clearly() {
        let style = MarkStyle::default();
        assert_eq!(
            VisibleMark::prepare(b"not a font", &LINES, 10, 10, &style).unwrap_err(),
            VisibleMarkError::InvalidFont
        );
        assert_eq!(
            VisibleMark::prepare(DEFAULT_FONT, &["  ", ""], 10, 10, &style).unwrap_err(),
            VisibleMarkError::NoText
        );
        assert!(matches!(
            VisibleMark::prepare(DEFAULT_FONT, &LINES, 0, 10, &style),
            Err(VisibleMarkError::FrameSize { .. })
        ));
        assert!(matches!(
            VisibleMark::prepare(DEFAULT_FONT, &LINES, 16_385, 1, &style),
            Err(VisibleMarkError::FrameSize { .. })
        ));
        assert!(matches!(
            VisibleMark::prepare(DEFAULT_FONT, &LINES, 16_384, 16_384, &style),
            Err(VisibleMarkError::FrameSize { .. })
        ));
        let m = mark(8, 8);
        assert_eq!(
            m.clone().apply(&mut [0u8; 10]).unwrap_err(),
            VisibleMarkError::BufferLength {
                expected: 256,
                actual: 10
            }
        );
        // Tiny and 1×N frames work.
        let mut one = frame(1, 300, 255);
        VisibleMark::prepare(DEFAULT_FONT, &LINES, 1, 300, &style)
            .unwrap()
            .apply(&mut one)
            .unwrap();
    }
}

#[cfg(test)]
mod look {
    /// Writes a PPM preview of the watermark on a half-white, half-dark frame (run by hand).
    #[test]
    #[ignore = "writes a preview image for a person to look at"]
    fn write_preview() {
        use super::*;
        let (w, h) = (960u32, 540u32);
        let mut f: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let g = if i % w < w / 2 { 250 } else { 40 };
                [g, g, g, 255]
            })
            .collect();
        VisibleMark::prepare(
            DEFAULT_FONT,
            &[
                "alice@supplier.example",
                "2026-11-23 14:05 UTC",
                "session 7Q4K-M2XD",
            ],
            w,
            h,
            &MarkStyle::default(),
        )
        .unwrap()
        .apply(&mut f)
        .unwrap();
        let mut ppm = format!("P6 {w} {h} 255\n").into_bytes();
        for p in f.chunks_exact(4) {
            ppm.extend_from_slice(&p[..3]);
        }
        std::fs::write("/tmp/visible-preview.ppm", ppm).unwrap();
    }
}
