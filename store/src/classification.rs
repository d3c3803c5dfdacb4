//! Classification levels and approved suppliers: what a document's level allows its links, and
//! which supplier companies may receive them (`docs/server.md#classification`).
//!
//! Pure rules with no I/O. The store keeps each organisation's levels and suppliers; the owner
//! service checks a new link against its document's level with [`LevelPolicy::check_link`], and
//! a raised level is re-applied to the live links with [`LevelPolicy::adjust_live_link`] inside
//! the store's transaction, so no link can be made at the old level after the change commits.

use std::fmt;

use thiserror::Error;

use crate::meta::LinkRecord;

/// How dense the visible watermark is on a document's pages and frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WatermarkDensity {
    /// Wide spacing, faint ink.
    Light,
    /// The default tiling.
    Standard,
    /// Close spacing, darker ink: no readable region free of the recipient's name.
    Dense,
}

impl WatermarkDensity {
    /// Name stored in the database and sent to the viewer.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Standard => "standard",
            Self::Dense => "dense",
        }
    }

    /// Parses a stored or typed name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Light, Self::Standard, Self::Dense]
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One classification level of an organisation and the ceilings it sets on links.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LevelPolicy {
    /// Its name (unique in the organisation, case-insensitive).
    pub name: String,
    /// Its rank: 0 is the lowest; a higher rank is more sensitive.
    pub rank: i64,
    /// Longest lifetime of a link, in seconds (also the default lifetime when shorter than the
    /// server's).
    pub max_link_secs: i64,
    /// Most views a link may grant (also the default); `None`: no ceiling.
    pub max_views: Option<i64>,
    /// Every link needs a passcode (links get one by default).
    pub passcode_required: bool,
    /// Members acting on the document (links, level changes) must have a second factor.
    pub owner_second_factor: bool,
    /// The visible watermark's density in the viewer.
    pub watermark: WatermarkDensity,
    /// Recipients must belong to an approved supplier (by e-mail domain).
    pub approved_only: bool,
}

const DAY: i64 = 86_400;

/// The four levels an organisation has until it defines its own.
#[must_use]
pub fn default_levels() -> Vec<LevelPolicy> {
    let level = |rank: i64, name: &str, days: i64, views: Option<i64>, strict: u8| LevelPolicy {
        name: name.to_owned(),
        rank,
        max_link_secs: days * DAY,
        max_views: views,
        passcode_required: strict >= 1,
        owner_second_factor: strict >= 2,
        watermark: match strict {
            0 if rank == 0 => WatermarkDensity::Light,
            0 => WatermarkDensity::Standard,
            _ => WatermarkDensity::Dense,
        },
        approved_only: strict >= 1,
    };
    vec![
        level(0, "Public", 366, None, 0),
        level(1, "Internal", 90, None, 0),
        level(2, "Confidential", 30, Some(50), 1),
        level(3, "Restricted", 7, Some(10), 2),
    ]
}

/// The level new documents get when the owner names none: `Internal` when the organisation
/// has it, else its lowest level.
#[must_use]
pub fn default_level(levels: &[LevelPolicy]) -> Option<&LevelPolicy> {
    find_level(levels, "Internal").or_else(|| levels.iter().min_by_key(|l| l.rank))
}

/// The level named `name` (case-insensitive).
#[must_use]
pub fn find_level<'a>(levels: &'a [LevelPolicy], name: &str) -> Option<&'a LevelPolicy> {
    levels
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(name.trim()))
}

/// Why a set of level definitions was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LevelsError {
    /// No level at all.
    #[error("an organisation needs at least one classification level")]
    Empty,
    /// More than eight.
    #[error("at most 8 classification levels")]
    TooMany,
    /// A bad or repeated name.
    #[error("level name {0:?} must be 1 to 32 letters, digits, spaces or '-', and unique")]
    Name(String),
    /// A ceiling out of range.
    #[error("level {level}: {what}")]
    Ceiling {
        /// The level.
        level: String,
        /// What is wrong.
        what: &'static str,
    },
}

