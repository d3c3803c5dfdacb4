//! `veilmark identify IMAGE...`: read the forensic watermark from leaked screenshots.
//!
//! Images come from untrusted places (marketplaces, chat apps), so decoding is bounded: the
//! format is sniffed from content, and `image::Limits` caps dimensions and allocation before a
//! single pixel is decoded, so a decompression bomb fails with an error instead of exhausting
//! memory. One unreadable image does not stop the others.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use veilmark_shared::watermark::{Detection, Detector, WatermarkKey};
use veilmark_store::{Backend, DataDir, KeyFile, MetaStore};

use crate::owner_cmd::DatabaseArg;

/// Key-file line prefix for a watermark key.
const KEY_LINE_PREFIX: &str = "veilmark-watermark-key-v1 ";
/// Largest image side accepted (pixels).
const MAX_SIDE: u32 = 16_384;
/// Largest decoded image accepted (bytes allocated by the decoder).
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Arguments of `veilmark identify`.
#[derive(Args)]
#[command(
    after_help = "Reads PNG, JPEG and WebP (format detected from content). For each image prints whether Veilmark's invisible watermark was found and, if so, the 12-hex-digit session code and a confidence. With --data pointing at the server's data directory, the key is the server's own and each session code is traced back to its link, recipient, document and time.\n\nA --key-file holds one line `veilmark-watermark-key-v1 <64 hex digits>`.\nExit status: 0 when every image was read (watermarked or not), 1 when any image could not be read."
)]
pub struct IdentifyArgs {
    /// Images to examine (screenshots, downloaded listing photos).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// Watermark key file (the server's watermark key, exported as text).
    #[arg(
        long,
        value_name = "KEY_FILE",
        required_unless_present = "data",
        conflicts_with = "data"
    )]
    key_file: Option<PathBuf>,
    /// Server data directory: use its watermark key and trace codes to link and recipient.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Organisation whose links the codes are traced to (with --data).
    #[arg(long, value_name = "NAME", default_value = veilmark_store::tenancy::DEFAULT_ORG)]
    org: String,
    /// Print one JSON object per image (JSON Lines) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    database: DatabaseArg,
}

/// Runs `veilmark identify`.
pub fn run(args: &IdentifyArgs) -> Result<()> {
    let key = match (&args.key_file, &args.data) {
        (Some(file), _) => read_watermark_key(file)?,
        (None, Some(data)) => read_server_watermark_key(&DataDir::new(data))?,
        (None, None) => bail!("give --key-file or --data"),
    };
    let detector = Detector::new(&key);
    let tracer = match &args.data {
        Some(data) => Some(Tracer::open(
            &args.database.backend()?,
            &DataDir::new(data),
            &args.org,
        )?),
        None => None,
    };
    let mut failures = 0usize;
    for path in &args.images {
        let outcome = identify_file(&detector, path);
        if outcome.is_err() {
            failures += 1;
        }
        let traced = match (&tracer, &outcome) {
            (Some(t), Ok(Some(d))) => t.trace(d.code.get())?,
            _ => None,
        };
        print_outcome(path, &outcome, traced.as_deref(), args.json);
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

/// Maps session codes back to links through the server's database.
struct Tracer {
    runtime: tokio::runtime::Runtime,
    store: std::sync::Arc<dyn MetaStore>,
    org: veilmark_store::OrgId,
}

impl Tracer {
    fn open(backend: &Backend, data: &DataDir, org: &str) -> Result<Self> {
        let runtime = tokio::runtime::Runtime::new()?;
        let store = runtime
            .block_on(veilmark_store::open::open_existing(backend, data))?
            .meta;
        let org = runtime
            .block_on(store.org_by_name(org))?
            .with_context(|| format!("no organisation {org:?}"))?
            .id;
        Ok(Self {
            runtime,
            store,
            org,
        })
    }

    /// "recipient … via link … (document …), session … opened …", or `None` if unknown.
    fn trace(&self, code: u64) -> Result<Option<String>> {
        self.runtime.block_on(async {
            let Some(session) = self.store.session_by_code(self.org, code).await? else {
                return Ok(None);
            };
            let link = self.store.link(self.org, &session.link_id).await?;
            Ok(Some(match link {
                Some(l) => format!(
                    "recipient {} via link {} (document {}), session {} opened {}",
                    l.recipient,
                    l.id,
                    l.document_id,
                    session.id,
                    veilmark_server::rfc3339(session.created_at)
                ),
                None => format!("session {} of a deleted link", session.id),
            }))
        })
    }
}

/// The server's watermark key, from its data directory.
fn read_server_watermark_key(data: &DataDir) -> Result<WatermarkKey> {
    let key = data
        .read_server_key(KeyFile::Watermark, &|name| std::env::var(name).ok())?
        .with_context(|| {
            format!(
                "{} has no server watermark key (`veilmark serve` creates it; replicas may \
                 give it in {} instead)",
                data.root().display(),
                KeyFile::Watermark.env_var()
            )
        })?;
    Ok(WatermarkKey::from_bytes(*key))
}

fn print_outcome(
    path: &Path,
    outcome: &Result<Option<Detection>>,
    traced: Option<&str>,
    json: bool,
) {
    let name = path.display().to_string();
    if let (Some(t), false, Ok(Some(d))) = (traced, json, outcome) {
        println!(
            "{name}: watermark found, session code {} (confidence {:.2}): {t}",
            d.code, d.confidence
        );
        return;
    }
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
            "{{\"image\":{},\"found\":true,\"session_code\":\"{}\",\"confidence\":{:.3},\"sync_score\":{:.2},\"bit_errors_corrected\":{},\"scale\":{:.4},\"rotation_degrees\":{:.3},\"traced_to\":{}}}",
            json_string(&name),
            d.code,
            d.confidence,
            d.sync_score,
            d.bit_errors_corrected,
            d.geometry.scale,
            d.geometry.rotation_degrees,
            traced.map_or_else(|| "null".to_owned(), json_string)
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
    let bytes = crate::keyfile::read_key_line(
        path,
        KEY_LINE_PREFIX,
        "watermark key file",
        "exporting the server's watermark key",
    )?;
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
