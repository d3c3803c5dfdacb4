//! 2D drawings (DXF) to RGBA with vello_cpu, the CPU rasteriser hayro draws PDF pages with:
//! crisp anti-aliased hairlines at any zoom, and text from glyph outlines.
//!
//! A [`DrawingView`] says which part of the drawing is on screen (pan and zoom); lines keep a
//! constant on-screen width, as in CAD, and the paper is white.

use ab_glyph::{Font, FontRef, OutlineCurve};
use veilmark_cad::{Aabb, Drawing, Path2d, Text};
use vello_cpu::color::{AlphaColor, Srgb};
use vello_cpu::kurbo::{Affine, BezPath, Shape, Stroke};
use vello_cpu::{Pixmap, RenderContext};
use zeroize::Zeroizing;

use crate::{RenderError, RgbaImage};

/// A point in pixels or drawing units (kurbo's).
pub use vello_cpu::kurbo::Point;

/// Largest side of a drawing frame (vello_cpu's pixmaps are `u16`-sized).
pub const MAX_DRAWING_SIDE: u32 = 8192;
/// On-screen width of every line, in pixels.
pub const LINE_WIDTH_PX: f64 = 1.25;

/// Which part of the drawing is on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrawingView {
    /// Drawing coordinates at the centre of the frame.
    pub center: [f64; 2],
    /// Pixels per drawing unit.
    pub scale: f64,
}

impl DrawingView {
    /// Fits `bounds` into a `width × height` frame with a 4 % margin.
    #[must_use]
    pub fn fit(bounds: &Aabb, width: u32, height: u32) -> Self {
        if bounds.is_empty() {
            return Self {
                center: [0.0, 0.0],
                scale: 1.0,
            };
        }
        let c = bounds.center();
        let w = (bounds.max[0] - bounds.min[0]).max(1e-9);
        let h = (bounds.max[1] - bounds.min[1]).max(1e-9);
        let scale = (f64::from(width) / w).min(f64::from(height) / h) * 0.96;
        Self {
            center: [c[0], c[1]],
            scale,
        }
    }

    /// The affine map from drawing coordinates (y up) to pixels (y down).
    #[must_use]
    pub fn to_pixels(&self, width: u32, height: u32) -> Affine {
        Affine::translate((f64::from(width) / 2.0, f64::from(height) / 2.0))
            * Affine::scale_non_uniform(self.scale, -self.scale)
            * Affine::translate((-self.center[0], -self.center[1]))
    }

    /// Drawing coordinates of pixel `(x, y)`.
    #[must_use]
    pub fn to_drawing(&self, x: f64, y: f64, width: u32, height: u32) -> [f64; 2] {
        let p = self.to_pixels(width, height).inverse() * Point::new(x, y);
        [p.x, p.y]
    }

    /// Pans by `(dx, dy)` pixels.
    pub fn pan(&mut self, dx: f64, dy: f64) {
        self.center[0] -= dx / self.scale;
        self.center[1] += dy / self.scale;
    }

    /// Zooms by `factor` keeping pixel `(x, y)` fixed.
    pub fn zoom_at(&mut self, factor: f64, x: f64, y: f64, width: u32, height: u32) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let before = self.to_drawing(x, y, width, height);
        self.scale = (self.scale * factor).clamp(1e-9, 1e9);
        let after = self.to_drawing(x, y, width, height);
        self.center[0] += before[0] - after[0];
        self.center[1] += before[1] - after[1];
    }
}

/// A path in drawing coordinates, arcs as exact circular arcs.
fn bez_path(path: &Path2d) -> BezPath {
    let mut out = BezPath::new();
    let n = path.points.len();
    let Some(&first) = path.points.first() else {
        return out;
    };
    out.move_to((first[0], first[1]));
    let segments = if path.closed { n } else { n.saturating_sub(1) };
    for i in 0..segments {
        let a = path.points[i];
        let b = path.points[(i + 1) % n];
        let bulge = path.bulges.get(i).copied().unwrap_or(0.0);
        if bulge.abs() < 1e-9 || !bulge.is_finite() {
            out.line_to((b[0], b[1]));
            continue;
        }
        let angle = 4.0 * bulge.atan();
        let chord = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        let radius = chord / (2.0 * (angle / 2.0).sin().abs());
        let arc = vello_cpu::kurbo::SvgArc {
            from: Point::new(a[0], a[1]),
            to: Point::new(b[0], b[1]),
            radii: (radius, radius).into(),
            x_rotation: 0.0,
            large_arc: angle.abs() > std::f64::consts::PI,
            sweep: bulge > 0.0,
        };
        match vello_cpu::kurbo::Arc::from_svg_arc(&arc) {
            Some(arc) => {
                for el in arc.append_iter(radius * 1e-4) {
                    out.push(el);
                }
            }
            None => out.line_to((b[0], b[1])),
        }
    }
    if path.closed {
        out.close_path();
    }
    out
}

