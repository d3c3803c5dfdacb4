//! Why an envelope was refused.
//!
//! Every way a sealed file can be damaged or tampered with maps to its own variant, so that a
//! user (and a test vector) can tell a wrong key from a truncated download from a forged header.
//! Each variant has a stable machine-readable [`EnvelopeError::code`], used by the test vectors in
//! `docs/vectors/envelope/` and by `veilmark envelope open --json`.

use thiserror::Error;

/// An envelope could not be sealed, parsed or opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The bytes do not start with the envelope magic `VEILMARK`: this is not a sealed file.
    #[error("not a Veilmark envelope (the file does not start with the magic bytes \"VEILMARK\")")]
    NotAnEnvelope,

    /// The envelope was written by a newer (or unknown) format version.
    #[error("unsupported envelope format version {0} (this build reads version 1)")]
    UnsupportedVersion(u8),

    /// The header is shorter than its own length field says, or ends before the fixed fields.
    #[error(
        "the envelope header is incomplete: {needed} bytes are needed, {available} are present"
    )]
    HeaderTruncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes that were available.
        available: usize,
    },

    /// A header field holds a value the format does not allow (see `docs/envelope.md#header`).
    #[error("malformed envelope header: {0}")]
    MalformedHeader(String),

    /// The key's check value does not match: the wrong content key was supplied, or the key salt
    /// or key check in the header were altered.
    #[error(
        "the key does not open this envelope (wrong key, or the header's key salt was altered)"
    )]
    WrongKey,

    /// The header's MAC does not verify although the key is right: a header field (document id,
    /// media type, length, chunk size, nonce prefix) was changed after sealing.
    #[error("the envelope header was modified after sealing (header MAC mismatch)")]
    HeaderTampered,

    /// The envelope is shorter than the header says: the download or copy was cut off, or whole
    /// chunks were removed.
    #[error(
        "the envelope is truncated: expected {expected} bytes, found {actual} (chunks are missing)"
    )]
    Truncated {
        /// Length the header implies.
        expected: u64,
        /// Length actually present.
        actual: u64,
    },

    /// Bytes follow the last chunk: something was appended to the file.
    #[error(
        "the envelope has {extra} unexpected bytes after its last chunk (expected {expected} bytes in all)",
        extra = actual - expected
    )]
    TrailingData {
        /// Length the header implies.
        expected: u64,
        /// Length actually present.
        actual: u64,
    },

    /// A chunk authenticates, but under another position: the chunks were reordered.
    #[error("chunk {position} is chunk {sealed_as} of this file: the chunks were reordered")]
    ChunkOutOfOrder {
        /// Where the chunk was found.
        position: u32,
        /// The position it was sealed at.
        sealed_as: u32,
    },

    /// A chunk starts with another envelope's file tag: it was copied in from a different file
    /// (or its first 8 bytes were overwritten).
    #[error("chunk {index} belongs to another envelope: its file tag does not match this header")]
    ChunkFromOtherEnvelope {
        /// The chunk's position.
        index: u32,
    },

    /// A chunk carries this envelope's file tag but fails authentication under every nearby
    /// position: its bytes were modified.
    #[error("chunk {index} failed authentication: its bytes were modified")]
    ChunkTampered {
        /// The chunk's position.
        index: u32,
    },

    /// A caller passed a chunk index past the end of the envelope.
    #[error("chunk {index} does not exist: the envelope has {count} chunks")]
    ChunkIndexOutOfRange {
        /// The requested index.
        index: u32,
        /// How many chunks the envelope has.
        count: u32,
    },

    /// A caller passed a chunk of the wrong size for its position (a programming error when
    /// sealing, or a damaged buffer when opening).
    #[error("chunk {index} has {actual} bytes, but {expected} are expected at that position")]
    ChunkLength {
        /// The chunk's position.
        index: u32,
        /// Expected length in bytes.
        expected: usize,
        /// Length supplied.
        actual: usize,
    },

    /// The parameters given to the sealer are out of range.
    #[error("invalid sealing parameters: {0}")]
    InvalidParameters(String),
}

impl EnvelopeError {
    /// A short, stable identifier for the error, used in test vectors and JSON output.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnEnvelope => "not-an-envelope",
            Self::UnsupportedVersion(_) => "unsupported-version",
            Self::HeaderTruncated { .. } => "header-truncated",
            Self::MalformedHeader(_) => "malformed-header",
            Self::WrongKey => "wrong-key",
            Self::HeaderTampered => "header-tampered",
            Self::Truncated { .. } => "truncated",
            Self::TrailingData { .. } => "trailing-data",
            Self::ChunkOutOfOrder { .. } => "chunk-out-of-order",
            Self::ChunkFromOtherEnvelope { .. } => "chunk-from-other-envelope",
            Self::ChunkTampered { .. } => "chunk-tampered",
            Self::ChunkIndexOutOfRange { .. } => "chunk-index-out-of-range",
            Self::ChunkLength { .. } => "chunk-length",
            Self::InvalidParameters(_) => "invalid-parameters",
        }
    }

    /// Whether the error means the envelope is damaged or forged (as opposed to a caller error).
    #[must_use]
    pub fn is_integrity_failure(&self) -> bool {
        !matches!(
            self,
            Self::ChunkIndexOutOfRange { .. } | Self::InvalidParameters(_)
        )
    }
}
