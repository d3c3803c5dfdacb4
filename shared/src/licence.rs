//! The licence: the server's signed answer that lets one viewer open one document for a short lease.
//!
//! Specified in `docs/licence.md`; section anchors are cited in comments. A licence carries the
//! document id, a session id, the recipient, the watermark payload (the 48-bit session code the
//! forensic watermark encodes), permissions, issue time and lease expiry, the viewer's ephemeral
//! X25519 public key, and the document's content key sealed to that key with HPKE (RFC 9180 base
//! mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM). Everything is signed with the
//! server's Ed25519 key.
//!
//! The encoding is a fixed, length-prefixed binary layout rather than JSON so that there is
//! exactly one byte string per licence: what is signed is what is parsed, with no
//! canonicalisation step for an implementation to get wrong. The parser is strict (no trailing
//! bytes, no unknown permission bits, no unknown version) because a viewer must refuse what it
//! does not understand.
//!
//! This module does no I/O and reads no clock or system randomness: callers pass `now` and the
//! 32 random bytes HPKE's encapsulation needs, so it runs unchanged in the wasm viewer.
//!
//! ```
//! use veilmark_shared::envelope::{ContentKey, DocumentId};
//! use veilmark_shared::licence::*;
//! let server = ServerKey::from_seed([1; 32]);
//! let viewer = ViewerKey::from_seed([2; 32]);
//! let terms = LicenceTerms {
//!     document_id: DocumentId([3; 16]),
//!     session_id: SessionId([4; 16]),
//!     session_code: SessionCode::new(0x1234_5678_9abc).unwrap(),
//!     permissions: Permissions::VIEW,
//!     issued_at: 1_800_000_000,
//!     lease_expires_at: 1_800_000_060,
//!     viewer_key: viewer.public_key(),
//!     recipient: "alice@supplier.example".into(),
//! };
//! let bytes = issue(&terms, &ContentKey::from_bytes([5; 32]), &server, [6; 32]).unwrap();
//! let licence = Licence::verify(&bytes, &server.verifying_key(), 1_800_000_010).unwrap();
//! assert_eq!(licence.open_content_key(&viewer).unwrap().as_bytes(), &[5; 32]);
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::envelope::{ContentKey, DocumentId};

/// The 4 magic bytes every licence starts with (`docs/licence.md#layout`).
pub const MAGIC: [u8; 4] = *b"VMLC";
/// The licence format version this crate writes and reads.
pub const VERSION: u8 = 1;
/// The only cipher suite of version 1: HPKE DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
/// AES-256-GCM, Ed25519 signature.
pub const SUITE: u8 = 1;
/// Prefix of the message the server signs: `SIGNATURE_CONTEXT ‖ licence bytes before the signature`.
pub const SIGNATURE_CONTEXT: &[u8] = b"veilmark/licence/v1/signature";
/// HPKE `info` string for sealing the content key.
pub const HPKE_INFO: &[u8] = b"veilmark/licence/v1/content-key";
/// Longest recipient string, in bytes (an e-mail address is at most 320 characters).
pub const MAX_RECIPIENT_LEN: usize = 320;
/// Licences issued more than this many seconds in the viewer's future are refused (clock skew).
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// Bytes of the fixed part before the recipient string.
const FIXED_LEN: usize = 100;
/// HPKE encapsulated key length (X25519).
const ENC_LEN: usize = 32;
/// Sealed content key length: 32-byte key and 16-byte AES-GCM tag.
const SEALED_KEY_LEN: usize = ContentKey::LEN + 16;
/// Ed25519 signature length.
const SIGNATURE_LEN: usize = 64;

