//! Owner operations on classification levels and supplier companies, shared by the JSON API,
//! the console and the CLI (`docs/server.md#classification`).
//!
//! The rules are `veilmark_store::classification` (pure); this module reads what they need
//! (the organisation's levels, the recipient's supplier, whether the acting member has a second
//! factor), applies them and records each change in the audit log.

use anyhow::{Context, Result, bail};
use veilmark_store::classification::{
    LevelChange, LevelPolicy, LinkAsk, LinkTerms, OrgTerms, SupplierRecord, SupplierStatus,
    WatermarkDensity, check_levels, default_level, find_level, recipient_domain,
};

use crate::audit::AuditKind;
use crate::service::{Actor, ClientMeta, DEFAULT_LINK_SECS, NewLink};
use crate::store::DocumentRecord;
use crate::{AppState, now_secs};

/// One level as an organisation defines it: in `PUT /api/owner/levels` and the JSON file
/// `veilmark level define` reads (a list, lowest first).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LevelDefinition {
    /// The level's name.
    pub name: String,
    /// Longest link lifetime, in days.
    pub max_link_days: i64,
    /// View ceiling (none: unlimited).
    pub max_views: Option<i64>,
    #[serde(default)]
    passcode_required: bool,
    #[serde(default)]
    owner_second_factor: bool,
    watermark: Option<String>,
    #[serde(default)]
    approved_only: bool,
}

impl LevelDefinition {
    /// The policy it defines (rank set by position), or why not.
    pub fn policy(&self) -> Result<LevelPolicy, String> {
        let watermark = match self.watermark.as_deref() {
            None => WatermarkDensity::Standard,
            Some(w) => WatermarkDensity::parse(w)
                .ok_or_else(|| format!("watermark {w:?} is not light, standard or dense"))?,
        };
        Ok(LevelPolicy {
            name: self.name.trim().to_owned(),
            rank: 0,
            max_link_secs: self.max_link_days.saturating_mul(86_400),
            max_views: self.max_views,
            passcode_required: self.passcode_required,
            owner_second_factor: self.owner_second_factor,
            watermark,
            approved_only: self.approved_only,
        })
    }
}

/// A supplier's e-mail domain as typed (`@Acme.Example`) in its stored form (`acme.example`),
/// or why it is not one: letters, digits, `.` and `-` only, so it is also safe in the store's
/// `LIKE` pattern.
pub fn supplier_domain(input: &str) -> Result<String> {
    let domain = input.trim().trim_start_matches('@').to_ascii_lowercase();
    let valid = (3..=253).contains(&domain.len())
        && domain.contains('.')
        && !domain.starts_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !valid {
        bail!("{domain:?} is not an e-mail domain (like supplier.example)");
    }
    Ok(domain)
}

impl AppState {
    /// The classification levels of the actor's organisation, lowest first.
    pub async fn levels(&self, actor: &Actor) -> Result<Vec<LevelPolicy>> {
        self.store.levels(actor.org).await
    }

    /// The level `name` of the organisation, or an error listing its levels.
    async fn level_named(&self, actor: &Actor, name: &str) -> Result<LevelPolicy> {
        let levels = self.levels(actor).await?;
        find_level(&levels, name).cloned().with_context(|| {
            let names: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
            format!(
                "no classification level {name:?}; this organisation's levels are {}",
                names.join(", ")
            )
        })
    }

    /// The level a new document gets: the one named, else the organisation's default.
    pub(crate) async fn level_for_new_document(
        &self,
        actor: &Actor,
        name: Option<&str>,
    ) -> Result<LevelPolicy> {
        match name {
            Some(name) => self.level_named(actor, name).await,
            None => default_level(&self.levels(actor).await?)
                .cloned()
                .context("the organisation has no classification levels"),
        }
    }

    /// Whether the acting member has a second factor (`None`: the operator's command line).
    async fn actor_second_factor(&self, actor: &Actor) -> Result<Option<bool>> {
        let Some(id) = actor.account_id else {
            return Ok(None);
        };
        let account = self
            .store
            .account(actor.org, id)
            .await?
            .context("the acting account no longer exists")?;
        Ok(Some(account.has_totp()))
    }

    /// The supplier status of the company a recipient belongs to (`None`: not a known one).
    pub async fn supplier_status(
        &self,
        actor: &Actor,
        recipient: &str,
    ) -> Result<Option<SupplierStatus>> {
        Ok(self
            .store
            .supplier(actor.org, &recipient_domain(recipient))
            .await?
            .map(|s| s.status))
    }

    /// A new link's terms under its document's level: the level's defaults filled in, every
    /// ceiling checked (the error names the one broken).
    pub(crate) async fn check_link_against_level(
        &self,
        doc: &DocumentRecord,
        req: &NewLink,
        actor: &Actor,
    ) -> Result<LinkTerms> {
        let level = self.level_named(actor, &doc.level).await?;
        let supplier = self.supplier_status(actor, &req.recipient).await?;
        let second_factor = self.actor_second_factor(actor).await?;
        let ask = LinkAsk {
            lifetime_secs: req.expires_in_secs,
            max_views: req.max_views,
            passcode: req.passcode,
        };
        Ok(level.check_link(
            &ask,
            &req.recipient,
            supplier,
            second_factor,
            DEFAULT_LINK_SECS,
        )?)
    }

