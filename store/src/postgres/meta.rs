//! [`MetaStore`] on PostgreSQL, shared by several server replicas and the owner CLI at once.
//!
//! The behaviour is [`crate::SqliteStore`]'s; only the way each operation is made atomic
//! differs, because here many processes write concurrently instead of taking turns on a file:
//!
//! - counters with a limit (view counts, passcode and login lock-outs) are one conditional
//!   `UPDATE … RETURNING`: PostgreSQL re-checks the `WHERE` against the row as the previous
//!   writer left it, so parallel requests are each counted and none passes the limit;
//! - the audit chain is appended under a transaction-scoped advisory lock per chain (read the
//!   head, insert after it), and `UNIQUE NULLS NOT DISTINCT (org_id, org_seq)` makes a fork
//!   impossible even if that lock were bypassed;
//! - the revocation feed is appended under one feed-wide transaction lock, so feed positions
//!   commit in order and a reader's "after position N" never skips a late commit; the
//!   revocation sends `NOTIFY veilmark_revocations` in the same transaction (delivered at
//!   commit, never for a rolled-back one).
//!
//! Lock order, the same in every transaction, so none can deadlock: link row, then the feed
//! lock, then the audit chain lock. Every query of a tenant's rows binds its organisation.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

use super::PostgresStore;
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
    RevocationWakeups, SessionRecord, ViewRefusal,
};
use crate::meta::{DescribeOffboarding, DescribeReviewClose, DescribeReviewStart};
use crate::review::{
    ClosedReview, DecideOutcome, NewReview, Reminder, ReviewDecision, ReviewItem, ReviewRecord,
    ReviewSchedule,
};
use crate::tenancy::{Account, OrgId, Organisation, Role};

/// The channel revocations are announced on; the payload is the link id.
pub(crate) const REVOCATION_CHANNEL: &str = "veilmark_revocations";

/// Advisory lock class ("VMAU") of the audit chains; the second key is the chain.
const AUDIT_LOCK_CLASS: i32 = 0x564d_4155;
/// Advisory lock class ("VMRF") of the revocation feed.
const FEED_LOCK_CLASS: i32 = 0x564d_5246;

/// Accounts joined with their organisation's name and setting.
const ACCOUNT: &str = "SELECT a.*, o.name AS org_name, o.require_totp AS org_requires_totp \
     FROM owners a JOIN organisations o ON o.id = a.org_id";

fn account_from(row: &PgRow) -> anyhow::Result<Account> {
    let role: String = row.try_get("role")?;
    Ok(Account {
        id: row.try_get("id")?,
        org: OrgId::from_row(row.try_get("org_id")?),
        org_name: row.try_get("org_name")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role)?,
        failed_logins: row.try_get("failed_logins")?,
        locked_until: row.try_get("locked_until")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_enabled_at: row.try_get("totp_enabled_at")?,
        totp_last_step: row.try_get("totp_last_step")?,
        org_requires_totp: row.try_get("org_requires_totp")?,
    })
}

fn org_from(row: &PgRow) -> anyhow::Result<Organisation> {
    Ok(Organisation {
        id: OrgId::from_row(row.try_get("id")?),
        name: row.try_get("name")?,
        require_totp: row.try_get("require_totp")?,
        created_at: row.try_get("created_at")?,
    })
}

