//! The envelope header: its byte layout, parsing and the chunk geometry it implies.
//!
//! Layout and rules: `docs/envelope.md#header`. Parsing here is purely structural; the key check
//! and the header MAC are verified by [`super::Opener::new`], which needs the content key.

use super::error::EnvelopeError;
use super::{CHUNK_OVERHEAD, FILE_TAG_LEN, MAGIC, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, VERSION};

/// Offset of the media-type length byte; the fixed part of the header ends here.
pub(crate) const FIXED_LEN: usize = 64;
/// Bytes after the media type: key check (16) and header MAC (32).
pub(crate) const TRAILER_LEN: usize = KEY_CHECK_LEN + MAC_LEN;
/// Length of the key check value.
pub(crate) const KEY_CHECK_LEN: usize = 16;
/// Length of the header MAC (HMAC-SHA256).
pub(crate) const MAC_LEN: usize = 32;
/// Longest allowed media type string.
pub const MAX_MEDIA_TYPE_LEN: usize = 127;
/// Bytes needed to learn a header's total length (magic, version, flags, length field).
pub const HEADER_PREFIX_LEN: usize = 12;

/// A 128-bit identifier naming the sealed document; it is authenticated with the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId(pub [u8; 16]);

impl DocumentId {
    /// Parses 32 hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() != 32 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

impl std::fmt::Display for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A parsed envelope header. Holding one does not mean it is authentic: only an [`super::Opener`]
/// built from it has checked the key and the MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub(crate) document_id: DocumentId,
    pub(crate) chunk_size: u32,
    pub(crate) plaintext_len: u64,
    pub(crate) key_salt: [u8; 16],
    pub(crate) nonce_prefix: [u8; 7],
    pub(crate) media_type: String,
    /// The exact header bytes, MAC included; used as associated data for every chunk.
    pub(crate) bytes: Vec<u8>,
}

impl Header {
    /// Reads the total header length from the first [`HEADER_PREFIX_LEN`] bytes, so that a
    /// streaming reader knows how much to read before calling [`Header::parse`].
    pub fn declared_len(prefix: &[u8]) -> Result<usize, EnvelopeError> {
        if prefix.len() < 8 || prefix[..8] != MAGIC {
            // Too short to hold the magic, or the wrong magic: either way not an envelope.
            if prefix.len() < 8 && MAGIC.starts_with(prefix) {
                return Err(EnvelopeError::HeaderTruncated {
                    needed: HEADER_PREFIX_LEN,
                    available: prefix.len(),
                });
            }
            return Err(EnvelopeError::NotAnEnvelope);
        }
        if prefix.len() < HEADER_PREFIX_LEN {
            return Err(EnvelopeError::HeaderTruncated {
                needed: HEADER_PREFIX_LEN,
                available: prefix.len(),
            });
        }
        if prefix[8] != VERSION {
            return Err(EnvelopeError::UnsupportedVersion(prefix[8]));
        }
        if prefix[9] != 0 {
            return Err(EnvelopeError::MalformedHeader(format!(
                "reserved flags byte is {:#04x}, must be 0",
                prefix[9]
            )));
        }
        let len = usize::from(u16::from_be_bytes([prefix[10], prefix[11]]));
        let min = FIXED_LEN + 1 + 1 + TRAILER_LEN;
        let max = FIXED_LEN + 1 + MAX_MEDIA_TYPE_LEN + TRAILER_LEN;
        if !(min..=max).contains(&len) {
            return Err(EnvelopeError::MalformedHeader(format!(
                "header length {len} is outside {min}..={max}"
            )));
        }
        Ok(len)
    }

