//! The server's state behind one trait: owners and their credentials, documents, links,
//! viewing sessions, request nonces, the revocation feed and the audit log.
//!
//! Handlers and the owner service only see [`MetaStore`] and plain records, so a PostgreSQL
//! implementation (or S3-compatible blobs, through `object_store`'s own backends) can be added
//! without touching them. The methods are domain operations ("grant a view if the link allows
//! one"), not SQL, so each backend can make them atomic in its own way.

use async_trait::async_trait;

use crate::audit::{AuditEntry, NewAuditEntry};

pub use crate::StoreResult;

/// An owner account.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Row id.
    pub id: i64,
    /// Login e-mail address.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// Which kind of owner credential a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// Browser session cookie.
    Cookie,
    /// CLI / automation API token.
    ApiToken,
}

impl CredentialKind {
    /// Name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::ApiToken => "api-token",
        }
    }
}

/// A sealed document in the store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentRecord {
    /// 32 hex digits.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Media type detected when sealing.
    pub media_type: String,
    /// Plaintext length in bytes.
    pub plaintext_len: i64,
    /// Envelope length in bytes.
    pub envelope_len: i64,
    /// Object-store path of the envelope.
    #[serde(skip)]
    pub blob: String,
    /// The content key wrapped under the server's wrap key.
    #[serde(skip)]
    pub wrapped_key: Vec<u8>,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// A protected link.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkRecord {
    /// Public id (what `veilmark revoke` takes).
    pub id: String,
    /// SHA-256 of the link token; the token itself is never stored.
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    /// The shared document.
    pub document_id: String,
    /// Who it was shared with.
    pub recipient: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// View limit (`None`: unlimited).
    pub max_views: Option<i64>,
    /// Licences granted so far.
    pub views: i64,
    /// argon2id hash of the passcode, if any.
    #[serde(skip)]
    pub passcode_hash: Option<String>,
    /// Whether a passcode is required.
    #[serde(rename = "passcode")]
    pub has_passcode: bool,
    /// Consecutive wrong passcodes.
    pub failed_passcodes: i64,
    /// Locked against passcode attempts until (unix seconds).
    pub locked_until: Option<i64>,
    /// Revocation time, unix seconds.
    pub revoked_at: Option<i64>,
}

/// A viewing session created by a licence grant.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// 32 hex digits.
    pub id: String,
    /// The link it was granted through.
    pub link_id: String,
    /// The watermark payload.
    pub session_code: u64,
    /// The viewer's X25519 public key.
    pub viewer_key: [u8; 32],
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Current lease expiry, unix seconds.
    pub lease_expires_at: i64,
}

/// Why a view could not be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewRefusal {
    /// The request's nonce was seen before: a replay.
    Replayed,
    /// The link was revoked.
    Revoked,
    /// The link expired.
    Expired,
    /// The view limit is reached.
    LimitReached,
}

/// Metadata storage: owners, documents, links, sessions, nonces and the audit log.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Creates an owner account; fails if the e-mail is taken.
    async fn create_owner(&self, email: &str, password_hash: &str, now: i64) -> StoreResult<i64>;
    /// Looks an owner up by e-mail.
    async fn owner_by_email(&self, email: &str) -> StoreResult<Option<Owner>>;
    /// Stores a credential (SHA-256 of the secret).
    async fn add_credential(
        &self,
        token_hash: &[u8; 32],
        owner_id: i64,
        kind: CredentialKind,
        now: i64,
        expires_at: Option<i64>,
    ) -> StoreResult<()>;
    /// The owner a live credential belongs to.
    async fn owner_by_credential(
        &self,
        token_hash: &[u8; 32],
        kind: CredentialKind,
        now: i64,
    ) -> StoreResult<Option<Owner>>;
    /// Deletes a credential (logout).
    async fn delete_credential(&self, token_hash: &[u8; 32]) -> StoreResult<()>;

    /// Records a sealed document.
    async fn insert_document(&self, doc: &DocumentRecord) -> StoreResult<()>;
    /// A document by id.
    async fn document(&self, id: &str) -> StoreResult<Option<DocumentRecord>>;
    /// All documents, newest first.
    async fn list_documents(&self) -> StoreResult<Vec<DocumentRecord>>;

    /// Records a new link.
    async fn insert_link(&self, link: &LinkRecord) -> StoreResult<()>;
    /// A link by its token hash.
    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> StoreResult<Option<LinkRecord>>;
    /// A link by public id.
    async fn link(&self, id: &str) -> StoreResult<Option<LinkRecord>>;
    /// All links, newest first.
    async fn list_links(&self) -> StoreResult<Vec<LinkRecord>>;
    /// Revokes a link; `false` if it was already revoked.
    async fn revoke_link(&self, id: &str, now: i64) -> StoreResult<bool>;
    /// Revocations recorded after feed position `after`: `(position, link id)`.
    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, String)>>;
    /// Counts a wrong passcode; locks the link for `lock_secs` when `max_failures` is reached.
    /// Returns the updated link.
    async fn passcode_failed(
        &self,
        link_id: &str,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> StoreResult<LinkRecord>;
    /// Resets the wrong-passcode counter after a right one.
    async fn passcode_succeeded(&self, link_id: &str) -> StoreResult<()>;

    /// In one durable transaction: remembers the request nonce (until `nonce_expires_at`),
    /// counts one view on the link, records the session and appends `audit` — unless the nonce
    /// was seen before or the link is revoked, expired or at its view limit, in which case
    /// nothing changes. Returns the stored audit entry.
    async fn grant_view(
        &self,
        session: &SessionRecord,
        nonce: &[u8],
        nonce_expires_at: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<Result<AuditEntry, ViewRefusal>>;
    /// Forgets request nonces whose replay window has passed.
    async fn purge_nonces(&self, now: i64) -> StoreResult<u64>;
    /// A session by id.
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    /// The session whose watermark payload is `code`, if any (how a leaked screenshot is traced
    /// back to a link and recipient).
    async fn session_by_code(&self, code: u64) -> StoreResult<Option<SessionRecord>>;
    /// Moves a session's lease expiry and appends `audit`, in one durable transaction.
    async fn renew_session(
        &self,
        id: &str,
        lease_expires_at: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<AuditEntry>;

    /// Appends an entry to the hash-chained audit log, durably, and returns it as stored.
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<AuditEntry>;
    /// The whole audit log in sequence order.
    async fn audit_entries(&self) -> StoreResult<Vec<AuditEntry>>;
}
