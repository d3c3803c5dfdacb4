//! Link tokens, owner credentials and passwords: how secrets are made, stored and compared.
//!
//! Secrets are random (128 bits for link tokens, 256 for owner credentials) and stored only as
//! SHA-256; the lookup is by hash, and the final comparison of the stored hash with the presented
//! one is constant-time. Passwords and passcodes are argon2id (default parameters, 19 MiB,
//! 2 passes), verified on the blocking pool so that a burst of guesses cannot stall the runtime.

use anyhow::{Context, Result};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Fills an array from the operating system's generator.
pub fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).context("the operating system's random generator failed")?;
    Ok(out)
}

/// A new 128-bit link token, as the 22-character URL-safe string that goes in the link.
pub fn new_link_token() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random::<16>()?))
}

/// A new 256-bit owner credential (API token or cookie value), prefixed `vmk_`.
pub fn new_owner_secret() -> Result<String> {
    Ok(format!("vmk_{}", URL_SAFE_NO_PAD.encode(random::<32>()?)))
}

/// SHA-256 of a link token, or `None` if it is not a well-formed token (22 base64url characters
/// decoding to 16 bytes).
#[must_use]
pub fn link_token_hash(token: &str) -> Option<[u8; 32]> {
    if token.len() != 22 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    (bytes.len() == 16).then(|| Sha256::digest(&bytes).into())
}

/// SHA-256 of an owner credential string.
#[must_use]
pub fn owner_secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time equality of two stored hashes.
#[must_use]
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// argon2id PHC string of a password or passcode.
pub fn hash_password(password: &str) -> Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string (a malformed string never matches).
#[must_use]
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// [`verify_password`] on the blocking pool.
pub async fn verify_password_async(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

/// A short passcode a person can type: 10 characters from an alphabet without look-alikes
/// (about 50 bits).
pub fn new_passcode() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = random::<10>()?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hash_and_malformed_ones_do_not() {
        let t = new_link_token().unwrap();
        assert_eq!(t.len(), 22);
        assert!(link_token_hash(&t).is_some());
        assert!(link_token_hash("short").is_none());
        assert!(link_token_hash("!!!!!!!!!!!!!!!!!!!!!!").is_none());
        let h = hash_password("pw").unwrap();
        assert!(verify_password("pw", &h));
        assert!(!verify_password("px", &h));
        assert!(!verify_password("pw", "garbage"));
    }
}
