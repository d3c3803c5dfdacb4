//! Sealing and opening chunks: AES-256-GCM in the STREAM construction
//! (`docs/envelope.md#chunks`).
//!
//! [`Sealer`] and [`Opener`] work on one chunk at a time and take `&self`, so callers can seal or
//! open chunks in parallel, out of order, or only the few they need (random access, HTTP range
//! requests). Whole-file helpers live in [`super::seal`] and [`super::open`].

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::Mac;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::EnvelopeError;
use super::header::{DocumentId, FIXED_LEN, Header, KEY_CHECK_LEN, MAC_LEN};
use super::key::{ContentKey, FileKeys};
use super::{CHUNK_OVERHEAD, FILE_TAG_LEN, TAG_LEN};

/// How far from its position a failing chunk is looked for among the other positions, to tell
/// reordering from modification. Bounds the work an attacker can cause to 2 × this many trial
/// decryptions per failing chunk; only paid on failure.
const REORDER_SEARCH_RADIUS: u32 = 256;

/// Everything the sealer needs besides the key and the plaintext. The two random fields must come
/// from a cryptographically secure generator; they are parameters so that this crate does no I/O
/// and test vectors are reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealParams {
    /// Identifier of the document, authenticated with the header.
    pub document_id: DocumentId,
    /// Media type, e.g. from [`crate::media::MediaType::detect`].
    pub media_type: String,
    /// Exact plaintext length in bytes (the header commits to it up front).
    pub plaintext_len: u64,
    /// Plaintext bytes per chunk; [`super::DEFAULT_CHUNK_SIZE`] unless there is a reason.
    pub chunk_size: u32,
    /// 16 random bytes: salt for deriving this file's keys.
    pub key_salt: [u8; 16],
    /// 7 random bytes: the STREAM nonce prefix.
    pub nonce_prefix: [u8; 7],
}

/// The random values of one seal, cut from a single draw of [`SealRandomness::LEN`] bytes so that
/// the CLI and the server lay them out the same way: bytes `0..16` are the key salt, `16..23` the
/// nonce prefix, `23..39` the document id. This crate does no I/O; the caller draws the bytes
/// from the operating system's generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealRandomness {
    /// Salt for deriving the file's keys ([`SealParams::key_salt`]).
    pub key_salt: [u8; 16],
    /// The STREAM nonce prefix ([`SealParams::nonce_prefix`]).
    pub nonce_prefix: [u8; 7],
    /// A fresh document id, for callers that are not given one.
    pub document_id: DocumentId,
}

impl SealRandomness {
    /// Random bytes one seal takes.
    pub const LEN: usize = 16 + 7 + 16;

    /// Splits `LEN` bytes from a cryptographic random generator.
    #[must_use]
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        let mut key_salt = [0u8; 16];
        let mut nonce_prefix = [0u8; 7];
        let mut id = [0u8; 16];
        key_salt.copy_from_slice(&bytes[..16]);
        nonce_prefix.copy_from_slice(&bytes[16..23]);
        id.copy_from_slice(&bytes[23..]);
        Self {
            key_salt,
            nonce_prefix,
            document_id: DocumentId(id),
        }
    }
}

/// Seals the chunks of one envelope.
pub struct Sealer {
    header: Header,
    cipher: Aes256Gcm,
}

impl Sealer {
    /// Derives the file keys, builds and authenticates the header.
    pub fn new(key: &ContentKey, params: &SealParams) -> Result<Self, EnvelopeError> {
        let keys = FileKeys::derive(key, &params.key_salt);
        let mut bytes = Header::encode_unauthenticated(
            params.document_id,
            &params.media_type,
            params.plaintext_len,
            params.chunk_size,
            params.key_salt,
            params.nonce_prefix,
        )?;
        bytes.extend_from_slice(&keys.key_check);
        let mac = header_mac(&keys, &bytes);
        bytes.extend_from_slice(&mac);
        let header = Header::parse(&bytes).map_err(|e| {
            EnvelopeError::InvalidParameters(format!("sealer built an unreadable header: {e}"))
        })?;
        let cipher = Aes256Gcm::new((&*keys.payload).into());
        Ok(Self { header, cipher })
    }

    /// The authenticated header, to be written before the chunks.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Encrypts chunk `index` in place: `buf` holds exactly that chunk's plaintext on entry and,
    /// on return, the sealed chunk: file tag (8 bytes) ‖ ciphertext ‖ AES-GCM tag (16 bytes).
    pub fn seal_chunk(&self, index: u32, buf: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let expected =
            self.header
                .chunk_plaintext_len(index)
                .ok_or(EnvelopeError::ChunkIndexOutOfRange {
                    index,
                    count: self.header.chunk_count(),
                })?;
        if buf.len() != expected {
            return Err(EnvelopeError::ChunkLength {
                index,
                expected,
                actual: buf.len(),
            });
        }
        let nonce = Nonce::from(self.header.nonce(index));
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, self.header.as_bytes(), buf.as_mut_slice().into())
            .map_err(|_| EnvelopeError::InvalidParameters("chunk too long for AES-GCM".into()))?;
        buf.extend_from_slice(&tag);
        buf.splice(0..0, self.header.file_tag());
        Ok(())
    }
}