/// Why a licence was refused. Every variant names something a viewer or operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LicenceError {
    /// Fewer bytes than the layout requires.
    #[error("licence truncated: needs {needed} bytes, has {available}")]
    Truncated {
        /// Bytes the layout requires.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// Bytes after the signature.
    #[error("licence has {0} trailing bytes after its signature")]
    TrailingBytes(usize),
    /// Does not start with `VMLC`.
    #[error("not a Veilmark licence (bad magic)")]
    NotALicence,
    /// A version this viewer does not know.
    #[error("licence version {0} is not supported (this viewer reads version 1)")]
    UnsupportedVersion(u8),
    /// A cipher suite this viewer does not know.
    #[error("licence cipher suite {0} is not supported")]
    UnsupportedSuite(u8),
    /// Permission bits this viewer does not understand; refusing is the safe answer.
    #[error("licence grants unknown permissions {0:#010x}")]
    UnknownPermissions(u32),
    /// Recipient empty, too long or not UTF-8.
    #[error("licence recipient is invalid: {0}")]
    BadRecipient(&'static str),
    /// Lease ends before it starts.
    #[error("lease expiry {expires_at} is not after issue time {issued_at}")]
    LeaseInverted {
        /// Issue time (unix seconds).
        issued_at: u64,
        /// Lease expiry (unix seconds).
        expires_at: u64,
    },
    /// The signature does not verify under the server key: forged, altered or re-signed.
    #[error("licence signature does not verify under the server's key")]
    BadSignature,
    /// The server key given to the verifier is not a valid Ed25519 key.
    #[error("server verifying key is not a valid Ed25519 point")]
    BadServerKey,
    /// The lease is over; the viewer must renew or stop showing the document.
    #[error("lease expired at {expired_at} (now {now})")]
    Expired {
        /// Lease expiry (unix seconds).
        expired_at: u64,
        /// The time the caller passed.
        now: u64,
    },
    /// Issued in the future beyond the allowed clock skew.
    #[error("licence issued at {issued_at}, more than {MAX_CLOCK_SKEW_SECS} s after now ({now})")]
    NotYetValid {
        /// Issue time (unix seconds).
        issued_at: u64,
        /// The time the caller passed.
        now: u64,
    },
    /// The licence was issued to another viewer key.
    #[error("licence was issued to another viewer key")]
    WrongViewerKey,
    /// HPKE refused to seal (bad viewer public key).
    #[error("cannot seal the content key to the viewer's public key")]
    BadViewerKey,
    /// HPKE decapsulation or AES-GCM open failed.
    #[error("content key does not unwrap with this viewer key")]
    KeyUnwrapFailed,
    /// The session code field uses more than the 48 bits a session code has.
    #[error("licence session code {0:#x} does not fit 48 bits")]
    SessionCodeTooLarge(u64),
}

/// What the licence allows (`docs/licence.md#permissions`). Unknown bits make a licence invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permissions(pub u32);

impl Permissions {
    /// Display the document.
    pub const VIEW: Self = Self(1);
    /// Use the 3D measuring tool.
    pub const MEASURE: Self = Self(2);
    /// Every bit version 1 defines.
    pub const KNOWN: u32 = 0b11;

    /// Whether every bit of `other` is granted.
    #[must_use]
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two permission sets.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// A 128-bit viewing-session id, random per licence grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; 16]);

impl SessionId {
    /// Parses 32 hexadecimal digits.
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        DocumentId::from_hex(text).map(|d| Self(d.0))
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        DocumentId(self.0).fmt(f)
    }
}

/// The watermark payload, the one session code type (48 bits; the licence field is 64 bits wide
/// with its top 16 bits zero).
pub use crate::watermark::SessionCode;

/// The clear-text, signed fields of a licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceTerms {
    /// The document this licence opens.
    pub document_id: DocumentId,
    /// The viewing session.
    pub session_id: SessionId,
    /// The watermark payload for this session.
    pub session_code: SessionCode,
    /// What the viewer may do.
    pub permissions: Permissions,
    /// Issue time, unix seconds.
    pub issued_at: u64,
    /// End of the lease, unix seconds; the viewer wipes key and pixels at this time.
    pub lease_expires_at: u64,
    /// The viewer's ephemeral X25519 public key the content key is sealed to.
    pub viewer_key: [u8; 32],
    /// Who the link was shared with (an e-mail address), shown in the visible watermark.
    pub recipient: String,
}

/// The server's Ed25519 signing key. Wiped on drop; never printed by `Debug`.
pub struct ServerKey(SigningKey);