/// A text entity's glyph outlines, in drawing coordinates.
fn text_path(font: &FontRef<'_>, text: &Text) -> BezPath {
    let em = f64::from(font.units_per_em().unwrap_or(1000.0));
    // DXF heights are cap heights; DejaVu's capitals are 0.729 em tall.
    let scale = text.height / (0.729 * em);
    let place = Affine::translate((text.position[0], text.position[1]))
        * Affine::rotate(text.rotation_deg.to_radians())
        * Affine::scale(scale);
    let mut out = BezPath::new();
    let mut pen = 0.0f64;
    for ch in text.value.chars() {
        let id = font.glyph_id(ch);
        if let Some(outline) = font.outline(id) {
            let mut glyph = BezPath::new();
            let mut last: Option<Point> = None;
            let pt = |p: ab_glyph::Point| Point::new(pen + f64::from(p.x), f64::from(p.y));
            for curve in &outline.curves {
                let (start, end) = match *curve {
                    OutlineCurve::Line(a, b) | OutlineCurve::Quad(a, _, b) => (pt(a), pt(b)),
                    OutlineCurve::Cubic(a, _, _, d) => (pt(a), pt(d)),
                };
                // A new contour starts wherever a curve does not continue the previous one.
                if last.is_none_or(|l| l.distance(start) > 1e-6) {
                    if last.is_some() {
                        glyph.close_path();
                    }
                    glyph.move_to(start);
                }
                match *curve {
                    OutlineCurve::Line(_, b) => glyph.line_to(pt(b)),
                    OutlineCurve::Quad(_, b, c) => glyph.quad_to(pt(b), pt(c)),
                    OutlineCurve::Cubic(_, b, c, d) => glyph.curve_to(pt(b), pt(c), pt(d)),
                }
                last = Some(end);
            }
            if last.is_some() {
                glyph.close_path();
            }
            for el in glyph.elements() {
                out.push(*el);
            }
        }
        pen += f64::from(font.h_advance_unscaled(id));
    }
    place * out
}

fn color([r, g, b]: [u8; 3]) -> AlphaColor<Srgb> {
    AlphaColor::from_rgba8(r, g, b, 255)
}

/// Renders `drawing` as `view` places it into a `width × height` frame, skipping the layers
/// whose index is in `hidden_layers` and the layers the file marks off.
pub fn render_drawing(
    drawing: &Drawing,
    view: &DrawingView,
    hidden_layers: &[usize],
    width: u32,
    height: u32,
) -> Result<RgbaImage, RenderError> {
    let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(RenderError::TooLarge(format!("a {width}×{height} frame")));
    };
    if w == 0 || h == 0 || width > MAX_DRAWING_SIDE || height > MAX_DRAWING_SIDE {
        return Err(RenderError::TooLarge(format!(
            "a {width}×{height} frame (each side must be 1..={MAX_DRAWING_SIDE})"
        )));
    }
    let shown = |layer: usize| {
        !hidden_layers.contains(&layer) && drawing.layers.get(layer).is_none_or(|l| l.visible)
    };
    let transform = view.to_pixels(width, height);
    let frame = vello_cpu::kurbo::Rect::new(0.0, 0.0, f64::from(width), f64::from(height));
    let mut ctx = RenderContext::new(w, h);
    ctx.set_paint(color([255, 255, 255]));
    ctx.fill_rect(&frame);
    ctx.set_stroke(Stroke::new(LINE_WIDTH_PX));
    for path in &drawing.paths {
        if !shown(path.layer) {
            continue;
        }
        // Transform first, then stroke in pixels: constant line width at every zoom.
        let px = transform * bez_path(path);
        if !px.bounding_box().overlaps(frame.inflate(4.0, 4.0)) {
            continue;
        }
        ctx.set_paint(color(path.color));
        ctx.stroke_path(&px);
    }
    let font = FontRef::try_from_slice(veilmark_shared::visible::DEFAULT_FONT)
        .map_err(|e| RenderError::Gpu(format!("built-in font: {e}")))?;
    for text in &drawing.texts {
        if !(shown(text.layer) && text.height.is_finite() && text.height > 0.0) {
            continue;
        }
        // Text smaller than a third of a pixel is not legible: skip it (fast zoomed-out frames).
        if text.height * view.scale < 0.33 {
            continue;
        }
        // Off-screen texts are skipped before their glyphs are built: a rough box around the
        // insertion point, as long as the text in any direction.
        let reach = text.height * (1.5 + text.value.chars().count() as f64);
        let at = transform * vello_cpu::kurbo::Point::new(text.position[0], text.position[1]);
        let reach_px = reach * view.scale;
        if !vello_cpu::kurbo::Rect::new(
            at.x - reach_px,
            at.y - reach_px,
            at.x + reach_px,
            at.y + reach_px,
        )
        .overlaps(frame)
        {
            continue;
        }
        let px = transform * text_path(&font, text);
        if !px.bounding_box().overlaps(frame) {
            continue;
        }
        ctx.set_paint(color(text.color));
        ctx.fill_path(&px);
    }
    ctx.flush();
    let mut pixmap = Pixmap::new(w, h);
    ctx.render(&mut pixmap, &mut vello_cpu::Resources::default());
    // Opaque white background: premultiplied and straight alpha are the same bytes.
    let rgba = Zeroizing::new(pixmap.data_as_u8_slice().to_vec());
    zeroize::Zeroize::zeroize(pixmap.data_as_u8_slice_mut());
    Ok(RgbaImage {
        width,
        height,
        rgba,
    })
}