/// Opens the chunks of one envelope after checking its key and header.
pub struct Opener {
    header: Header,
    cipher: Aes256Gcm,
}

impl Opener {
    /// Parses the header at the start of `bytes`, checks that `key` is the right one (key check)
    /// and that the header is unmodified (HMAC-SHA256), both in constant time.
    pub fn new(key: &ContentKey, bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let header = Header::parse(bytes)?;
        let keys = FileKeys::derive(key, &header.key_salt);
        let raw = header.as_bytes();
        let check_at = raw.len() - MAC_LEN - KEY_CHECK_LEN;
        debug_assert!(check_at >= FIXED_LEN);
        let stored_check = &raw[check_at..check_at + KEY_CHECK_LEN];
        if !bool::from(stored_check.ct_eq(&keys.key_check)) {
            return Err(EnvelopeError::WrongKey);
        }
        let mac = header_mac(&keys, &raw[..raw.len() - MAC_LEN]);
        if !bool::from(raw[raw.len() - MAC_LEN..].ct_eq(&mac)) {
            return Err(EnvelopeError::HeaderTampered);
        }
        let cipher = Aes256Gcm::new((&*keys.payload).into());
        Ok(Self { header, cipher })
    }

    /// The verified header.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Checks the envelope's total length against the header, telling truncation from trailing
    /// data. Call it before opening chunks when the length is known (a file, a `Content-Length`).
    pub fn check_envelope_len(&self, actual: u64) -> Result<(), EnvelopeError> {
        let expected = self.header.envelope_len();
        match actual.cmp(&expected) {
            std::cmp::Ordering::Less => Err(EnvelopeError::Truncated { expected, actual }),
            std::cmp::Ordering::Greater => Err(EnvelopeError::TrailingData { expected, actual }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    /// Decrypts chunk `index` in place: `buf` holds the sealed chunk (file tag, ciphertext, tag)
    /// on entry and its plaintext on success. On failure `buf` holds no plaintext.
    pub fn open_chunk(&self, index: u32, buf: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let count = self.header.chunk_count();
        let expected = self
            .header
            .chunk_plaintext_len(index)
            .ok_or(EnvelopeError::ChunkIndexOutOfRange { index, count })?;
        if buf.len() != expected + CHUNK_OVERHEAD {
            return Err(EnvelopeError::ChunkLength {
                index,
                expected: expected + CHUNK_OVERHEAD,
                actual: buf.len(),
            });
        }
        if buf[..FILE_TAG_LEN] != self.header.file_tag() {
            return Err(EnvelopeError::ChunkFromOtherEnvelope { index });
        }
        buf.drain(..FILE_TAG_LEN);
        if self.try_open(index, buf) {
            return Ok(());
        }
        Err(match self.find_original_position(index, buf) {
            Some(sealed_as) => EnvelopeError::ChunkOutOfOrder {
                position: index,
                sealed_as,
            },
            None => EnvelopeError::ChunkTampered { index },
        })
    }

    /// One authenticated decryption attempt under position `index`; `buf` is left untouched on
    /// failure (AES-GCM checks the tag before decrypting).
    fn try_open(&self, index: u32, buf: &mut Vec<u8>) -> bool {
        let split = buf.len() - TAG_LEN;
        let Ok(tag) = Tag::try_from(&buf[split..]) else {
            return false;
        };
        let nonce = Nonce::from(self.header.nonce(index));
        let ok = self
            .cipher
            .decrypt_inout_detached(
                &nonce,
                self.header.as_bytes(),
                buf[..split].as_mut().into(),
                &tag,
            )
            .is_ok();
        if ok {
            buf.truncate(split);
        }
        ok
    }

    /// Looks for the position a failing chunk was sealed at, nearest positions first. Only
    /// full-size chunks can move between positions (the last one is shorter or flagged).
    fn find_original_position(&self, index: u32, ciphertext: &[u8]) -> Option<u32> {
        let count = self.header.chunk_count();
        let lo = index.saturating_sub(REORDER_SEARCH_RADIUS);
        let hi = index.saturating_add(REORDER_SEARCH_RADIUS).min(count - 1);
        let mut scratch = Vec::with_capacity(ciphertext.len());
        let mut candidates: Vec<u32> = (lo..=hi).filter(|&j| j != index).collect();
        candidates.sort_by_key(|&j| j.abs_diff(index));
        candidates.into_iter().find(|&j| {
            if self.header.chunk_plaintext_len(j).map(|n| n + TAG_LEN) != Some(ciphertext.len()) {
                return false;
            }
            scratch.clear();
            scratch.extend_from_slice(ciphertext);
            let found = self.try_open(j, &mut scratch);
            zeroize::Zeroize::zeroize(&mut scratch);
            found
        })
    }
}

/// HMAC-SHA256 of `bytes` under the file's header key.
fn header_mac(keys: &FileKeys, bytes: &[u8]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(keys.header.as_ref())
        .expect("HMAC accepts any key length");
    mac.update(bytes);
    mac.finalize().into_bytes().into()
}
