//! Content keys and the per-file keys derived from them (`docs/envelope.md#keys`).
//!
//! A content key is random per document and is what the server wraps and the licence carries.
//! Each envelope derives its own payload key, header-MAC key and key check from the content key
//! and a per-file random salt with HKDF-SHA256, so that reusing a content key for several files
//! (as `veilmark envelope seal --key-file` allows) never reuses an AES-GCM key/nonce pair.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// HKDF `info` for the AES-256-GCM payload key.
pub(crate) const INFO_PAYLOAD: &[u8] = b"veilmark/envelope/v1/payload";
/// HKDF `info` for the HMAC-SHA256 header key.
pub(crate) const INFO_HEADER: &[u8] = b"veilmark/envelope/v1/header";
/// HKDF `info` for the 16-byte key check value.
pub(crate) const INFO_KEY_CHECK: &[u8] = b"veilmark/envelope/v1/key-check";

/// A 256-bit content key. Wiped from memory when dropped; never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ContentKey([u8; 32]);

impl ContentKey {
    /// Length of a content key in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 key bytes (from a CSPRNG, a key file or an unwrapped licence).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes. Handle with care: copies are not zeroized for you.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(<redacted>)")
    }
}

/// The keys one envelope derives from its content key and salt.
pub(crate) struct FileKeys {
    pub(crate) payload: Zeroizing<[u8; 32]>,
    pub(crate) header: Zeroizing<[u8; 32]>,
    pub(crate) key_check: [u8; 16],
}

impl FileKeys {
    /// HKDF-SHA256 with the salt from the header and the content key as input keying material.
    pub(crate) fn derive(key: &ContentKey, salt: &[u8; 16]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(salt), key.as_bytes());
        let mut payload = Zeroizing::new([0u8; 32]);
        let mut header = Zeroizing::new([0u8; 32]);
        let mut key_check = [0u8; 16];
        hk.expand(INFO_PAYLOAD, payload.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hk.expand(INFO_HEADER, header.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hk.expand(INFO_KEY_CHECK, &mut key_check)
            .expect("16 bytes is a valid HKDF-SHA256 output length");
        Self {
            payload,
            header,
            key_check,
        }
    }
}