/// Checks a whole set of definitions (ranks are their order: lowest first).
pub fn check_levels(levels: &[LevelPolicy]) -> Result<(), LevelsError> {
    if levels.is_empty() {
        return Err(LevelsError::Empty);
    }
    if levels.len() > 8 {
        return Err(LevelsError::TooMany);
    }
    for (i, l) in levels.iter().enumerate() {
        let name_ok = (1..=32).contains(&l.name.chars().count())
            && l.name.trim() == l.name
            && l.name
                .chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || c == '-');
        let repeated = levels[..i]
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&l.name));
        if !name_ok || repeated {
            return Err(LevelsError::Name(l.name.clone()));
        }
        let ceiling = |what| LevelsError::Ceiling {
            level: l.name.clone(),
            what,
        };
        if !(60..=366 * DAY).contains(&l.max_link_secs) {
            return Err(ceiling(
                "the longest link lifetime must be between one minute and one year",
            ));
        }
        if l.max_views.is_some_and(|n| n < 1) {
            return Err(ceiling("the view ceiling must be at least 1"));
        }
        if l.rank != i as i64 {
            return Err(ceiling("ranks must run 0, 1, 2, … in order"));
        }
    }
    Ok(())
}

/// The ceiling a new link would break, named in the refusal.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CeilingError {
    /// Lifetime beyond the level's longest.
    #[error(
        "{level} documents allow links of at most {}; asked for {}",
        duration(*max_secs),
        duration(*asked_secs)
    )]
    Lifetime {
        /// The level.
        level: String,
        /// Its ceiling.
        max_secs: i64,
        /// What was asked.
        asked_secs: i64,
    },
    /// More views than the level allows (or unlimited where it has a ceiling).
    #[error("{level} documents allow at most {max} views per link; asked for {}", asked.map_or_else(|| "unlimited".to_owned(), |n| n.to_string()))]
    Views {
        /// The level.
        level: String,
        /// Its ceiling.
        max: i64,
        /// What was asked (`None`: unlimited).
        asked: Option<i64>,
    },
    /// No passcode where the level requires one.
    #[error("{level} documents require a passcode on every link")]
    Passcode {
        /// The level.
        level: String,
    },
    /// The acting member has no second factor.
    #[error(
        "{level} documents require a second factor for the member acting on them; enrol one in the console (Account) first"
    )]
    SecondFactor {
        /// The level.
        level: String,
    },
    /// The recipient's domain is not an approved supplier.
    #[error("{level} documents may only be shared with approved suppliers; {domain} is {status}")]
    Supplier {
        /// The level.
        level: String,
        /// The recipient's e-mail domain.
        domain: String,
        /// `not a known supplier`, `suspended`, `off-boarded`.
        status: String,
    },
    /// The recipient's supplier is suspended or off-boarded (whatever the level).
    #[error("{domain} is {status}: no new links to its people")]
    SupplierBlocked {
        /// The recipient's e-mail domain.
        domain: String,
        /// `suspended` or `off-boarded`.
        status: String,
    },
}

/// What a new link asks for, before the level's defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAsk {
    /// Lifetime in seconds, if the owner gave one.
    pub lifetime_secs: Option<i64>,
    /// View limit, if the owner gave one.
    pub max_views: Option<i64>,
    /// Passcode: `Some(true)` asked, `Some(false)` refused, `None` the level's default.
    pub passcode: Option<bool>,
}

/// A new link's terms once the level's defaults and ceilings are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTerms {
    /// Lifetime in seconds.
    pub lifetime_secs: i64,
    /// View limit.
    pub max_views: Option<i64>,
    /// Whether a passcode is generated.
    pub passcode: bool,
}

/// Where the recipient's company stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SupplierStatus {
    /// May receive links (and links of levels that need an approved supplier).
    Approved,
    /// No new links and no opens, links kept.
    Suspended,
    /// Cut off: every link revoked.
    Offboarded,
}

