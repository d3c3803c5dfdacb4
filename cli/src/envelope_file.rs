//! Streaming seal and open of envelope files with constant memory.
//!
//! Files are processed in batches of chunks: while one batch is sealed or opened on all cores,
//! the next is read, so memory stays at two batches (a few MiB) whatever the file size. Opening
//! writes to a temporary file beside the destination (mode 0600) and renames it into place only
//! after every chunk verified, so a damaged envelope never leaves partial plaintext at the output
//! path.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use veilmark_shared::envelope::{
    ContentKey, DocumentId, HEADER_PREFIX_LEN, Header, Opener, SealParams, SealRandomness, Sealer,
};
use veilmark_shared::media::{MediaType, SNIFF_LEN};
use zeroize::Zeroize;

use crate::progress::Progress;

/// Plaintext bytes handled per batch (rounded to whole chunks).
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// What to seal and how.
pub struct SealOptions {
    /// Chunk size in bytes.
    pub chunk_size: u32,
    /// Media type to record; `None` detects it from content.
    pub media_type: Option<String>,
    /// Document id; `None` picks a random one.
    pub document_id: Option<DocumentId>,
    /// Replace an existing output file.
    pub force: bool,
    /// Progress display.
    pub progress: Progress,
}

/// Seals the regular file `input` into a new envelope at `output`; returns its header.
pub fn seal_file(
    key: &ContentKey,
    input: &Path,
    output: &Path,
    opts: &SealOptions,
) -> Result<Header> {
    let mut src = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let meta = src.metadata()?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file: the envelope header records the exact length up front, so sealing needs a file, not a pipe",
            input.display()
        );
    }
    let len = meta.len();
    let media_type = match &opts.media_type {
        Some(m) => m.clone(),
        None => {
            let mut head = vec![0u8; SNIFF_LEN.min(usize::try_from(len).unwrap_or(SNIFF_LEN))];
            src.read_exact(&mut head)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let detected = MediaType::detect(&head, len);
            head.zeroize();
            src = File::open(input)?;
            detected.mime().to_owned()
        }
    };
    let mut random = [0u8; SealRandomness::LEN];
    getrandom::fill(&mut random).context("the operating system's random generator failed")?;
    let random = SealRandomness::from_bytes(random);
    let params = SealParams {
        document_id: opts.document_id.unwrap_or(random.document_id),
        media_type,
        plaintext_len: len,
        chunk_size: opts.chunk_size,
        key_salt: random.key_salt,
        nonce_prefix: random.nonce_prefix,
    };
    let sealer = Sealer::new(key, &params)?;
    let header = sealer.header().clone();

    let mut out = OutputFile::create(output, opts.force)?;
    out.writer().write_all(header.as_bytes())?;
    let bar = opts.progress.bar(len, "sealing");
    let per_batch = chunks_per_batch(header.chunk_size());
    let count = header.chunk_count();
    let read_batch = |src: &mut File, first: u32| -> Result<Vec<(u32, Vec<u8>)>> {
        let last = first.saturating_add(per_batch).min(count);
        (first..last)
            .map(|i| {
                let mut buf = vec![0u8; header.chunk_plaintext_len(i).expect("in range")];
                src.read_exact(&mut buf).with_context(|| {
                    format!(
                        "{} became shorter while it was being sealed",
                        input.display()
                    )
                })?;
                Ok((i, buf))
            })
            .collect()
    };
    let mut next = 0u32;
    let mut batch = read_batch(&mut src, next)?;
    while !batch.is_empty() {
        next += u32::try_from(batch.len()).expect("batch fits u32");
        let (following, sealed) = rayon::join(
            || read_batch(&mut src, next),
            || {
                batch
                    .par_iter_mut()
                    .try_for_each(|(i, buf)| sealer.seal_chunk(*i, buf))
            },
        );
        sealed?;
        for (_, buf) in &batch {
            out.writer().write_all(buf)?;
            bar.inc((buf.len() - veilmark_shared::envelope::CHUNK_OVERHEAD) as u64);
        }
        batch = following?;
    }
    if src.read(&mut [0u8; 1])? != 0 {
        bail!(
            "{} grew while it was being sealed; seal it again",
            input.display()
        );
    }
    // No fsync for envelopes: a torn envelope after a crash is detected when it is opened.
    out.commit(output, false)?;
    bar.finish_and_clear();
    Ok(header)
}

