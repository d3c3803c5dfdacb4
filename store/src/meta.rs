//! The server's state behind one trait: organisations, accounts and their credentials,
//! documents, links, viewing sessions, request nonces, the revocation feed and the audit log.
//!
//! Everything a tenant owns is read and written with its [`OrgId`] as an argument (see
//! [`crate::tenancy`]); the few lookups without one are those where the secret presented is
//! itself the authority (a link token, a viewing session, a credential) or the operator's own
//! commands on the data directory.
//!
//! Handlers and the owner service only see [`MetaStore`] and plain records, so a PostgreSQL
//! implementation (or S3-compatible blobs, through `object_store`'s own backends) can be added
//! without touching them. The methods are domain operations ("grant a view if the link allows
//! one"), not SQL, so each backend can make them atomic in its own way.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::alerts::{AlertRecord, Delivery, DeliveryStatus, WebhookRecord};
use crate::audit::{AuditEntry, NewAuditEntry};
use crate::classification::{
    LevelChange, LevelPolicy, LinkAdjustment, OrgTerms, SupplierRecord, default_levels,
};
use crate::review::{
    ClosedReview, DecideOutcome, NewReview, Reminder, ReviewDecision, ReviewItem, ReviewRecord,
    ReviewSchedule,
};
use crate::tenancy::{Account, OrgId, Organisation, Role};

pub use crate::StoreResult;

/// Which kind of account credential a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// Browser session cookie.
    Cookie,
    /// CLI / automation API token.
    ApiToken,
    /// A login whose password was right, waiting for the second factor (minutes).
    SecondFactor,
    /// A one-time link for a new member to choose a password.
    SetPassword,
}

impl CredentialKind {
    /// Name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::ApiToken => "api-token",
            Self::SecondFactor => "second-factor",
            Self::SetPassword => "set-password",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Cookie,
            Self::ApiToken,
            Self::SecondFactor,
            Self::SetPassword,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A credential to store: only the hash of its secret.
#[derive(Debug, Clone)]
pub struct NewCredential<'a> {
    /// SHA-256 of the secret.
    pub token_hash: &'a [u8; 32],
    /// The account it authenticates.
    pub account_id: i64,
    /// What it is.
    pub kind: CredentialKind,
    /// A label the member chose (API tokens).
    pub label: &'a str,
    /// Creation time, unix seconds.
    pub now: i64,
    /// Absolute end, unix seconds.
    pub expires_at: i64,
}

/// A stored credential, without its secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CredentialInfo {
    /// Public id (`tok_…`).
    pub id: String,
    /// The account.
    pub account_id: i64,
    /// `cookie`, `api-token`, …
    pub kind: &'static str,
    /// The member's label.
    pub label: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Absolute end, unix seconds.
    pub expires_at: i64,
    /// Last time it authenticated a request (updated at most once a minute).
    pub last_used_at: Option<i64>,
}

/// How a credential is checked.
#[derive(Debug, Clone, Copy)]
pub struct CredentialCheck {
    /// The kind the request presented.
    pub kind: CredentialKind,
    /// The time now, unix seconds.
    pub now: i64,
    /// Refuse it when unused for longer than this (console idle timeout).
    pub idle_secs: Option<i64>,
}

/// A sealed document in the store.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentRecord {
    /// The organisation it belongs to.
    #[serde(skip)]
    pub org: OrgId,
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
    /// Classification level (a name from the organisation's levels).
    pub level: String,
    /// For a need-to-know subset: the document it was cut from (it follows that one's level).
    pub derived_from: Option<String>,
    /// For a need-to-know subset: what it holds (`pages 1-3, 7`).
    pub shares: Option<String>,
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
    /// The organisation it belongs to (its document's).
    #[serde(skip)]
    pub org: OrgId,
    /// Public id (what `veilmark revoke` takes).
    pub id: String,
    /// SHA-256 of the link token; the token itself is never stored.
    #[serde(skip)]
    pub token_hash: Vec<u8>,
    /// The shared document.
    pub document_id: String,
    /// The document's classification level, read with the link (the document owns it). A new
    /// link is only stored while its document is still at this level.
    pub level: String,
    /// Who it was shared with.
    pub recipient: String,
    /// Who made it: the member's e-mail or `cli:USER` (empty for links made before access
    /// reviews, migration 1008). Access reviews ask this owner to confirm it.
    pub created_by: String,
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

