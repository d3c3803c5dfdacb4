//! `veilmark envelope …`: direct access to the sealed-file format.
//!
//! The server seals and opens envelopes itself; these commands exist so that an engineer can
//! check a file by hand, interoperate with another implementation of `docs/envelope.md`, and
//! measure throughput.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use veilmark_shared::envelope::{
    DEFAULT_CHUNK_SIZE, DocumentId, Header, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE,
};
use veilmark_shared::media::MediaType;

use crate::envelope_file::{SealOptions, inspect_file, open_file, seal_file};
use crate::keyfile::{generate_key, read_key_file, write_key_file};
use crate::progress::Progress;

/// Envelope subcommands.
#[derive(Subcommand)]
pub enum EnvelopeCommand {
    /// Create a new random content key file (mode 0600).
    Keygen {
        /// Where to write the key file.
        key_file: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Seal a file into an envelope (AES-256-GCM, chunked; see docs/envelope.md).
    #[command(
        after_help = "The media type is detected from the file's content (PDF, STL, OBJ, glTF/GLB, STEP, DXF), never from its name.\nMemory use is constant: files of any size stream through in chunks."
    )]
    Seal(SealArgs),
    /// Open an envelope and write the plaintext, only if every byte verifies.
    #[command(
        after_help = "Nothing is written to OUT unless the whole envelope verifies: the plaintext goes to a temporary file beside OUT (mode 0600) that is renamed into place at the end.\nExit status 3 means the envelope is damaged, forged or sealed under another key."
    )]
    Open(OpenArgs),
    /// Show an envelope's header (no key needed; nothing is verified).
    Inspect {
        /// The envelope file.
        input: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `veilmark envelope seal`.
#[derive(Args)]
pub struct SealArgs {
    /// The file to seal.
    input: PathBuf,
    /// Where to write the envelope.
    output: PathBuf,
    /// Content key file (from `veilmark envelope keygen`).
    #[arg(long, value_name = "KEY_FILE")]
    key_file: PathBuf,
    /// Plaintext bytes per chunk, e.g. 65536, 64KiB or 1MiB (1 KiB to 16 MiB).
    #[arg(long, value_parser = parse_size, default_value_t = DEFAULT_CHUNK_SIZE)]
    chunk_size: u32,
    /// Record this media type instead of detecting it from content (e.g. application/pdf).
    #[arg(long)]
    media_type: Option<String>,
    /// Document id as 32 hex digits (default: random).
    #[arg(long, value_parser = parse_document_id)]
    document_id: Option<DocumentId>,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

/// Arguments of `veilmark envelope open`.
#[derive(Args)]
pub struct OpenArgs {
    /// The envelope to open.
    input: PathBuf,
    /// Where to write the plaintext.
    output: PathBuf,
    /// Content key file.
    #[arg(long, value_name = "KEY_FILE")]
    key_file: PathBuf,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs an envelope subcommand.
pub fn run(cmd: EnvelopeCommand) -> Result<()> {
    match cmd {
        EnvelopeCommand::Keygen { key_file, force } => {
            write_key_file(&key_file, &generate_key()?, force)?;
            eprintln!(
                "wrote a new content key to {} (mode 0600); keep it secret",
                key_file.display()
            );
            Ok(())
        }
        EnvelopeCommand::Seal(args) => {
            let key = read_key_file(&args.key_file)?;
            let started = Instant::now();
            let opts = SealOptions {
                chunk_size: args.chunk_size,
                media_type: args.media_type,
                document_id: args.document_id,
                force: args.force,
                progress: Progress::auto(args.quiet),
            };
            let header = seal_file(&key, &args.input, &args.output, &opts)?;
            if !args.quiet {
                eprintln!(
                    "sealed {} ({}, {}) into {} in {}",
                    args.input.display(),
                    MediaType::from_mime(header.media_type()).describe(),
                    human_bytes(header.plaintext_len()),
                    args.output.display(),
                    rate(header.plaintext_len(), started),
                );
                eprintln!("document id {}", header.document_id());
            }
            Ok(())
        }
        EnvelopeCommand::Open(args) => {
            let key = read_key_file(&args.key_file)?;
            let started = Instant::now();
            let header = open_file(
                &key,
                &args.input,
                &args.output,
                args.force,
                &Progress::auto(args.quiet),
            )?;
            if !args.quiet {
                eprintln!(
                    "opened {} ({}, {}, verified) into {} in {}",
                    args.input.display(),
                    MediaType::from_mime(header.media_type()).describe(),
                    human_bytes(header.plaintext_len()),
                    args.output.display(),
                    rate(header.plaintext_len(), started),
                );
            }
            Ok(())
        }
        EnvelopeCommand::Inspect { input, json } => {
            let (header, actual) = inspect_file(&input)?;
            print_header(&header, actual, json);
            Ok(())
        }
    }
}

fn print_header(h: &Header, actual_len: u64, json: bool) {
    let length_note = match actual_len.cmp(&h.envelope_len()) {
        std::cmp::Ordering::Equal => "matches the header",
        std::cmp::Ordering::Less => "SHORTER than the header says (truncated)",
        std::cmp::Ordering::Greater => "LONGER than the header says (trailing data)",
    };
    if json {
        println!(
            "{{\"format_version\":{},\"document_id\":\"{}\",\"media_type\":\"{}\",\"plaintext_len\":{},\"chunk_size\":{},\"chunk_count\":{},\"header_len\":{},\"envelope_len\":{},\"file_len\":{},\"nonce_prefix\":\"{}\"}}",
            veilmark_shared::envelope::VERSION,
            h.document_id(),
            h.media_type(),
            h.plaintext_len(),
            h.chunk_size(),
            h.chunk_count(),
            h.len(),
            h.envelope_len(),
            actual_len,
            hex::encode(h.nonce_prefix()),
        );
    } else {
        println!(
            "format        Veilmark envelope v{}",
            veilmark_shared::envelope::VERSION
        );
        println!("document id   {}", h.document_id());
        println!(
            "media type    {} ({})",
            h.media_type(),
            MediaType::from_mime(h.media_type()).describe()
        );
        println!(
            "plaintext     {} ({} bytes)",
            human_bytes(h.plaintext_len()),
            h.plaintext_len()
        );
        println!(
            "chunks        {} × {} bytes",
            h.chunk_count(),
            h.chunk_size()
        );
        println!("file length   {actual_len} bytes, {length_note}");
        println!("nonce prefix  {}", hex::encode(h.nonce_prefix()));
        println!("(not verified: opening checks the key, the header MAC and every chunk)");
    }
}

/// Parses sizes like `65536`, `64KiB`, `64k`, `1MiB`, `1m`.
fn parse_size(text: &str) -> Result<u32> {
    let t = text.trim().to_ascii_lowercase();
    let (digits, mult) = if let Some(d) = t.strip_suffix("kib").or(t.strip_suffix('k')) {
        (d, 1024u64)
    } else if let Some(d) = t.strip_suffix("mib").or(t.strip_suffix('m')) {
        (d, 1024 * 1024)
    } else {
        (t.as_str(), 1)
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("not a size: {text:?}"))?;
    let bytes = n.saturating_mul(mult);
    if !(u64::from(MIN_CHUNK_SIZE)..=u64::from(MAX_CHUNK_SIZE)).contains(&bytes) {
        bail!("chunk size must be between 1KiB and 16MiB, got {text}");
    }
    Ok(u32::try_from(bytes)?)
}

fn parse_document_id(text: &str) -> Result<DocumentId> {
    DocumentId::from_hex(text)
        .ok_or_else(|| anyhow::anyhow!("a document id is 32 hexadecimal digits"))
}

/// `1.5 GiB`, `12.0 MiB`, `532 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn rate(bytes: u64, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64();
    if secs < 0.01 {
        return format!("{:.0} ms", secs * 1000.0);
    }
    format!("{secs:.2} s ({:.0} MB/s)", bytes as f64 / 1e6 / secs)
}