impl ServerKey {
    /// Builds the key from its 32-byte seed (the secret the server keeps in its data directory).
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The public key viewers verify licences with.
    #[must_use]
    pub fn verifying_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// A viewer's ephemeral X25519 key pair, derived from 32 random bytes with RFC 9180 `DeriveKeyPair`.
pub struct ViewerKey {
    secret: <X25519HkdfSha256 as Kem>::PrivateKey,
    public: [u8; 32],
}

impl ViewerKey {
    /// Derives the key pair from 32 bytes of fresh randomness.
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let (secret, public) = X25519HkdfSha256::derive_keypair(&seed);
        let public = public.to_bytes().into();
        Self { secret, public }
    }

    /// The public key to send with a licence request.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }
}

impl std::fmt::Debug for ViewerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewerKey(public ")?;
        for b in self.public {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// A parsed licence whose signature has been checked (only [`Licence::verify`] builds one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    /// The signed clear-text fields.
    pub terms: LicenceTerms,
    enc: [u8; ENC_LEN],
    sealed_key: [u8; SEALED_KEY_LEN],
}

impl Licence {
    /// Parses `bytes`, checks the signature under `server_key` and the lease against `now`
    /// (unix seconds). `docs/licence.md#verification` lists the checks in order.
    pub fn verify(bytes: &[u8], server_key: &[u8; 32], now: u64) -> Result<Self, LicenceError> {
        let licence = Self::verify_signature(bytes, server_key)?;
        let t = &licence.terms;
        if now >= t.lease_expires_at {
            return Err(LicenceError::Expired {
                expired_at: t.lease_expires_at,
                now,
            });
        }
        if t.issued_at > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(LicenceError::NotYetValid {
                issued_at: t.issued_at,
                now,
            });
        }
        Ok(licence)
    }

    /// Parses `bytes` and checks the signature, ignoring time (for audit tools and tests).
    pub fn verify_signature(bytes: &[u8], server_key: &[u8; 32]) -> Result<Self, LicenceError> {
        let (licence, signed_len) = parse(bytes)?;
        let key = VerifyingKey::from_bytes(server_key).map_err(|_| LicenceError::BadServerKey)?;
        let signature = Signature::from_bytes(
            bytes[signed_len..]
                .try_into()
                .expect("parse checked the length"),
        );
        key.verify_strict(&signed_message(&bytes[..signed_len]), &signature)
            .map_err(|_| LicenceError::BadSignature)?;
        Ok(licence)
    }

    /// Unwraps the content key with the viewer's secret key (`docs/licence.md#content-key`).
    pub fn open_content_key(&self, viewer: &ViewerKey) -> Result<ContentKey, LicenceError> {
        if viewer.public != self.terms.viewer_key {
            return Err(LicenceError::WrongViewerKey);
        }
        let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&self.enc)
            .map_err(|_| LicenceError::KeyUnwrapFailed)?;
        let key = Zeroizing::new(
            hpke::single_shot_open::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
                &OpModeR::Base,
                &viewer.secret,
                &enc,
                HPKE_INFO,
                &self.sealed_key,
                &encode_terms(&self.terms),
            )
            .map_err(|_| LicenceError::KeyUnwrapFailed)?,
        );
        let bytes: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| LicenceError::KeyUnwrapFailed)?;
        Ok(ContentKey::from_bytes(bytes))
    }
}

/// Issues a licence: seals `content_key` to `terms.viewer_key`, appends everything and signs it.
/// `encap_randomness` must be 32 fresh random bytes (HPKE's ephemeral key); reusing them for the
/// same viewer key reuses the HPKE key schedule.
pub fn issue(
    terms: &LicenceTerms,
    content_key: &ContentKey,
    server_key: &ServerKey,
    encap_randomness: [u8; 32],
) -> Result<Vec<u8>, LicenceError> {
    check_terms(terms)?;
    let aad = encode_terms(terms);
    let viewer = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&terms.viewer_key)
        .map_err(|_| LicenceError::BadViewerKey)?;
    let mut rng = SeededRng::new(encap_randomness);
    let (enc, sealed) = hpke::single_shot_seal_with_rng::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &viewer,
        HPKE_INFO,
        content_key.as_bytes(),
        &aad,
        &mut rng,
    )
    .map_err(|_| LicenceError::BadViewerKey)?;
    let mut out = aad;
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&sealed);
    let signature = server_key.0.sign(&signed_message(&out));
    out.extend_from_slice(&signature.to_bytes());
    Ok(out)
}

