//! The hash-chained audit log: what was granted, renewed, denied, viewed, created and revoked.
//!
//! Each entry stores `hash = SHA-256(prev_hash ‖ canonical(entry))` where `prev_hash` is the
//! previous entry's hash (32 zero bytes for the first) and `canonical` is the length-prefixed
//! encoding in [`canonical_bytes`] (`docs/server.md#audit`). [`verify`] walks the chain and names
//! the first entry that was edited, deleted, inserted or moved. Deleting entries from the *end*
//! of the log cannot be detected from the log alone; `docs/threat-model.md` says how to anchor
//! the head hash elsewhere.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::tenancy::OrgId;

/// Domain separation for the canonical row encoding of format 1 (entries written before
/// organisations existed).
const ROW_CONTEXT_V1: &[u8] = b"veilmark/audit/v1";
/// Format 2 also covers the organisation and the acting account.
const ROW_CONTEXT_V2: &[u8] = b"veilmark/audit/v2";

/// The row format new entries are written in.
pub const CURRENT_FORMAT: i64 = 2;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A licence was granted (a view counted).
    Grant,
    /// A lease was renewed.
    Renew,
    /// A licence or renewal was refused; the detail says why.
    Deny,
    /// The viewer reported a page view.
    PageView,
    /// A link was created.
    LinkCreated,
    /// A link was revoked.
    Revoke,
    /// An owner logged in (or failed to).
    OwnerLogin,
    /// A document was sealed into the store.
    DocumentSealed,
    /// An account was added, changed role, was removed, or had every session ended.
    Member,
    /// An account's password, second factor or API tokens changed.
    Credentials,
    /// An organisation setting changed (classification levels included).
    Settings,
    /// A document's classification level changed (with what it did to the live links).
    Level,
    /// A supplier was added, approved, suspended or off-boarded.
    Supplier,
    /// A recipient accepted the organisation's terms before viewing.
    TermsAccepted,
    /// An access review started, a link in it was confirmed or revoked, or it closed.
    Review,
    /// An unusual opening raised an alert, or a webhook was added or removed.
    Alert,
}

impl AuditKind {
    /// The stable name stored and exported.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Renew => "renew",
            Self::Deny => "deny",
            Self::PageView => "page-view",
            Self::LinkCreated => "link-created",
            Self::Revoke => "revoke",
            Self::OwnerLogin => "owner-login",
            Self::DocumentSealed => "document-sealed",
            Self::Member => "member",
            Self::Credentials => "credentials",
            Self::Settings => "settings",
            Self::Level => "level",
            Self::Supplier => "supplier",
            Self::TermsAccepted => "terms-accepted",
            Self::Review => "review",
            Self::Alert => "alert",
        }
    }
}

/// An entry to append; the store assigns sequence number and hashes.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    /// The organisation whose chain it joins; `None`: the server's own chain (a login attempt
    /// naming no account).
    pub org: Option<OrgId>,
    /// The acting account, if an account acted.
    pub account_id: Option<i64>,
    /// What happened (an [`AuditKind`] name).
    pub kind: &'static str,
    /// The link concerned.
    pub link_id: Option<String>,
    /// The viewing session concerned.
    pub session_id: Option<String>,
    /// The document concerned.
    pub document_id: Option<String>,
    /// The owner (e-mail) or recipient acting.
    pub actor: Option<String>,
    /// Client IP address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Free text: the denial reason, the page number, …
    pub detail: String,
    /// Time in unix milliseconds.
    pub at_ms: i64,
}

impl NewAuditEntry {
    /// A new entry of `kind` at `at_ms` with `detail`.
    #[must_use]
    pub fn new(kind: AuditKind, at_ms: i64, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.as_str(),
            at_ms,
            detail: detail.into(),
            ..Self::default()
        }
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in its organisation's chain, from 1, without gaps.
    pub seq: i64,
    /// The organisation (row id) whose chain it is in; `None`: the server's chain.
    pub org_id: Option<i64>,
    /// The acting account (row id).
    pub account_id: Option<i64>,
    /// Row format: 1 (written before organisations; the hash covers neither of the two
    /// fields above) or 2.
    pub format: i64,
    /// Time in unix milliseconds.
    pub at_ms: i64,
    /// What happened.
    pub kind: String,
    /// The link concerned.
    pub link_id: Option<String>,
    /// The session concerned.
    pub session_id: Option<String>,
    /// The document concerned.
    pub document_id: Option<String>,
    /// Who acted.
    pub actor: Option<String>,
    /// Client IP address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Details.
    pub detail: String,
    /// Hash of the previous entry (hex in exports).
    #[serde(serialize_with = "as_hex")]
    pub prev_hash: [u8; 32],
    /// This entry's hash (hex in exports).
    #[serde(serialize_with = "as_hex")]
    pub hash: [u8; 32],
}

