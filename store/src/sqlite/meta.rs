//! [`MetaStore`] on SQLite: owners, credentials, documents, links, sessions, nonces, the
//! revocation feed and the audit log.

use anyhow::Context;
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use crate::StoreResult;
use crate::audit::{AuditEntry, NewAuditEntry, next_entry};
use crate::meta::{
    CredentialKind, DocumentRecord, LinkRecord, MetaStore, Owner, SessionRecord, ViewRefusal,
};

fn owner_from(row: &SqliteRow) -> Owner {
    Owner {
        id: row.get("id"),
        email: row.get("email"),
        password_hash: row.get("password_hash"),
    }
}

fn document_from(row: &SqliteRow) -> DocumentRecord {
    DocumentRecord {
        id: row.get("id"),
        title: row.get("title"),
        media_type: row.get("media_type"),
        plaintext_len: row.get("plaintext_len"),
        envelope_len: row.get("envelope_len"),
        blob: row.get("blob"),
        wrapped_key: row.get("wrapped_key"),
        created_at: row.get("created_at"),
    }
}

fn link_from(row: &SqliteRow) -> LinkRecord {
    let passcode_hash: Option<String> = row.get("passcode_hash");
    LinkRecord {
        id: row.get("id"),
        token_hash: row.get("token_hash"),
        document_id: row.get("document_id"),
        recipient: row.get("recipient"),
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

/// Appends the next audit entry inside `tx`, which must be a `BEGIN IMMEDIATE` transaction (so
/// that reading the chain head and inserting after it cannot interleave with another writer).
async fn append_audit_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new: &NewAuditEntry,
) -> anyhow::Result<AuditEntry> {
    let prev = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| Ok::<_, anyhow::Error>((r.get::<i64, _>("seq"), hash32(r.get("hash"))?)))
        .transpose()?;
    let e = next_entry(prev, new);
    sqlx::query(
        "INSERT INTO audit_log (seq, at_ms, kind, link_id, session_id, document_id, actor, ip,
         user_agent, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.seq)
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
        seq: row.get("seq"),
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
    async fn create_owner(&self, email: &str, password_hash: &str, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO owners (email, password_hash, created_at) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .with_context(|| format!("cannot create owner {email} (does it exist already?)"))?;
        Ok(row.get("id"))
    }

    async fn owner_by_email(&self, email: &str) -> StoreResult<Option<Owner>> {
        let row = sqlx::query("SELECT * FROM owners WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(owner_from))
    }

    async fn add_credential(
        &self,
        token_hash: &[u8; 32],
        owner_id: i64,
        kind: CredentialKind,
        now: i64,
        expires_at: Option<i64>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO owner_credentials (token_hash, owner_id, kind, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token_hash[..])
        .bind(owner_id)
        .bind(kind.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn owner_by_credential(
        &self,
        token_hash: &[u8; 32],
        kind: CredentialKind,
        now: i64,
    ) -> StoreResult<Option<Owner>> {
        let row = sqlx::query(
            "SELECT o.* FROM owner_credentials c JOIN owners o ON o.id = c.owner_id
             WHERE c.token_hash = ? AND c.kind = ? AND (c.expires_at IS NULL OR c.expires_at > ?)",
        )
        .bind(&token_hash[..])
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(owner_from))
    }

    async fn delete_credential(&self, token_hash: &[u8; 32]) -> StoreResult<()> {
        sqlx::query("DELETE FROM owner_credentials WHERE token_hash = ?")
            .bind(&token_hash[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_document(&self, d: &DocumentRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO documents (id, title, media_type, plaintext_len, envelope_len, blob,
             wrapped_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&d.id)
        .bind(&d.title)
        .bind(&d.media_type)
        .bind(d.plaintext_len)
        .bind(d.envelope_len)
        .bind(&d.blob)
        .bind(&d.wrapped_key)
        .bind(d.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn document(&self, id: &str) -> StoreResult<Option<DocumentRecord>> {
        let row = sqlx::query("SELECT * FROM documents WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(document_from))
    }

    async fn list_documents(&self) -> StoreResult<Vec<DocumentRecord>> {
        let rows = sqlx::query("SELECT * FROM documents ORDER BY created_at DESC, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(document_from).collect())
    }

    async fn insert_link(&self, l: &LinkRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO links (id, token_hash, document_id, recipient, created_at, expires_at,
             max_views, passcode_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&l.id)
        .bind(&l.token_hash)
        .bind(&l.document_id)
        .bind(&l.recipient)
        .bind(l.created_at)
        .bind(l.expires_at)
        .bind(l.max_views)
        .bind(&l.passcode_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> StoreResult<Option<LinkRecord>> {
        let row = sqlx::query("SELECT * FROM links WHERE token_hash = ?")
            .bind(&token_hash[..])
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(link_from))
    }

    async fn link(&self, id: &str) -> StoreResult<Option<LinkRecord>> {
        let row = sqlx::query("SELECT * FROM links WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(link_from))
    }

    async fn list_links(&self) -> StoreResult<Vec<LinkRecord>> {
        let rows = sqlx::query("SELECT * FROM links ORDER BY created_at DESC, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(link_from).collect())
    }

    async fn revoke_link(&self, id: &str, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done =
            sqlx::query("UPDATE links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if done {
            sqlx::query("INSERT INTO revocations (link_id, at) VALUES (?, ?)")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done)
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

    async fn passcode_failed(
        &self,
        link_id: &str,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> StoreResult<LinkRecord> {
        let row = sqlx::query(
            "UPDATE links SET failed_passcodes = failed_passcodes + 1,
                 locked_until = CASE WHEN failed_passcodes + 1 >= ? THEN ? ELSE locked_until END
             WHERE id = ? RETURNING *",
        )
        .bind(max_failures)
        .bind(now + lock_secs)
        .bind(link_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(link_from(&row))
    }

    async fn passcode_succeeded(&self, link_id: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE links SET failed_passcodes = 0, locked_until = NULL
             WHERE id = ? AND failed_passcodes > 0",
        )
        .bind(link_id)
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
            let row = sqlx::query("SELECT * FROM links WHERE id = ?")
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

    async fn session_by_code(&self, code: u64) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE session_code = ?")
            .bind(i64::from_be_bytes(code.to_be_bytes()))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from).transpose()
    }

    async fn renew_session(
        &self,
        id: &str,
        lease_expires_at: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<AuditEntry> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE sessions SET lease_expires_at = ?, renewals = renewals + 1 WHERE id = ?",
        )
        .bind(lease_expires_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let entry = append_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(entry)
    }

    async fn append_audit(&self, new: &NewAuditEntry) -> StoreResult<AuditEntry> {
        let _serial = self.audit_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let entry = append_audit_in(&mut tx, new).await?;
        // synchronous=FULL: the commit returns only once the WAL is on disk.
        tx.commit().await?;
        Ok(entry)
    }

    async fn audit_entries(&self) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from).collect()
    }
}
