//! The TOTP second factor (RFC 6238, `docs/totp.md`): enrolment, confirmation, checking a code
//! or a recovery code at login, and removal.
//!
//! The secret is generated here, shown once (as a QR code drawn on the server and as text),
//! and stored wrapped under the server's wrap key. A code is accepted once: the store keeps the
//! last accepted 30-second step and refuses it or any earlier one, atomically, so a code seen
//! over a shoulder cannot be replayed in the same half-minute. Recovery codes are stored as
//! SHA-256 only and spent once each.

use anyhow::{Context, Result, bail};
use veilmark_shared::totp::{self, RecoveryCode, TotpSecret};
use veilmark_store::tenancy::Account;
use zeroize::Zeroizing;

use crate::audit::AuditKind;
use crate::service::{Actor, ClientMeta};
use crate::{AppState, now_secs, secrets};

/// How many recovery codes an enrolment issues.
pub const RECOVERY_CODES: usize = 10;

/// An enrolment waiting for its first code: what the member scans or types.
pub struct Enrolment {
    /// The secret in base32, for typing into an authenticator app.
    pub secret_base32: String,
    /// The `otpauth://` URI the QR code carries.
    pub uri: String,
}

impl AppState {
    /// Starts (or restarts) TOTP enrolment for `account`: a fresh secret replaces any pending
    /// or active one once confirmed. Until [`Self::confirm_totp`] succeeds the old factor, if
    /// any, stays off: an enrolment in progress is not a second factor.
    pub async fn begin_totp(&self, account: &Account) -> Result<Enrolment> {
        let secret = TotpSecret::from_bytes(secrets::random::<20>()?);
        let wrapped = self.keys.wrap_totp_secret(account.id, secret.as_bytes())?;
        self.store
            .set_totp_secret(account.org, account.id, Some(&wrapped))
            .await?;
        Ok(Enrolment {
            secret_base32: secret.to_base32(),
            uri: totp::otpauth_uri("Veilmark", &account.email, &secret),
        })
    }

    /// The pending enrolment of `account`, to show again (a reload of the enrolment page).
    pub fn pending_totp(&self, account: &Account) -> Result<Option<Enrolment>> {
        if account.has_totp() {
            return Ok(None);
        }
        let Some(wrapped) = &account.totp_secret else {
            return Ok(None);
        };
        let secret = TotpSecret::from_bytes(*self.keys.unwrap_totp_secret(account.id, wrapped)?);
        Ok(Some(Enrolment {
            secret_base32: secret.to_base32(),
            uri: totp::otpauth_uri("Veilmark", &account.email, &secret),
        }))
    }

    /// Confirms enrolment with a first code from the member's app; returns the recovery codes,
    /// shown once. Fails if the code is wrong.
    pub async fn confirm_totp(
        &self,
        account: &Account,
        code: &str,
        meta: &ClientMeta,
    ) -> Result<Vec<String>> {
        let wrapped = account
            .totp_secret
            .as_deref()
            .context("start the enrolment first")?;
        let secret = TotpSecret::from_bytes(*self.keys.unwrap_totp_secret(account.id, wrapped)?);
        let Some(step) = totp::verify(&secret, code, now_secs(), None) else {
            bail!("that code is not the one the app shows now; check the phone's clock");
        };
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut hashes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let code = RecoveryCode::from_random(secrets::random::<10>()?);
            let shown = code.to_string();
            let normal = RecoveryCode::normalise(&shown).expect("a fresh code normalises");
            hashes.push(totp::recovery_code_hash(&normal));
            codes.push(shown);
        }
        self.store
            .enable_totp(
                account.org,
                account.id,
                i64::try_from(step)?,
                &hashes,
                now_secs(),
            )
            .await?;
        let entry = Actor::account(account).entry(
            meta,
            AuditKind::Credentials,
            format!("second factor enrolled for {}", account.email),
        );
        self.store.append_audit(&entry).await?;
        Ok(codes)
    }

    /// Removes the second factor of `account` (by the member, or an admin for a lost phone).
    pub async fn remove_totp(
        &self,
        account: &Account,
        by: &Actor,
        meta: &ClientMeta,
    ) -> Result<()> {
        self.store
            .set_totp_secret(account.org, account.id, None)
            .await?;
        let entry = by.entry(
            meta,
            AuditKind::Credentials,
            format!("second factor removed for {}", account.email),
        );
        self.store.append_audit(&entry).await?;
        Ok(())
    }

    /// Checks a login's second factor: a current TOTP code not used before, or an unused
    /// recovery code (spent by this call).
    pub async fn check_second_factor(&self, account: &Account, code: &str) -> Result<bool> {
        if let Some(normal) = RecoveryCode::normalise(code) {
            let hash = totp::recovery_code_hash(&normal);
            return self
                .store
                .use_recovery_code(account.id, &hash, now_secs())
                .await;
        }
        let Some(wrapped) = account
            .totp_secret
            .as_deref()
            .filter(|_| account.has_totp())
        else {
            return Ok(false);
        };
        let secret: Zeroizing<[u8; 20]> = self.keys.unwrap_totp_secret(account.id, wrapped)?;
        let secret = TotpSecret::from_bytes(*secret);
        let last = account.totp_last_step.and_then(|s| u64::try_from(s).ok());
        let Some(step) = totp::verify(&secret, code, now_secs(), last) else {
            return Ok(false);
        };
        self.store
            .use_totp_step(account.id, i64::try_from(step)?)
            .await
    }
}