/// Why a passcode attempt was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasscodeAttempt {
    /// Counted: the attempt's number since the last success or lock (from 1). The link was
    /// locked by this very attempt when the number reached the limit.
    Counted(i64),
    /// The link is locked until this time (unix seconds); the attempt was not checked.
    Locked(i64),
}

/// Why a login could not even be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// Counted; the password may be checked.
    Counted(i64),
    /// The account is locked until this time (unix seconds).
    Locked(i64),
}

/// Wake-ups for a server's revocation watcher ([`MetaStore::revocation_wakeups`]): each
/// [`RevocationWakeups::wait`] returns when the revocation feed may have grown. A wake-up with
/// nothing new is harmless: the watcher reads the feed from its last position.
#[derive(Debug)]
pub struct RevocationWakeups {
    /// Bumped by the store's listener on each notification and each (re)connection; `None`:
    /// polling only.
    notified: Option<watch::Receiver<u64>>,
    /// The longest wait: the poll interval, or the safety net under notifications.
    every: Duration,
}

/// What ended a [`RevocationWakeups::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// The store was told of a revocation (or reconnected its listener, after which any number
    /// may have been missed).
    Notified,
    /// The interval passed.
    Timer,
}

impl RevocationWakeups {
    /// How often a store without notifications is polled: well inside the two seconds in
    /// which a revocation must reach open viewers.
    pub const POLL: Duration = Duration::from_millis(500);

    /// Wakes every `every`, nothing else.
    #[must_use]
    pub fn polling(every: Duration) -> Self {
        Self {
            notified: None,
            every,
        }
    }

    /// Wakes whenever `notified` changes, and at least every `every`.
    #[must_use]
    pub fn notified(notified: watch::Receiver<u64>, every: Duration) -> Self {
        Self {
            notified: Some(notified),
            every,
        }
    }

    /// Whether this source has notifications (otherwise it only polls).
    #[must_use]
    pub fn is_notified(&self) -> bool {
        self.notified.is_some()
    }

    /// Waits for the next wake-up.
    pub async fn wait(&mut self) -> Wakeup {
        let Some(rx) = self.notified.as_mut() else {
            tokio::time::sleep(self.every).await;
            return Wakeup::Timer;
        };
        match tokio::time::timeout(self.every, rx.changed()).await {
            Ok(Ok(())) => Wakeup::Notified,
            Ok(Err(_)) => {
                // The listener is gone (it only ends when it panicked): poll from now on.
                self.notified = None;
                self.every = self.every.min(Self::POLL);
                Wakeup::Timer
            }
            Err(_) => Wakeup::Timer,
        }
    }
}

/// What re-applying a level does to one live link ([`MetaStore::set_document_level`]).
pub type AdjustLink<'f> = dyn for<'l> Fn(&'l LinkRecord) -> LinkAdjustment + Send + Sync + 'f;

/// The audit entry recording a level change ([`MetaStore::set_document_level`]).
pub type DescribeLevelChange<'f> =
    dyn for<'c> Fn(&'c LevelChange) -> NewAuditEntry + Send + Sync + 'f;

/// The audit entry recording an off-boarding, from the revoked link ids
/// ([`MetaStore::offboard_supplier`]).
pub type DescribeOffboarding<'f> = dyn for<'c> Fn(&'c [String]) -> NewAuditEntry + Send + Sync + 'f;

/// The audit entry recording a review's start, from the number of links in it
/// ([`MetaStore::start_review`]).
pub type DescribeReviewStart<'f> = dyn Fn(i64) -> NewAuditEntry + Send + Sync + 'f;

/// The audit entry recording a review closed at its due date ([`MetaStore::close_due_reviews`]).
pub type DescribeReviewClose<'f> =
    dyn for<'c> Fn(&'c ClosedReview) -> NewAuditEntry + Send + Sync + 'f;

