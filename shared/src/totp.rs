//! Time-based one-time passwords (TOTP, RFC 6238) and recovery codes: the second factor of an
//! owner's sign-in.
//!
//! Specified in `docs/totp.md`; section anchors are cited in comments. The parameters are the
//! ones every authenticator app understands without asking: HMAC-SHA-1, 6 digits, 30-second
//! steps from the Unix epoch, a 20-byte secret shown as base32. Nothing here is configurable,
//! so there is no parameter for a server and an app to disagree on.
//!
//! The server keeps, per owner, the secret and the last time step a code was accepted for
//! ([`verify`] refuses that step and every earlier one, so a code works once), and the SHA-256 of
//! each unused recovery code ([`recovery_code_hash`]); never a recovery code itself.
//!
//! This module does no I/O and reads no clock or system randomness: callers pass the time and the
//! random bytes, so the same code runs in tests with fixed values. Rate-limiting guesses is the
//! caller's job: a 6-digit code accepted in a window of three steps falls to about 333,000
//! guesses.
//!
//! ```
//! use veilmark_shared::totp::{self, TotpSecret};
//! let secret = TotpSecret::from_bytes(*b"12345678901234567890");
//! assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
//! assert_eq!(totp::totp_at(&secret, 59), 287_082);
//! let step = totp::verify(&secret, "287 082", 59, None).unwrap();
//! assert_eq!(step, 1);
//! // The same code again is a replay.
//! assert_eq!(totp::verify(&secret, "287082", 59, Some(step)), None);
//! ```

use hmac::{KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Digits in a code (`docs/totp.md#parameters`).
pub const DIGITS: usize = 6;
/// Seconds per time step; steps count from the Unix epoch (T0 = 0).
pub const PERIOD_SECS: u64 = 30;
/// Steps accepted either side of the current one, for clocks that disagree a little.
pub const SKEW_STEPS: u64 = 1;
/// Bytes in a TOTP secret (160 bits, the length RFC 4226 recommends for HMAC-SHA-1).
pub const SECRET_LEN: usize = 20;
/// Bytes of randomness in a recovery code (80 bits: 16 base32 letters).
pub const RECOVERY_CODE_RANDOM_LEN: usize = 10;
/// Domain-separation prefix of [`recovery_code_hash`] (`docs/totp.md#recovery-codes`).
pub const RECOVERY_CODE_HASH_PREFIX: &[u8] = b"veilmark/recovery-code/v1\0";

/// 10^DIGITS: codes are the truncated HMAC value modulo this.
const MODULUS: u32 = 1_000_000;
/// RFC 4648 §6 base32 alphabet.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Letters in a recovery code's normal form.
const RECOVERY_CODE_LETTERS: usize = 16;

/// Why a base32 string was refused (a TOTP secret typed or pasted by a person, or a test vector).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base32Error {
    /// A character outside A–Z, a–z, 2–7, whitespace and trailing `=` padding.
    #[error(
        "{character:?} at position {position} is not base32 (letters A–Z, digits 2–7, `=` only at the end)"
    )]
    InvalidCharacter {
        /// The refused character.
        character: char,
        /// Its position in the input, counted in characters from 0.
        position: usize,
    },
    /// A number of letters no whole number of bytes encodes to (1, 3 or 6 more than a multiple
    /// of 8): letters were lost or added.
    #[error("{letters} base32 letters cannot encode whole bytes; a letter is missing or extra")]
    BadLength {
        /// Letters in the input, not counting whitespace and padding.
        letters: usize,
    },
    /// The last letter sets bits beyond the last byte: not the encoding of any byte string.
    #[error("the last base32 letter sets bits beyond the last byte; the text is damaged")]
    NonZeroTrailingBits,
    /// Valid base32 of the wrong length for a TOTP secret.
    #[error("a TOTP secret is {SECRET_LEN} bytes (32 base32 letters); this is {bytes} bytes")]
    WrongSecretLength {
        /// Bytes the input decodes to.
        bytes: usize,
    },
}

/// Encodes bytes as RFC 4648 base32 (upper case, no `=` padding).
#[must_use]
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(letter(buffer >> bits));
        }
    }
    if bits > 0 {
        out.push(letter(buffer << (5 - bits)));
    }
    buffer.zeroize();
    out
}

