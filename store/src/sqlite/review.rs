//! Access reviews on SQLite ([`crate::review`]): each change is one `BEGIN IMMEDIATE`
//! transaction under the store's writer lock, with its audit entry and any revocations fed into
//! the revocation feed in the same transaction.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use super::meta::{append_audit_in, feed_revocations_in};
use crate::StoreResult;
use crate::audit::NewAuditEntry;
use crate::meta::{DescribeReviewClose, DescribeReviewStart, MetaStore};
use crate::review::{
    ClosedReview, DecideOutcome, NewReview, Reminder, ReminderKind, ReviewDecision, ReviewItem,
    ReviewRecord, ReviewSchedule, due_soon_secs, fill_suppliers,
};
use crate::tenancy::OrgId;

/// A link that can still be opened at `?1`.
const LIVE: &str =
    "revoked_at IS NULL AND expires_at > ?1 AND (max_views IS NULL OR views < max_views)";

const REVIEWS: &str = "SELECT r.id, r.started_at, r.due_at, r.started_by, r.closed_at,
       COUNT(i.link_id) AS links,
       COALESCE(SUM(CASE WHEN i.link_id IS NOT NULL AND i.decision IS NULL THEN 1 ELSE 0 END), 0) AS undecided,
       COALESCE(SUM(CASE WHEN i.decision = 'confirmed' THEN 1 ELSE 0 END), 0) AS confirmed,
       COALESCE(SUM(CASE WHEN i.decision = 'revoked' THEN 1 ELSE 0 END), 0) AS revoked,
       COALESCE(SUM(CASE WHEN i.decision = 'expired' THEN 1 ELSE 0 END), 0) AS expired
     FROM access_reviews r LEFT JOIN access_review_items i ON i.review_id = r.id
     WHERE r.org_id = ? GROUP BY r.id ORDER BY r.started_at DESC, r.id DESC";

fn review_from(r: &SqliteRow) -> ReviewRecord {
    ReviewRecord {
        id: r.get("id"),
        started_at: r.get("started_at"),
        due_at: r.get("due_at"),
        started_by: r.get("started_by"),
        closed_at: r.get("closed_at"),
        links: r.get("links"),
        undecided: r.get("undecided"),
        confirmed: r.get("confirmed"),
        revoked: r.get("revoked"),
        expired: r.get("expired"),
    }
}

fn item_from(r: &SqliteRow) -> ReviewItem {
    let max_views: Option<i64> = r.get("max_views");
    let views: i64 = r.get("views");
    let decision: Option<String> = r.get("decision");
    ReviewItem {
        link_id: r.get("link_id"),
        owner: r.get("owner"),
        recipient: r.get("recipient"),
        supplier: String::new(),
        supplier_status: None,
        document_id: r.get("document_id"),
        title: r.get("title"),
        level: r.get("level"),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
        revoked_at: r.get("revoked_at"),
        views_left: max_views.map(|m| (m - views).max(0)),
        last_view_at: r.get("last_view_at"),
        decision: decision.as_deref().and_then(ReviewDecision::parse),
        decided_at: r.get("decided_at"),
        decided_by: r.get("decided_by"),
    }
}

pub(super) async fn review_schedule(s: &SqliteStore, org: OrgId) -> StoreResult<ReviewSchedule> {
    let row =
        sqlx::query("SELECT review_every_secs, review_window_secs FROM organisations WHERE id = ?")
            .bind(org.get())
            .fetch_one(&s.pool)
            .await?;
    Ok(ReviewSchedule {
        every_secs: row.get("review_every_secs"),
        window_secs: row.get("review_window_secs"),
    })
}

pub(super) async fn set_review_schedule(
    s: &SqliteStore,
    org: OrgId,
    schedule: ReviewSchedule,
    audit: &NewAuditEntry,
) -> StoreResult<()> {
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "UPDATE organisations SET review_every_secs = ?, review_window_secs = ? WHERE id = ?",
    )
    .bind(schedule.every_secs)
    .bind(schedule.window_secs)
    .bind(org.get())
    .execute(&mut *tx)
    .await?;
    append_audit_in(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn start_review(
    s: &SqliteStore,
    org: OrgId,
    review: &NewReview,
    audit: &DescribeReviewStart<'_>,
) -> StoreResult<Option<i64>> {
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    let open: Option<String> =
        sqlx::query_scalar("SELECT id FROM access_reviews WHERE org_id = ? AND closed_at IS NULL")
            .bind(org.get())
            .fetch_optional(&mut *tx)
            .await?;
    if open.is_some() {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO access_reviews (id, org_id, started_at, due_at, started_by)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&review.id)
    .bind(org.get())
    .bind(review.started_at)
    .bind(review.due_at)
    .bind(&review.started_by)
    .execute(&mut *tx)
    .await?;
    let n = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO access_review_items (review_id, link_id, owner)
         SELECT ?2, id, created_by FROM links WHERE org_id = ?3 AND {LIVE}"
    )))
    .bind(review.started_at)
    .bind(&review.id)
    .bind(org.get())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    append_audit_in(&mut tx, &audit(n)).await?;
    tx.commit().await?;
    Ok(Some(n))
}