    /// Parses a header from the start of `bytes` (which may continue with chunks).
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let len = Self::declared_len(bytes)?;
        if bytes.len() < len {
            return Err(EnvelopeError::HeaderTruncated {
                needed: len,
                available: bytes.len(),
            });
        }
        let h = &bytes[..len];
        let document_id = DocumentId(h[12..28].try_into().expect("16 bytes"));
        let chunk_size = u32::from_be_bytes(h[28..32].try_into().expect("4 bytes"));
        let plaintext_len = u64::from_be_bytes(h[32..40].try_into().expect("8 bytes"));
        let key_salt: [u8; 16] = h[40..56].try_into().expect("16 bytes");
        let nonce_prefix: [u8; 7] = h[56..63].try_into().expect("7 bytes");
        let media_len = usize::from(h[63]);
        if FIXED_LEN + media_len + TRAILER_LEN != len {
            return Err(EnvelopeError::MalformedHeader(format!(
                "media type length {media_len} does not agree with header length {len}"
            )));
        }
        let media_type = std::str::from_utf8(&h[FIXED_LEN..FIXED_LEN + media_len])
            .ok()
            .filter(|m| is_valid_media_type(m))
            .ok_or_else(|| {
                EnvelopeError::MalformedHeader(
                    "media type is not a lowercase type/subtype token".into(),
                )
            })?
            .to_owned();
        check_geometry(chunk_size, plaintext_len)?;
        Ok(Self {
            document_id,
            chunk_size,
            plaintext_len,
            key_salt,
            nonce_prefix,
            media_type,
            bytes: h.to_vec(),
        })
    }

    /// Builds the header bytes up to (not including) the key check; the caller appends the key
    /// check and MAC.
    pub(crate) fn encode_unauthenticated(
        document_id: DocumentId,
        media_type: &str,
        plaintext_len: u64,
        chunk_size: u32,
        key_salt: [u8; 16],
        nonce_prefix: [u8; 7],
    ) -> Result<Vec<u8>, EnvelopeError> {
        if !is_valid_media_type(media_type) {
            return Err(EnvelopeError::InvalidParameters(format!(
                "media type {media_type:?} is not a lowercase type/subtype token of at most {MAX_MEDIA_TYPE_LEN} bytes"
            )));
        }
        check_geometry(chunk_size, plaintext_len)
            .map_err(|e| EnvelopeError::InvalidParameters(e.to_string()))?;
        let media = media_type.as_bytes();
        let total = FIXED_LEN + media.len() + TRAILER_LEN;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(0);
        out.extend_from_slice(&u16::try_from(total).expect("bounded").to_be_bytes());
        out.extend_from_slice(&document_id.0);
        out.extend_from_slice(&chunk_size.to_be_bytes());
        out.extend_from_slice(&plaintext_len.to_be_bytes());
        out.extend_from_slice(&key_salt);
        out.extend_from_slice(&nonce_prefix);
        out.push(u8::try_from(media.len()).expect("bounded"));
        out.extend_from_slice(media);
        Ok(out)
    }

    /// The document id.
    #[must_use]
    pub fn document_id(&self) -> DocumentId {
        self.document_id
    }
    /// The media type recorded when sealing (detected from content, e.g. `application/pdf`).
    #[must_use]
    pub fn media_type(&self) -> &str {
        &self.media_type
    }
    /// Length of the plaintext in bytes.
    #[must_use]
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }
    /// Plaintext bytes per chunk (all chunks but the last are exactly this long).
    #[must_use]
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }
    /// The per-file random nonce prefix.
    #[must_use]
    pub fn nonce_prefix(&self) -> [u8; 7] {
        self.nonce_prefix
    }
    /// The per-file random salt for key derivation.
    #[must_use]
    pub fn key_salt(&self) -> [u8; 16] {
        self.key_salt
    }
    /// The exact header bytes (the associated data of every chunk).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Length of the header in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Always false: a header has at least its fixed fields. Present for API symmetry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Number of chunks: `max(1, ceil(plaintext_len / chunk_size))`.
    #[must_use]
    pub fn chunk_count(&self) -> u32 {
        chunk_count(self.plaintext_len, self.chunk_size).expect("checked when parsed")
    }

    /// Plaintext length of chunk `index`, or `None` past the end.
    #[must_use]
    pub fn chunk_plaintext_len(&self, index: u32) -> Option<usize> {
        let count = self.chunk_count();
        if index >= count {
            return None;
        }
        let cs = u64::from(self.chunk_size);
        let start = u64::from(index) * cs;
        let len = (self.plaintext_len - start).min(cs);
        Some(usize::try_from(len).expect("at most chunk size"))
    }

    /// Byte range of chunk `index` (ciphertext and tag) within the envelope, for random access
    /// and HTTP range requests.
    #[must_use]
    pub fn chunk_range(&self, index: u32) -> Option<std::ops::Range<u64>> {
        let len = self.chunk_plaintext_len(index)?;
        let stride = u64::from(self.chunk_size) + CHUNK_OVERHEAD as u64;
        let start = self.bytes.len() as u64 + u64::from(index) * stride;
        Some(start..start + len as u64 + CHUNK_OVERHEAD as u64)
    }

    /// The file tag every chunk of this envelope starts with: the first 8 bytes of the header
    /// MAC. It lets a reader name a chunk copied in from another envelope.
    #[must_use]
    pub fn file_tag(&self) -> [u8; FILE_TAG_LEN] {
        let at = self.bytes.len() - MAC_LEN;
        self.bytes[at..at + FILE_TAG_LEN]
            .try_into()
            .expect("the MAC is longer than the file tag")
    }

    /// Total envelope length in bytes: header + plaintext + 24 bytes per chunk.
    #[must_use]
    pub fn envelope_len(&self) -> u64 {
        self.bytes.len() as u64
            + self.plaintext_len
            + u64::from(self.chunk_count()) * CHUNK_OVERHEAD as u64
    }

    /// The 12-byte AES-GCM nonce of chunk `index`: prefix ‖ counter (big-endian) ‖ last flag.
    pub(crate) fn nonce(&self, index: u32) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[..7].copy_from_slice(&self.nonce_prefix);
        nonce[7..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(index + 1 == self.chunk_count());
        nonce
    }
}

/// Checks chunk size bounds and that the chunk counter cannot overflow.
fn check_geometry(chunk_size: u32, plaintext_len: u64) -> Result<(), EnvelopeError> {
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(EnvelopeError::MalformedHeader(format!(
            "chunk size {chunk_size} is outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}"
        )));
    }
    chunk_count(plaintext_len, chunk_size)
        .map(|_| ())
        .ok_or_else(|| {
            EnvelopeError::MalformedHeader(format!(
                "plaintext length {plaintext_len} needs more than 2^32 chunks of {chunk_size} bytes"
            ))
        })
}

/// `max(1, ceil(len / chunk))`, or `None` if that does not fit the 32-bit counter.
fn chunk_count(plaintext_len: u64, chunk_size: u32) -> Option<u32> {
    let n = plaintext_len.div_ceil(u64::from(chunk_size)).max(1);
    u32::try_from(n).ok()
}

/// A media type as the header stores it: `type/subtype`, lowercase ASCII letters, digits and
/// `+ - .`, at most [`MAX_MEDIA_TYPE_LEN`] bytes.
fn is_valid_media_type(m: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c);
    let Some((ty, sub)) = m.split_once('/') else {
        return false;
    };
    m.len() <= MAX_MEDIA_TYPE_LEN
        && !ty.is_empty()
        && !sub.is_empty()
        && ty.chars().all(ok_char)
        && sub.chars().all(ok_char)
}
