//! The server's long-term secrets, kept in `DATA/keys/` with mode 0600 and never logged.
//!
//! - `signing.key`: 32-byte Ed25519 seed; licences are signed with it.
//! - `wrap.key`: 32-byte AES-256-GCM key; every document's content key is stored wrapped under it.
//! - `watermark.key`: 32 bytes reserved for the forensic watermark codec's keyed embedding.
//!
//! Files are created with `create_new` and mode 0600 in one step, so there is no window in which
//! another user could read them; loading refuses a key file that group or others can read.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, Result, bail};
use veilmark_shared::envelope::{ContentKey, DocumentId};
use veilmark_shared::licence::ServerKey;
use zeroize::Zeroizing;

/// Associated-data prefix binding a wrapped content key to its document.
const WRAP_CONTEXT: &[u8] = b"veilmark/wrapped-content-key/v1";

/// The three server secrets.
pub struct ServerKeys {
    signing: ServerKey,
    wrap: Zeroizing<[u8; 32]>,
    watermark: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys(<redacted>)")
    }
}

impl ServerKeys {
    /// Loads the keys from `data/keys`, creating any that are missing.
    pub fn load_or_create(data: &Path) -> Result<Self> {
        let dir = data.join("keys");
        if !dir.exists() {
            fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create key directory {}", dir.display()))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self {
            signing: ServerKey::from_seed(*load_or_create_key(&dir.join("signing.key"))?),
            wrap: load_or_create_key(&dir.join("wrap.key"))?,
            watermark: load_or_create_key(&dir.join("watermark.key"))?,
        })
    }

    /// The licence signing key.
    #[must_use]
    pub fn signing(&self) -> &ServerKey {
        &self.signing
    }

    /// The key the forensic watermark is embedded with.
    #[must_use]
    pub fn watermark(&self) -> &[u8; 32] {
        &self.watermark
    }

    /// Wraps a content key for storage: `nonce(12) ‖ AES-256-GCM(key)` with the document id as
    /// associated data, so a wrapped key cannot be moved to another document's row.
    pub fn wrap_content_key(&self, doc: DocumentId, key: &ContentKey) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).context("the operating system's random generator failed")?;
        let aad = wrap_aad(doc);
        let ct = Aes256Gcm::new((&*self.wrap).into())
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: key.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("content key wrapping failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Unwraps a stored content key.
    pub fn unwrap_content_key(&self, doc: DocumentId, wrapped: &[u8]) -> Result<ContentKey> {
        if wrapped.len() != 12 + 32 + 16 {
            bail!("wrapped content key of document {doc} has the wrong length");
        }
        let nonce: [u8; 12] = wrapped[..12].try_into().expect("12 bytes");
        let aad = wrap_aad(doc);
        let pt = Zeroizing::new(
            Aes256Gcm::new((&*self.wrap).into())
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: &wrapped[12..],
                        aad: &aad,
                    },
                )
                .map_err(|_| {
                    anyhow::anyhow!(
                        "content key of document {doc} does not unwrap: wrong wrap key or damaged row"
                    )
                })?,
        );
        Ok(ContentKey::from_bytes(
            pt.as_slice().try_into().expect("32 bytes"),
        ))
    }
}

fn wrap_aad(doc: DocumentId) -> Vec<u8> {
    let mut aad = WRAP_CONTEXT.to_vec();
    aad.extend_from_slice(&doc.0);
    aad
}

fn load_or_create_key(path: &PathBuf) -> Result<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            getrandom::fill(key.as_mut())
                .context("the operating system's random generator failed")?;
            file.write_all(key.as_ref())?;
            file.sync_all()?;
            return Ok(key);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
    let mut file =
        fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by other users (mode {:o}); run `chmod 600` on it and keep it secret",
            path.display(),
            mode & 0o777
        );
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)?;
    if bytes.len() != 32 {
        bail!("{} must hold exactly 32 bytes", path.display());
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_and_stable_and_wrap_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let a = ServerKeys::load_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join("keys/wrap.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = ServerKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(a.signing().verifying_key(), b.signing().verifying_key());
        let doc = DocumentId([1; 16]);
        let wrapped = a
            .wrap_content_key(doc, &ContentKey::from_bytes([5; 32]))
            .unwrap();
        assert_eq!(
            b.unwrap_content_key(doc, &wrapped).unwrap().as_bytes(),
            &[5; 32]
        );
        assert!(b.unwrap_content_key(DocumentId([2; 16]), &wrapped).is_err());
        fs::set_permissions(
            dir.path().join("keys/wrap.key"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(ServerKeys::load_or_create(dir.path()).is_err());
    }
}