/// Opens the envelope at `input` with `key` and writes the plaintext to `output`, only if every
/// chunk verifies. Returns the verified header.
pub fn open_file(
    key: &ContentKey,
    input: &Path,
    output: &Path,
    force: bool,
    progress: &Progress,
) -> Result<Header> {
    let mut src = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let total = src.metadata()?.len();
    let opener = read_header(&mut src, input, |bytes| Opener::new(key, bytes))?;
    opener.check_envelope_len(total)?;
    let header = opener.header().clone();

    let mut out = OutputFile::create(output, force)?;
    let bar = progress.bar(header.plaintext_len(), "opening");
    let per_batch = chunks_per_batch(header.chunk_size());
    let count = header.chunk_count();
    let read_batch = |src: &mut File, first: u32| -> Result<Vec<(u32, Vec<u8>)>> {
        let last = first.saturating_add(per_batch).min(count);
        (first..last)
            .map(|i| {
                let range = header.chunk_range(i).expect("in range");
                let mut buf = vec![0u8; usize::try_from(range.end - range.start)?];
                src.read_exact(&mut buf).with_context(|| {
                    format!("{} became shorter while being read", input.display())
                })?;
                Ok((i, buf))
            })
            .collect()
    };
    let mut next = 0u32;
    let mut batch = read_batch(&mut src, next)?;
    while !batch.is_empty() {
        next += u32::try_from(batch.len()).expect("batch fits u32");
        let (following, opened) = rayon::join(
            || read_batch(&mut src, next),
            || {
                batch
                    .par_iter_mut()
                    .try_for_each(|(i, buf)| opener.open_chunk(*i, buf))
            },
        );
        if let Err(e) = opened {
            wipe(&mut batch);
            return Err(e.into());
        }
        for (_, buf) in &batch {
            out.writer().write_all(buf)?;
            bar.inc(buf.len() as u64);
        }
        wipe(&mut batch);
        batch = following?;
    }
    // Plaintext is synced before the rename, so that even after a crash the output path holds
    // either nothing or the whole verified file.
    out.commit(output, true)?;
    bar.finish_and_clear();
    Ok(header)
}

/// Reads and parses only the header of an envelope file (no key needed).
pub fn inspect_file(input: &Path) -> Result<(Header, u64)> {
    let mut src = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let total = src.metadata()?.len();
    let header = read_header(&mut src, input, Header::parse)?;
    Ok((header, total))
}

fn read_header<T>(
    src: &mut File,
    input: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, veilmark_shared::envelope::EnvelopeError>,
) -> Result<T> {
    let mut bytes = vec![0u8; HEADER_PREFIX_LEN];
    let n = read_up_to(src, &mut bytes)?;
    bytes.truncate(n);
    let len = Header::declared_len(&bytes)
        .with_context(|| format!("{} cannot be opened", input.display()))?;
    bytes.resize(len, 0);
    let got = read_up_to(src, &mut bytes[HEADER_PREFIX_LEN..])?;
    bytes.truncate(HEADER_PREFIX_LEN + got);
    parse(&bytes).with_context(|| format!("{} cannot be opened", input.display()))
}

fn read_up_to(src: &mut File, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn chunks_per_batch(chunk_size: u32) -> u32 {
    u32::try_from((BATCH_BYTES / chunk_size as usize).max(rayon::current_num_threads()))
        .unwrap_or(u32::MAX)
}

fn wipe(batch: &mut [(u32, Vec<u8>)]) {
    for (_, buf) in batch {
        buf.zeroize();
    }
}

/// A temporary file (mode 0600) beside the destination, renamed into place on success and
/// deleted otherwise.
struct OutputFile {
    writer: BufWriter<tempfile::NamedTempFile>,
    force: bool,
}

impl OutputFile {
    fn create(dest: &Path, force: bool) -> Result<Self> {
        if dest.exists() && !force {
            bail!(
                "{} already exists; pass --force to replace it",
                dest.display()
            );
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".veilmark-")
            .suffix(".partial")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 20, tmp),
            force,
        })
    }

    fn writer(&mut self) -> &mut BufWriter<tempfile::NamedTempFile> {
        &mut self.writer
    }

    fn commit(self, dest: &Path, durable: bool) -> Result<()> {
        let tmp = self.writer.into_inner().map_err(|e| e.into_error())?;
        if durable {
            tmp.as_file().sync_all()?;
        }
        let persisted = if self.force {
            tmp.persist(dest)
        } else {
            tmp.persist_noclobber(dest)
        };
        persisted
            .map_err(|e| e.error)
            .with_context(|| format!("cannot move the result into place at {}", dest.display()))?;
        Ok(())
    }
}
