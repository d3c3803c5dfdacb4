//! QR codes drawn on the server as SVG, for the TOTP enrolment page (`docs/totp.md#uri`).
//!
//! The `otpauth://` URI in the code carries the owner's TOTP secret, so it must not go to a
//! third-party QR service, and the console's Content-Security-Policy forbids inline styles and
//! scripts. So the `qrcode` crate computes the module matrix (error-correction level M) and this
//! module draws it: one `<path>` of horizontal runs over a white square with a 4-module quiet
//! zone, colours as presentation attributes (`fill=`), never a `style` attribute.

use qrcode::{EcLevel, QrCode};

/// Light modules around the code on every side, as ISO/IEC 18004 requires for scanning.
pub const QUIET_ZONE: usize = 4;
/// Default rendered size of one module in CSS pixels (the page may scale the SVG).
pub const MODULE_PX: usize = 4;
/// The most bytes a version-40 code holds at error-correction level M.
pub const MAX_BYTES: usize = 2331;

/// Why a text could not be drawn as a QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// Too long for the largest QR code at level M.
    #[error(
        "{len} bytes do not fit in a QR code at error-correction level M (at most {MAX_BYTES})"
    )]
    TooLong {
        /// Bytes of the text.
        len: usize,
    },
    /// The encoder refused the text for another reason.
    #[error("the QR encoder refused the text: {0}")]
    Encoder(String),
}

/// The module matrix of `text` at error-correction level M, without quiet zone: its width in
/// modules and the modules row by row, `true` for dark.
///
/// # Errors
/// [`QrError::TooLong`] when the text does not fit a version-40 code.
pub fn matrix(text: &str) -> Result<(usize, Vec<bool>), QrError> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M).map_err(|e| match e {
        qrcode::types::QrError::DataTooLong => QrError::TooLong { len: text.len() },
        other => QrError::Encoder(other.to_string()),
    })?;
    let width = code.width();
    let modules = code
        .into_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Ok((width, modules))
}

/// `text` as a QR code in a self-contained `<svg>` element, ready to inline in a page or serve
/// as `image/svg+xml`. `label` is the accessible name (`role="img"`, `aria-label`), escaped here.
///
/// The drawing is one `<path>` whose subpaths are the horizontal runs of dark modules
/// (`M x y h{run}v1h-{run}z`), in module units inside a `viewBox` that includes the quiet zone,
/// with `shape-rendering="crispEdges"` so that scaling keeps module edges sharp.
///
/// # Errors
/// What [`matrix`] refuses.
pub fn svg(text: &str, label: &str) -> Result<String, QrError> {
    let (width, modules) = matrix(text)?;
    let size = width + 2 * QUIET_ZONE;
    let px = size * MODULE_PX;
    let mut path = String::with_capacity(modules.len() * 4);
    for (y, row) in modules.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] {
                x += 1;
            }
            let run = x - start;
            path.push_str(&format!(
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            ));
        }
    }
    Ok(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{px}" "#,
            r#"height="{px}" shape-rendering="crispEdges" role="img" aria-label="{label}">"#,
            r##"<rect width="{size}" height="{size}" fill="#fff"/>"##,
            r##"<path fill="#000" d="{path}"/></svg>"##,
        ),
        size = size,
        px = px,
        label = xml_escape(label),
        path = path,
    ))
}

/// Escapes text for an XML (and HTML) attribute value; control characters, which XML 1.0 does
/// not allow, become spaces.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "otpauth://totp/Veilmark:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Veilmark&algorithm=SHA1&digits=6&period=30";

    /// Decodes a square module grid (quiet zone included) drawn at 4 px per module.
    fn decode(size: usize, dark: impl Fn(usize, usize) -> bool) -> String {
        let px = size * 4;
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(px, px, |x, y| {
            if dark(x / 4, y / 4) { 0 } else { 255 }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().expect("the QR code decodes").1
    }

    /// The dark modules the SVG's path draws, read back from its `M x y h{n}v1h-{n}z` runs.
    fn modules_drawn(svg: &str, size: usize) -> Vec<bool> {
        let d = svg
            .split(r#" d=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the SVG has a path");
        let mut grid = vec![false; size * size];
        for run in d.split('M').filter(|r| !r.is_empty()) {
            let (xy, rest) = run.split_once('h').expect("M x yh");
            let (x, y) = xy.split_once(' ').expect("x y");
            let (len, tail) = rest.split_once('v').expect("h{n}v");
            let len: usize = len.parse().unwrap();
            assert_eq!(tail, format!("1h-{len}z"), "a run is one module high");
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            for cell in &mut grid[y * size + x..y * size + x + len] {
                assert!(!*cell, "runs do not overlap");
                *cell = true;
            }
        }
        grid
    }

    #[test]
    fn matrix_decodes_back_to_the_uri() {
        let (width, modules) = matrix(URI).unwrap();
        assert_eq!(modules.len(), width * width);
        let size = width + 2 * QUIET_ZONE;
        let text = decode(size, |x, y| {
            let (x, y) = (x.wrapping_sub(QUIET_ZONE), y.wrapping_sub(QUIET_ZONE));
            x < width && y < width && modules[y * width + x]
        });
        assert_eq!(text, URI);
    }

    #[test]
    fn svg_path_draws_the_matrix_and_decodes() {
        let (width, modules) = matrix(URI).unwrap();
        let size = width + 2 * QUIET_ZONE;
        let svg = svg(URI, "TOTP enrolment code").unwrap();
        assert!(svg.contains(&format!(r#"viewBox="0 0 {size} {size}""#)));
        let drawn = modules_drawn(&svg, size);
        for y in 0..size {
            for x in 0..size {
                let inside = (QUIET_ZONE..QUIET_ZONE + width).contains(&x)
                    && (QUIET_ZONE..QUIET_ZONE + width).contains(&y);
                let expected = inside && modules[(y - QUIET_ZONE) * width + (x - QUIET_ZONE)];
                assert_eq!(drawn[y * size + x], expected, "module ({x}, {y})");
            }
        }
        assert_eq!(decode(size, |x, y| drawn[y * size + x]), URI);
    }

    #[test]
    fn svg_merges_runs_into_one_path() {
        let svg = svg(URI, "code").unwrap();
        assert_eq!(svg.matches("<path").count(), 1);
        let (_, modules) = matrix(URI).unwrap();
        let dark = modules.iter().filter(|d| **d).count();
        let runs = svg.matches('M').count();
        assert!(runs < dark, "{runs} runs for {dark} dark modules");
    }

    #[test]
    fn svg_is_csp_safe_and_accessible() {
        let svg = svg(URI, r#"<script>alert("x")</script> & 'co'"#).unwrap();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style"), "no style attribute or element");
        assert!(!svg.contains("<script"), "the label cannot inject markup");
        assert!(svg.contains(
            r#"aria-label="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;""#
        ));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        assert!(svg.contains(r##"fill="#000""##) && svg.contains(r##"fill="#fff""##));
        assert!(!svg.contains("otpauth"), "the secret is drawn, not written");
    }

    #[test]
    fn control_characters_leave_the_label() {
        assert_eq!(xml_escape("a\u{0}b\nc"), "a b c");
    }

    #[test]
    fn too_long_is_named() {
        let text = "x".repeat(MAX_BYTES + 1);
        assert_eq!(
            matrix(&text).unwrap_err(),
            QrError::TooLong { len: MAX_BYTES + 1 }
        );
        assert!(matrix(&"x".repeat(MAX_BYTES)).is_ok());
    }
}
