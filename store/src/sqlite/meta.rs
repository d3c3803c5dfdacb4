//! [`MetaStore`] on SQLite: organisations, accounts, credentials, documents, links, sessions,
//! nonces, the revocation feed and the audit log. Every query of a tenant's rows binds its
//! organisation.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use super::SqliteStore;
use crate::StoreResult;
use crate::alerts::{AlertRecord, Delivery, DeliveryStatus, WebhookRecord};
use crate::audit::{AuditEntry, NewAuditEntry, next_entry};
use crate::classification::{
    LevelChange, LevelPolicy, LinkAdjustment, OrgTerms, SupplierRecord, SupplierStatus,
    WatermarkDensity,
};
use crate::meta::{
    AdjustLink, CredentialCheck, CredentialInfo, CredentialKind, DescribeLevelChange,
    DocumentRecord, LinkRecord, LoginAttempt, MetaStore, NewCredential, PasscodeAttempt,
    SessionRecord, ViewRefusal,
};
use crate::meta::{DescribeOffboarding, DescribeReviewClose, DescribeReviewStart};
use crate::review::{
    ClosedReview, DecideOutcome, NewReview, Reminder, ReviewDecision, ReviewItem, ReviewRecord,
    ReviewSchedule,
};
use crate::tenancy::{Account, OrgId, Organisation, Role};

/// Accounts joined with their organisation's name and setting.
const ACCOUNT: &str = "SELECT a.*, o.name AS org_name, o.require_totp AS org_requires_totp \
     FROM owners a JOIN organisations o ON o.id = a.org_id";

fn account_from(row: &SqliteRow) -> anyhow::Result<Account> {
    let role: String = row.get("role");
    Ok(Account {
        id: row.get("id"),
        org: OrgId::from_row(row.get("org_id")),
        org_name: row.get("org_name"),
        email: row.get("email"),
        password_hash: row.get("password_hash"),
        role: Role::parse(&role)?,
        failed_logins: row.get("failed_logins"),
        locked_until: row.get("locked_until"),
        totp_secret: row.get("totp_secret"),
        totp_enabled_at: row.get("totp_enabled_at"),
        totp_last_step: row.get("totp_last_step"),
        org_requires_totp: row.get::<i64, _>("org_requires_totp") != 0,
    })
}

fn org_from(row: &SqliteRow) -> Organisation {
    Organisation {
        id: OrgId::from_row(row.get("id")),
        name: row.get("name"),
        require_totp: row.get::<i64, _>("require_totp") != 0,
        created_at: row.get("created_at"),
    }
}

fn credential_from(row: &SqliteRow) -> anyhow::Result<CredentialInfo> {
    let kind: String = row.get("kind");
    Ok(CredentialInfo {
        id: row.get("id"),
        account_id: row.get("account_id"),
        kind: CredentialKind::parse(&kind)
            .with_context(|| format!("unknown credential kind {kind:?}"))?
            .as_str(),
        label: row.get("label"),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        last_used_at: row.get("last_used_at"),
    })
}

fn document_from(row: &SqliteRow) -> DocumentRecord {
    DocumentRecord {
        org: OrgId::from_row(row.get("org_id")),
        id: row.get("id"),
        title: row.get("title"),
        media_type: row.get("media_type"),
        plaintext_len: row.get("plaintext_len"),
        envelope_len: row.get("envelope_len"),
        level: row.get("level"),
        derived_from: row.get("derived_from"),
        shares: row.get("shares"),
        blob: row.get("blob"),
        wrapped_key: row.get("wrapped_key"),
        created_at: row.get("created_at"),
    }
}

