//! Renders one PDF page natively with the viewer's own rasteriser (hayro, same code as the wasm
//! build) and, optionally, compares it with what the browser's canvas showed.
//!
//! ```text
//! render_page PDF PAGE WIDTH OUT.png [--compare CANVAS.png]
//! ```
//!
//! `PAGE` counts from 1; `WIDTH` is the pixel width to render at (the canvas width the viewer
//! chose). With `--compare`, prints one JSON line: sizes, the intersection-over-union of the
//! *ink* (pixels darker than 100 in both renders — the visible watermark is mid-grey and the
//! forensic one a few grey levels, so neither adds ink) and the mean absolute difference. The
//! browser end-to-end test (`tests/e2e/viewer.e2e.mjs`) uses it to check that the canvas shows
//! the same page the native renderer draws.
#![allow(missing_docs, clippy::print_stdout, clippy::cast_precision_loss)]

use std::process::ExitCode;

use veilmark_viewer_wasm::render::PdfDocument;
use zeroize::Zeroizing;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 && !(args.len() == 6 && args[4] == "--compare") {
        eprintln!("usage: render_page PDF PAGE WIDTH OUT.png [--compare CANVAS.png]");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("render_page: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let bytes = std::fs::read(&args[0]).map_err(|e| format!("{}: {e}", args[0]))?;
    let page: u32 = args[1].parse().map_err(|_| "PAGE must be a number")?;
    let width: f32 = args[2].parse().map_err(|_| "WIDTH must be a number")?;
    let doc = PdfDocument::open(Zeroizing::new(bytes)).map_err(|e| e.to_string())?;
    let index = page.checked_sub(1).ok_or("PAGE counts from 1")?;
    let (w, _) = doc.page_size(index).map_err(|e| e.to_string())?;
    let frame = doc.render(index, width / w).map_err(|e| e.to_string())?;
    let native = image::RgbaImage::from_raw(frame.width, frame.height, frame.rgba.to_vec())
        .ok_or("frame size mismatch")?;
    native.save(&args[3]).map_err(|e| e.to_string())?;
    if let Some(canvas) = args.get(5) {
        let shown = image::open(canvas)
            .map_err(|e| format!("{canvas}: {e}"))?
            .to_rgba8();
        let (cw, ch) = (
            native.width().min(shown.width()),
            native.height().min(shown.height()),
        );
        let luma = |p: &image::Rgba<u8>| {
            (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000
        };
        let (mut both, mut either, mut diff) = (0u64, 0u64, 0u64);
        for y in 0..ch {
            for x in 0..cw {
                let a = luma(native.get_pixel(x, y));
                let b = luma(shown.get_pixel(x, y));
                let (ia, ib) = (a < 100, b < 100);
                both += u64::from(ia && ib);
                either += u64::from(ia || ib);
                diff += u64::from(a.abs_diff(b));
            }
        }
        println!(
            "{{\"native\":[{},{}],\"canvas\":[{},{}],\"ink_iou\":{:.4},\"ink_pixels\":{either},\"mean_abs_diff\":{:.3}}}",
            native.width(),
            native.height(),
            shown.width(),
            shown.height(),
            both as f64 / either.max(1) as f64,
            diff as f64 / (u64::from(cw) * u64::from(ch)).max(1) as f64
        );
    }
    Ok(())
}
