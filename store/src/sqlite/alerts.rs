//! Unusual-access alerts and their webhook deliveries on SQLite ([`crate::alerts`]): changes
//! are `BEGIN IMMEDIATE` transactions under the store's writer lock.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use super::meta::append_audit_in;
use crate::StoreResult;
use crate::alerts::{AlertKind, AlertRecord, Delivery, DeliveryStatus, WebhookRecord};
use crate::audit::NewAuditEntry;
use crate::tenancy::OrgId;

fn alert_from(r: &SqliteRow) -> StoreResult<AlertRecord> {
    let kind: String = r.get("kind");
    Ok(AlertRecord {
        id: r.get("id"),
        org: OrgId::from_row(r.get("org_id")),
        kind: AlertKind::parse(&kind)
            .ok_or_else(|| anyhow::anyhow!("unknown alert kind {kind:?} in the database"))?,
        link_id: r.get("link_id"),
        recipient: r.get("recipient"),
        detail: r.get("detail"),
        ip: r.get("ip"),
        created_at: r.get("created_at"),
        acknowledged_at: r.get("acknowledged_at"),
        acknowledged_by: r.get("acknowledged_by"),
    })
}

fn webhook_from(r: &SqliteRow, prefix: &str) -> WebhookRecord {
    let col = |c: &str| format!("{prefix}{c}");
    WebhookRecord {
        id: r.get(col("id").as_str()),
        org: OrgId::from_row(r.get(col("org_id").as_str())),
        url: r.get(col("url").as_str()),
        secret_wrapped: r.get(col("secret_wrapped").as_str()),
        created_at: r.get(col("created_at").as_str()),
        created_by: r.get(col("created_by").as_str()),
    }
}

pub(super) async fn see_network(
    s: &SqliteStore,
    org: OrgId,
    recipient: &str,
    network: &str,
    now: i64,
) -> StoreResult<Option<i64>> {
    // Most openings come from a known network: a read, no write transaction.
    let known_network: Option<i64> = sqlx::query_scalar(
        "SELECT first_seen FROM recipient_networks
         WHERE org_id = ?1 AND recipient = ?2 AND network = ?3",
    )
    .bind(org.get())
    .bind(recipient)
    .bind(network)
    .fetch_optional(&s.pool)
    .await?;
    if known_network.is_some() {
        return Ok(None);
    }
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT first_seen FROM recipient_networks
         WHERE org_id = ?1 AND recipient = ?2 AND network = ?3",
    )
    .bind(org.get())
    .bind(recipient)
    .bind(network)
    .fetch_optional(&mut *tx)
    .await?;
    if seen.is_some() {
        return Ok(None);
    }
    let known: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM recipient_networks WHERE org_id = ?1 AND recipient = ?2",
    )
    .bind(org.get())
    .bind(recipient)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO recipient_networks (org_id, recipient, network, first_seen)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(org.get())
    .bind(recipient)
    .bind(network)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(known))
}

pub(super) async fn live_sessions(s: &SqliteStore, link_id: &str, now: i64) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE link_id = ?1 AND lease_expires_at > ?2",
    )
    .bind(link_id)
    .bind(now)
    .fetch_one(&s.pool)
    .await?)
}

pub(super) async fn raise_alert(
    s: &SqliteStore,
    a: &AlertRecord,
    quiet_since: i64,
    audit: &NewAuditEntry,
) -> StoreResult<bool> {
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM alerts
         WHERE org_id = ?1 AND link_id = ?2 AND kind = ?3 AND created_at >= ?4",
    )
    .bind(a.org.get())
    .bind(&a.link_id)
    .bind(a.kind.as_str())
    .bind(quiet_since)
    .fetch_one(&mut *tx)
    .await?;
    if recent > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO alerts (id, org_id, kind, link_id, recipient, detail, ip, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(&a.id)
    .bind(a.org.get())
    .bind(a.kind.as_str())
    .bind(&a.link_id)
    .bind(&a.recipient)
    .bind(&a.detail)
    .bind(&a.ip)
    .bind(a.created_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (alert_id, webhook_id, next_attempt_at)
         SELECT ?1, id, ?2 FROM webhooks WHERE org_id = ?3",
    )
    .bind(&a.id)
    .bind(a.created_at)
    .bind(a.org.get())
    .execute(&mut *tx)
    .await?;
    append_audit_in(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn alerts(
    s: &SqliteStore,
    org: OrgId,
    limit: u32,
) -> StoreResult<Vec<AlertRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM alerts WHERE org_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
    )
    .bind(org.get())
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await?;
    rows.iter().map(alert_from).collect()
}

