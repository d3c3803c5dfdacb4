//! `veilmark identify IMAGE...`: read the forensic watermark from leaked screenshots.
//!
//! Images come from untrusted places (marketplaces, chat apps), so decoding is bounded: the
//! format is sniffed from content, and `image::Limits` caps dimensions and allocation before a
//! single pixel is decoded, so a decompression bomb fails with an error instead of exhausting
//! memory. One unreadable image does not stop the others.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use veilmark_shared::watermark::{Detection, Detector, WatermarkKey};
use zeroize::Zeroizing;

/// Key-file line prefix for a watermark key.
const KEY_LINE_PREFIX: &str = "veilmark-watermark-key-v1 ";
/// Largest image side accepted (pixels).
const MAX_SIDE: u32 = 16_384;
/// Largest decoded image accepted (bytes allocated by the decoder).
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Arguments of `veilmark identify`.
#[derive(Args)]
#[command(
    after_help = "Reads PNG, JPEG and WebP (format detected from content). For each image prints whether Veilmark's invisible watermark was found and, if so, the 12-hex-digit session code and a confidence. The code is what the server maps back to link, recipient and time (that lookup arrives with `veilmark serve`; see docs/watermark.md).\n\nThe key file holds one line `veilmark-watermark-key-v1 <64 hex digits>`.\nExit status: 0 when every image was read (watermarked or not), 1 when any image could not be read."
)]
pub struct IdentifyArgs {
    /// Images to examine (screenshots, downloaded listing photos).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// Watermark key file (the server's watermark key).
    #[arg(long, value_name = "KEY_FILE")]
    key_file: PathBuf,
    /// Print one JSON object per image (JSON Lines) instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `veilmark identify`.
pub fn run(args: &IdentifyArgs) -> Result<()> {
    let key = read_watermark_key(&args.key_file)?;
    let detector = Detector::new(&key);
    let mut failures = 0usize;
    for path in &args.images {
        let outcome = identify_file(&detector, path);
        if outcome.is_err() {
            failures += 1;
        }
        print_outcome(path, &outcome, args.json);
    }
    if failures > 0 {
        bail!(
            "{failures} of {} image(s) could not be read",
            args.images.len()
        );
    }
    Ok(())
}

/// Decodes one image file under limits and looks for the watermark.
fn identify_file(detector: &Detector, path: &Path) -> Result<Option<Detection>> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = image::ImageReader::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?;
    if reader.format().is_none() {
        bail!(
            "{} is not a PNG, JPEG or WebP image (unrecognised content)",
            path.display()
        );
    }
    reader.limits(limits);
    let image = reader.decode().with_context(|| {
        format!(
            "cannot decode {} (corrupt, unsupported, or larger than {MAX_SIDE}x{MAX_SIDE} pixels / {} MiB)",
            path.display(),
            MAX_ALLOC >> 20
        )
    })?;
    let rgba = image.to_rgba8();
    let (width, height) = rgba.dimensions();
    Ok(detector.detect(rgba.as_raw(), width, height)?)
}

fn print_outcome(path: &Path, outcome: &Result<Option<Detection>>, json: bool) {
    let name = path.display().to_string();
    match (outcome, json) {
        (Ok(Some(d)), false) => println!(
            "{name}: watermark found, session {} (confidence {:.2}; sync {:.1}σ, {} bit errors corrected, scale {:.2}, rotation {:+.1}°)",
            d.code,
            d.confidence,
            d.sync_score,
            d.bit_errors_corrected,
            d.geometry.scale,
            d.geometry.rotation_degrees
        ),
        (Ok(None), false) => println!("{name}: no watermark"),
        (Err(err), false) => eprintln!("{name}: error: {err:#}"),
        (Ok(Some(d)), true) => println!(
            "{{\"image\":{},\"found\":true,\"session_code\":\"{}\",\"confidence\":{:.3},\"sync_score\":{:.2},\"bit_errors_corrected\":{},\"scale\":{:.4},\"rotation_degrees\":{:.3}}}",
            json_string(&name),
            d.code,
            d.confidence,
            d.sync_score,
            d.bit_errors_corrected,
            d.geometry.scale,
            d.geometry.rotation_degrees
        ),
        (Ok(None), true) => println!("{{\"image\":{},\"found\":false}}", json_string(&name)),
        (Err(err), true) => println!(
            "{{\"image\":{},\"error\":{}}}",
            json_string(&name),
            json_string(&format!("{err:#}"))
        ),
    }
}

/// A JSON string literal for `s`.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads a watermark key file: one line `veilmark-watermark-key-v1 <64 hex digits>`, `#`
/// comments allowed.
fn read_watermark_key(path: &Path) -> Result<WatermarkKey> {
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .with_context(|| format!("cannot read watermark key file {}", path.display()))?,
    );
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines
        .next()
        .with_context(|| format!("{} holds no key line", path.display()))?;
    if lines.next().is_some() {
        bail!("{} holds more than one key line", path.display());
    }
    let Some(hex_key) = line.strip_prefix(KEY_LINE_PREFIX) else {
        bail!(
            "{} is not a Veilmark watermark key file (expected a line starting with {:?})",
            path.display(),
            KEY_LINE_PREFIX.trim_end()
        );
    };
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_key.trim(), bytes.as_mut()).with_context(|| {
        format!(
            "{}: the watermark key must be exactly 64 hexadecimal digits",
            path.display()
        )
    })?;
    Ok(WatermarkKey::from_bytes(*bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