fn credential_from(row: &PgRow) -> anyhow::Result<CredentialInfo> {
    let kind: String = row.try_get("kind")?;
    Ok(CredentialInfo {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        kind: CredentialKind::parse(&kind)
            .with_context(|| format!("unknown credential kind {kind:?}"))?
            .as_str(),
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

fn document_from(row: &PgRow) -> anyhow::Result<DocumentRecord> {
    Ok(DocumentRecord {
        org: OrgId::from_row(row.try_get("org_id")?),
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        media_type: row.try_get("media_type")?,
        plaintext_len: row.try_get("plaintext_len")?,
        envelope_len: row.try_get("envelope_len")?,
        level: row.try_get("level")?,
        derived_from: row.try_get("derived_from")?,
        shares: row.try_get("shares")?,
        blob: row.try_get("blob")?,
        wrapped_key: row.try_get("wrapped_key")?,
        created_at: row.try_get("created_at")?,
    })
}

fn link_from(row: &PgRow) -> anyhow::Result<LinkRecord> {
    let passcode_hash: Option<String> = row.try_get("passcode_hash")?;
    Ok(LinkRecord {
        org: OrgId::from_row(row.try_get("org_id")?),
        id: row.try_get("id")?,
        token_hash: row.try_get("token_hash")?,
        document_id: row.try_get("document_id")?,
        level: row.try_get("level")?,
        recipient: row.try_get("recipient")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        max_views: row.try_get("max_views")?,
        views: row.try_get("views")?,
        has_passcode: passcode_hash.is_some(),
        passcode_hash,
        failed_passcodes: row.try_get("failed_passcodes")?,
        locked_until: row.try_get("locked_until")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Links with their document's level (the document owns it).
const LINKS: &str = "SELECT l.*, d.level FROM links l \
     JOIN documents d ON d.id = l.document_id AND d.org_id = l.org_id";

fn level_from(row: &PgRow) -> anyhow::Result<LevelPolicy> {
    let watermark: String = row.try_get("watermark")?;
    Ok(LevelPolicy {
        name: row.try_get("name")?,
        rank: i64::from(row.try_get::<i32, _>("rank")?),
        max_link_secs: row.try_get("max_link_secs")?,
        max_views: row.try_get("max_views")?,
        passcode_required: row.try_get("passcode_required")?,
        owner_second_factor: row.try_get("owner_second_factor")?,
        watermark: WatermarkDensity::parse(&watermark)
            .with_context(|| format!("unknown watermark density {watermark:?}"))?,
        approved_only: row.try_get("approved_only")?,
    })
}

fn supplier_from(row: &PgRow) -> anyhow::Result<SupplierRecord> {
    let status: String = row.try_get("status")?;
    Ok(SupplierRecord {
        domain: row.try_get("domain")?,
        name: row.try_get("name")?,
        status: SupplierStatus::parse(&status)
            .with_context(|| format!("unknown supplier status {status:?}"))?,
        changed_at: row.try_get("changed_at")?,
    })
}

fn session_from(row: &PgRow) -> anyhow::Result<SessionRecord> {
    let key: Vec<u8> = row.try_get("viewer_key")?;
    let code: i64 = row.try_get("session_code")?;
    Ok(SessionRecord {
        id: row.try_get("id")?,
        link_id: row.try_get("link_id")?,
        session_code: u64::from_be_bytes(code.to_be_bytes()),
        viewer_key: key
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored viewer key is not 32 bytes"))?,
        created_at: row.try_get("created_at")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
    })
}

fn hash32(v: Vec<u8>) -> anyhow::Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| anyhow::anyhow!("stored audit hash is not 32 bytes"))
}

fn audit_from(row: &PgRow) -> anyhow::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.try_get("org_seq")?,
        org_id: row.try_get("org_id")?,
        account_id: row.try_get("account_id")?,
        format: row.try_get("format")?,
        at_ms: row.try_get("at_ms")?,
        kind: row.try_get("kind")?,
        link_id: row.try_get("link_id")?,
        session_id: row.try_get("session_id")?,
        document_id: row.try_get("document_id")?,
        actor: row.try_get("actor")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
        prev_hash: hash32(row.try_get("prev_hash")?)?,
        hash: hash32(row.try_get("hash")?)?,
    })
}

/// The key naming one audit chain in SQL (`COALESCE(org_id, 0)`, indexed): the organisation's
/// id, or 0 for the server's chain (organisation ids start at 1).
fn chain_key(org: Option<OrgId>) -> i64 {
    org.map_or(0, OrgId::get)
}

/// The second key of a chain's advisory lock. Two chains sharing one (ids past 2^31) only
/// take turns; they never interfere otherwise.
fn chain_lock(key: i64) -> i32 {
    i32::try_from(key)
        .unwrap_or_else(|_| i32::try_from(key.rem_euclid(i64::from(i32::MAX))).unwrap_or(0))
}

/// Appends revoked links `ids` to the revocation feed inside `tx`: takes the feed lock (so
/// positions commit in order) and notifies every listening process at commit. Nothing for none.
pub(super) async fn feed_revocations_in(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[&str],
    now: i64,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
        .bind(FEED_LOCK_CLASS)
        .execute(&mut **tx)
        .await
        .context("cannot lock the revocation feed")?;
    for id in ids {
        sqlx::query("INSERT INTO revocations (link_id, at) VALUES ($1, $2)")
            .bind(id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        // Delivered to every listening process when (and only if) this commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REVOCATION_CHANNEL)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Adds supplier `s` to `org` or updates its name and status, inside `tx`.
async fn upsert_supplier_in(
    tx: &mut Transaction<'_, Postgres>,
    org: OrgId,
    s: &SupplierRecord,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO suppliers (org_id, domain, name, status, changed_at)
         VALUES ($1, $2, $3, $4, $5)
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

/// Appends the next audit entry of its chain inside `tx`. The chain's advisory lock is held
/// until `tx` ends, so no other transaction (in any process) reads the same head.
pub(super) async fn append_audit_in(
    tx: &mut Transaction<'_, Postgres>,
    new: &NewAuditEntry,
) -> anyhow::Result<AuditEntry> {
    let key = chain_key(new.org);
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(AUDIT_LOCK_CLASS)
        .bind(chain_lock(key))
        .execute(&mut **tx)
        .await
        .context("cannot lock the audit chain")?;
    // A new statement after the lock: its snapshot sees the previous holder's commit.
    let prev = sqlx::query(
        "SELECT org_seq, hash FROM audit_log WHERE COALESCE(org_id, 0) = $1
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| Ok::<_, anyhow::Error>((r.try_get::<i64, _>("org_seq")?, hash32(r.try_get("hash")?)?)))
    .transpose()?;
    let e = next_entry(prev, new);
    sqlx::query(
        "INSERT INTO audit_log (org_id, org_seq, account_id, format, at_ms, kind, link_id,
         session_id, document_id, actor, ip, user_agent, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
    .await
    .context("cannot append to the audit log")?;
    Ok(e)
}

/// A lock-out counter: rows of `table` carry `counter` (consecutive failures) and
/// `locked_until`. Logins (accounts) and passcodes (links) share one way of counting.
struct LockOut {
    table: &'static str,
    counter: &'static str,
}

const LOGIN_LOCK_OUT: LockOut = LockOut {
    table: "owners",
    counter: "failed_logins",
};

const PASSCODE_LOCK_OUT: LockOut = LockOut {
    table: "links",
    counter: "failed_passcodes",
};

/// Counts one attempt on row `id` in one statement, so that parallel attempts (from any
/// replica) each wait for the row and are re-checked against what the previous one wrote; the
/// attempt that reaches `max_failures` locks the row for `lock_secs`, and a lock that has run
/// out starts a fresh count. `Ok(n)`: counted as attempt `n`; `Err(until)`: locked until then.
async fn count_attempt<I>(
    pool: &sqlx::PgPool,
    lock: &LockOut,
    id: I,
    now: i64,
    max_failures: i64,
    lock_secs: i64,
) -> StoreResult<Result<i64, i64>>
where
    I: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + Clone,
{
    let LockOut { table, counter } = lock;
    let counted: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "UPDATE {table} SET
             {counter} = CASE WHEN locked_until IS NOT NULL AND locked_until <= $1
                              THEN 1 ELSE {counter} + 1 END,
             locked_until = CASE
                 WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN NULL
                 WHEN {counter} + 1 >= $2 THEN $1 + $3
                 ELSE locked_until END
         WHERE id = $4 AND (locked_until IS NULL OR locked_until <= $1)
         RETURNING {counter}"
    )))
    .bind(now)
    .bind(max_failures)
    .bind(lock_secs)
    .bind(id.clone())
    .fetch_optional(pool)
    .await?;
    if let Some(n) = counted {
        return Ok(Ok(n));
    }
    let until: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT locked_until FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .flatten();
    Ok(Err(until.unwrap_or(now)))
}

fn rand_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(b)
}

#[async_trait]
impl MetaStore for PostgresStore {
    async fn create_org(&self, name: &str, now: i64) -> StoreResult<OrgId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO organisations (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot create organisation {name:?} (does it exist already?)"))?;
        Ok(OrgId::from_row(id))
    }

    async fn org_by_name(&self, name: &str) -> StoreResult<Option<Organisation>> {
        let row = sqlx::query("SELECT * FROM organisations WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(org_from).transpose()
    }

    async fn org(&self, org: OrgId) -> StoreResult<Organisation> {
        let row = sqlx::query("SELECT * FROM organisations WHERE id = $1")
            .bind(org.get())
            .fetch_one(&self.pool)
            .await?;
        org_from(&row)
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>> {
        // SQLite sorts the NOCASE column case-insensitively, byte order otherwise.
        let rows = sqlx::query(
            "SELECT * FROM organisations ORDER BY lower(name) COLLATE \"C\", name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(org_from).collect()
    }

    async fn set_org_require_totp(&self, org: OrgId, required: bool) -> StoreResult<()> {
        sqlx::query("UPDATE organisations SET require_totp = $1 WHERE id = $2")
            .bind(required)
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
        Ok(sqlx::query_scalar(
            "INSERT INTO owners (org_id, email, password_hash, role, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(org.get())
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot create account {email} (does it exist already?)"))?)
    }

    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query(AssertSqlSafe(format!("{ACCOUNT} WHERE a.email = $1")))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn account(&self, org: OrgId, id: i64) -> StoreResult<Option<Account>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{ACCOUNT} WHERE a.id = $1 AND a.org_id = $2"
        )))
        .bind(id)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn list_accounts(&self, org: OrgId) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{ACCOUNT} WHERE a.org_id = $1 ORDER BY a.email COLLATE \"C\""
        )))
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from).collect()
    }

    async fn set_role(&self, org: OrgId, id: i64, role: Role) -> StoreResult<bool> {
        Ok(
            sqlx::query("UPDATE owners SET role = $1 WHERE id = $2 AND org_id = $3")
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
        // One statement: credentials and recovery codes go with it (ON DELETE CASCADE).
        Ok(
            sqlx::query("DELETE FROM owners WHERE id = $1 AND org_id = $2")
                .bind(id)
                .bind(org.get())
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    async fn set_password(&self, org: OrgId, id: i64, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE owners SET password_hash = $1, failed_logins = 0, locked_until = NULL
             WHERE id = $2 AND org_id = $3",
        )
        .bind(password_hash)
        .bind(id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        anyhow::ensure!(n == 1, "no such account");
        sqlx::query("DELETE FROM credentials WHERE account_id = $1")
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
        let counted = count_attempt(
            &self.pool,
            &LOGIN_LOCK_OUT,
            id,
            now,
            max_failures,
            lock_secs,
        )
        .await?;
        Ok(counted.map_or_else(LoginAttempt::Locked, LoginAttempt::Counted))
    }

    async fn login_succeeded(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE owners SET failed_logins = 0, locked_until = NULL WHERE id = $1")
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
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE owners SET totp_secret = $1, totp_enabled_at = NULL, totp_last_step = NULL
             WHERE id = $2 AND org_id = $3",
        )
        .bind(wrapped)
        .bind(id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if wrapped.is_none() && n == 1 {
            sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE owners SET totp_enabled_at = $1, totp_last_step = $2
             WHERE id = $3 AND org_id = $4 AND totp_secret IS NOT NULL",
        )
        .bind(now)
        .bind(step)
        .bind(id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        anyhow::ensure!(n == 1, "no enrolment in progress for this account");
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let hashes: Vec<Vec<u8>> = recovery_hashes.iter().map(|h| h.to_vec()).collect();
        sqlx::query(
            "INSERT INTO recovery_codes (account_id, code_hash)
             SELECT $1, h FROM UNNEST($2::bytea[]) AS h",
        )
        .bind(id)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn use_totp_step(&self, id: i64, step: i64) -> StoreResult<bool> {
        Ok(sqlx::query(
            "UPDATE owners SET totp_last_step = $1
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
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
            "UPDATE recovery_codes SET used_at = $1
             WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
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
            "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn add_credential(&self, c: &NewCredential<'_>) -> StoreResult<String> {
        let id = format!("tok_{}", hex::encode(rand_bytes::<8>()?));
        sqlx::query(
            "INSERT INTO credentials (id, token_hash, account_id, kind, label, created_at,
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
            "SELECT * FROM credentials WHERE token_hash = $1 AND kind = $2 AND expires_at > $3",
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
        let account = sqlx::query(AssertSqlSafe(format!("{ACCOUNT} WHERE a.id = $1")))
            .bind(cred.account_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(account) = account.as_ref().map(account_from).transpose()? else {
            return Ok(None);
        };
        // Record the use, at most once a minute per credential (not a write per request).
        if last + 60 <= check.now {
            sqlx::query(
                "UPDATE credentials SET last_used_at = $1
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
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
        // DELETE … RETURNING: of two requests with the same secret, one deletes the row and
        // the other (waiting on it) finds it gone.
        let id: Option<i64> = sqlx::query_scalar(
            "DELETE FROM credentials WHERE token_hash = $1 AND kind = $2 AND expires_at > $3
             RETURNING account_id",
        )
        .bind(&token_hash[..])
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(id) = id else { return Ok(None) };
        let row = sqlx::query(AssertSqlSafe(format!("{ACCOUNT} WHERE a.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn delete_credential(&self, token_hash: &[u8; 32]) -> StoreResult<()> {
        sqlx::query("DELETE FROM credentials WHERE token_hash = $1")
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
             WHERE c.account_id = $1 AND a.org_id = $2 AND c.kind = $3 AND c.expires_at > $4
             ORDER BY c.created_at DESC, c.id COLLATE \"C\"",
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
            "{ACCOUNT} WHERE a.id = (SELECT account_id FROM credentials WHERE id = $1)"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn revoke_credential(&self, org: OrgId, id: &str) -> StoreResult<bool> {
        Ok(sqlx::query(
            "DELETE FROM credentials WHERE id = $1
             AND account_id IN (SELECT id FROM owners WHERE org_id = $2)",
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
            "DELETE FROM credentials WHERE account_id = $1
             AND account_id IN (SELECT id FROM owners WHERE org_id = $2)",
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
        .await
        .with_context(|| format!("cannot record document {}", d.id))?;
        Ok(())
    }

    async fn document(&self, org: OrgId, id: &str) -> StoreResult<Option<DocumentRecord>> {
        let row = sqlx::query("SELECT * FROM documents WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(document_from).transpose()
    }

    async fn list_documents(&self, org: OrgId) -> StoreResult<Vec<DocumentRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM documents WHERE org_id = $1 ORDER BY created_at DESC, id COLLATE \"C\"",
        )
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(document_from).collect()
    }

    async fn insert_link(&self, l: &LinkRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // FOR SHARE waits for a level change in flight (which holds the row for update) and
        // then reads its result; a level change waits for this insert to commit, and then sees
        // the new link among the live ones it re-checks.
        // A subset's parent is checked too: its level is the one that counts. Parent before
        // child, the order a level change locks them in (`derived_from` never changes, so it
        // can be read first without a lock).
        let parent: Option<Option<String>> =
            sqlx::query_scalar("SELECT derived_from FROM documents WHERE id = $1 AND org_id = $2")
                .bind(&l.document_id)
                .bind(l.org.get())
                .fetch_optional(&mut *tx)
                .await?;
        let parent_level: Option<String> = match parent.flatten() {
            Some(parent) => {
                sqlx::query_scalar(
                    "SELECT level FROM documents WHERE id = $1 AND org_id = $2 FOR SHARE",
                )
                .bind(parent)
                .bind(l.org.get())
                .fetch_optional(&mut *tx)
                .await?
            }
            None => Some(l.level.clone()),
        };
        let level: Option<String> = sqlx::query_scalar(
            "SELECT level FROM documents WHERE id = $1 AND org_id = $2 FOR SHARE",
        )
        .bind(&l.document_id)
        .bind(l.org.get())
        .fetch_optional(&mut *tx)
        .await?
        .filter(|level| parent_level.as_ref() == Some(level));
        anyhow::ensure!(
            level.as_deref() == Some(l.level.as_str()),
            "no document {} at level {} in this organisation (its level may have just changed; try again)",
            l.document_id,
            l.level
        );
        sqlx::query(
            "INSERT INTO links (id, org_id, token_hash, document_id, recipient, created_at,
             expires_at, max_views, passcode_hash, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        .bind(&l.created_by)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot record link {}", l.id))?;
        tx.commit().await?;
        Ok(())
    }

    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> StoreResult<Option<LinkRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!("{LINKS} WHERE l.token_hash = $1")))
            .bind(&token_hash[..])
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(link_from).transpose()
    }

    async fn link(&self, org: OrgId, id: &str) -> StoreResult<Option<LinkRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{LINKS} WHERE l.id = $1 AND l.org_id = $2"
        )))
        .bind(id)
        .bind(org.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(link_from).transpose()
    }

    async fn list_links(&self, org: OrgId) -> StoreResult<Vec<LinkRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LINKS} WHERE l.org_id = $1 ORDER BY l.created_at DESC, l.id COLLATE \"C\""
        )))
        .bind(org.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from).collect()
    }

    async fn revoke_link(
        &self,
        org: OrgId,
        id: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // Of two parallel revocations, the second waits for the first's row lock, is
        // re-checked against `revoked_at` and changes nothing.
        let done = sqlx::query(
            "UPDATE links SET revoked_at = $1
             WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !done {
            tx.rollback().await?;
            return Ok(false);
        }
        feed_revocations_in(&mut tx, &[id], now).await?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn stored_levels(&self, org: OrgId) -> StoreResult<Vec<LevelPolicy>> {
        let rows =
            sqlx::query("SELECT * FROM classification_levels WHERE org_id = $1 ORDER BY rank")
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
        let mut tx = self.pool.begin().await?;
        // One definer at a time per organisation, and no document sealed in between at a level
        // about to disappear: lock the organisation's row.
        sqlx::query("SELECT 1 FROM organisations WHERE id = $1 FOR UPDATE")
            .bind(org.get())
            .execute(&mut *tx)
            .await?;
        let used: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT level FROM documents WHERE org_id = $1")
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
        sqlx::query("DELETE FROM classification_levels WHERE org_id = $1")
            .bind(org.get())
            .execute(&mut *tx)
            .await?;
        for l in levels {
            sqlx::query(
                "INSERT INTO classification_levels (org_id, rank, name, max_link_secs, max_views,
                 passcode_required, owner_second_factor, watermark, approved_only)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(org.get())
            .bind(i32::try_from(l.rank)?)
            .bind(&l.name)
            .bind(l.max_link_secs)
            .bind(l.max_views)
            .bind(l.passcode_required)
            .bind(l.owner_second_factor)
            .bind(l.watermark.as_str())
            .bind(l.approved_only)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE documents SET level = $1 WHERE org_id = $2 AND lower(level) = lower($1)",
            )
            .bind(&l.name)
            .bind(org.get())
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
        let mut tx = self.pool.begin().await?;
        // Lock order: document row, link rows, feed lock, audit chain lock.
        let Some(from): Option<String> = sqlx::query_scalar(
            "SELECT level FROM documents WHERE id = $1 AND org_id = $2 FOR UPDATE",
        )
        .bind(doc)
        .bind(org.get())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        // The subsets cut from it follow (their rows locked by the update).
        sqlx::query(
            "UPDATE documents SET level = $1 WHERE org_id = $3 AND (id = $2 OR derived_from = $2)",
        )
        .bind(level)
        .bind(doc)
        .bind(org.get())
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{LINKS} WHERE l.org_id = $2 AND (d.id = $1 OR d.derived_from = $1) \
             AND l.revoked_at IS NULL AND l.expires_at > $3 \
             ORDER BY l.created_at, l.id COLLATE \"C\" FOR UPDATE OF l"
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
        for row in &rows {
            let link = link_from(row)?;
            match adjust(&link) {
                LinkAdjustment::Keep => {}
                LinkAdjustment::Shorten {
                    expires_at,
                    max_views,
                } => {
                    sqlx::query("UPDATE links SET expires_at = $1, max_views = $2 WHERE id = $3")
                        .bind(expires_at.min(link.expires_at))
                        .bind(max_views)
                        .bind(&link.id)
                        .execute(&mut *tx)
                        .await?;
                    change.shortened.push(link.id);
                }
                LinkAdjustment::Revoke(why) => {
                    sqlx::query("UPDATE links SET revoked_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(&link.id)
                        .execute(&mut *tx)
                        .await?;
                    change.revoked.push((link.id, why));
                }
            }
        }
        let revoked: Vec<&str> = change.revoked.iter().map(|(id, _)| id.as_str()).collect();
        feed_revocations_in(&mut tx, &revoked, now).await?;
        append_audit_in(&mut tx, &audit(&change)).await?;
        tx.commit().await?;
        Ok(Some(change))
    }

    async fn suppliers(&self, org: OrgId) -> StoreResult<Vec<SupplierRecord>> {
        let rows =
            sqlx::query("SELECT * FROM suppliers WHERE org_id = $1 ORDER BY domain COLLATE \"C\"")
                .bind(org.get())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(supplier_from).collect()
    }

    async fn supplier(&self, org: OrgId, domain: &str) -> StoreResult<Option<SupplierRecord>> {
        // One primary-key lookup: every licence and renewal asks.
        let row = sqlx::query("SELECT * FROM suppliers WHERE org_id = $1 AND domain = $2")
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
        let mut tx = self.pool.begin().await?;
        upsert_supplier_in(&mut tx, org, s).await?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn terms(&self, org: OrgId) -> StoreResult<Option<OrgTerms>> {
        let row =
            sqlx::query("SELECT text, from_rank, updated_at FROM org_terms WHERE org_id = $1")
                .bind(org.get())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(OrgTerms {
                text: r.try_get("text")?,
                from_rank: i64::from(r.try_get::<i32, _>("from_rank")?),
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    async fn set_terms(
        &self,
        org: OrgId,
        terms: Option<&OrgTerms>,
        audit: &NewAuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        match terms {
            Some(t) => {
                sqlx::query(
                    "INSERT INTO org_terms (org_id, text, from_rank, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (org_id) DO UPDATE SET text = excluded.text,
                       from_rank = excluded.from_rank, updated_at = excluded.updated_at",
                )
                .bind(org.get())
                .bind(&t.text)
                .bind(i32::try_from(t.from_rank)?)
                .bind(t.updated_at)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM org_terms WHERE org_id = $1")
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
            "SELECT COUNT(*) FROM terms_acceptances WHERE link_id = $1 AND sha256 = $2",
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
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "INSERT INTO terms_acceptances (link_id, sha256, accepted_at, ip, session_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (link_id, sha256) DO NOTHING",
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
        let mut tx = self.pool.begin().await?;
        upsert_supplier_in(&mut tx, org, s).await?;
        // Lock order: link rows, then the feed lock, then the audit chain lock.
        let mut ids: Vec<String> = sqlx::query_scalar(
            "UPDATE links SET revoked_at = $1
             WHERE org_id = $2 AND revoked_at IS NULL AND expires_at > $1
               AND lower(recipient) LIKE ('%@' || $3)
             RETURNING id",
        )
        .bind(now)
        .bind(org.get())
        .bind(&s.domain)
        .fetch_all(&mut *tx)
        .await?;
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
            "DELETE FROM access_review_reminders WHERE review_id = $1 AND owner = $2 AND kind = $3",
        )
        .bind(&reminder.review_id)
        .bind(&reminder.owner)
        .bind(reminder.kind.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT seq, link_id FROM revocations WHERE seq > $1 ORDER BY seq")
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("link_id")?)))
            .collect()
    }

    async fn revocation_wakeups(&self) -> StoreResult<RevocationWakeups> {
        Ok(self.listen_for_revocations())
    }

    async fn passcode_attempt(
        &self,
        link_id: &str,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> StoreResult<PasscodeAttempt> {
        let counted = count_attempt(
            &self.pool,
            &PASSCODE_LOCK_OUT,
            link_id,
            now,
            max_failures,
            lock_secs,
        )
        .await?;
        Ok(counted.map_or_else(PasscodeAttempt::Locked, PasscodeAttempt::Counted))
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
                 locked_until = CASE WHEN $2 >= $3 THEN NULL ELSE locked_until END
             WHERE id = $1",
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
        let mut tx = self.pool.begin().await?;
        // A replay of an uncommitted request waits for it here and then finds the nonce.
        let fresh = sqlx::query(
            "INSERT INTO request_nonces (link_id, nonce, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
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
        // Parallel grants queue on the link's row; each is re-checked against the count the
        // one before it left, so a link allowing N views grants exactly N.
        let counted = sqlx::query_scalar::<_, i64>(
            "UPDATE links SET views = views + 1
             WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2
               AND (max_views IS NULL OR views < max_views)
             RETURNING views",
        )
        .bind(&s.link_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if !counted {
            let row = sqlx::query("SELECT revoked_at, expires_at FROM links WHERE id = $1")
                .bind(&s.link_id)
                .fetch_optional(&mut *tx)
                .await?
                .with_context(|| format!("no link {}", s.link_id))?;
            let revoked: Option<i64> = row.try_get("revoked_at")?;
            let expires_at: i64 = row.try_get("expires_at")?;
            tx.rollback().await?;
            return Ok(Err(if revoked.is_some() {
                ViewRefusal::Revoked
            } else if expires_at <= now {
                ViewRefusal::Expired
            } else {
                ViewRefusal::LimitReached
            }));
        }
        sqlx::query(
            "INSERT INTO sessions (id, link_id, session_code, viewer_key, created_at,
             lease_expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
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
            sqlx::query("DELETE FROM request_nonces WHERE expires_at < $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from).transpose()
    }

    async fn session_by_code(&self, org: OrgId, code: u64) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT s.* FROM sessions s JOIN links l ON l.id = s.link_id
             WHERE s.session_code = $1 AND l.org_id = $2",
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
        let mut tx = self.pool.begin().await?;
        // FOR SHARE on the link: a revocation in flight is waited for and then seen, and one
        // that starts now waits for this commit. So a renewal is ordered before a revocation
        // or refused, never granted after it.
        let link = sqlx::query(
            "SELECT l.revoked_at, l.expires_at FROM sessions s JOIN links l ON l.id = s.link_id
             WHERE s.id = $1 FOR SHARE OF l",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .with_context(|| format!("no session {id}"))?;
        if link.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            tx.rollback().await?;
            return Ok(Err(ViewRefusal::Revoked));
        }
        if link.try_get::<i64, _>("expires_at")? <= now {
            tx.rollback().await?;
            return Ok(Err(ViewRefusal::Expired));
        }
        sqlx::query(
            "UPDATE sessions SET lease_expires_at = $1, renewals = renewals + 1 WHERE id = $2",
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
        let mut tx = self.pool.begin().await?;
        let entry = append_audit_in(&mut tx, new).await?;
        // synchronous_commit (on by default): the commit returns once the WAL is flushed.
        tx.commit().await?;
        Ok(entry)
    }

    async fn audit_entries(&self, org: Option<OrgId>) -> StoreResult<Vec<AuditEntry>> {
        let rows =
            sqlx::query("SELECT * FROM audit_log WHERE COALESCE(org_id, 0) = $1 ORDER BY seq")
                .bind(chain_key(org))
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
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE COALESCE(org_id, 0) = $1 AND seq > $2
             ORDER BY seq LIMIT $3",
        )
        .bind(chain_key(org))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let next = match rows.last() {
            Some(r) => r.try_get::<i64, _>("seq")?,
            None => after,
        };
        let entries = rows.iter().map(audit_from).collect::<anyhow::Result<_>>()?;
        Ok((entries, next))
    }
}