fn link_from(row: &SqliteRow) -> LinkRecord {
    let passcode_hash: Option<String> = row.get("passcode_hash");
    LinkRecord {
        org: OrgId::from_row(row.get("org_id")),
        id: row.get("id"),
        token_hash: row.get("token_hash"),
        document_id: row.get("document_id"),
        level: row.get("level"),
        recipient: row.get("recipient"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        max_views: row.get("max_views"),
        views: row.get("views"),
        has_passcode: passcode_hash.is_some(),
        passcode_hash,
        failed_passcodes: row.get("failed_passcodes"),
        locked_until: row.get("locked_until"),
        revoked_at: row.get("revoked_at"),
    }
}

fn session_from(row: &SqliteRow) -> anyhow::Result<SessionRecord> {
    let key: Vec<u8> = row.get("viewer_key");
    let code: i64 = row.get("session_code");
    Ok(SessionRecord {
        id: row.get("id"),
        link_id: row.get("link_id"),
        session_code: u64::from_be_bytes(code.to_be_bytes()),
        viewer_key: key
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored viewer key is not 32 bytes"))?,
        created_at: row.get("created_at"),
        lease_expires_at: row.get("lease_expires_at"),
    })
}

/// Links with their document's level (the document owns it).
const LINKS: &str = "SELECT l.*, d.level FROM links l \
     JOIN documents d ON d.id = l.document_id AND d.org_id = l.org_id";

fn level_from(row: &SqliteRow) -> anyhow::Result<LevelPolicy> {
    let watermark: String = row.get("watermark");
    Ok(LevelPolicy {
        name: row.get("name"),
        rank: row.get("rank"),
        max_link_secs: row.get("max_link_secs"),
        max_views: row.get("max_views"),
        passcode_required: row.get::<i64, _>("passcode_required") != 0,
        owner_second_factor: row.get::<i64, _>("owner_second_factor") != 0,
        watermark: WatermarkDensity::parse(&watermark)
            .with_context(|| format!("unknown watermark density {watermark:?}"))?,
        approved_only: row.get::<i64, _>("approved_only") != 0,
    })
}

fn supplier_from(row: &SqliteRow) -> anyhow::Result<SupplierRecord> {
    let status: String = row.get("status");
    Ok(SupplierRecord {
        domain: row.get("domain"),
        name: row.get("name"),
        status: SupplierStatus::parse(&status)
            .with_context(|| format!("unknown supplier status {status:?}"))?,
        changed_at: row.get("changed_at"),
    })
}

/// The head of one organisation's audit chain. Ordered by `org_seq`, which the chain index
/// `(org_id, org_seq)` serves directly: ordered by `seq`, SQLite sorted every entry of the
/// organisation on each append (a temporary B-tree), so every licence and renewal cost more as
/// the log grew (`docs/server.md#load-test`, the control run).
const CHAIN_HEAD: &str =
    "SELECT org_seq, hash FROM audit_log WHERE org_id IS ? ORDER BY org_seq DESC LIMIT 1";

/// One page of an organisation's audit log in storage order, read from the `(org_id, seq)`
/// index (migration 1004) rather than sorted per page.
const AUDIT_PAGE: &str =
    "SELECT * FROM audit_log WHERE org_id IS ? AND seq > ? ORDER BY seq LIMIT ?";

/// Appends revoked links `ids` to the revocation feed inside `tx` (a `BEGIN IMMEDIATE`
/// transaction: positions commit in order).
pub(super) async fn feed_revocations_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    ids: &[&str],
    now: i64,
) -> anyhow::Result<()> {
    for id in ids {
        sqlx::query("INSERT INTO revocations (link_id, at) VALUES (?, ?)")
            .bind(id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Adds supplier `s` to `org` or updates its name and status, inside `tx`.
async fn upsert_supplier_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    org: OrgId,
    s: &SupplierRecord,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO suppliers (org_id, domain, name, status, changed_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (org_id, domain) DO UPDATE SET name = excluded.name,
           status = excluded.status, changed_at = excluded.changed_at",
    )
    .bind(org.get())
    .bind(&s.domain)
    .bind(&s.name)
    .bind(s.status.as_str())
    .bind(s.changed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends the next audit entry inside `tx`, which must be a `BEGIN IMMEDIATE` transaction (so
/// that reading the chain head and inserting after it cannot interleave with another writer).
pub(super) async fn append_audit_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new: &NewAuditEntry,
) -> anyhow::Result<AuditEntry> {
    let org = new.org.map(OrgId::get);
    // `IS`: equal, or both NULL (the server's chain).
    let prev = sqlx::query(CHAIN_HEAD)
        .bind(org)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| Ok::<_, anyhow::Error>((r.get::<i64, _>("org_seq"), hash32(r.get("hash"))?)))
        .transpose()?;
    let e = next_entry(prev, new);
    sqlx::query(
        "INSERT INTO audit_log (seq, org_id, org_seq, account_id, format, at_ms, kind, link_id,
         session_id, document_id, actor, ip, user_agent, detail, prev_hash, hash)
         VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
         ?, ?, ?, ?, ?)",
    )
    .bind(e.org_id)
    .bind(e.seq)
    .bind(e.account_id)
    .bind(e.format)
    .bind(e.at_ms)
    .bind(&e.kind)
    .bind(&e.link_id)
    .bind(&e.session_id)
    .bind(&e.document_id)
    .bind(&e.actor)
    .bind(&e.ip)
    .bind(&e.user_agent)
    .bind(&e.detail)
    .bind(&e.prev_hash[..])
    .bind(&e.hash[..])
    .execute(&mut **tx)
    .await?;
    Ok(e)
}

fn hash32(v: Vec<u8>) -> anyhow::Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| anyhow::anyhow!("stored audit hash is not 32 bytes"))
}

fn audit_from(row: &SqliteRow) -> anyhow::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get("org_seq"),
        org_id: row.get("org_id"),
        account_id: row.get("account_id"),
        format: row.get("format"),
        at_ms: row.get("at_ms"),
        kind: row.get("kind"),
        link_id: row.get("link_id"),
        session_id: row.get("session_id"),
        document_id: row.get("document_id"),
        actor: row.get("actor"),
        ip: row.get("ip"),
        user_agent: row.get("user_agent"),
        detail: row.get("detail"),
        prev_hash: hash32(row.get("prev_hash"))?,
        hash: hash32(row.get("hash"))?,
    })
}

#[async_trait]
impl MetaStore for SqliteStore {
    async fn create_org(&self, name: &str, now: i64) -> StoreResult<OrgId> {
        let row =
            sqlx::query("INSERT INTO organisations (name, created_at) VALUES (?, ?) RETURNING id")
                .bind(name)
                .bind(now)
                .fetch_one(&self.pool)
                .await
                .with_context(|| {
                    format!("cannot create organisation {name:?} (does it exist already?)")
                })?;
        Ok(OrgId::from_row(row.get("id")))
    }

