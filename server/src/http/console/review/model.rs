//! The review console's types: a crawler hit as the console shows and exports it, and the
//! leak behind a watermark hit. Plain data, no I/O: pages, filters, charts and bundles import
//! them from here whatever store [`super::data`] reads them from.

use serde::Serialize;

/// A hit as the console shows and exports it.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The hit's id in the evidence store.
    pub id: i64,
    /// Marketplace (profile name).
    pub marketplace: String,
    /// Listing page URL.
    pub page_url: String,
    /// Image URL.
    pub image_url: String,
    /// SHA-256 of the image bytes.
    pub image_sha256: String,
    /// When the image was fetched (RFC 3339).
    pub fetched_at: String,
    /// Listing title.
    pub title: Option<String>,
    /// Listing price as written.
    pub price: Option<String>,
    /// Seller.
    pub seller: Option<String>,
    /// Matched reference.
    pub reference_id: Option<i64>,
    /// Matched SKU.
    pub sku: Option<String>,
    /// Hash that matched.
    pub hash_kind: Option<String>,
    /// Hamming distance.
    pub distance: Option<i64>,
    /// Decoded watermark session, if any.
    pub watermark_session: Option<String>,
    /// Who leaked it: the recipient, link and session the watermark code maps to on this
    /// server (filled for watermark hits whose session this server issued).
    pub leaked_by: Option<LeakTrace>,
    /// WARC file (relative to the data directory).
    #[serde(skip)]
    pub warc_file: String,
    /// Offset of the page record.
    #[serde(skip)]
    pub warc_page_offset: Option<i64>,
    /// Offset of the image record.
    #[serde(skip)]
    pub warc_image_offset: i64,
    /// `new`, `confirmed` or `dismissed`.
    pub review_state: String,
    /// Reviewer's note.
    pub note: String,
}

impl Hit {
    /// Match confidence in percent from the Hamming distance (PDQ has 256 bits, pHash 64).
    #[must_use]
    pub fn confidence(&self) -> Option<i64> {
        let bits = if self.hash_kind.as_deref() == Some("phash") {
            64
        } else {
            256
        };
        self.distance.map(|d| (100 - d * 100 / bits).clamp(0, 100))
    }
}

/// The link and recipient behind a watermark session code.
#[derive(Debug, Clone, Serialize)]
pub struct LeakTrace {
    /// Recipient of the link the session was opened through.
    pub recipient: String,
    /// The link (`lnk_…`).
    pub link_id: String,
    /// The viewing session (32 hex digits).
    pub session_id: String,
    /// When the session was opened (RFC 3339).
    pub opened_at: String,
}

/// An image Content-Type from the bytes' signature; `None` for anything that is not an image
/// we show (SVG included: it can carry script).
#[must_use]
pub fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.len() > 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}