impl SupplierStatus {
    /// Name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Suspended => "suspended",
            Self::Offboarded => "offboarded",
        }
    }

    /// Parses a stored or typed name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Approved, Self::Suspended, Self::Offboarded]
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
    }

    fn describe(status: Option<Self>) -> &'static str {
        match status {
            None => "not a known supplier",
            Some(Self::Approved) => "approved",
            Some(Self::Suspended) => "suspended",
            Some(Self::Offboarded) => "off-boarded",
        }
    }
}

impl fmt::Display for SupplierStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::describe(Some(*self)))
    }
}

/// A supplier company of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SupplierRecord {
    /// Its people's e-mail domain, lower case.
    pub domain: String,
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub status: SupplierStatus,
    /// Last status change, unix seconds.
    pub changed_at: i64,
}

/// The e-mail domain of a recipient, lower case (empty when there is no `@`).
#[must_use]
pub fn recipient_domain(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// An organisation's terms (a non-disclosure text) that recipients accept before the first
/// view of documents from a level up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrgTerms {
    /// The text, shown as plain text.
    pub text: String,
    /// Required for documents whose level has this rank or a higher one (0: every document).
    pub from_rank: i64,
    /// Last change, unix seconds.
    pub updated_at: i64,
}

impl OrgTerms {
    /// Whether a document of level rank `rank` needs them.
    #[must_use]
    pub fn applies_to(&self, rank: i64) -> bool {
        rank >= self.from_rank
    }
}

/// What re-applying a level does to one live link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAdjustment {
    /// Within every ceiling.
    Keep,
    /// Shortened: the new expiry and view limit (never later or higher than before).
    Shorten {
        /// New expiry, unix seconds.
        expires_at: i64,
        /// New view limit.
        max_views: Option<i64>,
    },
    /// A ceiling that cannot be met by shortening (no passcode, recipient not approved):
    /// revoked, for this reason.
    Revoke(String),
}

impl LevelPolicy {
    /// Applies the level's defaults to `ask` and checks its ceilings, the recipient's supplier
    /// status (`None`: not a known supplier) and whether the acting member has a second factor
    /// (`None`: the operator's command line on the data directory, which the level does not
    /// restrict).
    pub fn check_link(
        &self,
        ask: &LinkAsk,
        recipient: &str,
        supplier: Option<SupplierStatus>,
        member_has_second_factor: Option<bool>,
        server_default_secs: i64,
    ) -> Result<LinkTerms, CeilingError> {
        let level = || self.name.clone();
        let domain = recipient_domain(recipient);
        if let Some(s @ (SupplierStatus::Suspended | SupplierStatus::Offboarded)) = supplier {
            return Err(CeilingError::SupplierBlocked {
                domain,
                status: s.to_string(),
            });
        }
        if member_has_second_factor == Some(false) && self.owner_second_factor {
            return Err(CeilingError::SecondFactor { level: level() });
        }
        if self.approved_only && supplier != Some(SupplierStatus::Approved) {
            return Err(CeilingError::Supplier {
                level: level(),
                domain,
                status: SupplierStatus::describe(supplier).to_owned(),
            });
        }
        let lifetime_secs = ask
            .lifetime_secs
            .unwrap_or(server_default_secs.min(self.max_link_secs));
        if lifetime_secs > self.max_link_secs {
            return Err(CeilingError::Lifetime {
                level: level(),
                max_secs: self.max_link_secs,
                asked_secs: lifetime_secs,
            });
        }
        let max_views = ask.max_views.or(self.max_views);
        if let Some(max) = self.max_views
            && max_views.is_none_or(|n| n > max)
        {
            return Err(CeilingError::Views {
                level: level(),
                max,
                asked: max_views,
            });
        }
        let passcode = ask.passcode.unwrap_or(self.passcode_required);
        if self.passcode_required && !passcode {
            return Err(CeilingError::Passcode { level: level() });
        }
        Ok(LinkTerms {
            lifetime_secs,
            max_views,
            passcode,
        })
    }