/// Metadata storage: organisations, accounts, documents, links, sessions, nonces and the
/// audit log.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Creates an organisation; fails if the name is taken (case-insensitive).
    async fn create_org(&self, name: &str, now: i64) -> StoreResult<OrgId>;
    /// An organisation by name (case-insensitive).
    async fn org_by_name(&self, name: &str) -> StoreResult<Option<Organisation>>;
    /// An organisation by id.
    async fn org(&self, org: OrgId) -> StoreResult<Organisation>;
    /// Every organisation, by name.
    async fn list_orgs(&self) -> StoreResult<Vec<Organisation>>;
    /// Sets whether every member of `org` must use a second factor.
    async fn set_org_require_totp(&self, org: OrgId, required: bool) -> StoreResult<()>;

    /// Creates an account in `org`; fails if the e-mail is taken anywhere on the server.
    async fn create_account(
        &self,
        org: OrgId,
        email: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> StoreResult<i64>;
    /// Looks an account up by e-mail, in any organisation (logins, the operator's CLI).
    async fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>>;
    /// An account of `org` by id.
    async fn account(&self, org: OrgId, id: i64) -> StoreResult<Option<Account>>;
    /// The accounts of `org`, by e-mail.
    async fn list_accounts(&self, org: OrgId) -> StoreResult<Vec<Account>>;
    /// Changes the role of an account of `org`; `false` if there is no such account.
    async fn set_role(&self, org: OrgId, id: i64, role: Role) -> StoreResult<bool>;
    /// Deletes an account of `org` with every credential it holds; `false` if none.
    async fn remove_account(&self, org: OrgId, id: i64) -> StoreResult<bool>;
    /// Sets an account's password hash and, in the same transaction, ends every session and
    /// token it holds (a changed password signs out everywhere).
    async fn set_password(&self, org: OrgId, id: i64, password_hash: &str) -> StoreResult<()>;
    /// Counts a login attempt before the password is checked, atomically: refused while the
    /// account is locked; the attempt that reaches `max_failures` locks it for `lock_secs`.
    async fn login_attempt(
        &self,
        id: i64,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> StoreResult<LoginAttempt>;
    /// Clears the failed-login count (and a lock the successful attempt itself reached) after a
    /// complete, successful login.
    async fn login_succeeded(&self, id: i64) -> StoreResult<()>;
    /// Stores a (wrapped) TOTP secret awaiting confirmation; clears a confirmed one.
    async fn set_totp_secret(&self, org: OrgId, id: i64, wrapped: Option<&[u8]>)
    -> StoreResult<()>;
    /// Confirms enrolment: marks the second factor active, remembers the step of the code that
    /// confirmed it and replaces the recovery codes with `recovery_hashes`.
    async fn enable_totp(
        &self,
        org: OrgId,
        id: i64,
        step: i64,
        recovery_hashes: &[[u8; 32]],
        now: i64,
    ) -> StoreResult<()>;
    /// Accepts TOTP step `step` for an account once: `false` if that step (or a later one)
    /// was already used.
    async fn use_totp_step(&self, id: i64, step: i64) -> StoreResult<bool>;
    /// Spends a recovery code; `false` if it is not one of the account's unused codes.
    async fn use_recovery_code(&self, id: i64, code_hash: &[u8; 32], now: i64)
    -> StoreResult<bool>;
    /// How many unused recovery codes an account has.
    async fn recovery_codes_left(&self, id: i64) -> StoreResult<i64>;

    /// Stores a credential; returns its public id.
    async fn add_credential(&self, credential: &NewCredential<'_>) -> StoreResult<String>;
    /// The account a live credential belongs to, with the credential; records its use.
    async fn account_by_credential(
        &self,
        token_hash: &[u8; 32],
        check: CredentialCheck,
    ) -> StoreResult<Option<(Account, CredentialInfo)>>;
    /// Deletes a live one-time credential (second factor pending, set-password) and returns
    /// its account, atomically: two requests with the same secret cannot both take it.
    async fn take_credential(
        &self,
        token_hash: &[u8; 32],
        kind: CredentialKind,
        now: i64,
    ) -> StoreResult<Option<Account>>;
    /// Deletes a credential by its secret (logout).
    async fn delete_credential(&self, token_hash: &[u8; 32]) -> StoreResult<()>;
    /// The live credentials of `kind` an account of `org` holds, newest first.
    async fn list_credentials(
        &self,
        org: OrgId,
        account_id: i64,
        kind: CredentialKind,
        now: i64,
    ) -> StoreResult<Vec<CredentialInfo>>;
    /// The account holding the credential with public id `id` (the operator's CLI).
    async fn credential_account(&self, id: &str) -> StoreResult<Option<Account>>;
    /// Deletes the credential `id` of an account of `org`; `false` if there is none.
    async fn revoke_credential(&self, org: OrgId, id: &str) -> StoreResult<bool>;
    /// Deletes every credential of an account of `org` (sign out everywhere); returns how many.
    async fn end_all_sessions(&self, org: OrgId, account_id: i64) -> StoreResult<u64>;

    /// Records a sealed document in its organisation (`doc.org`).
    async fn insert_document(&self, doc: &DocumentRecord) -> StoreResult<()>;
    /// A document of `org` by id.
    async fn document(&self, org: OrgId, id: &str) -> StoreResult<Option<DocumentRecord>>;
    /// The documents of `org`, newest first.
    async fn list_documents(&self, org: OrgId) -> StoreResult<Vec<DocumentRecord>>;

    /// The classification levels `org` defined, lowest first (empty: it uses the defaults).
    async fn stored_levels(&self, org: OrgId) -> StoreResult<Vec<LevelPolicy>>;
    /// The classification levels of `org`, lowest first: its own, or the built-in four.
    async fn levels(&self, org: OrgId) -> StoreResult<Vec<LevelPolicy>> {
        let stored = self.stored_levels(org).await?;
        Ok(if stored.is_empty() {
            default_levels()
        } else {
            stored
        })
    }
    /// Replaces the levels of `org` (already checked) and appends `audit`, in one transaction;
    /// refused, with nothing changed, when a document carries a level the new set lacks.
    async fn set_levels(
        &self,
        org: OrgId,
        levels: &[LevelPolicy],
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// Moves document `doc` of `org`, and the subsets cut from it, to `level` and, in the same
    /// transaction, applies `adjust` to each live link of any of them (shortening them, or revoking them into the
    /// revocation feed), then appends the entry `audit` makes of the change. `None` if there is
    /// no such document.
    async fn set_document_level(
        &self,
        org: OrgId,
        doc: &str,
        level: &str,
        now: i64,
        adjust: &AdjustLink<'_>,
        audit: &DescribeLevelChange<'_>,
    ) -> StoreResult<Option<LevelChange>>;

    /// The supplier companies of `org`, by domain.
    async fn suppliers(&self, org: OrgId) -> StoreResult<Vec<SupplierRecord>>;
    /// The supplier of `org` whose people use e-mail domain `domain` (lower case).
    async fn supplier(&self, org: OrgId, domain: &str) -> StoreResult<Option<SupplierRecord>> {
        Ok(self
            .suppliers(org)
            .await?
            .into_iter()
            .find(|s| s.domain == domain))
    }
    /// Adds a supplier to `org` or changes its name and status, and appends `audit`, in one
    /// transaction.
    async fn set_supplier(
        &self,
        org: OrgId,
        supplier: &SupplierRecord,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;

    /// The terms of `org`, if it has any.
    async fn terms(&self, org: OrgId) -> StoreResult<Option<OrgTerms>>;
    /// Sets (or with `None` removes) the terms of `org` and appends `audit`, in one
    /// transaction.
    async fn set_terms(
        &self,
        org: OrgId,
        terms: Option<&OrgTerms>,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// Whether link `link_id` accepted the terms whose SHA-256 is `digest`.
    async fn terms_accepted(&self, link_id: &str, digest: &[u8; 32]) -> StoreResult<bool>;
    /// Records that link `link_id` accepted the terms `digest` (from `ip`, in `session_id`)
    /// and appends `audit`, in one durable transaction; accepting again changes nothing.
    async fn accept_terms(
        &self,
        link_id: &str,
        digest: &[u8; 32],
        now: i64,
        ip: Option<&str>,
        session_id: &str,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;

    /// Off-boards a supplier of `org` in one durable transaction: records `supplier` (status
    /// off-boarded), revokes every live link of `org` whose recipient's e-mail domain is
    /// `supplier.domain` into the revocation feed (so every open viewer of theirs is told),
    /// and appends the entry `audit` makes of the revoked link ids. Returns those ids.
    async fn offboard_supplier(
        &self,
        org: OrgId,
        supplier: &SupplierRecord,
        now: i64,
        audit: &DescribeOffboarding<'_>,
    ) -> StoreResult<Vec<String>>;

    /// Records a new link in its organisation (`link.org`); fails unless its document is in
    /// the same organisation and still at level `link.level`.
    async fn insert_link(&self, link: &LinkRecord) -> StoreResult<()>;
    /// A link by its token hash (the token is the recipient's authority; any organisation).
    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> StoreResult<Option<LinkRecord>>;
    /// A link of `org` by public id.
    async fn link(&self, org: OrgId, id: &str) -> StoreResult<Option<LinkRecord>>;
    /// The links of `org`, newest first.
    async fn list_links(&self, org: OrgId) -> StoreResult<Vec<LinkRecord>>;
    /// Revokes a link of `org` and appends `audit`, in one durable transaction (so a revocation
    /// is never on disk without its audit entry, nor the entry without it); `false`, and
    /// nothing written, if it was already revoked or is not in `org`.
    async fn revoke_link(
        &self,
        org: OrgId,
        id: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool>;
    /// Revocations recorded after feed position `after`: `(position, link id)`. Server-wide:
    /// the feed tells open viewers, whatever their organisation.
    async fn revocations_after(&self, after: i64) -> StoreResult<Vec<(i64, String)>>;
    /// What wakes a server's revocation watcher to read [`MetaStore::revocations_after`] again.
    /// Take it before the first read, so that nothing revoked in between is missed.
    ///
    /// The default polls every [`RevocationWakeups::POLL`] (SQLite: the processes sharing the
    /// file have no other channel). PostgreSQL wakes it as soon as any process commits a
    /// revocation (LISTEN/NOTIFY), and after its listening connection comes back.
    async fn revocation_wakeups(&self) -> StoreResult<RevocationWakeups> {
        Ok(RevocationWakeups::polling(RevocationWakeups::POLL))
    }
    /// Counts a passcode attempt before the passcode is checked, in one statement: refused
    /// while the link is locked; the attempt that reaches `max_failures` locks the link for
    /// `lock_secs`. So parallel guesses are each counted before any is checked.
    async fn passcode_attempt(
        &self,
        link_id: &str,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> StoreResult<PasscodeAttempt>;
    /// After a right passcode: clears the count, and the lock if attempt `attempt` set it.
    async fn passcode_succeeded(
        &self,
        link_id: &str,
        attempt: i64,
        max_failures: i64,
    ) -> StoreResult<()>;

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
    /// A session by id (with its link's token, the viewer's authority).
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    /// The session of `org` whose watermark payload is `code`, if any (how a leaked screenshot
    /// is traced back to a link and recipient).
    async fn session_by_code(&self, org: OrgId, code: u64) -> StoreResult<Option<SessionRecord>>;
    /// Moves a session's lease expiry and appends `audit`, in one durable transaction — unless,
    /// checked inside that transaction, the session's link is revoked
    /// ([`ViewRefusal::Revoked`]) or expired at `now` ([`ViewRefusal::Expired`]), in which case
    /// nothing changes. A renewal racing a revocation is therefore ordered before it or
    /// refused, never granted after it.
    async fn renew_session(
        &self,
        id: &str,
        lease_expires_at: i64,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<Result<AuditEntry, ViewRefusal>>;

    /// Appends an entry to its organisation's hash-chained audit log, durably, and returns it
    /// as stored.
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<AuditEntry>;
    /// One chain of the audit log in order: an organisation's (`Some`) or the server's.
    async fn audit_entries(&self, org: Option<OrgId>) -> StoreResult<Vec<AuditEntry>>;
    /// One page of a chain, in order: at most `limit` entries stored after position `after`
    /// (0: from the start), and the position to pass for the next page (`after` again when
    /// there are no more). Positions are the storage order, so a page read never skips or
    /// repeats an entry, even a tampered one; the console and chain verification
    /// ([`crate::audit::ChainVerifier`]) read the log this way, a page at a time.
    async fn audit_range(
        &self,
        org: Option<OrgId>,
        after: i64,
        limit: u32,
    ) -> StoreResult<(Vec<AuditEntry>, i64)>;

    /// An organisation's review schedule.
    async fn review_schedule(&self, org: OrgId) -> StoreResult<ReviewSchedule>;
    /// Sets an organisation's review schedule (checked by the caller) and audits it.
    async fn set_review_schedule(
        &self,
        org: OrgId,
        schedule: ReviewSchedule,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// Starts review `review` of `org`: every link live at its start (not revoked, not expired,
    /// views left) joins it under the owner who made it, in one transaction with its audit
    /// entry. `None` (and nothing written) when the organisation has a review open.
    async fn start_review(
        &self,
        org: OrgId,
        review: &NewReview,
        audit: &DescribeReviewStart<'_>,
    ) -> StoreResult<Option<i64>>;
    /// An organisation's reviews with their counts, newest first.
    async fn reviews(&self, org: OrgId) -> StoreResult<Vec<ReviewRecord>>;
    /// One review of an organisation.
    async fn review(&self, org: OrgId, id: &str) -> StoreResult<Option<ReviewRecord>> {
        Ok(self.reviews(org).await?.into_iter().find(|r| r.id == id))
    }
    /// The links of one review of `org`, by owner then age.
    async fn review_items(&self, org: OrgId, review_id: &str) -> StoreResult<Vec<ReviewItem>>;
    /// Records `decision` (confirmed or revoked) for `link_id` in open review `review_id` of
    /// `org`, with its audit entry; a revocation revokes the link into the revocation feed, and
    /// the review closes when it was its last undecided link. All in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn decide_review(
        &self,
        org: OrgId,
        review_id: &str,
        link_id: &str,
        decision: ReviewDecision,
        by: &str,
        now: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<DecideOutcome>;
    /// Closes every open review (of any organisation) whose due date is at or before `now`:
    /// undecided links are marked expired and revoked into the revocation feed, with an audit
    /// entry per review; one transaction per review.
    async fn close_due_reviews(
        &self,
        now: i64,
        audit: &DescribeReviewClose<'_>,
    ) -> StoreResult<Vec<ClosedReview>>;
    /// Organisations whose schedule calls for a review now: none open, the last one (or the
    /// organisation's creation, or the upgrade that brought reviews, whichever is later) a
    /// period ago, and at least one live link.
    async fn orgs_due_for_review(&self, now: i64) -> StoreResult<Vec<(OrgId, ReviewSchedule)>>;
    /// Claims the reminders due now, each (review, owner, kind) once across every process:
    /// `started` for owners with undecided links in an open review, `due-soon` once the due
    /// date is [`crate::review::due_soon_secs`] away or less. The caller sends what it claimed.
    async fn claim_reminders(&self, now: i64) -> StoreResult<Vec<Reminder>>;
    /// Gives a claimed reminder back (it could not be sent), so that a later claim retries it.
    async fn release_reminder(&self, reminder: &Reminder) -> StoreResult<()>;

    /// Records that `recipient` (lower-cased) opened a link of `org` from `network`: when the
    /// network is new for them, how many others they had used (0 for their first); `None` when
    /// they had used it before.
    async fn see_network(
        &self,
        org: OrgId,
        recipient: &str,
        network: &str,
        now: i64,
    ) -> StoreResult<Option<i64>>;
    /// Viewing sessions of a link whose lease runs past `now`.
    async fn live_sessions(&self, link_id: &str, now: i64) -> StoreResult<i64>;
    /// Records `alert` with its audit entry and queues one delivery to each webhook of its
    /// organisation (due at once), in one transaction, unless an alert of the same kind for the
    /// same link was raised at or after `quiet_since`; whether it was recorded.
    async fn raise_alert(
        &self,
        alert: &AlertRecord,
        quiet_since: i64,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool>;
    /// An organisation's latest alerts, newest first.
    async fn alerts(&self, org: OrgId, limit: u32) -> StoreResult<Vec<AlertRecord>>;
    /// Marks an alert of `org` acknowledged; false when there is none (or it already was).
    async fn acknowledge_alert(
        &self,
        org: OrgId,
        id: &str,
        by: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Adds a webhook, with its audit entry.
    async fn add_webhook(&self, webhook: &WebhookRecord, audit: &NewAuditEntry) -> StoreResult<()>;
    /// An organisation's webhooks.
    async fn webhooks(&self, org: OrgId) -> StoreResult<Vec<WebhookRecord>>;
    /// Removes a webhook of `org` and its pending deliveries, with its audit entry; false when
    /// there is none.
    async fn remove_webhook(
        &self,
        org: OrgId,
        id: &str,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool>;
    /// Claims up to `limit` deliveries due at `now` (of any organisation): their next attempt
    /// moves `lease_secs` ahead, so no other process attempts them meanwhile.
    async fn claim_deliveries(
        &self,
        now: i64,
        lease_secs: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;
    /// Records an attempt: delivered at `delivered_at`, or failed with `error` and retried at
    /// `next_attempt_at` (`None`: given up).
    async fn delivery_attempted(
        &self,
        alert_id: &str,
        webhook_id: &str,
        delivered_at: Option<i64>,
        error: Option<&str>,
        next_attempt_at: Option<i64>,
    ) -> StoreResult<()>;
    /// The deliveries of an organisation's alerts, newest alert first.
    async fn deliveries(&self, org: OrgId, limit: u32) -> StoreResult<Vec<DeliveryStatus>>;

    /// Whether the database answers a query now (the server's `/readyz`). The default reads
    /// the organisations table; a backend overrides it with a cheaper round trip.
    async fn ping(&self) -> StoreResult<()> {
        self.list_orgs().await.map(|_| ())
    }
}