fn as_hex<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

/// The canonical encoding hashed into the chain: the context string, then `seq` and `at_ms` as
/// 8-byte big-endian integers, then (format 2 only) the organisation and the account as 8-byte
/// big-endian integers with -1 for absent, then each text field (kind, link, session, document,
/// actor, ip, user agent, detail) as a 4-byte big-endian length and its UTF-8 bytes, with
/// length `0xFFFF_FFFF` and no bytes for an absent field.
#[must_use]
pub fn canonical_bytes(e: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(144 + e.detail.len());
    if e.format == 1 {
        out.extend_from_slice(ROW_CONTEXT_V1);
        out.extend_from_slice(&e.seq.to_be_bytes());
        out.extend_from_slice(&e.at_ms.to_be_bytes());
    } else {
        out.extend_from_slice(ROW_CONTEXT_V2);
        out.extend_from_slice(&e.seq.to_be_bytes());
        out.extend_from_slice(&e.at_ms.to_be_bytes());
        out.extend_from_slice(&e.org_id.unwrap_or(-1).to_be_bytes());
        out.extend_from_slice(&e.account_id.unwrap_or(-1).to_be_bytes());
    }
    let mut field = |v: Option<&str>| match v {
        None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
        Some(s) => {
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX - 1);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    };
    field(Some(&e.kind));
    field(e.link_id.as_deref());
    field(e.session_id.as_deref());
    field(e.document_id.as_deref());
    field(e.actor.as_deref());
    field(e.ip.as_deref());
    field(e.user_agent.as_deref());
    field(Some(&e.detail));
    out
}

/// `SHA-256(prev_hash ‖ canonical(entry))`.
#[must_use]
pub fn chain_hash(prev_hash: &[u8; 32], entry: &AuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical_bytes(entry));
    h.finalize().into()
}

/// Builds the stored entry that follows `prev` in the same chain (`None` for the first entry).
#[must_use]
pub fn next_entry(prev: Option<(i64, [u8; 32])>, new: &NewAuditEntry) -> AuditEntry {
    let (prev_seq, prev_hash) = prev.unwrap_or((0, [0; 32]));
    let mut entry = AuditEntry {
        seq: prev_seq + 1,
        org_id: new.org.map(OrgId::get),
        account_id: new.account_id,
        format: CURRENT_FORMAT,
        at_ms: new.at_ms,
        kind: new.kind.to_owned(),
        link_id: new.link_id.clone(),
        session_id: new.session_id.clone(),
        document_id: new.document_id.clone(),
        actor: new.actor.clone(),
        ip: new.ip.clone(),
        user_agent: new.user_agent.clone(),
        detail: new.detail.clone(),
        prev_hash,
        hash: [0; 32],
    };
    entry.hash = chain_hash(&prev_hash, &entry);
    entry
}

/// Why the chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// Sequence numbers skip (an entry was deleted) or go back (reordered).
    #[error("audit entry {found} follows entry {previous}: an entry was deleted or reordered")]
    Gap {
        /// The previous sequence number.
        previous: i64,
        /// The sequence number found.
        found: i64,
    },
    /// The stored previous-hash does not match the previous entry's hash.
    #[error(
        "audit entry {seq} does not link to the entry before it: deleted, inserted or reordered"
    )]
    BrokenLink {
        /// The entry.
        seq: i64,
    },
    /// The entry's content does not match its hash.
    #[error("audit entry {seq} was edited after it was written")]
    Edited {
        /// The entry.
        seq: i64,
    },
}

/// Verifies one whole chain (one organisation's entries, in order); returns the number of
/// entries and the head hash.
pub fn verify(entries: &[AuditEntry]) -> Result<(usize, [u8; 32]), ChainError> {
    let mut v = ChainVerifier::new();
    for e in entries {
        v.push(e)?;
    }
    Ok(v.finish())
}

