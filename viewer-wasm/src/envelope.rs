//! Chunk-by-chunk decryption of a sealed file into wasm memory.
//!
//! The platform layer fetches byte ranges and hands the ciphertext in; the plaintext
//! accumulates in a [`Zeroizing`] buffer that never leaves Rust. Progress is
//! `chunks_done / chunk_count`.
//!
//! Round trips, not AES, bound how fast a document opens (`docs/viewer.md#performance`), so
//! the wasm layer asks for [`FETCH_BATCH`] bytes at a time: the first answer
//! ([`EnvelopeReader::first_fetch`]) holds the header and the first chunks, and each later one
//! ([`EnvelopeReader::next_batch`]) as many whole chunks as fit; [`EnvelopeReader::push_batch`]
//! decrypts every whole chunk an answer holds. Each chunk still decrypts and verifies alone.

use std::ops::Range;

use veilmark_shared::envelope::{ContentKey, HEADER_PREFIX_LEN, Header, Opener};
use zeroize::Zeroizing;

use crate::session::ViewerError;

/// Bytes to ask for first: enough for any header (`docs/envelope.md#header`).
pub const HEADER_PROBE_LEN: u64 = 4096;

/// Bytes asked for per envelope request after the first (and for the first one too, which
/// must hold the header): 1 MiB, 16 default-size chunks.
pub const FETCH_BATCH: u64 = 1024 * 1024;

/// An envelope being opened: verified header, and the plaintext of the chunks seen so far.
pub struct EnvelopeReader {
    opener: Opener,
    plaintext: Zeroizing<Vec<u8>>,
    next_chunk: u32,
}

impl std::fmt::Debug for EnvelopeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EnvelopeReader({}/{} chunks)",
            self.next_chunk,
            self.chunk_count()
        )
    }
}

impl EnvelopeReader {
    /// The byte range to fetch first, for an envelope of `envelope_len` bytes.
    #[must_use]
    pub fn header_probe(envelope_len: u64) -> Range<u64> {
        0..HEADER_PROBE_LEN.min(envelope_len)
    }

    /// The first byte range to fetch for an envelope of `envelope_len` bytes: the header and
    /// as many chunks as fit in [`FETCH_BATCH`] bytes.
    #[must_use]
    pub fn first_fetch(envelope_len: u64) -> Range<u64> {
        0..FETCH_BATCH.max(HEADER_PROBE_LEN).min(envelope_len)
    }

    /// How many header bytes `probe` says the header has (it may need a second fetch).
    pub fn header_len(probe: &[u8]) -> Result<usize, ViewerError> {
        Ok(Header::declared_len(
            &probe[..probe.len().min(HEADER_PREFIX_LEN)],
        )?)
    }

    /// Checks `key` and the header (`header_bytes` holds at least the whole header) against an
    /// envelope of `envelope_len` bytes.
    pub fn new(
        key: &ContentKey,
        header_bytes: &[u8],
        envelope_len: u64,
    ) -> Result<Self, ViewerError> {
        let opener = Opener::new(key, header_bytes)?;
        opener.check_envelope_len(envelope_len)?;
        let capacity = usize::try_from(opener.header().plaintext_len())
            .map_err(|_| ViewerError::Render("document too large for this viewer".into()))?;
        Ok(Self {
            opener,
            plaintext: Zeroizing::new(Vec::with_capacity(capacity)),
            next_chunk: 0,
        })
    }

    /// The verified header.
    #[must_use]
    pub fn header(&self) -> &Header {
        self.opener.header()
    }

    /// Number of chunks.
    #[must_use]
    pub fn chunk_count(&self) -> u32 {
        self.opener.header().chunk_count()
    }

    /// The next chunk to fetch, or `None` when all are in.
    #[must_use]
    pub fn next_chunk(&self) -> Option<u32> {
        (self.next_chunk < self.chunk_count()).then_some(self.next_chunk)
    }

    /// The byte range of chunk `index` in the envelope.
    pub fn chunk_range(&self, index: u32) -> Result<Range<u64>, ViewerError> {
        self.opener
            .header()
            .chunk_range(index)
            .ok_or_else(|| ViewerError::Protocol(format!("no chunk {index}")))
    }

    /// The next byte range to fetch: from the next chunk on, as many whole chunks as fit in
    /// `max_bytes` (always at least one), or `None` when all are in.
    #[must_use]
    pub fn next_batch(&self, max_bytes: u64) -> Option<Range<u64>> {
        let first = self.chunk_range(self.next_chunk()?).ok()?;
        let mut end = first.end;
        for index in self.next_chunk + 1..self.chunk_count() {
            match self.chunk_range(index) {
                Ok(r) if r.end - first.start <= max_bytes => end = r.end,
                _ => break,
            }
        }
        Some(first.start..end)
    }

    /// Decrypts every whole chunk, from the next one on, that `bytes` (the envelope's bytes
    /// from offset `at`) holds, and returns how many (an answer to [`Self::next_batch`] holds
    /// at least one; the caller treats none as a short answer).
    pub fn push_batch(&mut self, at: u64, bytes: &[u8]) -> Result<u32, ViewerError> {
        let mut pushed = 0;
        while let Some(index) = self.next_chunk() {
            let r = self.chunk_range(index)?;
            let slice = r
                .start
                .checked_sub(at)
                .zip(r.end.checked_sub(at))
                .and_then(|(s, e)| bytes.get(usize::try_from(s).ok()?..usize::try_from(e).ok()?));
            let Some(sealed) = slice else { break };
            self.push_chunk(sealed.to_vec())?;
            pushed += 1;
        }
        Ok(pushed)
    }

    /// Decrypts the next chunk from its sealed bytes (consumed and wiped).
    pub fn push_chunk(&mut self, sealed: Vec<u8>) -> Result<(), ViewerError> {
        let index = self
            .next_chunk()
            .ok_or_else(|| ViewerError::Protocol("more chunks than the header says".into()))?;
        let mut buf = Zeroizing::new(sealed);
        self.opener.open_chunk(index, &mut buf)?;
        self.plaintext.extend_from_slice(&buf);
        self.next_chunk += 1;
        Ok(())
    }

    /// Fraction of chunks decrypted, 0–1.
    #[must_use]
    pub fn progress(&self) -> f64 {
        f64::from(self.next_chunk) / f64::from(self.chunk_count().max(1))
    }

    /// The whole plaintext once every chunk is in.
    pub fn finish(self) -> Result<Zeroizing<Vec<u8>>, ViewerError> {
        if self.next_chunk().is_some() {
            return Err(ViewerError::Protocol("envelope incomplete".into()));
        }
        Ok(self.plaintext)
    }
}