pub(super) async fn reviews(s: &SqliteStore, org: OrgId) -> StoreResult<Vec<ReviewRecord>> {
    let rows = sqlx::query(REVIEWS)
        .bind(org.get())
        .fetch_all(&s.pool)
        .await?;
    Ok(rows.iter().map(review_from).collect())
}

pub(super) async fn review_items(
    s: &SqliteStore,
    org: OrgId,
    review_id: &str,
) -> StoreResult<Vec<ReviewItem>> {
    let rows = sqlx::query(
        "SELECT i.link_id, i.owner, i.decision, i.decided_at, i.decided_by,
                l.recipient, l.document_id, l.created_at, l.expires_at, l.revoked_at,
                l.max_views, l.views, d.title, d.level,
                (SELECT MAX(x.created_at) FROM sessions x WHERE x.link_id = l.id) AS last_view_at
         FROM access_review_items i
         JOIN access_reviews r ON r.id = i.review_id
         JOIN links l ON l.id = i.link_id AND l.org_id = r.org_id
         JOIN documents d ON d.id = l.document_id AND d.org_id = r.org_id
         WHERE i.review_id = ? AND r.org_id = ?
         ORDER BY i.owner, l.created_at, l.id",
    )
    .bind(review_id)
    .bind(org.get())
    .fetch_all(&s.pool)
    .await?;
    let mut items: Vec<ReviewItem> = rows.iter().map(item_from).collect();
    fill_suppliers(&mut items, &s.suppliers(org).await?);
    Ok(items)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn decide_review(
    s: &SqliteStore,
    org: OrgId,
    review_id: &str,
    link_id: &str,
    decision: ReviewDecision,
    by: &str,
    now: i64,
    audit: &NewAuditEntry,
) -> StoreResult<DecideOutcome> {
    anyhow::ensure!(
        decision != ReviewDecision::Expired,
        "only the due date expires a link"
    );
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    let row = sqlx::query(
        "SELECT r.closed_at, i.decision FROM access_review_items i
         JOIN access_reviews r ON r.id = i.review_id
         WHERE i.review_id = ? AND i.link_id = ? AND r.org_id = ?",
    )
    .bind(review_id)
    .bind(link_id)
    .bind(org.get())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(DecideOutcome::NotInReview);
    };
    if row.get::<Option<i64>, _>("closed_at").is_some() {
        return Ok(DecideOutcome::Closed);
    }
    if let Some(d) = row
        .get::<Option<String>, _>("decision")
        .as_deref()
        .and_then(ReviewDecision::parse)
    {
        return Ok(DecideOutcome::AlreadyDecided(d));
    }
    sqlx::query(
        "UPDATE access_review_items SET decision = ?, decided_at = ?, decided_by = ?
         WHERE review_id = ? AND link_id = ?",
    )
    .bind(decision.as_str())
    .bind(now)
    .bind(by)
    .bind(review_id)
    .bind(link_id)
    .execute(&mut *tx)
    .await?;
    if decision == ReviewDecision::Revoked {
        let revoked = sqlx::query(
            "UPDATE links SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(link_id)
        .bind(org.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 1 {
            feed_revocations_in(&mut tx, &[link_id], now).await?;
        }
    }
    append_audit_in(&mut tx, audit).await?;
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_review_items WHERE review_id = ? AND decision IS NULL",
    )
    .bind(review_id)
    .fetch_one(&mut *tx)
    .await?;
    if left == 0 {
        sqlx::query("UPDATE access_reviews SET closed_at = ? WHERE id = ?")
            .bind(now)
            .bind(review_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(DecideOutcome::Decided { closed: left == 0 })
}

pub(super) async fn close_due_reviews(
    s: &SqliteStore,
    now: i64,
    audit: &DescribeReviewClose<'_>,
) -> StoreResult<Vec<ClosedReview>> {
    let due = sqlx::query(
        "SELECT id, org_id FROM access_reviews WHERE closed_at IS NULL AND due_at <= ?
         ORDER BY due_at, id",
    )
    .bind(now)
    .fetch_all(&s.pool)
    .await?;
    let mut closed = Vec::new();
    for row in due {
        let id: String = row.get("id");
        let org = OrgId::from_row(row.get("org_id"));
        let _serial = s.audit_lock.lock().await;
        let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
        let still_open = sqlx::query(
            "UPDATE access_reviews SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
        )
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if still_open == 0 {
            continue;
        }
        let mut undecided: Vec<String> = sqlx::query_scalar(
            "UPDATE access_review_items SET decision = 'expired', decided_at = ?,
               decided_by = 'due date'
             WHERE review_id = ? AND decision IS NULL RETURNING link_id",
        )
        .bind(now)
        .bind(&id)
        .fetch_all(&mut *tx)
        .await?;
        undecided.sort();
        let mut expired = Vec::new();
        for link in &undecided {
            let n = sqlx::query(
                "UPDATE links SET revoked_at = ?1 WHERE id = ?2 AND org_id = ?3
                   AND revoked_at IS NULL AND expires_at > ?1",
            )
            .bind(now)
            .bind(link)
            .bind(org.get())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                expired.push(link.clone());
            }
        }
        let refs: Vec<&str> = expired.iter().map(String::as_str).collect();
        feed_revocations_in(&mut tx, &refs, now).await?;
        let done = ClosedReview {
            org,
            review_id: id,
            expired,
        };
        append_audit_in(&mut tx, &audit(&done)).await?;
        tx.commit().await?;
        closed.push(done);
    }
    Ok(closed)
}

pub(super) async fn orgs_due_for_review(
    s: &SqliteStore,
    now: i64,
) -> StoreResult<Vec<(OrgId, ReviewSchedule)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT o.id, o.review_every_secs, o.review_window_secs FROM organisations o
         WHERE o.review_every_secs > 0
           AND NOT EXISTS (SELECT 1 FROM access_reviews r
                           WHERE r.org_id = o.id AND r.closed_at IS NULL)
           AND COALESCE((SELECT MAX(r.started_at) FROM access_reviews r WHERE r.org_id = o.id),
                        max(o.created_at, o.reviews_since)) + o.review_every_secs <= ?1
           AND EXISTS (SELECT 1 FROM links WHERE org_id = o.id AND {LIVE})
         ORDER BY o.id"
    )))
    .bind(now)
    .fetch_all(&s.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                OrgId::from_row(r.get("id")),
                ReviewSchedule {
                    every_secs: r.get("review_every_secs"),
                    window_secs: r.get("review_window_secs"),
                },
            )
        })
        .collect())
}

