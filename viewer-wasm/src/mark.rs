//! Every frame is marked before it reaches a canvas: the visible diagonal watermark (recipient,
//! UTC time, session code) from `veilmark_shared::visible` at the density of the document's
//! classification level, the level's banner across the top and bottom, then the invisible
//! forensic mark.

use veilmark_shared::licence::SessionCode;
use veilmark_shared::visible::{Banner, DEFAULT_FONT, MarkStyle, VisibleMark};
use veilmark_shared::watermark::Embedder;
use veilmark_shared::wire::Classification;

use crate::render::Frame;
use crate::session::ViewerError;

/// The lines of the visible watermark.
#[must_use]
pub fn mark_lines(recipient: &str, utc: &str, code: SessionCode) -> [String; 2] {
    [recipient.to_owned(), format!("{utc} · {code}")]
}

/// Formats unix seconds as `YYYY-MM-DD HH:MM UTC` (no time-zone database needed in wasm).
#[must_use]
pub fn utc_minute(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(0);
    let secs = unix % 86_400;
    let (y, m, d) = veilmark_shared::civil::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// What a visible-mark layout depends on: frame width, height and the two text lines.
type LayoutKey = (u32, u32, [String; 2]);

/// Prepared visible-mark layouts, reused across frames.
///
/// Laying out the rotated, tiled text is most of the per-frame cost (about 45 ms for a 1080p
/// frame in wasm, against 5 ms to blend it: `docs/viewer.md#performance`); the layout only
/// changes with the frame size and the text, and the text only with the minute. The viewer keeps
/// one cache per session: pages at one zoom and the thumbnails each reuse theirs.
#[derive(Default)]
pub struct MarkCache {
    /// (width, height, lines) → layout, most recently used last.
    entries: Vec<(LayoutKey, VisibleMark)>,
    /// The document's classification (banner and watermark density); `None` from a server
    /// without levels.
    classification: Option<Classification>,
    /// (width, height) → the classification banner, most recently used last.
    banners: Vec<((u32, u32), Banner)>,
}

impl MarkCache {
    /// A cache for a document of `classification`.
    #[must_use]
    pub fn for_document(classification: Option<Classification>) -> Self {
        Self {
            classification,
            ..Self::default()
        }
    }

    /// The document's classification level, if the server sent one.
    #[must_use]
    pub fn level(&self) -> Option<&str> {
        self.classification.as_ref().map(|c| c.level.as_str())
    }

    /// The level's rank (0 the lowest), if the server sent a level.
    #[must_use]
    pub fn level_rank(&self) -> Option<u8> {
        self.classification.as_ref().map(|c| c.rank)
    }

    /// The banner for a `width`×`height` frame, prepared on first use (`None`: no level).
    fn banner(&mut self, width: u32, height: u32) -> Result<Option<&Banner>, ViewerError> {
        let Some(c) = &self.classification else {
            return Ok(None);
        };
        let key = (width, height);
        if let Some(pos) = self.banners.iter().position(|(k, _)| *k == key) {
            let hit = self.banners.remove(pos);
            self.banners.push(hit);
        } else {
            let banner = Banner::prepare(
                DEFAULT_FONT,
                &c.level,
                width,
                height,
                Banner::colour_for_rank(c.rank),
            )
            .map_err(|e| ViewerError::Render(format!("classification banner: {e}")))?;
            if self.banners.len() == Self::CAPACITY {
                self.banners.remove(0);
            }
            self.banners.push((key, banner));
        }
        Ok(self.banners.last().map(|(_, b)| b))
    }

    /// Layouts kept (the page at a zoom or two and the thumbnail size); a 1080p layout is
    /// 4 MB.
    const CAPACITY: usize = 4;

    /// The layout for `lines` on a `width`×`height` frame, prepared on first use.
    fn get(
        &mut self,
        lines: [String; 2],
        width: u32,
        height: u32,
    ) -> Result<&VisibleMark, ViewerError> {
        let key = (width, height, lines);
        if let Some(pos) = self.entries.iter().position(|(k, _)| *k == key) {
            let hit = self.entries.remove(pos);
            self.entries.push(hit);
        } else {
            let refs: Vec<&str> = key.2.iter().map(String::as_str).collect();
            let style = self
                .classification
                .as_ref()
                .map_or_else(MarkStyle::default, |c| MarkStyle::for_density(&c.watermark));
            let mark = VisibleMark::prepare(DEFAULT_FONT, &refs, width, height, &style)
                .map_err(|e| ViewerError::Render(format!("visible watermark: {e}")))?;
            if self.entries.len() == Self::CAPACITY {
                self.entries.remove(0);
            }
            self.entries.push((key, mark));
        }
        self.entries
            .last()
            .map(|(_, m)| m)
            .ok_or(ViewerError::Ended)
    }

    /// Forgets every layout (the text names the recipient; wiped with the session).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.banners.clear();
    }
}