/// `SIGNATURE_CONTEXT ‖ body` (`docs/licence.md#signature`).
fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNATURE_CONTEXT.len() + body.len());
    msg.extend_from_slice(SIGNATURE_CONTEXT);
    msg.extend_from_slice(body);
    msg
}

fn check_terms(t: &LicenceTerms) -> Result<(), LicenceError> {
    if t.recipient.is_empty() {
        return Err(LicenceError::BadRecipient("empty"));
    }
    if t.recipient.len() > MAX_RECIPIENT_LEN {
        return Err(LicenceError::BadRecipient("longer than 320 bytes"));
    }
    if t.permissions.0 & !Permissions::KNOWN != 0 {
        return Err(LicenceError::UnknownPermissions(t.permissions.0));
    }
    if t.lease_expires_at <= t.issued_at {
        return Err(LicenceError::LeaseInverted {
            issued_at: t.issued_at,
            expires_at: t.lease_expires_at,
        });
    }
    Ok(())
}

/// The terms part of the layout (`docs/licence.md#layout`, offsets 0 to 100 + n); also the HPKE
/// associated data, so the sealed key cannot be moved to another licence.
fn encode_terms(t: &LicenceTerms) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        FIXED_LEN + t.recipient.len() + ENC_LEN + SEALED_KEY_LEN + SIGNATURE_LEN,
    );
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(SUITE);
    out.extend_from_slice(&t.document_id.0);
    out.extend_from_slice(&t.session_id.0);
    out.extend_from_slice(&t.session_code.get().to_be_bytes());
    out.extend_from_slice(&t.permissions.0.to_be_bytes());
    out.extend_from_slice(&t.issued_at.to_be_bytes());
    out.extend_from_slice(&t.lease_expires_at.to_be_bytes());
    out.extend_from_slice(&t.viewer_key);
    let len = u16::try_from(t.recipient.len()).expect("checked against MAX_RECIPIENT_LEN");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(t.recipient.as_bytes());
    out
}

/// Strict structural parse; returns the licence and the length of the signed part.
fn parse(bytes: &[u8]) -> Result<(Licence, usize), LicenceError> {
    let need = |needed: usize| {
        if bytes.len() < needed {
            Err(LicenceError::Truncated {
                needed,
                available: bytes.len(),
            })
        } else {
            Ok(())
        }
    };
    need(MAGIC.len())?;
    if bytes[..4] != MAGIC {
        return Err(LicenceError::NotALicence);
    }
    need(FIXED_LEN)?;
    if bytes[4] != VERSION {
        return Err(LicenceError::UnsupportedVersion(bytes[4]));
    }
    if bytes[5] != SUITE {
        return Err(LicenceError::UnsupportedSuite(bytes[5]));
    }
    let arr16 = |at: usize| -> [u8; 16] { bytes[at..at + 16].try_into().expect("16 bytes") };
    let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let recipient_len = usize::from(u16::from_be_bytes([bytes[98], bytes[99]]));
    if recipient_len == 0 {
        return Err(LicenceError::BadRecipient("empty"));
    }
    if recipient_len > MAX_RECIPIENT_LEN {
        return Err(LicenceError::BadRecipient("longer than 320 bytes"));
    }
    let terms_end = FIXED_LEN + recipient_len;
    let signed_len = terms_end + ENC_LEN + SEALED_KEY_LEN;
    let total = signed_len + SIGNATURE_LEN;
    need(total)?;
    if bytes.len() > total {
        return Err(LicenceError::TrailingBytes(bytes.len() - total));
    }
    let recipient = std::str::from_utf8(&bytes[FIXED_LEN..terms_end])
        .map_err(|_| LicenceError::BadRecipient("not UTF-8"))?
        .to_owned();
    let terms = LicenceTerms {
        document_id: DocumentId(arr16(6)),
        session_id: SessionId(arr16(22)),
        session_code: SessionCode::new(u64_at(38))
            .map_err(|_| LicenceError::SessionCodeTooLarge(u64_at(38)))?,
        permissions: Permissions(u32::from_be_bytes(
            bytes[46..50].try_into().expect("4 bytes"),
        )),
        issued_at: u64_at(50),
        lease_expires_at: u64_at(58),
        viewer_key: bytes[66..98].try_into().expect("32 bytes"),
        recipient,
    };
    check_terms(&terms)?;
    let licence = Licence {
        terms,
        enc: bytes[terms_end..terms_end + ENC_LEN]
            .try_into()
            .expect("32 bytes"),
        sealed_key: bytes[terms_end + ENC_LEN..signed_len]
            .try_into()
            .expect("48 bytes"),
    };
    Ok((licence, signed_len))
}