/// Verifies a chain one entry at a time, so a long log is checked a page at a time
/// ([`crate::meta::MetaStore::audit_range`]) instead of loaded whole.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    count: usize,
    prev_seq: i64,
    prev_hash: [u8; 32],
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier at the start of a chain.
    #[must_use]
    pub fn new() -> Self {
        Self {
            count: 0,
            prev_seq: 0,
            prev_hash: [0; 32],
        }
    }

    /// Checks the next entry of the chain.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainError> {
        if e.seq != self.prev_seq + 1 {
            return Err(ChainError::Gap {
                previous: self.prev_seq,
                found: e.seq,
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink { seq: e.seq });
        }
        if chain_hash(&self.prev_hash, e) != e.hash {
            return Err(ChainError::Edited { seq: e.seq });
        }
        self.count += 1;
        self.prev_seq = e.seq;
        self.prev_hash = e.hash;
        Ok(())
    }

    /// Entries checked and the head hash (zeros for an empty chain).
    #[must_use]
    pub fn finish(self) -> (usize, [u8; 32]) {
        (self.count, self.prev_hash)
    }
}

/// One CSV cell, safe to open in a spreadsheet: a value starting with a formula opener
/// (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'` so that no spreadsheet runs
/// it (a tab prefix, the old guard, is ignored by some), and every cell is quoted (RFC 4180),
/// so no value can end its cell or its row.
pub fn csv_cell(out: &mut String, value: &str) {
    out.push('"');
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    out.push('"');
}

/// CSV export (RFC 4180 quoting, every cell quoted and formula-guarded by [`csv_cell`]), one
/// header line then one line per entry.
#[must_use]
pub fn to_csv(entries: &[AuditEntry]) -> String {
    let cell = csv_cell;
    let mut out = String::from(
        "seq,at_ms,kind,link_id,session_id,document_id,actor,ip,user_agent,detail,prev_hash,hash,org_id,account_id,format\n",
    );
    for e in entries {
        let seq = e.seq.to_string();
        let at = e.at_ms.to_string();
        let prev = hex::encode(e.prev_hash);
        let hash = hex::encode(e.hash);
        let org = e.org_id.map(|o| o.to_string()).unwrap_or_default();
        let account = e.account_id.map(|a| a.to_string()).unwrap_or_default();
        let format = e.format.to_string();
        let cells: [&str; 15] = [
            &seq,
            &at,
            &e.kind,
            e.link_id.as_deref().unwrap_or(""),
            e.session_id.as_deref().unwrap_or(""),
            e.document_id.as_deref().unwrap_or(""),
            e.actor.as_deref().unwrap_or(""),
            e.ip.as_deref().unwrap_or(""),
            e.user_agent.as_deref().unwrap_or(""),
            &e.detail,
            &prev,
            &hash,
            &org,
            &account,
            &format,
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(&mut out, c);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|e| (e.seq, e.hash));
            let new = NewAuditEntry::new(AuditKind::Grant, 1000 + i as i64, format!("n{i}"));
            out.push(next_entry(prev, &new));
        }
        out
    }

    #[test]
    fn detects_edit_delete_reorder() {
        let good = chain(5);
        assert_eq!(verify(&good).unwrap().0, 5);
        let mut edited = good.clone();
        edited[2].detail = "other".into();
        assert_eq!(verify(&edited), Err(ChainError::Edited { seq: 3 }));
        let mut deleted = good.clone();
        deleted.remove(1);
        assert!(matches!(verify(&deleted), Err(ChainError::Gap { .. })));
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert!(verify(&swapped).is_err());
        // Renumbering after a deletion still breaks the link.
        let mut renumbered = good;
        renumbered.remove(1);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
        }
        assert!(verify(&renumbered).is_err());
    }

    /// Issue 16 row 8: every formula opener is defused with `'` (a tab prefix is ignored by
    /// some spreadsheets), and every cell is quoted.
    #[test]
    fn csv_defuses_every_formula_opener_and_quotes_every_cell() {
        for hostile in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            let mut e = chain(1);
            e[0].detail = hostile.into();
            e[0].actor = Some(hostile.into());
            let csv = to_csv(&e);
            let want = format!("\"'{hostile}\"");
            assert_eq!(csv.matches(&want).count(), 2, "{hostile:?} in {csv}");
        }
        let csv = to_csv(&chain(1));
        let row = csv.lines().nth(1).unwrap();
        assert!(row.starts_with("\"1\",\""), "{row}");
        assert!(
            row.split(',')
                .all(|c| c.starts_with('"') && c.ends_with('"')),
            "{row}"
        );
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut e = chain(1);
        e[0].detail = "=HYPERLINK(\"x\"), 2".into();
        let csv = to_csv(&e);
        assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\"), 2\""));
    }
}
