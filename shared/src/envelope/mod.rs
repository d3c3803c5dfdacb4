//! The sealed-file envelope: how a drawing or model travels from the owner to the viewer.
//!
//! The format is specified in `docs/envelope.md`; section anchors are cited in comments. In short:
//! an authenticated header (magic, version, document id, media type, plaintext length, chunk size,
//! key salt, nonce prefix, key check, HMAC) followed by fixed-size chunks, each sealed with
//! AES-256-GCM under a per-file key, with nonce = random prefix ‖ chunk counter ‖ last-chunk flag
//! and the whole header as associated data; each chunk starts with a file tag naming the envelope
//! it belongs to. Chunks decrypt independently (random access, range
//! requests, parallelism); truncation, reordering, chunk swapping between files, header edits and
//! bit flips each produce their own [`EnvelopeError`].
//!
//! ```
//! use veilmark_shared::envelope::{self, ContentKey, DocumentId};
//! let key = ContentKey::from_bytes([7; 32]);
//! let sealed = envelope::seal(&key, DocumentId([1; 16]), "application/pdf",
//!     b"%PDF-1.7 ...", envelope::DEFAULT_CHUNK_SIZE, [2; 16], [3; 7]).unwrap();
//! let opened = envelope::open(&key, &sealed).unwrap();
//! assert_eq!(&opened.plaintext[..], b"%PDF-1.7 ...");
//! ```

mod error;
mod header;
mod key;
mod stream;

pub use error::EnvelopeError;
pub use header::{DocumentId, HEADER_PREFIX_LEN, Header, MAX_MEDIA_TYPE_LEN};
pub use key::ContentKey;
pub use stream::{Opener, SealParams, SealRandomness, Sealer};

use zeroize::Zeroizing;

/// The 8 magic bytes every envelope starts with.
pub const MAGIC: [u8; 8] = *b"VEILMARK";
/// The format version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Length of the AES-GCM tag that ends every chunk.
pub const TAG_LEN: usize = 16;
/// Length of the file tag that starts every chunk (`docs/envelope.md#chunks`).
pub const FILE_TAG_LEN: usize = 8;
/// Bytes each chunk adds to its plaintext: file tag and AES-GCM tag.
pub const CHUNK_OVERHEAD: usize = FILE_TAG_LEN + TAG_LEN;
/// Chunk size used unless the caller asks otherwise: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest allowed chunk size: 1 KiB.
pub const MIN_CHUNK_SIZE: u32 = 1024;
/// Largest allowed chunk size: 16 MiB (bounds a reader's buffer).
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;

/// An opened envelope: the verified header and the plaintext (wiped when dropped).
pub struct Opened {
    /// The verified header.
    pub header: Header,
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// Seals a whole in-memory plaintext. For large files, drive a [`Sealer`] chunk by chunk.
pub fn seal(
    key: &ContentKey,
    document_id: DocumentId,
    media_type: &str,
    plaintext: &[u8],
    chunk_size: u32,
    key_salt: [u8; 16],
    nonce_prefix: [u8; 7],
) -> Result<Vec<u8>, EnvelopeError> {
    let sealer = Sealer::new(
        key,
        &SealParams {
            document_id,
            media_type: media_type.to_owned(),
            plaintext_len: plaintext.len() as u64,
            chunk_size,
            key_salt,
            nonce_prefix,
        },
    )?;
    let header = sealer.header();
    let envelope_len = usize::try_from(header.envelope_len())
        .map_err(|_| EnvelopeError::InvalidParameters("envelope too large for memory".into()))?;
    let mut out = Vec::with_capacity(envelope_len);
    out.extend_from_slice(header.as_bytes());
    let mut buf = Vec::with_capacity(chunk_size as usize + CHUNK_OVERHEAD);
    let chunk = chunk_size as usize;
    for index in 0..header.chunk_count() {
        let start = index as usize * chunk;
        let end = (start + chunk).min(plaintext.len());
        buf.clear();
        buf.extend_from_slice(&plaintext[start..end]);
        sealer.seal_chunk(index, &mut buf)?;
        out.extend_from_slice(&buf);
    }
    zeroize::Zeroize::zeroize(&mut buf);
    Ok(out)
}

/// Opens a whole in-memory envelope, verifying the key, header, length and every chunk. Nothing
/// is returned unless everything verifies.
pub fn open(key: &ContentKey, envelope: &[u8]) -> Result<Opened, EnvelopeError> {
    let opener = Opener::new(key, envelope)?;
    opener.check_envelope_len(envelope.len() as u64)?;
    let header = opener.header().clone();
    let capacity = usize::try_from(header.plaintext_len()).unwrap_or(0);
    let mut plaintext = Zeroizing::new(Vec::with_capacity(capacity));
    let mut buf = Zeroizing::new(Vec::new());
    for index in 0..header.chunk_count() {
        let range = header.chunk_range(index).expect("index below count");
        // The length check above guarantees the range lies inside `envelope`.
        let start = usize::try_from(range.start).expect("inside an in-memory envelope");
        let end = usize::try_from(range.end).expect("inside an in-memory envelope");
        buf.clear();
        buf.extend_from_slice(&envelope[start..end]);
        opener.open_chunk(index, &mut buf)?;
        plaintext.extend_from_slice(&buf);
    }
    Ok(Opened { header, plaintext })
}