/// Applies the visible watermark, then the forensic one, to `frame` in place.
///
/// The forensic mark goes last so that it covers the visible text too: a leaker who crops the
/// visible mark away still leaves the invisible one on every remaining pixel. `forensic` is
/// the session's embedder, rebuilt from the tile the server sent with the licence
/// (`docs/watermark.md#session-tile`); it encodes the same session code as `code`.
pub fn mark_frame(
    frame: &mut Frame,
    recipient: &str,
    now: u64,
    code: SessionCode,
    forensic: &Embedder,
) -> Result<(), ViewerError> {
    mark_frame_cached(
        &mut MarkCache::default(),
        frame,
        recipient,
        now,
        code,
        forensic,
    )
}

/// [`mark_frame`] with the visible mark's layout taken from (and kept in) `cache`.
pub fn mark_frame_cached(
    cache: &mut MarkCache,
    frame: &mut Frame,
    recipient: &str,
    now: u64,
    code: SessionCode,
    forensic: &Embedder,
) -> Result<(), ViewerError> {
    let lines = mark_lines(recipient, &utc_minute(now), code);
    cache
        .get(lines, frame.width, frame.height)?
        .apply(&mut frame.rgba)
        .map_err(|e| ViewerError::Render(format!("visible watermark: {e}")))?;
    if let Some(banner) = cache.banner(frame.width, frame.height)? {
        banner
            .apply(&mut frame.rgba)
            .map_err(|e| ViewerError::Render(format!("classification banner: {e}")))?;
    }
    forensic
        .embed(&mut frame.rgba, frame.width, frame.height)
        .map_err(|e| ViewerError::Render(format!("forensic watermark: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use veilmark_shared::watermark::WatermarkKey;
    use zeroize::Zeroizing;

    fn blank(width: u32, height: u32) -> Frame {
        Frame {
            width,
            height,
            rgba: Zeroizing::new(vec![255; (width * height * 4) as usize]),
        }
    }

    #[test]
    fn cached_layouts_mark_exactly_like_fresh_ones() {
        let code = SessionCode::new(5).unwrap();
        let forensic = Embedder::new(&WatermarkKey::from_bytes([3; 32]), code);
        let mut cache = MarkCache::default();
        for (w, h, now) in [(300, 200, 0), (120, 90, 0), (300, 200, 30), (300, 200, 60)] {
            let mut fresh = blank(w, h);
            mark_frame(&mut fresh, "alice@supplier.example", now, code, &forensic).unwrap();
            let mut cached = blank(w, h);
            mark_frame_cached(
                &mut cache,
                &mut cached,
                "alice@supplier.example",
                now,
                code,
                &forensic,
            )
            .unwrap();
            assert_eq!(*fresh.rgba, *cached.rgba, "{w}×{h} at {now}");
        }
        // Two sizes and two minutes: three layouts (the minute changed once).
        assert_eq!(cache.entries.len(), 3);
        for i in 0..10 {
            let mut f = blank(50 + i, 50);
            mark_frame_cached(&mut cache, &mut f, "a", 0, code, &forensic).unwrap();
        }
        assert_eq!(cache.entries.len(), MarkCache::CAPACITY);
        cache.clear();
        assert!(cache.entries.is_empty());
    }

    #[test]
    fn a_classified_document_gets_its_banner_on_every_frame_and_a_denser_mark() {
        let code = SessionCode::new(5).unwrap();
        let forensic = Embedder::new(&WatermarkKey::from_bytes([3; 32]), code);
        let restricted = Classification {
            level: "Restricted".into(),
            rank: 3,
            watermark: "dense".into(),
        };
        let mut cache = MarkCache::for_document(Some(restricted));
        assert_eq!(cache.level(), Some("Restricted"));
        let mut plain_cache = MarkCache::default();
        for (w, h) in [(400, 300), (120, 160)] {
            let mut f = blank(w, h);
            mark_frame_cached(&mut cache, &mut f, "a@b.example", 0, code, &forensic).unwrap();
            // Top-left and bottom-left pixels are the banner's red (the forensic mark moves
            // a channel by a few levels at most).
            for y in [0, h - 1] {
                let i = (y * w * 4) as usize;
                let px = &f.rgba[i..i + 3];
                assert!(
                    px[0] > 130 && px[1] < 60 && px[2] < 60,
                    "{w}×{h} row {y}: {px:?}"
                );
            }
            let mut plain = blank(w, h);
            mark_frame_cached(
                &mut plain_cache,
                &mut plain,
                "a@b.example",
                0,
                code,
                &forensic,
            )
            .unwrap();
            assert!(
                plain.rgba[..3].iter().all(|&c| c > 200),
                "no banner without a level"
            );
        }
        assert_eq!(cache.banners.len(), 2);
        cache.clear();
        assert!(cache.banners.is_empty());
    }
}
