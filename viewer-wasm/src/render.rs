//! PDF pages to RGBA pixels with hayro, a pure-Rust rasteriser that compiles to wasm32
//! (`docs/viewer.md#renderer` says why not pdfium, MuPDF or pdf.js).
//!
//! The document's bytes stay in a [`Zeroizing`] buffer shared with the parser through an
//! `Arc`; when the [`PdfDocument`] is dropped the last reference goes and the bytes are wiped.
//! Rendered frames are [`Frame`]s whose pixels are wiped on drop too.

use std::sync::Arc;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use zeroize::{Zeroize, Zeroizing};

use crate::session::ViewerError;

/// Largest side of a rendered frame in pixels (bounds memory at high zoom; hayro's pixmaps are
/// `u16`-sized).
pub const MAX_FRAME_SIDE: u32 = 8192;

/// Rendered, straight-alpha RGBA pixels (opaque: pages are drawn over white), wiped on drop:
/// the one frame type of PDF pages, CAD frames and drawings alike (`veilmark_render`'s).
pub use veilmark_render::RgbaImage as Frame;

/// A parsed PDF held in wasm memory.
pub struct PdfDocument {
    pdf: Pdf,
}

impl std::fmt::Debug for PdfDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PdfDocument({} pages)", self.page_count())
    }
}

impl PdfDocument {
    /// Parses `bytes` (the decrypted file).
    pub fn open(bytes: Zeroizing<Vec<u8>>) -> Result<Self, ViewerError> {
        let pdf = Pdf::new(Arc::new(bytes))
            .map_err(|e| ViewerError::Render(format!("not a readable PDF ({e:?})")))?;
        Ok(Self { pdf })
    }

    /// Number of pages.
    #[must_use]
    pub fn page_count(&self) -> u32 {
        u32::try_from(self.pdf.pages().len()).unwrap_or(u32::MAX)
    }

    /// Page size in PDF points (1/72 inch) after rotation and cropping, `index` from 0.
    pub fn page_size(&self, index: u32) -> Result<(f32, f32), ViewerError> {
        Ok(self.page(index)?.render_dimensions())
    }

    fn page(&self, index: u32) -> Result<&hayro::hayro_syntax::page::Page<'_>, ViewerError> {
        let pages = self.pdf.pages();
        usize::try_from(index)
            .ok()
            .and_then(|i| pages.get(i))
            .ok_or_else(|| {
                ViewerError::Render(format!(
                    "page {} does not exist (the document has {})",
                    index.saturating_add(1),
                    pages.len()
                ))
            })
    }

    /// Renders page `index` (from 0) at `scale` pixels per point, clamped so that neither side
    /// exceeds [`MAX_FRAME_SIDE`].
    pub fn render(&self, index: u32, scale: f32) -> Result<Frame, ViewerError> {
        let page = self.page(index)?;
        let (w, h) = page.render_dimensions();
        let longest = w.max(h).max(1.0);
        let scale = scale.max(0.01).min(MAX_FRAME_SIDE as f32 / longest);
        let cache = RenderCache::new();
        let settings = InterpreterSettings::default();
        let mut pixmap = hayro::render(
            page,
            &cache,
            &settings,
            &RenderSettings::default(),
            &PixmapSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: WHITE,
            },
        );
        let width = u32::from(pixmap.width());
        let height = u32::from(pixmap.height());
        if width == 0 || height == 0 {
            return Err(ViewerError::Render("page has no area".into()));
        }
        // Over an opaque white background premultiplied and straight alpha are the same bytes.
        let rgba = Zeroizing::new(pixmap.data_as_u8_slice().to_vec());
        pixmap.data_as_u8_slice_mut().zeroize();
        Ok(Frame {
            width,
            height,
            rgba,
        })
    }
}
