//! Every frame is marked before it reaches a canvas: the visible diagonal watermark (recipient,
//! UTC time, session code) from `veilmark_shared::visible`, then the invisible forensic mark.

use veilmark_shared::licence::SessionCode;
use veilmark_shared::visible::{DEFAULT_FONT, MarkStyle, VisibleMark};
use veilmark_shared::watermark::Embedder;

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
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
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
    let lines = mark_lines(recipient, &utc_minute(now), code);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mark = VisibleMark::prepare(
        DEFAULT_FONT,
        &refs,
        frame.width,
        frame.height,
        &MarkStyle::default(),
    )
    .map_err(|e| ViewerError::Render(format!("visible watermark: {e}")))?;
    mark.apply(&mut frame.rgba)
        .map_err(|e| ViewerError::Render(format!("visible watermark: {e}")))?;
    forensic
        .embed(&mut frame.rgba, frame.width, frame.height)
        .map_err(|e| ViewerError::Render(format!("forensic watermark: {e}")))
}