    async fn org_by_name(&self, name: &str) -> StoreResult<Option<Organisation>> {
        let row = sqlx::query("SELECT * FROM organisations WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(org_from))
    }

    async fn org(&self, org: OrgId) -> StoreResult<Organisation> {
        let row = sqlx::query("SELECT * FROM organisations WHERE id = ?")
            .bind(org.get())
            .fetch_one(&self.pool)
            .await?;
        Ok(org_from(&row))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>> {
        let rows = sqlx::query("SELECT * FROM organisations ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(org_from).collect())
    }

    async fn set_org_require_totp(&self, org: OrgId, required: bool) -> StoreResult<()> {
        sqlx::query("UPDATE organisations SET require_totp = ? WHERE id = ?")
            .bind(i64::from(required))
            .bind(org.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_account(
        &self,
        org: OrgId,
        email: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO owners (org_id, email, password_hash, role, created_at)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(org.get())
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot create account {email} (does it exist already?)"))?;
        Ok(row.get("id"))
    }

    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query(AssertSqlSafe(format!("{ACCOUNT} WHERE a.email = ?")))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn account(&self, org: OrgId, id: i64) -> StoreResult<Option<Account>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{ACCOUNT} WHERE a.id = ? AND a.org_id = ?"
        )))
        .bind(id)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn list_accounts(&self, org: OrgId) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{ACCOUNT} WHERE a.org_id = ? ORDER BY a.email"
        )))
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from).collect()
    }

    async fn set_role(&self, org: OrgId, id: i64, role: Role) -> StoreResult<bool> {
        Ok(
            sqlx::query("UPDATE owners SET role = ? WHERE id = ? AND org_id = ?")
                .bind(role.as_str())
                .bind(id)
                .bind(org.get())
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    async fn remove_account(&self, org: OrgId, id: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let found = sqlx::query("SELECT 1 FROM owners WHERE id = ? AND org_id = ?")
            .bind(id)
            .bind(org.get())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if found {
            for sql in [
                "DELETE FROM credentials WHERE account_id = ?",
                "DELETE FROM recovery_codes WHERE account_id = ?",
                "DELETE FROM owners WHERE id = ?",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(found)
    }

    async fn set_password(&self, org: OrgId, id: i64, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let n = sqlx::query(
            "UPDATE owners SET password_hash = ?, failed_logins = 0, locked_until = NULL
             WHERE id = ? AND org_id = ?",
        )
        .bind(password_hash)
        .bind(id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        anyhow::ensure!(n == 1, "no such account");
        sqlx::query("DELETE FROM credentials WHERE account_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn login_attempt(
        &self,
        id: i64,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> StoreResult<LoginAttempt> {
        // One statement: the count and the check cannot interleave with a parallel attempt.
        // A lock that has run out starts a fresh count.
        let row = sqlx::query(
            "UPDATE owners SET
                 failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?1
                                      THEN 1 ELSE failed_logins + 1 END,
                 locked_until = CASE
                     WHEN locked_until IS NOT NULL AND locked_until <= ?1 THEN NULL
                     WHEN failed_logins + 1 >= ?2 THEN ?1 + ?3
                     ELSE locked_until END
             WHERE id = ?4 AND (locked_until IS NULL OR locked_until <= ?1)
             RETURNING failed_logins",
        )
        .bind(now)
        .bind(max_failures)
        .bind(lock_secs)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(LoginAttempt::Counted(row.get("failed_logins")));
        }
        let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM owners WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .flatten();
        Ok(LoginAttempt::Locked(until.unwrap_or(now)))
    }

    async fn login_succeeded(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE owners SET failed_logins = 0, locked_until = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_totp_secret(
        &self,
        org: OrgId,
        id: i64,
        wrapped: Option<&[u8]>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE owners SET totp_secret = ?, totp_enabled_at = NULL, totp_last_step = NULL
             WHERE id = ? AND org_id = ?",
        )
        .bind(wrapped)
        .bind(id)
        .bind(org.get())
        .execute(&self.pool)
        .await?;
        if wrapped.is_none() {
            sqlx::query("DELETE FROM recovery_codes WHERE account_id = ?")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn enable_totp(
        &self,
        org: OrgId,
        id: i64,
        step: i64,
        recovery_hashes: &[[u8; 32]],
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let n = sqlx::query(
            "UPDATE owners SET totp_enabled_at = ?, totp_last_step = ?
             WHERE id = ? AND org_id = ? AND totp_secret IS NOT NULL",
        )
        .bind(now)
        .bind(step)
        .bind(id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        anyhow::ensure!(n == 1, "no enrolment in progress for this account");
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for h in recovery_hashes {
            sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?, ?)")
                .bind(id)
                .bind(&h[..])
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn use_totp_step(&self, id: i64, step: i64) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE owners SET totp_last_step = ?1
             WHERE id = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)",
        )
        .bind(step)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn use_recovery_code(
        &self,
        id: i64,
        code_hash: &[u8; 32],
        now: i64,
    ) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE recovery_codes SET used_at = ?
             WHERE account_id = ? AND code_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(&code_hash[..])
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn recovery_codes_left(&self, id: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE account_id = ? AND used_at IS NULL",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn add_credential(&self, c: &NewCredential<'_>) -> StoreResult<String> {
        let id = format!("tok_{}", hex::encode(rand_bytes::<8>()?));
        sqlx::query(
            "INSERT INTO credentials (id, token_hash, account_id, kind, label, created_at,
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&c.token_hash[..])
        .bind(c.account_id)
        .bind(c.kind.as_str())
        .bind(c.label)
        .bind(c.now)
        .bind(c.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    async fn account_by_credential(
        &self,
        token_hash: &[u8; 32],
        check: CredentialCheck,
    ) -> StoreResult<Option<(Account, CredentialInfo)>> {
        let Some(row) = sqlx::query(
            "SELECT * FROM credentials WHERE token_hash = ? AND kind = ? AND expires_at > ?",
        )
        .bind(&token_hash[..])
        .bind(check.kind.as_str())
        .bind(check.now)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let cred = credential_from(&row)?;
        let last = cred.last_used_at.unwrap_or(cred.created_at);
        if check.idle_secs.is_some_and(|idle| last + idle <= check.now) {
            return Ok(None);
        }
        let account = sqlx::query(AssertSqlSafe(format!("{ACCOUNT} WHERE a.id = ?")))
            .bind(cred.account_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(account) = account.as_ref().map(account_from).transpose()? else {
            return Ok(None);
        };
        // Record the use, at most once a minute per credential (not a write per request).
        if last + 60 <= check.now {
            sqlx::query("UPDATE credentials SET last_used_at = ? WHERE id = ?")
                .bind(check.now)
                .bind(&cred.id)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some((account, cred)))
    }

    async fn take_credential(
        &self,
        token_hash: &[u8; 32],
        kind: CredentialKind,
        now: i64,
    ) -> StoreResult<Option<Account>> {
        let id: Option<i64> = sqlx::query_scalar(
            "DELETE FROM credentials WHERE token_hash = ? AND kind = ? AND expires_at > ?
             RETURNING account_id",
        )
        .bind(&token_hash[..])
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(id) = id else { return Ok(None) };
        let row = sqlx::query(AssertSqlSafe(format!("{ACCOUNT} WHERE a.id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn delete_credential(&self, token_hash: &[u8; 32]) -> StoreResult<()> {
        sqlx::query("DELETE FROM credentials WHERE token_hash = ?")
            .bind(&token_hash[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_credentials(
        &self,
        org: OrgId,
        account_id: i64,
        kind: CredentialKind,
        now: i64,
    ) -> StoreResult<Vec<CredentialInfo>> {
        let rows = sqlx::query(
            "SELECT c.* FROM credentials c JOIN owners a ON a.id = c.account_id
             WHERE c.account_id = ? AND a.org_id = ? AND c.kind = ? AND c.expires_at > ?
             ORDER BY c.created_at DESC, c.id",
        )
        .bind(account_id)
        .bind(org.get())
        .bind(kind.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(credential_from).collect()
    }

    async fn credential_account(&self, id: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{ACCOUNT} WHERE a.id = (SELECT account_id FROM credentials WHERE id = ?)"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn revoke_credential(&self, org: OrgId, id: &str) -> StoreResult<bool> {
        Ok(sqlx::query(
            "DELETE FROM credentials WHERE id = ?
             AND account_id IN (SELECT id FROM owners WHERE org_id = ?)",
        )
        .bind(id)
        .bind(org.get())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn end_all_sessions(&self, org: OrgId, account_id: i64) -> StoreResult<u64> {
        Ok(sqlx::query(
            "DELETE FROM credentials WHERE account_id = ?
             AND account_id IN (SELECT id FROM owners WHERE org_id = ?)",
        )
        .bind(account_id)
        .bind(org.get())
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn insert_document(&self, d: &DocumentRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO documents (id, org_id, title, media_type, plaintext_len, envelope_len,
             blob, wrapped_key, created_at, level, derived_from, shares)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&d.id)
        .bind(d.org.get())
        .bind(&d.title)
        .bind(&d.media_type)
        .bind(d.plaintext_len)
        .bind(d.envelope_len)
        .bind(&d.blob)
        .bind(&d.wrapped_key)
        .bind(d.created_at)
        .bind(&d.level)
        .bind(&d.derived_from)
        .bind(&d.shares)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn document(&self, org: OrgId, id: &str) -> StoreResult<Option<DocumentRecord>> {
        let row = sqlx::query("SELECT * FROM documents WHERE id = ? AND org_id = ?")
            .bind(id)
            .bind(org.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(document_from))
    }

    async fn list_documents(&self, org: OrgId) -> StoreResult<Vec<DocumentRecord>> {
        let rows =
            sqlx::query("SELECT * FROM documents WHERE org_id = ? ORDER BY created_at DESC, id")
                .bind(org.get())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(document_from).collect())
    }

    async fn insert_link(&self, l: &LinkRecord) -> StoreResult<()> {
        let n = sqlx::query(
            "INSERT INTO links (id, org_id, token_hash, document_id, recipient, created_at,
             expires_at, max_views, passcode_hash, created_by)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11 WHERE EXISTS
               (SELECT 1 FROM documents d WHERE d.id = ?4 AND d.org_id = ?2 AND d.level = ?10
                  AND (d.derived_from IS NULL OR EXISTS (SELECT 1 FROM documents p
                       WHERE p.id = d.derived_from AND p.org_id = ?2 AND p.level = ?10)))",
        )
        .bind(&l.id)
        .bind(l.org.get())
        .bind(&l.token_hash)
        .bind(&l.document_id)
        .bind(&l.recipient)
        .bind(l.created_at)
        .bind(l.expires_at)
        .bind(l.max_views)
        .bind(&l.passcode_hash)
        .bind(&l.level)
        .bind(&l.created_by)
        .execute(&self.pool)
        .await?
        .rows_affected();
        anyhow::ensure!(
            n == 1,
            "no document {} at level {} in this organisation (its level may have just changed; try again)",
            l.document_id,
            l.level
        );
        Ok(())
    }

    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> StoreResult<Option<LinkRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!("{LINKS} WHERE l.token_hash = ?")))
            .bind(&token_hash[..])
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(link_from))
    }

    async fn link(&self, org: OrgId, id: &str) -> StoreResult<Option<LinkRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{LINKS} WHERE l.id = ? AND l.org_id = ?"
        )))
        .bind(id)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(link_from))
    }

    async fn list_links(&self, org: OrgId) -> StoreResult<Vec<LinkRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LINKS} WHERE l.org_id = ? ORDER BY l.created_at DESC, l.id"
        )))
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(link_from).collect())
    }

    async fn revoke_link(
        &self,
        org: OrgId,
        id: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE links SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            feed_revocations_in(&mut tx, &[id], now).await?;
            append_audit_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn stored_levels(&self, org: OrgId) -> StoreResult<Vec<LevelPolicy>> {
        let rows =
            sqlx::query("SELECT * FROM classification_levels WHERE org_id = ? ORDER BY rank")
                .bind(org.get())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(level_from).collect()
    }

    async fn set_levels(
        &self,
        org: OrgId,
        levels: &[LevelPolicy],
        audit: &NewAuditEntry,
    ) -> StoreResult<()> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let used: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT level FROM documents WHERE org_id = ?")
                .bind(org.get())
                .fetch_all(&mut *tx)
                .await?;
        if let Some(missing) = used
            .iter()
            .find(|u| !levels.iter().any(|l| l.name.eq_ignore_ascii_case(u)))
        {
            anyhow::bail!(
                "documents are classified {missing}; keep that level, or move them to another first"
            );
        }
        sqlx::query("DELETE FROM classification_levels WHERE org_id = ?")
            .bind(org.get())
            .execute(&mut *tx)
            .await?;
        for l in levels {
            sqlx::query(
                "INSERT INTO classification_levels (org_id, rank, name, max_link_secs, max_views,
                 passcode_required, owner_second_factor, watermark, approved_only)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(org.get())
            .bind(l.rank)
            .bind(&l.name)
            .bind(l.max_link_secs)
            .bind(l.max_views)
            .bind(l.passcode_required)
            .bind(l.owner_second_factor)
            .bind(l.watermark.as_str())
            .bind(l.approved_only)
            .execute(&mut *tx)
            .await?;
        }
        // Documents keep their level by name; the stored spelling follows the new definition.
        for l in levels {
            sqlx::query(
                "UPDATE documents SET level = ? WHERE org_id = ? AND level = ? COLLATE NOCASE",
            )
            .bind(&l.name)
            .bind(org.get())
            .bind(&l.name)
            .execute(&mut *tx)
            .await?;
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_document_level(
        &self,
        org: OrgId,
        doc: &str,
        level: &str,
        now: i64,
        adjust: &AdjustLink<'_>,
        audit: &DescribeLevelChange<'_>,
    ) -> StoreResult<Option<LevelChange>> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(from): Option<String> =
            sqlx::query_scalar("SELECT level FROM documents WHERE id = ? AND org_id = ?")
                .bind(doc)
                .bind(org.get())
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE documents SET level = ?1 WHERE org_id = ?3 AND (id = ?2 OR derived_from = ?2)",
        )
        .bind(level)
        .bind(doc)
        .bind(org.get())
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LINKS} WHERE l.org_id = ?2 AND (d.id = ?1 OR d.derived_from = ?1) \
             AND l.revoked_at IS NULL AND l.expires_at > ?3 ORDER BY l.created_at, l.id"
        )))
        .bind(doc)
        .bind(org.get())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut change = LevelChange {
            from,
            to: level.to_owned(),
            ..LevelChange::default()
        };
        for link in rows.iter().map(link_from) {
            match adjust(&link) {
                LinkAdjustment::Keep => {}
                LinkAdjustment::Shorten {
                    expires_at,
                    max_views,
                } => {
                    sqlx::query("UPDATE links SET expires_at = ?, max_views = ? WHERE id = ?")
                        .bind(expires_at.min(link.expires_at))
                        .bind(max_views)
                        .bind(&link.id)
                        .execute(&mut *tx)
                        .await?;
                    change.shortened.push(link.id);
                }
                LinkAdjustment::Revoke(why) => {
                    sqlx::query("UPDATE links SET revoked_at = ? WHERE id = ?")
                        .bind(now)
                        .bind(&link.id)
                        .execute(&mut *tx)
                        .await?;
                    feed_revocations_in(&mut tx, &[&link.id], now).await?;
                    change.revoked.push((link.id, why));
                }
            }
        }
        append_audit_in(&mut tx, &audit(&change)).await?;
        tx.commit().await?;
        Ok(Some(change))
    }

    async fn suppliers(&self, org: OrgId) -> StoreResult<Vec<SupplierRecord>> {
        let rows = sqlx::query("SELECT * FROM suppliers WHERE org_id = ? ORDER BY domain")
            .bind(org.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(supplier_from).collect()
    }

    async fn supplier(&self, org: OrgId, domain: &str) -> StoreResult<Option<SupplierRecord>> {
        // One primary-key lookup: every licence and renewal asks.
        let row = sqlx::query("SELECT * FROM suppliers WHERE org_id = ? AND domain = ?")
            .bind(org.get())
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(supplier_from).transpose()
    }

    async fn set_supplier(
        &self,
        org: OrgId,
        s: &SupplierRecord,
        audit: &NewAuditEntry,
    ) -> StoreResult<()> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        upsert_supplier_in(&mut tx, org, s).await?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn terms(&self, org: OrgId) -> StoreResult<Option<OrgTerms>> {
        let row = sqlx::query("SELECT text, from_rank, updated_at FROM org_terms WHERE org_id = ?")
            .bind(org.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| OrgTerms {
            text: r.get("text"),
            from_rank: r.get("from_rank"),
            updated_at: r.get("updated_at"),
        }))
    }

    async fn set_terms(
        &self,
        org: OrgId,
        terms: Option<&OrgTerms>,
        audit: &NewAuditEntry,
    ) -> StoreResult<()> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        match terms {
            Some(t) => {
                sqlx::query(
                    "INSERT INTO org_terms (org_id, text, from_rank, updated_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (org_id) DO UPDATE SET text = excluded.text,
                       from_rank = excluded.from_rank, updated_at = excluded.updated_at",
                )
                .bind(org.get())
                .bind(&t.text)
                .bind(t.from_rank)
                .bind(t.updated_at)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM org_terms WHERE org_id = ?")
                    .bind(org.get())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn terms_accepted(&self, link_id: &str, digest: &[u8; 32]) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM terms_acceptances WHERE link_id = ? AND sha256 = ?",
        )
        .bind(link_id)
        .bind(&digest[..])
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    async fn accept_terms(
        &self,
        link_id: &str,
        digest: &[u8; 32],
        now: i64,
        ip: Option<&str>,
        session_id: &str,
        audit: &NewAuditEntry,
    ) -> StoreResult<()> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let n = sqlx::query(
            "INSERT INTO terms_acceptances (link_id, sha256, accepted_at, ip, session_id)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (link_id, sha256) DO NOTHING",
        )
        .bind(link_id)
        .bind(&digest[..])
        .bind(now)
        .bind(ip)
        .bind(session_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            append_audit_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn offboard_supplier(
        &self,
        org: OrgId,
        s: &SupplierRecord,
        now: i64,
        audit: &DescribeOffboarding<'_>,
    ) -> StoreResult<Vec<String>> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        upsert_supplier_in(&mut tx, org, s).await?;
        // The domain is letters, digits, '.' and '-' (checked by the caller): no LIKE
        // wildcards. Revoked links stay revoked at their first revocation time.
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE links SET revoked_at = ?1
             WHERE org_id = ?2 AND revoked_at IS NULL AND expires_at > ?1
               AND lower(recipient) LIKE ('%@' || ?3)
             RETURNING id",
        )
        .bind(now)
        .bind(org.get())
        .bind(&s.domain)
        .fetch_all(&mut *tx)
        .await?;
        let mut ids = ids;
        ids.sort();
        let revoked: Vec<&str> = ids.iter().map(String::as_str).collect();
        feed_revocations_in(&mut tx, &revoked, now).await?;
        append_audit_in(&mut tx, &audit(&ids)).await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn see_network(
        &self,
        org: OrgId,
        recipient: &str,
        network: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        super::alerts::see_network(self, org, recipient, network, now).await
    }

    async fn live_sessions(&self, link_id: &str, now: i64) -> StoreResult<i64> {
        super::alerts::live_sessions(self, link_id, now).await
    }

    async fn raise_alert(
        &self,
        alert: &AlertRecord,
        quiet_since: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool> {
        super::alerts::raise_alert(self, alert, quiet_since, audit).await
    }

    async fn alerts(&self, org: OrgId, limit: u32) -> StoreResult<Vec<AlertRecord>> {
        super::alerts::alerts(self, org, limit).await
    }

    async fn acknowledge_alert(
        &self,
        org: OrgId,
        id: &str,
        by: &str,
        now: i64,
    ) -> StoreResult<bool> {
        super::alerts::acknowledge_alert(self, org, id, by, now).await
    }

    async fn add_webhook(&self, webhook: &WebhookRecord, audit: &NewAuditEntry) -> StoreResult<()> {
        super::alerts::add_webhook(self, webhook, audit).await
    }

    async fn webhooks(&self, org: OrgId) -> StoreResult<Vec<WebhookRecord>> {
        super::alerts::webhooks(self, org).await
    }

    async fn remove_webhook(
        &self,
        org: OrgId,
        id: &str,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool> {
        super::alerts::remove_webhook(self, org, id, audit).await
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_secs: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        super::alerts::claim_deliveries(self, now, lease_secs, limit).await
    }

    async fn delivery_attempted(
        &self,
        alert_id: &str,
        webhook_id: &str,
        delivered_at: Option<i64>,
        error: Option<&str>,
        next_attempt_at: Option<i64>,
    ) -> StoreResult<()> {
        super::alerts::delivery_attempted(
            self,
            alert_id,
            webhook_id,
            delivered_at,
            error,
            next_attempt_at,
        )
        .await
    }

    async fn deliveries(&self, org: OrgId, limit: u32) -> StoreResult<Vec<DeliveryStatus>> {
        super::alerts::deliveries(self, org, limit).await
    }

    async fn review_schedule(&self, org: OrgId) -> StoreResult<ReviewSchedule> {
        super::review::review_schedule(self, org).await
    }

    async fn set_review_schedule(
        &self,
        org: OrgId,
        schedule: ReviewSchedule,
        audit: &NewAuditEntry,
    ) -> StoreResult<()> {
        super::review::set_review_schedule(self, org, schedule, audit).await
    }

    async fn start_review(
        &self,
        org: OrgId,
        review: &NewReview,
        audit: &DescribeReviewStart<'_>,
    ) -> StoreResult<Option<i64>> {
        super::review::start_review(self, org, review, audit).await
    }

    async fn reviews(&self, org: OrgId) -> StoreResult<Vec<ReviewRecord>> {
        super::review::reviews(self, org).await
    }

    async fn review_items(&self, org: OrgId, review_id: &str) -> StoreResult<Vec<ReviewItem>> {
        super::review::review_items(self, org, review_id).await
    }

    async fn decide_review(
        &self,
        org: OrgId,
        review_id: &str,
        link_id: &str,
        decision: ReviewDecision,
        by: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<DecideOutcome> {
        super::review::decide_review(self, org, review_id, link_id, decision, by, now, audit).await
    }

    async fn close_due_reviews(
        &self,
        now: i64,
        audit: &DescribeReviewClose<'_>,
    ) -> StoreResult<Vec<ClosedReview>> {
        super::review::close_due_reviews(self, now, audit).await
    }

    async fn orgs_due_for_review(&self, now: i64) -> StoreResult<Vec<(OrgId, ReviewSchedule)>> {
        super::review::orgs_due_for_review(self, now).await
    }

    async fn claim_reminders(&self, now: i64) -> StoreResult<Vec<Reminder>> {
        super::review::claim_reminders(self, now).await
    }

    async fn release_reminder(&self, reminder: &Reminder) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM access_review_reminders WHERE review_id = ?1 AND owner = ?2 AND kind = ?3",
        )
        .bind(&reminder.review_id)
        .bind(&reminder.owner)
        .bind(reminder.kind.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT seq, link_id FROM revocations WHERE seq > ? ORDER BY seq")
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("seq"), r.get("link_id")))
            .collect())
    }

    async fn passcode_attempt(
        &self,
        link_id: &str,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> StoreResult<PasscodeAttempt> {
        // One statement: the count and the lock check cannot interleave with a parallel guess.
        // A lock that has run out starts a fresh count.
        let row = sqlx::query(
            "UPDATE links SET
                 failed_passcodes = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?1
                                         THEN 1 ELSE failed_passcodes + 1 END,
                 locked_until = CASE
                     WHEN locked_until IS NOT NULL AND locked_until <= ?1 THEN NULL
                     WHEN failed_passcodes + 1 >= ?2 THEN ?1 + ?3
                     ELSE locked_until END
             WHERE id = ?4 AND (locked_until IS NULL OR locked_until <= ?1)
             RETURNING failed_passcodes",
        )
        .bind(now)
        .bind(max_failures)
        .bind(lock_secs)
        .bind(link_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(PasscodeAttempt::Counted(row.get("failed_passcodes")));
        }
        let until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM links WHERE id = ?")
            .bind(link_id)
            .fetch_optional(&self.pool)
            .await?
            .flatten();
        Ok(PasscodeAttempt::Locked(until.unwrap_or(now)))
    }

    async fn passcode_succeeded(
        &self,
        link_id: &str,
        attempt: i64,
        max_failures: i64,
    ) -> StoreResult<()> {
        // The lock stays if other attempts set it; this attempt's own lock (it was the last
        // one allowed, and right) is lifted.
        sqlx::query(
            "UPDATE links SET failed_passcodes = 0,
                 locked_until = CASE WHEN ?2 >= ?3 THEN NULL ELSE locked_until END
             WHERE id = ?1",
        )
        .bind(link_id)
        .bind(attempt)
        .bind(max_failures)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn grant_view(
        &self,
        s: &SessionRecord,
        nonce: &[u8],
        nonce_expires_at: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<Result<AuditEntry, ViewRefusal>> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let fresh = sqlx::query(
            "INSERT OR IGNORE INTO request_nonces (link_id, nonce, expires_at) VALUES (?, ?, ?)",
        )
        .bind(&s.link_id)
        .bind(nonce)
        .bind(nonce_expires_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            tx.rollback().await?;
            return Ok(Err(ViewRefusal::Replayed));
        }
        let counted = sqlx::query(
            "UPDATE links SET views = views + 1
             WHERE id = ? AND revoked_at IS NULL AND expires_at > ?
               AND (max_views IS NULL OR views < max_views)",
        )
        .bind(&s.link_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !counted {
            let row = sqlx::query(AssertSqlSafe(format!("{LINKS} WHERE l.id = ?")))
                .bind(&s.link_id)
                .fetch_one(&mut *tx)
                .await?;
            let link = link_from(&row);
            tx.rollback().await?;
            return Ok(Err(if link.revoked_at.is_some() {
                ViewRefusal::Revoked
            } else if link.expires_at <= now {
                ViewRefusal::Expired
            } else {
                ViewRefusal::LimitReached
            }));
        }
        sqlx::query(
            "INSERT INTO sessions (id, link_id, session_code, viewer_key, created_at,
             lease_expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.link_id)
        .bind(i64::from_be_bytes(s.session_code.to_be_bytes()))
        .bind(&s.viewer_key[..])
        .bind(s.created_at)
        .bind(s.lease_expires_at)
        .execute(&mut *tx)
        .await?;
        let entry = append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Ok(entry))
    }

    async fn purge_nonces(&self, now: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM request_nonces WHERE expires_at < ?")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from).transpose()
    }

    async fn session_by_code(&self, org: OrgId, code: u64) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT s.* FROM sessions s JOIN links l ON l.id = s.link_id
             WHERE s.session_code = ? AND l.org_id = ?",
        )
        .bind(i64::from_be_bytes(code.to_be_bytes()))
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session_from).transpose()
    }

    async fn renew_session(
        &self,
        id: &str,
        lease_expires_at: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<Result<AuditEntry, ViewRefusal>> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // The link is read inside the write transaction: a revocation committed before it is
        // seen, and one after it waits for this commit.
        let link = sqlx::query(
            "SELECT l.revoked_at, l.expires_at FROM sessions s JOIN links l ON l.id = s.link_id
             WHERE s.id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .with_context(|| format!("no session {id}"))?;
        if link.get::<Option<i64>, _>("revoked_at").is_some() {
            return Ok(Err(ViewRefusal::Revoked));
        }
        if link.get::<i64, _>("expires_at") <= now {
            return Ok(Err(ViewRefusal::Expired));
        }
        sqlx::query(
            "UPDATE sessions SET lease_expires_at = ?, renewals = renewals + 1 WHERE id = ?",
        )
        .bind(lease_expires_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let entry = append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Ok(entry))
    }

    async fn append_audit(&self, new: &NewAuditEntry) -> StoreResult<AuditEntry> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let entry = append_audit_in(&mut tx, new).await?;
        // synchronous=FULL: the commit returns only once the WAL is on disk.
        tx.commit().await?;
        Ok(entry)
    }

    async fn audit_entries(&self, org: Option<OrgId>) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE org_id IS ? ORDER BY seq")
            .bind(org.map(OrgId::get))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from).collect()
    }

    async fn audit_range(
        &self,
        org: Option<OrgId>,
        after: i64,
        limit: u32,
    ) -> StoreResult<(Vec<AuditEntry>, i64)> {
        let rows = sqlx::query(AUDIT_PAGE)
            .bind(org.map(OrgId::get))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let next = rows.last().map_or(after, |r| r.get::<i64, _>("seq"));
        let entries = rows.iter().map(audit_from).collect::<anyhow::Result<_>>()?;
        Ok((entries, next))
    }
}

fn rand_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::{AUDIT_PAGE, CHAIN_HEAD};
    use crate::{DataDir, Durability, SqliteStore};

    /// What SQLite plans for `sql` (the detail column of `EXPLAIN QUERY PLAN`).
    async fn plan(store: &SqliteStore, sql: &str) -> String {
        let rows: Vec<(i64, i64, i64, String)> =
            // A constant of this module, not input.
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .bind(1_i64)
                .bind(0_i64)
                .bind(500_i64)
                .fetch_all(store.pool())
                .await
                .unwrap();
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
    }

    /// The audit log's hot queries read an index in order: ordered by a column the index
    /// does not lead with, SQLite sorted the organisation's whole log in a temporary B-tree
    /// per call (per licence and renewal for the chain head, per page for the console).
    #[tokio::test]
    async fn audit_queries_read_an_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&DataDir::new(dir.path()), Durability::Full)
            .await
            .unwrap();
        for (sql, index) in [
            (CHAIN_HEAD, "audit_log_chain"),
            (AUDIT_PAGE, "audit_log_org_order"),
        ] {
            let plan = plan(&store, sql).await;
            assert!(
                plan.contains(&format!("USING INDEX {index}")),
                "{sql}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{sql} sorts the log: {plan}");
        }
    }
}
