//! The server's long-term secrets and what they do; never logged.
//!
//! - signing key: 32-byte Ed25519 seed; licences are signed with it.
//! - wrap key: 32-byte AES-256-GCM key; every document's content key is stored wrapped under it.
//! - watermark key: 32 bytes for the forensic watermark codec's keyed embedding.
//!
//! Where and how they are kept (private files created in one step, refused when others can read
//! them) is the data directory's business: [`veilmark_store::DataDir::load_or_create_key`].

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, Result, bail};
use veilmark_shared::envelope::{ContentKey, DocumentId};
use veilmark_shared::licence::ServerKey;
use veilmark_store::{DataDir, KeyFile};
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
    /// Loads the server's keys: each from its environment variable (`VEILMARK_SIGNING_KEY`,
    /// `VEILMARK_WRAP_KEY`, `VEILMARK_WATERMARK_KEY`, 64 hex digits) when set, else from the
    /// data directory's key file, creating any that is missing. Replicas share keys either way
    /// (`docs/deploy.md#keys`).
    pub fn load_or_create(data: &DataDir) -> Result<Self> {
        Self::load_with_env(data, &|name| std::env::var(name).ok())
    }

    /// [`ServerKeys::load_or_create`] with `env` standing for the process environment.
    pub fn load_with_env(data: &DataDir, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        Ok(Self {
            signing: ServerKey::from_seed(*data.server_key(KeyFile::Signing, env)?),
            wrap: data.server_key(KeyFile::Wrap, env)?,
            watermark: data.server_key(KeyFile::Watermark, env)?,
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

/// Associated-data prefix binding a wrapped TOTP secret to its account.
const TOTP_CONTEXT: &[u8] = b"veilmark/wrapped-totp-secret/v1";

impl ServerKeys {
    /// Wraps an account's 20-byte TOTP secret for storage (`nonce(12) ‖ AES-256-GCM`), bound
    /// to the account id, so a database copy alone does not yield second factors.
    pub fn wrap_totp_secret(&self, account_id: i64, secret: &[u8; 20]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).context("the operating system's random generator failed")?;
        let aad = totp_aad(account_id);
        let ct = Aes256Gcm::new((&*self.wrap).into())
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: &aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("TOTP secret wrapping failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Unwraps a stored TOTP secret.
    pub fn unwrap_totp_secret(
        &self,
        account_id: i64,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 20]>> {
        if wrapped.len() != 12 + 20 + 16 {
            bail!("the stored second factor of account {account_id} has the wrong length");
        }
        let nonce: [u8; 12] = wrapped[..12].try_into().expect("12 bytes");
        let aad = totp_aad(account_id);
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
                    anyhow::anyhow!("the second factor of account {account_id} does not unwrap")
                })?,
        );
        Ok(Zeroizing::new(pt.as_slice().try_into().expect("20 bytes")))
    }
}

impl ServerKeys {
    /// Wraps a webhook's 32-byte signing secret for storage (`nonce(12) ‖ AES-256-GCM`), bound
    /// to the webhook's id: the server must sign with it, so it cannot be only hashed.
    pub fn wrap_webhook_secret(&self, webhook_id: &str, secret: &[u8; 32]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).context("the operating system's random generator failed")?;
        let aad = webhook_aad(webhook_id);
        let ct = Aes256Gcm::new((&*self.wrap).into())
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: &aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("webhook secret wrapping failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Unwraps a stored webhook secret.
    pub fn unwrap_webhook_secret(
        &self,
        webhook_id: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>> {
        if wrapped.len() != 12 + 32 + 16 {
            bail!("the stored secret of webhook {webhook_id} has the wrong length");
        }
        let nonce: [u8; 12] = wrapped[..12].try_into().expect("12 bytes");
        let pt = Zeroizing::new(
            Aes256Gcm::new((&*self.wrap).into())
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: &wrapped[12..],
                        aad: &webhook_aad(webhook_id),
                    },
                )
                .map_err(|_| {
                    anyhow::anyhow!("the secret of webhook {webhook_id} does not unwrap")
                })?,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&pt);
        Ok(out)
    }
}

fn webhook_aad(webhook_id: &str) -> Vec<u8> {
    let mut aad = b"veilmark webhook secret v1\0".to_vec();
    aad.extend_from_slice(webhook_id.as_bytes());
    aad
}

fn totp_aad(account_id: i64) -> Vec<u8> {
    let mut aad = TOTP_CONTEXT.to_vec();
    aad.extend_from_slice(&account_id.to_be_bytes());
    aad
}

fn wrap_aad(doc: DocumentId) -> Vec<u8> {
    let mut aad = WRAP_CONTEXT.to_vec();
    aad.extend_from_slice(&doc.0);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_wrap_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let a = ServerKeys::load_or_create(&data).unwrap();
        let b = ServerKeys::load_or_create(&data).unwrap();
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
    }
}