/// Decodes RFC 4648 base32, as people type it: lower case is accepted, whitespace is ignored and
/// `=` padding is optional at the end (and refused elsewhere). The encoding must be canonical
/// (no bits set beyond the last byte).
///
/// # Errors
/// [`Base32Error::InvalidCharacter`], [`Base32Error::BadLength`] or
/// [`Base32Error::NonZeroTrailingBits`].
pub fn base32_decode(text: &str) -> Result<Vec<u8>, Base32Error> {
    decode(text).map(|bytes| bytes.to_vec())
}

/// [`base32_decode`] into memory that is wiped when dropped.
fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, Base32Error> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    let mut letters = 0usize;
    let mut padding = false;
    for (position, character) in text.chars().enumerate() {
        if character.is_ascii_whitespace() {
            continue;
        }
        if character == '=' {
            padding = true;
            continue;
        }
        let value = match (padding, character.to_ascii_uppercase()) {
            (false, upper @ 'A'..='Z') => u32::from(upper) - u32::from('A'),
            (false, digit @ '2'..='7') => u32::from(digit) - u32::from('2') + 26,
            _ => {
                return Err(Base32Error::InvalidCharacter {
                    character,
                    position,
                });
            }
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        letters += 1;
        if bits >= 8 {
            bits -= 8;
            out.push(low_byte(buffer >> bits));
        }
    }
    let leftover = buffer & ((1 << bits) - 1);
    buffer.zeroize();
    if matches!(letters % 8, 1 | 3 | 6) {
        return Err(Base32Error::BadLength { letters });
    }
    if leftover != 0 {
        return Err(Base32Error::NonZeroTrailingBits);
    }
    Ok(out)
}

/// The base32 letter for the low 5 bits of `value`.
fn letter(value: u32) -> char {
    char::from(ALPHABET[usize::from(low_byte(value) & 0x1f)])
}

/// The low 8 bits of `value`.
fn low_byte(value: u32) -> u8 {
    value.to_le_bytes()[0]
}

/// An owner's TOTP secret: 20 random bytes shared with their authenticator app. Wiped from
/// memory when dropped; never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    /// Wraps 20 bytes: from a CSPRNG for a new enrolment, or from storage.
    #[must_use]
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw secret bytes, for storage. Handle with care: copies are not zeroized for you.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The secret as 32 upper-case base32 letters without padding, as authenticator apps take it
    /// typed or inside an `otpauth://` URI. The returned string is not zeroized for you.
    #[must_use]
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// Reads a secret from base32, accepting lower case, spaces and `=` padding.
    ///
    /// # Errors
    /// What [`base32_decode`] refuses, and [`Base32Error::WrongSecretLength`] when the text is
    /// valid base32 of anything but 20 bytes.
    pub fn from_base32(text: &str) -> Result<Self, Base32Error> {
        let bytes = decode(text)?;
        let array: [u8; SECRET_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Base32Error::WrongSecretLength { bytes: bytes.len() })?;
        Ok(Self(array))
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// RFC 4226 §5.3 dynamic truncation of HMAC-SHA-1(secret, counter): the 31-bit value every
/// code length is taken from (`Snum` in the RFC). Reduce it modulo 10^8 for the RFC 6238
/// 8-digit vectors; [`hotp`] reduces it modulo 10^6.
#[must_use]
pub fn hotp_truncated(secret: &TotpSecret, counter: u64) -> u32 {
    let mut mac = <hmac::Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let mut digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    digest.as_mut_slice().zeroize();
    value
}

/// The 6-digit HOTP code (RFC 4226) for `counter`, as a number below 1,000,000 (print it with
/// `{:06}`).
#[must_use]
pub fn hotp(secret: &TotpSecret, counter: u64) -> u32 {
    hotp_truncated(secret, counter) % MODULUS
}

/// The time step of a Unix time: `floor(unix_secs / 30)`, or `None` before 1970.
#[must_use]
pub fn time_step(unix_secs: i64) -> Option<u64> {
    u64::try_from(unix_secs).ok().map(|secs| secs / PERIOD_SECS)
}

/// The 6-digit TOTP code (RFC 6238) at a Unix time. A time before 1970 counts as step 0.
#[must_use]
pub fn totp_at(secret: &TotpSecret, unix_secs: i64) -> u32 {
    hotp(secret, time_step(unix_secs).unwrap_or(0))
}

/// Checks a code a person typed (`docs/totp.md#verification`).
///
/// The code must be exactly 6 ASCII digits once whitespace is removed. It is compared, in
/// constant time, with the codes of the steps before, at and after `unix_secs`; steps at or
/// before `last_used_step` are refused, so a code is accepted once. Returns the step it matched
/// (the latest, should two steps share a code), which the caller stores as the new
/// `last_used_step` before reporting success. `None` for anything else, including a time before
/// 1970.
#[must_use]
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_secs: i64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let given = parse_code(code)?;
    let now = time_step(unix_secs)?;
    let mut matched = None;
    for step in now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS) {
        if last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = Zeroizing::new(code_digits(hotp(secret, step)));
        if bool::from(expected.ct_eq(&given[..])) {
            matched = Some(step);
        }
    }
    matched
}