    /// Moves a document to another level and re-applies that level's ceilings to its live
    /// links in the same transaction (shortened, never lengthened; revoked where a passcode or
    /// an approved supplier is now required and missing); revoked links are pushed to open
    /// viewers. Audited with what it did.
    pub async fn set_document_level(
        &self,
        doc_id: &str,
        level: &str,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<LevelChange> {
        let doc = self
            .store
            .document(actor.org, doc_id)
            .await?
            .with_context(|| format!("no document {doc_id} in this organisation"))?;
        let target = self.level_named(actor, level).await?;
        let current = self.level_named(actor, &doc.level).await.ok();
        if self.actor_second_factor(actor).await? == Some(false)
            && (target.owner_second_factor
                || current.as_ref().is_some_and(|c| c.owner_second_factor))
        {
            bail!(
                "{} documents require a second factor for the member acting on them; enrol one in the console (Account) first",
                if target.owner_second_factor {
                    &target.name
                } else {
                    &doc.level
                }
            );
        }
        let suppliers = self.store.suppliers(actor.org).await?;
        let status_of = |recipient: &str| {
            let domain = recipient_domain(recipient);
            suppliers
                .iter()
                .find(|s| s.domain == domain)
                .map(|s| s.status)
        };
        let adjust = |link: &crate::store::LinkRecord| {
            target.adjust_live_link(link, status_of(&link.recipient))
        };
        let describe = |change: &LevelChange| {
            let mut entry = actor.entry(meta, AuditKind::Level, change.describe());
            entry.document_id = Some(doc.id.clone());
            entry
        };
        let change = self
            .store
            .set_document_level(
                actor.org,
                &doc.id,
                &target.name,
                now_secs(),
                &adjust,
                &describe,
            )
            .await?
            .with_context(|| format!("no document {doc_id}"))?;
        for (link, _) in &change.revoked {
            let _ = self.revocations.send(link.clone());
        }
        Ok(change)
    }

    /// Replaces the organisation's classification levels (lowest first; ranks are taken from
    /// the order). Refused when a document carries a level the new set lacks.
    pub async fn define_levels(
        &self,
        mut levels: Vec<LevelPolicy>,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<()> {
        for (i, l) in levels.iter_mut().enumerate() {
            l.rank = i64::try_from(i)?;
        }
        check_levels(&levels)?;
        let names: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
        let entry = actor.entry(
            meta,
            AuditKind::Settings,
            format!("classification levels: {}", names.join(", ")),
        );
        self.store.set_levels(actor.org, &levels, &entry).await
    }

    /// Sets the organisation's terms (a non-disclosure text recipients accept before their
    /// first view) for documents from level `from_level` up (`None`: every document), or
    /// removes them (`text` `None`). Audited with the text's SHA-256.
    pub async fn set_terms(
        &self,
        text: Option<&str>,
        from_level: Option<&str>,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<Option<OrgTerms>> {
        let Some(text) = text else {
            let entry = actor.entry(meta, AuditKind::Settings, "terms before viewing removed");
            self.store.set_terms(actor.org, None, &entry).await?;
            return Ok(None);
        };
        let text = text.trim();
        if text.is_empty() || text.len() > 64 * 1024 {
            bail!("the terms are 1 byte to 64 KiB of text");
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            bail!("the terms must be plain text (no control characters)");
        }
        let from_rank = match from_level {
            Some(name) => self.level_named(actor, name).await?.rank,
            None => 0,
        };
        let terms = OrgTerms {
            text: text.to_owned(),
            from_rank,
            updated_at: now_secs(),
        };
        let entry = actor.entry(
            meta,
            AuditKind::Settings,
            format!(
                "terms before viewing set (sha256 {}) for {}",
                hex::encode(veilmark_shared::wire::terms_digest(&terms.text)),
                from_level.map_or_else(
                    || "every document".to_owned(),
                    |l| format!("{l} documents and above")
                )
            ),
        );
        self.store
            .set_terms(actor.org, Some(&terms), &entry)
            .await?;
        Ok(Some(terms))
    }

    /// The terms a recipient of `doc` must accept before viewing, if any.
    pub async fn terms_for(&self, doc: &DocumentRecord) -> Result<Option<OrgTerms>> {
        let Some(terms) = self.store.terms(doc.org).await? else {
            return Ok(None);
        };
        let levels = self.store.levels(doc.org).await?;
        // A level no longer defined (the store prevents it) counts as the highest.
        let rank = find_level(&levels, &doc.level).map_or(i64::MAX, |l| l.rank);
        Ok(terms.applies_to(rank).then_some(terms))
    }

    /// Adds a supplier company (by its people's e-mail domain) or changes its status.
    pub async fn set_supplier(
        &self,
        domain: &str,
        name: Option<&str>,
        status: SupplierStatus,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<SupplierRecord> {
        if status == SupplierStatus::Offboarded {
            bail!(
                "off-boarding revokes every link of the supplier's people: use `veilmark supplier offboard`, the console's Suppliers page or POST /api/owner/suppliers/{{domain}}/offboard"
            );
        }
        let domain = supplier_domain(domain)?;
        let existing = self.store.supplier(actor.org, &domain).await?;
        let name = match name {
            Some(n) => n.trim().chars().take(120).collect::<String>(),
            None => existing
                .as_ref()
                .map_or_else(|| domain.clone(), |s| s.name.clone()),
        };
        if name.is_empty() || name.chars().any(char::is_control) {
            bail!("a supplier's name must be printable text");
        }
        let record = SupplierRecord {
            domain,
            name,
            status,
            changed_at: now_secs(),
        };
        let entry = actor.entry(
            meta,
            AuditKind::Supplier,
            format!(
                "{} ({}): {}{}",
                record.name,
                record.domain,
                record.status,
                existing
                    .map(|e| format!(", was {}", e.status))
                    .unwrap_or_default()
            ),
        );
        self.store.set_supplier(actor.org, &record, &entry).await?;
        Ok(record)
    }
}
