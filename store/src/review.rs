//! Access reviews: every live link of an organisation put before its owner on a schedule, to be
//! confirmed or revoked by a due date (`docs/server.md#reviews`).
//!
//! Pure records and rules with no I/O. The store starts a review by copying the live links into
//! it in one transaction, records each decision (a revocation goes through the revocation feed
//! in the same transaction) and, at the due date, revokes what nobody confirmed. The server's
//! review task starts reviews when the schedule says so, closes due ones and sends the
//! reminders the store lets it claim, so that several replicas send each one once.

use std::fmt;

use crate::audit::csv_cell;

/// Default time between two reviews of an organisation: a quarter.
pub const DEFAULT_EVERY_SECS: i64 = 91 * 86_400;
/// Default time an owner has to decide: two weeks.
pub const DEFAULT_WINDOW_SECS: i64 = 14 * 86_400;

/// What the owner (or the due date) decided for one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewDecision {
    /// The owner confirmed the link is still needed; it stays as it is.
    Confirmed,
    /// The owner revoked it.
    Revoked,
    /// Nobody decided by the due date; it was revoked then.
    Expired,
}

impl ReviewDecision {
    /// The stored and exported name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// Parses a stored name, or what an owner types (`confirm`, `revoke` too).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "confirmed" | "confirm" => Some(Self::Confirmed),
            "revoked" | "revoke" => Some(Self::Revoked),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

impl fmt::Display for ReviewDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often an organisation reviews its links, and how long owners have to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReviewSchedule {
    /// Time from one review's start to the next one's, seconds; 0: only reviews started by hand.
    pub every_secs: i64,
    /// Time from a review's start to its due date, seconds.
    pub window_secs: i64,
}

impl Default for ReviewSchedule {
    fn default() -> Self {
        Self {
            every_secs: DEFAULT_EVERY_SECS,
            window_secs: DEFAULT_WINDOW_SECS,
        }
    }
}

impl ReviewSchedule {
    /// Checks the schedule makes sense: a window of a minute to a year, and reviews no more
    /// often than their window (two open reviews at once are not possible).
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if !(60..=366 * 86_400).contains(&self.window_secs) {
            return Err("a review's window must be between a minute and a year".into());
        }
        if self.every_secs != 0 && self.every_secs < self.window_secs {
            return Err("reviews cannot come more often than their window is long".into());
        }
        Ok(())
    }
}

/// A review to start.
#[derive(Debug, Clone)]
pub struct NewReview {
    /// Public id (`rev_` and 16 hex digits).
    pub id: String,
    /// Start, unix seconds; links live at this time are reviewed.
    pub started_at: i64,
    /// Due date, unix seconds.
    pub due_at: i64,
    /// Who started it: an e-mail, `cli:USER` or `schedule`.
    pub started_by: String,
}

/// A review with its counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewRecord {
    /// Public id.
    pub id: String,
    /// Start, unix seconds.
    pub started_at: i64,
    /// Due date, unix seconds.
    pub due_at: i64,
    /// Who started it.
    pub started_by: String,
    /// When it closed (everything decided, or the due date passed), unix seconds.
    pub closed_at: Option<i64>,
    /// Links in it.
    pub links: i64,
    /// Links still waiting for a decision.
    pub undecided: i64,
    /// Links confirmed.
    pub confirmed: i64,
    /// Links revoked by their owner.
    pub revoked: i64,
    /// Links revoked at the due date.
    pub expired: i64,
}

/// One link in a review, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewItem {
    /// The link's public id.
    pub link_id: String,
    /// Who made the link (an e-mail, `cli:USER`, or empty for links older than reviews).
    pub owner: String,
    /// Who has it.
    pub recipient: String,
    /// The recipient's supplier company (e-mail domain).
    pub supplier: String,
    /// That supplier's status, if the organisation lists it.
    pub supplier_status: Option<String>,
    /// The shared document.
    pub document_id: String,
    /// Its title.
    pub title: String,
    /// Its classification level.
    pub level: String,
    /// When the link was made, unix seconds.
    pub created_at: i64,
    /// When it expires, unix seconds.
    pub expires_at: i64,
    /// When it was revoked, if it was (by the review or otherwise).
    pub revoked_at: Option<i64>,
    /// Views left (`None`: no limit).
    pub views_left: Option<i64>,
    /// Last opening, unix seconds.
    pub last_view_at: Option<i64>,
    /// The decision, once made.
    pub decision: Option<ReviewDecision>,
    /// When it was made, unix seconds.
    pub decided_at: Option<i64>,
    /// Who made it (`due date` for expiries).
    pub decided_by: Option<String>,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideOutcome {
    /// Recorded; `closed` when it was the review's last undecided link.
    Decided {
        /// The review closed with it.
        closed: bool,
    },
    /// The link is not in that review (or the review is not this organisation's).
    NotInReview,
    /// The link was decided already.
    AlreadyDecided(ReviewDecision),
    /// The review is closed.
    Closed,
}

/// A review closed at its due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedReview {
    /// Its organisation.
    pub org: crate::OrgId,
    /// Its id.
    pub review_id: String,
    /// Links revoked because nobody confirmed them.
    pub expired: Vec<String>,
}

/// Which reminder an owner gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReminderKind {
    /// A review with links of theirs has started.
    Started,
    /// Its due date is near and links of theirs are undecided.
    DueSoon,
}