/// Exactly 6 ASCII digits once whitespace is removed, or `None`.
fn parse_code(code: &str) -> Option<Zeroizing<[u8; DIGITS]>> {
    let mut out = Zeroizing::new([0u8; DIGITS]);
    let mut len = 0;
    for byte in code.bytes().filter(|b| !b.is_ascii_whitespace()) {
        if !byte.is_ascii_digit() || len == DIGITS {
            return None;
        }
        out[len] = byte;
        len += 1;
    }
    (len == DIGITS).then_some(out)
}

/// A code as its 6 ASCII digits, with leading zeros.
fn code_digits(code: u32) -> [u8; DIGITS] {
    let mut out = [b'0'; DIGITS];
    let mut rest = code % MODULUS;
    for slot in out.iter_mut().rev() {
        *slot = b'0' + low_byte(rest % 10);
        rest /= 10;
    }
    out
}

/// The `otpauth://` URI an authenticator app reads from the enrolment QR code
/// (`docs/totp.md#uri`): `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`,
/// with issuer and account percent-encoded. It contains the secret: show it only to its owner.
#[must_use]
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
        account = percent_encode(account),
        secret = secret.to_base32(),
    )
}

/// Percent-encodes every byte of the UTF-8 text except RFC 3986's unreserved characters
/// (`A–Z a–z 0–9 - . _ ~`).
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// A one-time recovery code, for an owner who lost their authenticator
/// (`docs/totp.md#recovery-codes`): 80 random bits shown once as `xxxxxxxx-xxxxxxxx` (two groups
/// of 8 lower-case base32 letters). Wiped from memory when dropped; never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode([u8; RECOVERY_CODE_RANDOM_LEN]);

impl RecoveryCode {
    /// A recovery code from 10 bytes of a CSPRNG.
    #[must_use]
    pub fn from_random(bytes: [u8; RECOVERY_CODE_RANDOM_LEN]) -> Self {
        Self(bytes)
    }

    /// The normal form: 16 lower-case base32 letters, no dash. What [`recovery_code_hash`] takes.
    #[must_use]
    pub fn normalised(&self) -> String {
        base32_encode(&self.0).to_ascii_lowercase()
    }

    /// [`recovery_code_hash`] of this code's normal form: what the server stores.
    #[must_use]
    pub fn hash(&self) -> [u8; 32] {
        recovery_code_hash(&Zeroizing::new(self.normalised()))
    }

    /// The normal form of a code a person typed: case is ignored and dashes and whitespace are
    /// removed; the rest must be exactly 16 base32 letters. `None` otherwise.
    #[must_use]
    pub fn normalise(typed: &str) -> Option<String> {
        let normal: String = typed
            .chars()
            .filter(|c| *c != '-' && !c.is_ascii_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let valid = normal.len() == RECOVERY_CODE_LETTERS
            && normal
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        valid.then_some(normal)
    }
}

impl std::fmt::Display for RecoveryCode {
    /// `xxxxxxxx-xxxxxxxx`, the form shown to the owner.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let normal = Zeroizing::new(self.normalised());
        let (first, second) = normal.split_at(RECOVERY_CODE_LETTERS / 2);
        write!(f, "{first}-{second}")
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

/// SHA-256(`"veilmark/recovery-code/v1\0"` ‖ normal form): the only form in which a recovery code
/// is stored. Pass the output of [`RecoveryCode::normalise`] (any other string simply hashes to
/// something no stored code matches). No salt or slow hash is needed: the code carries 80 random
/// bits, beyond any offline search.
#[must_use]
pub fn recovery_code_hash(normalised: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(RECOVERY_CODE_HASH_PREFIX);
    hasher.update(normalised.as_bytes());
    hasher.finalize().into()
}