/// A deterministic generator fed by the caller's 32 random bytes, so that HPKE's encapsulation
/// needs no system randomness inside this crate (and test vectors are reproducible). Output block
/// `i` is `SHA-256("veilmark/licence/v1/encap-rng" ‖ seed ‖ i)`, `i` a big-endian u64.
struct SeededRng {
    seed: Zeroizing<[u8; 32]>,
    counter: u64,
    block: Zeroizing<[u8; 32]>,
    used: usize,
}

impl SeededRng {
    fn new(seed: [u8; 32]) -> Self {
        Self {
            seed: Zeroizing::new(seed),
            counter: 0,
            block: Zeroizing::new([0; 32]),
            used: 32,
        }
    }
}

impl TryRng for SeededRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            if self.used == 32 {
                let mut h = Sha256::new();
                h.update(b"veilmark/licence/v1/encap-rng");
                h.update(self.seed.as_ref());
                h.update(self.counter.to_be_bytes());
                self.block.copy_from_slice(&h.finalize());
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(viewer: &ViewerKey) -> LicenceTerms {
        LicenceTerms {
            document_id: DocumentId([3; 16]),
            session_id: SessionId([4; 16]),
            session_code: SessionCode::new(42).unwrap(),
            permissions: Permissions::VIEW,
            issued_at: 1000,
            lease_expires_at: 1060,
            viewer_key: viewer.public_key(),
            recipient: "a@b.example".into(),
        }
    }

    #[test]
    fn round_trip_and_every_bit_flip_is_refused() {
        let server = ServerKey::from_seed([1; 32]);
        let viewer = ViewerKey::from_seed([2; 32]);
        let bytes = issue(
            &terms(&viewer),
            &ContentKey::from_bytes([9; 32]),
            &server,
            [7; 32],
        )
        .unwrap();
        let lic = Licence::verify(&bytes, &server.verifying_key(), 1001).unwrap();
        assert_eq!(lic.terms, terms(&viewer));
        assert_eq!(lic.open_content_key(&viewer).unwrap().as_bytes(), &[9; 32]);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(
                Licence::verify(&bad, &server.verifying_key(), 1001).is_err(),
                "flip at {i}"
            );
        }
    }

    #[test]
    fn expiry_wrong_key_and_resigning_are_refused() {
        let server = ServerKey::from_seed([1; 32]);
        let other = ServerKey::from_seed([8; 32]);
        let viewer = ViewerKey::from_seed([2; 32]);
        let key = ContentKey::from_bytes([9; 32]);
        let bytes = issue(&terms(&viewer), &key, &server, [7; 32]).unwrap();
        assert!(matches!(
            Licence::verify(&bytes, &server.verifying_key(), 1060),
            Err(LicenceError::Expired { .. })
        ));
        let forged = issue(&terms(&viewer), &key, &other, [7; 32]).unwrap();
        assert_eq!(
            Licence::verify(&forged, &server.verifying_key(), 1001),
            Err(LicenceError::BadSignature)
        );
        let lic = Licence::verify(&bytes, &server.verifying_key(), 1001).unwrap();
        assert_eq!(
            lic.open_content_key(&ViewerKey::from_seed([3; 32]))
                .unwrap_err(),
            LicenceError::WrongViewerKey
        );
    }
}