impl ReminderKind {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::DueSoon => "due-soon",
        }
    }
}

/// A reminder the caller has claimed and must now send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// The organisation.
    pub org: crate::OrgId,
    /// The review.
    pub review_id: String,
    /// The owner to remind (an e-mail; or `cli:USER`/empty, which go to the admins).
    pub owner: String,
    /// Which one.
    pub kind: ReminderKind,
    /// The review's due date, unix seconds.
    pub due_at: i64,
    /// The owner's undecided links.
    pub undecided: i64,
}

/// How long before the due date owners with undecided links get the second reminder, for a
/// review `window_secs` long: a third of the window, at most three days.
#[must_use]
pub fn due_soon_secs(window_secs: i64) -> i64 {
    (window_secs / 3).min(3 * 86_400)
}

/// The e-mail domain of a recipient (what [`ReviewItem::supplier`] holds).
#[must_use]
pub fn supplier_of(recipient: &str) -> String {
    crate::classification::recipient_domain(recipient)
}

/// Fills each item's supplier (from its recipient) and that supplier's status from the
/// organisation's `suppliers`.
pub fn fill_suppliers(
    items: &mut [ReviewItem],
    suppliers: &[crate::classification::SupplierRecord],
) {
    for i in items {
        i.supplier = supplier_of(&i.recipient);
        i.supplier_status = suppliers
            .iter()
            .find(|s| s.domain == i.supplier)
            .map(|s| s.status.as_str().to_owned());
    }
}

/// A review as CSV: one header line, one line per link, every cell quoted and formula-guarded.
/// `time` formats unix seconds.
#[must_use]
pub fn review_csv(
    review: &ReviewRecord,
    items: &[ReviewItem],
    time: &dyn Fn(i64) -> String,
) -> String {
    let mut out = String::from(
        "review,started,due,closed,link,owner,recipient,supplier,supplier_status,document,title,level,created,expires,views_left,last_view,decision,decided_at,decided_by\n",
    );
    let opt = |t: Option<i64>| t.map(time).unwrap_or_default();
    for i in items {
        let cells = [
            review.id.clone(),
            time(review.started_at),
            time(review.due_at),
            opt(review.closed_at),
            i.link_id.clone(),
            i.owner.clone(),
            i.recipient.clone(),
            i.supplier.clone(),
            i.supplier_status.clone().unwrap_or_default(),
            i.document_id.clone(),
            i.title.clone(),
            i.level.clone(),
            time(i.created_at),
            time(i.expires_at),
            i.views_left
                .map_or_else(|| "unlimited".into(), |v| v.to_string()),
            opt(i.last_view_at),
            i.decision
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            opt(i.decided_at),
            i.decided_by.clone().unwrap_or_default(),
        ];
        for (n, c) in cells.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            csv_cell(&mut out, c);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_round_trip_and_accept_verbs() {
        for d in [
            ReviewDecision::Confirmed,
            ReviewDecision::Revoked,
            ReviewDecision::Expired,
        ] {
            assert_eq!(ReviewDecision::parse(d.as_str()), Some(d));
        }
        assert_eq!(
            ReviewDecision::parse(" Confirm "),
            Some(ReviewDecision::Confirmed)
        );
        assert_eq!(
            ReviewDecision::parse("revoke"),
            Some(ReviewDecision::Revoked)
        );
        assert_eq!(ReviewDecision::parse("keep"), None);
    }

    #[test]
    fn second_reminder_comes_a_third_of_the_window_before_at_most_three_days() {
        assert_eq!(due_soon_secs(14 * 86_400), 3 * 86_400);
        assert_eq!(due_soon_secs(3 * 3600), 3600);
    }

    #[test]
    fn schedule_checks_window_and_period() {
        assert!(ReviewSchedule::default().check().is_ok());
        let s = |every_secs, window_secs| ReviewSchedule {
            every_secs,
            window_secs,
        };
        assert!(s(0, 3600).check().is_ok(), "manual reviews only");
        assert!(s(86_400, 30).check().is_err(), "window under a minute");
        assert!(s(3600, 7200).check().is_err(), "reviews overlapping");
        assert!(s(400 * 86_400, 367 * 86_400).check().is_err());
    }

    #[test]
    fn csv_guards_formulas_and_names_undecided_links() {
        let review = ReviewRecord {
            id: "rev_1".into(),
            started_at: 0,
            due_at: 10,
            started_by: "schedule".into(),
            closed_at: None,
            links: 1,
            undecided: 1,
            confirmed: 0,
            revoked: 0,
            expired: 0,
        };
        let item = ReviewItem {
            link_id: "lnk_1".into(),
            owner: "o@brand.example".into(),
            recipient: "=HYPERLINK(\"x\")@acme.example".into(),
            supplier: "acme.example".into(),
            supplier_status: None,
            document_id: "d".into(),
            title: "Bracket".into(),
            level: "Internal".into(),
            created_at: 0,
            expires_at: 5,
            revoked_at: None,
            views_left: None,
            last_view_at: None,
            decision: None,
            decided_at: None,
            decided_by: None,
        };
        let csv = review_csv(&review, &[item], &|t| format!("t{t}"));
        let line = csv.lines().nth(1).unwrap();
        assert!(line.contains("\"'=HYPERLINK"), "{line}");
        assert!(line.contains("\"unlimited\""), "{line}");
        assert_eq!(csv.lines().count(), 2);
    }
}