    /// What this level does to a live link of a document raised to it: a later expiry or a
    /// higher view limit than the level allows is shortened (never lengthened); a link without
    /// a required passcode, or to a recipient who is not an approved supplier where the level
    /// needs one, is revoked. `supplier` is the recipient's supplier status.
    #[must_use]
    pub fn adjust_live_link(
        &self,
        link: &LinkRecord,
        supplier: Option<SupplierStatus>,
    ) -> LinkAdjustment {
        if self.passcode_required && !link.has_passcode {
            return LinkAdjustment::Revoke(format!("{} requires a passcode", self.name));
        }
        if self.approved_only && supplier != Some(SupplierStatus::Approved) {
            return LinkAdjustment::Revoke(format!(
                "{} requires an approved supplier; {} is {}",
                self.name,
                recipient_domain(&link.recipient),
                SupplierStatus::describe(supplier)
            ));
        }
        let expires_at = link
            .expires_at
            .min(link.created_at.saturating_add(self.max_link_secs));
        let max_views = match (link.max_views, self.max_views) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if expires_at == link.expires_at && max_views == link.max_views {
            LinkAdjustment::Keep
        } else {
            LinkAdjustment::Shorten {
                expires_at,
                max_views,
            }
        }
    }
}

/// What a level change did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LevelChange {
    /// The level before.
    pub from: String,
    /// The level now.
    pub to: String,
    /// Links shortened (expiry or views), by id.
    pub shortened: Vec<String>,
    /// Links revoked, by id, with the reason.
    pub revoked: Vec<(String, String)>,
}

impl LevelChange {
    /// One line for the audit log and the CLI.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut s = format!(
            "level {} → {}: {} live link(s) shortened, {} revoked",
            self.from,
            self.to,
            self.shortened.len(),
            self.revoked.len()
        );
        for (id, why) in &self.revoked {
            s.push_str(&format!("; {id} revoked ({why})"));
        }
        s
    }
}