pub(super) async fn acknowledge_alert(
    s: &SqliteStore,
    org: OrgId,
    id: &str,
    by: &str,
    now: i64,
) -> StoreResult<bool> {
    let n = sqlx::query(
        "UPDATE alerts SET acknowledged_at = ?1, acknowledged_by = ?2
         WHERE id = ?3 AND org_id = ?4 AND acknowledged_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .bind(org.get())
    .execute(&s.pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub(super) async fn add_webhook(
    s: &SqliteStore,
    w: &WebhookRecord,
    audit: &NewAuditEntry,
) -> StoreResult<()> {
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "INSERT INTO webhooks (id, org_id, url, secret_wrapped, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(&w.id)
    .bind(w.org.get())
    .bind(&w.url)
    .bind(&w.secret_wrapped)
    .bind(w.created_at)
    .bind(&w.created_by)
    .execute(&mut *tx)
    .await?;
    append_audit_in(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn webhooks(s: &SqliteStore, org: OrgId) -> StoreResult<Vec<WebhookRecord>> {
    let rows = sqlx::query("SELECT * FROM webhooks WHERE org_id = ?1 ORDER BY created_at, id")
        .bind(org.get())
        .fetch_all(&s.pool)
        .await?;
    Ok(rows.iter().map(|r| webhook_from(r, "")).collect())
}

pub(super) async fn remove_webhook(
    s: &SqliteStore,
    org: OrgId,
    id: &str,
    audit: &NewAuditEntry,
) -> StoreResult<bool> {
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM webhooks WHERE id = ?1 AND org_id = ?2")
            .bind(id)
            .bind(org.get())
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = ?1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM webhooks WHERE id = ?1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    append_audit_in(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(true)
}

const DELIVERY: &str = "SELECT d.attempts, a.*, w.id AS w_id, w.org_id AS w_org_id, w.url AS w_url,
        w.secret_wrapped AS w_secret_wrapped, w.created_at AS w_created_at,
        w.created_by AS w_created_by
     FROM webhook_deliveries d JOIN alerts a ON a.id = d.alert_id
     JOIN webhooks w ON w.id = d.webhook_id AND w.org_id = a.org_id";

pub(super) async fn claim_deliveries(
    s: &SqliteStore,
    now: i64,
    lease_secs: i64,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    let _serial = s.audit_lock.lock().await;
    let mut tx = s.pool.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{DELIVERY} WHERE d.next_attempt_at <= ?1 ORDER BY d.next_attempt_at, a.id LIMIT ?2"
    )))
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let d = Delivery {
            alert: alert_from(r)?,
            webhook: webhook_from(r, "w_"),
            attempts: r.get("attempts"),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = ?1
             WHERE alert_id = ?2 AND webhook_id = ?3",
        )
        .bind(now + lease_secs)
        .bind(&d.alert.id)
        .bind(&d.webhook.id)
        .execute(&mut *tx)
        .await?;
        out.push(d);
    }
    tx.commit().await?;
    Ok(out)
}

pub(super) async fn delivery_attempted(
    s: &SqliteStore,
    alert_id: &str,
    webhook_id: &str,
    delivered_at: Option<i64>,
    error: Option<&str>,
    next_attempt_at: Option<i64>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?1,
           last_error = ?2, next_attempt_at = ?3
         WHERE alert_id = ?4 AND webhook_id = ?5",
    )
    .bind(delivered_at)
    .bind(error)
    .bind(next_attempt_at)
    .bind(alert_id)
    .bind(webhook_id)
    .execute(&s.pool)
    .await?;
    Ok(())
}

pub(super) async fn deliveries(
    s: &SqliteStore,
    org: OrgId,
    limit: u32,
) -> StoreResult<Vec<DeliveryStatus>> {
    let rows = sqlx::query(
        "SELECT d.* FROM webhook_deliveries d JOIN alerts a ON a.id = d.alert_id
         WHERE a.org_id = ?1 ORDER BY a.created_at DESC, a.id DESC, d.webhook_id LIMIT ?2",
    )
    .bind(org.get())
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| DeliveryStatus {
            alert_id: r.get("alert_id"),
            webhook_id: r.get("webhook_id"),
            attempts: r.get("attempts"),
            delivered_at: r.get("delivered_at"),
            next_attempt_at: r.get("next_attempt_at"),
            last_error: r.get("last_error"),
        })
        .collect())
}