pub(super) async fn claim_reminders(s: &SqliteStore, now: i64) -> StoreResult<Vec<Reminder>> {
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(
        "SELECT r.id, r.org_id, r.started_at, r.due_at, i.owner, COUNT(*) AS undecided
         FROM access_reviews r JOIN access_review_items i ON i.review_id = r.id
         WHERE r.closed_at IS NULL AND i.decision IS NULL
         GROUP BY r.id, i.owner ORDER BY r.id, i.owner",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed = Vec::new();
    for row in rows {
        let due_at: i64 = row.get("due_at");
        let started_at: i64 = row.get("started_at");
        // Near the due date one e-mail says both; the start's is then recorded unsent.
        let kinds: &[(ReminderKind, bool)] = if due_at - now <= due_soon_secs(due_at - started_at) {
            &[
                (ReminderKind::DueSoon, true),
                (ReminderKind::Started, false),
            ]
        } else {
            &[(ReminderKind::Started, true)]
        };
        for &(kind, send) in kinds {
            let review_id: String = row.get("id");
            let owner: String = row.get("owner");
            let n = sqlx::query(
                "INSERT INTO access_review_reminders (review_id, owner, kind, sent_at)
                 VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&review_id)
            .bind(&owner)
            .bind(kind.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 && send {
                claimed.push(Reminder {
                    org: OrgId::from_row(row.get("org_id")),
                    review_id,
                    owner,
                    kind,
                    due_at,
                    undecided: row.get("undecided"),
                });
            }
        }
    }
    tx.commit().await?;
    Ok(claimed)
}
