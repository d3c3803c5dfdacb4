//! Document strings as pixels: the one way a part or layer name from a CAD file is shown.
//!
//! Names inside a file are document content, and `docs/threat-model.md` promises that no
//! plaintext reaches JavaScript or the DOM. So the page's script gets outline ids and neutral
//! labels ("Part 3"), and when it wants the real name it hands a canvas to `drawName`: the
//! name is rasterised here, with the font the visible watermark already embeds
//! ([`veilmark_shared::visible::DEFAULT_FONT`]), and only pixels cross to the canvas — never a
//! string the script could read, copy or send.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use veilmark_render::RgbaImage;
use zeroize::Zeroizing;

/// Widest name image in pixels.
pub const MAX_WIDTH: u32 = 4096;
/// Tallest name image in pixels.
pub const MAX_HEIGHT: u32 = 512;
/// Characters drawn at most; a longer name ends in an ellipsis (it would not fit anyway).
const MAX_CHARS: usize = 512;
/// Space left and right of the text, in pixels.
const PAD: f32 = 2.0;

/// Draws `text` in colour `rgb` (`0xRRGGBB`), left-aligned and vertically centred, on a
/// transparent `width × height` image; a name too wide for it ends in "…".
///
/// `None` when a side is 0 or larger than [`MAX_WIDTH`] × [`MAX_HEIGHT`] (bounds the memory
/// a script can make wasm allocate).
#[must_use]
pub fn draw_text(text: &str, width: u32, height: u32, rgb: u32) -> Option<RgbaImage> {
    if width == 0 || height == 0 || width > MAX_WIDTH || height > MAX_HEIGHT {
        return None;
    }
    let font = FontRef::try_from_slice(veilmark_shared::visible::DEFAULT_FONT).ok()?;
    let px = PxScale::from((height as f32 * 0.72).max(1.0));
    let scaled = font.as_scaled(px);
    let fits = width as f32 - 2.0 * PAD;
    // The characters that fit, with an ellipsis when some do not.
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS + 1)
        .collect();
    let advance = |c: char| scaled.h_advance(scaled.glyph_id(c));
    let total: f32 = chars.iter().map(|&c| advance(c)).sum();
    let shown: Vec<char> = if total <= fits && chars.len() <= MAX_CHARS {
        chars
    } else {
        let room = fits - advance('…');
        let mut used = 0.0;
        let mut kept: Vec<char> = chars
            .into_iter()
            .take_while(|&c| {
                used += advance(c);
                used <= room
            })
            .collect();
        kept.push('…');
        kept
    };

    let (w, h) = (width as usize, height as usize);
    let mut coverage = Zeroizing::new(vec![0u8; w * h]);
    let baseline = (height as f32 + scaled.ascent() + scaled.descent()) / 2.0;
    let mut caret = PAD;
    for c in shown {
        let id = scaled.glyph_id(c);
        let glyph = id.with_scale_and_position(px, point(caret, baseline));
        caret += scaled.h_advance(id);
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, cov| {
            #[allow(clippy::cast_possible_truncation)] // glyph boxes are a few hundred pixels
            let (x, y) = (
                bounds.min.x as i64 + i64::from(gx),
                bounds.min.y as i64 + i64::from(gy),
            );
            if let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y))
                && x < w
                && y < h
            {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0..=255
                let value = (cov.clamp(0.0, 1.0) * 255.0).round() as u8;
                let i = y * w + x;
                coverage[i] = coverage[i].max(value);
            }
        });
    }
    let [_, r, g, b] = rgb.to_be_bytes();
    let mut rgba = Zeroizing::new(vec![0u8; w * h * 4]);
    for (px, &a) in rgba.chunks_exact_mut(4).zip(coverage.iter()) {
        if a > 0 {
            px.copy_from_slice(&[r, g, b, a]);
        }
    }
    Some(RgbaImage {
        width,
        height,
        rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(img: &RgbaImage) -> usize {
        img.rgba.chunks_exact(4).filter(|p| p[3] > 0).count()
    }

    #[test]
    fn draws_text_in_the_asked_colour_and_nothing_for_blank() {
        let img = draw_text("bracket-left", 200, 20, 0x12_34_56).unwrap();
        assert!(ink(&img) > 100, "{}", ink(&img));
        assert!(
            img.rgba
                .chunks_exact(4)
                .filter(|p| p[3] > 0)
                .all(|p| p[..3] == [0x12, 0x34, 0x56])
        );
        assert_eq!(ink(&draw_text("   ", 200, 20, 0).unwrap()), 0);
    }

    #[test]
    fn long_names_stay_inside_the_image() {
        let long = "x".repeat(100_000);
        let img = draw_text(&long, 120, 16, 0).unwrap();
        // The last columns stay clear: the ellipsis ends before the padding.
        let w = img.width as usize;
        let right_edge = img
            .rgba
            .chunks_exact(4)
            .enumerate()
            .filter(|(i, p)| i % w >= w - 1 && p[3] > 0)
            .count();
        assert_eq!(right_edge, 0);
        assert!(ink(&img) > 50);
    }

    #[test]
    fn refuses_empty_and_huge_images() {
        assert!(draw_text("a", 0, 10, 0).is_none());
        assert!(draw_text("a", 10, 0, 0).is_none());
        assert!(draw_text("a", MAX_WIDTH + 1, 10, 0).is_none());
        assert!(draw_text("a", 10, MAX_HEIGHT + 1, 0).is_none());
    }
}
