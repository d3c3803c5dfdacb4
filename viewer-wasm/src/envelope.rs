//! Chunk-by-chunk decryption of a sealed file into wasm memory.
//!
//! The platform layer fetches byte ranges ([`EnvelopeReader::header_probe`], then
//! [`EnvelopeReader::chunk_range`] for each chunk) and hands the ciphertext in; the plaintext
//! accumulates in a [`Zeroizing`] buffer that never leaves Rust. Progress is
//! `chunks_done / chunk_count`.

use std::ops::Range;

use veilmark_shared::envelope::{ContentKey, HEADER_PREFIX_LEN, Header, Opener};
use zeroize::Zeroizing;

use crate::session::ViewerError;

/// Bytes to ask for first: enough for any header (`docs/envelope.md#header`).
pub const HEADER_PROBE_LEN: u64 = 4096;

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