/// A duration in the largest whole unit (`7 days`, `90 minutes`).
#[must_use]
pub fn duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs % DAY == 0 {
        plural(secs / DAY, "day")
    } else if secs % 3600 == 0 {
        plural(secs / 3600, "hour")
    } else if secs % 60 == 0 {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::OrgId;

    fn restricted() -> LevelPolicy {
        default_levels().remove(3)
    }

    fn ask(secs: Option<i64>, views: Option<i64>, passcode: Option<bool>) -> LinkAsk {
        LinkAsk {
            lifetime_secs: secs,
            max_views: views,
            passcode,
        }
    }

    const OK: Option<SupplierStatus> = Some(SupplierStatus::Approved);

    #[test]
    fn the_default_levels_are_valid_and_ordered() {
        let levels = default_levels();
        check_levels(&levels).unwrap();
        let names: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Public", "Internal", "Confidential", "Restricted"]);
        assert_eq!(default_level(&levels).unwrap().name, "Internal");
        assert_eq!(find_level(&levels, " restricted").unwrap().rank, 3);
    }

    #[test]
    fn a_link_gets_the_level_defaults_and_each_ceiling_is_named() {
        let r = restricted();
        let terms = r
            .check_link(
                &ask(None, None, None),
                "a@acme.example",
                OK,
                Some(true),
                604_800,
            )
            .unwrap();
        assert_eq!(
            terms,
            LinkTerms {
                lifetime_secs: 7 * DAY,
                max_views: Some(10),
                passcode: true
            }
        );
        let e = r
            .check_link(
                &ask(Some(8 * DAY), None, None),
                "a@acme.example",
                OK,
                Some(true),
                0,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Restricted documents allow links of at most 7 days; asked for 8 days"
        );
        let e = r
            .check_link(
                &ask(None, Some(11), None),
                "a@acme.example",
                OK,
                Some(true),
                60,
            )
            .unwrap_err();
        assert!(e.to_string().contains("at most 10 views"), "{e}");
        let e = r
            .check_link(
                &ask(None, None, Some(false)),
                "a@acme.example",
                OK,
                Some(true),
                60,
            )
            .unwrap_err();
        assert!(e.to_string().contains("require a passcode"), "{e}");
        let e = r
            .check_link(
                &ask(None, None, None),
                "a@acme.example",
                OK,
                Some(false),
                60,
            )
            .unwrap_err();
        assert!(e.to_string().contains("second factor"), "{e}");
        // The operator's command line is not a member: no second factor to ask for.
        r.check_link(&ask(None, None, None), "a@acme.example", OK, None, 60)
            .unwrap();
        let e = r
            .check_link(
                &ask(None, None, None),
                "a@Other.example",
                None,
                Some(true),
                60,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Restricted documents may only be shared with approved suppliers; other.example is not a known supplier"
        );
    }

    #[test]
    fn blocked_suppliers_get_no_links_at_any_level() {
        let public = default_levels().remove(0);
        for s in [SupplierStatus::Suspended, SupplierStatus::Offboarded] {
            let e = public
                .check_link(
                    &ask(None, None, None),
                    "a@x.example",
                    Some(s),
                    Some(true),
                    60,
                )
                .unwrap_err();
            assert!(matches!(e, CeilingError::SupplierBlocked { .. }), "{e}");
        }
        public
            .check_link(&ask(None, None, None), "a@x.example", None, Some(false), 60)
            .unwrap();
    }

    fn link(created: i64, expires: i64, views: Option<i64>, passcode: bool) -> LinkRecord {
        LinkRecord {
            org: OrgId::from_row(1),
            id: "lnk_1".into(),
            token_hash: vec![],
            document_id: "d".into(),
            level: "Internal".into(),
            recipient: "a@acme.example".into(),
            created_by: "o@brand.example".into(),
            created_at: created,
            expires_at: expires,
            max_views: views,
            views: 0,
            passcode_hash: None,
            has_passcode: passcode,
            failed_passcodes: 0,
            locked_until: None,
            revoked_at: None,
        }
    }

    #[test]
    fn raising_a_level_shortens_never_lengthens_and_revokes_what_cannot_be_shortened() {
        let r = restricted();
        assert_eq!(
            r.adjust_live_link(&link(0, 30 * DAY, None, true), OK),
            LinkAdjustment::Shorten {
                expires_at: 7 * DAY,
                max_views: Some(10)
            }
        );
        assert_eq!(
            r.adjust_live_link(&link(0, DAY, Some(3), true), OK),
            LinkAdjustment::Keep
        );
        assert!(matches!(
            r.adjust_live_link(&link(0, DAY, Some(3), false), OK),
            LinkAdjustment::Revoke(_)
        ));
        assert!(matches!(
            r.adjust_live_link(
                &link(0, DAY, Some(3), true),
                Some(SupplierStatus::Suspended)
            ),
            LinkAdjustment::Revoke(_)
        ));
        let public = default_levels().remove(0);
        assert_eq!(
            public.adjust_live_link(&link(0, DAY, Some(3), false), None),
            LinkAdjustment::Keep
        );
    }

    #[test]
    fn bad_definitions_are_refused_with_the_reason() {
        let mut levels = default_levels();
        levels[1].name = "public".into();
        assert_eq!(
            check_levels(&levels),
            Err(LevelsError::Name("public".into()))
        );
        let mut levels = default_levels();
        levels[2].max_link_secs = 10;
        assert!(check_levels(&levels).is_err());
        let mut levels = default_levels();
        levels[2].rank = 7;
        assert!(check_levels(&levels).is_err());
        assert_eq!(check_levels(&[]), Err(LevelsError::Empty));
    }
}
