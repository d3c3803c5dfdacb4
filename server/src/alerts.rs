//! Unusual access (`docs/server.md#alerts`): the viewer API tells this module about openings,
//! refusals and locks; it raises an alert when a recipient opens from a network (IPv4 /24,
//! IPv6 /48) they had not used, when several sessions of one link are open at once, when a link
//! locks after wrong passcodes, and when a recipient tries to open while their supplier is
//! suspended. Alerts are shown in the console and delivered to the organisation's webhooks:
//! POSTed as JSON, signed with HMAC-SHA256 (`Veilmark-Signature: t=…,v1=…`), retried with
//! doubling waits until the receiver answers 2xx, never to a private address unless the
//! operator allowed it (`--webhook-allow-private`), with the name resolved once and pinned so
//! that a second resolution cannot point elsewhere.
//!
//! Raising an alert never fails the viewer's request: a store error is logged.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result, bail};
use hmac::{KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use thiserror::Error;
use veilmark_store::alerts::{
    AlertKind, AlertRecord, Delivery, WebhookRecord, network_of, retry_after,
};
use veilmark_store::meta::LinkRecord;

use crate::audit::AuditKind;
use crate::service::{Actor, ClientMeta};
use crate::{AppState, now_secs, rfc3339, secrets};

/// A webhook that cannot be added.
#[derive(Debug, Error)]
pub enum WebhookError {
    /// Not an `https://` URL (or `http://` with private addresses allowed), or a host that is
    /// a private address.
    #[error("{0}")]
    Refused(String),
}

/// What an alert's webhook receives (JSON).
#[derive(Debug, Serialize)]
pub struct AlertPayload<'a> {
    /// Always `alert`.
    #[serde(rename = "type")]
    pub kind_of_event: &'static str,
    /// The alert's id.
    pub id: &'a str,
    /// What was unusual (`new-network`, `many-sessions`, `wrong-passcodes`, `after-suspension`).
    pub kind: &'static str,
    /// For people.
    pub summary: &'static str,
    /// The organisation's name.
    pub organisation: &'a str,
    /// The link.
    pub link: &'a str,
    /// Its recipient.
    pub recipient: &'a str,
    /// The numbers behind it.
    pub detail: &'a str,
    /// The client address.
    pub ip: Option<&'a str>,
    /// When, RFC 3339.
    pub at: String,
    /// Where to see it.
    pub console: String,
}

/// The signature header's value for `body` sent at `timestamp` with `secret` (the `whsec_…`
/// string as shown when the webhook was added): `t=TIMESTAMP,v1=HEX(HMAC-SHA256(secret,
/// "TIMESTAMP." ‖ body))`. Receivers recompute it, compare in constant time, and refuse old
/// timestamps (replays).
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The secret as shown once to the admin and used as the HMAC key.
fn shown_secret(raw: &[u8; 32]) -> String {
    format!("whsec_{}", hex::encode(raw))
}

impl AppState {
    /// Raises `kind` for `link` (unless one was raised within the quiet period), logging a
    /// failure instead of returning it.
    async fn raise(&self, kind: AlertKind, link: &LinkRecord, meta: &ClientMeta, detail: String) {
        let now = now_secs();
        let result: Result<bool> = async {
            let alert = AlertRecord {
                id: format!("alr_{}", hex::encode(secrets::random::<8>()?)),
                org: link.org,
                kind,
                link_id: link.id.clone(),
                recipient: link.recipient.clone(),
                detail: detail.clone(),
                ip: meta.ip.clone(),
                created_at: now,
                acknowledged_at: None,
                acknowledged_by: None,
            };
            let mut entry = meta.entry(
                link.org,
                AuditKind::Alert,
                format!("{}: {}: {detail}", alert.id, kind.describe()),
            );
            entry.link_id = Some(link.id.clone());
            entry.document_id = Some(link.document_id.clone());
            entry.actor = Some(link.recipient.clone());
            // A new network is new once; the others repeat, so they are kept quiet a while.
            let quiet_since = match kind {
                AlertKind::NewNetwork => now,
                _ => now - self.config.alerts.quiet_secs,
            };
            self.store.raise_alert(&alert, quiet_since, &entry).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!("alert {kind} for link {} not recorded: {e:#}", link.id);
        }
    }

    /// After a licence was granted: a new network for the recipient, many sessions at once.
    pub async fn check_opening(&self, link: &LinkRecord, meta: &ClientMeta) {
        let now = now_secs();
        if let Some(ip) = meta.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()) {
            let network = network_of(ip);
            let recipient = link.recipient.to_ascii_lowercase();
            match self
                .store
                .see_network(link.org, &recipient, &network, now)
                .await
            {
                Ok(Some(known)) if known > 0 => {
                    self.raise(
                        AlertKind::NewNetwork,
                        link,
                        meta,
                        format!(
                            "first opening from {network}; {known} other network(s) used before"
                        ),
                    )
                    .await;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("network of link {} not recorded: {e:#}", link.id),
            }
        }
        match self.store.live_sessions(&link.id, now).await {
            Ok(n) if n >= self.config.alerts.many_sessions => {
                self.raise(
                    AlertKind::ManySessions,
                    link,
                    meta,
                    format!("{n} sessions open at once"),
                )
                .await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("sessions of link {} not counted: {e:#}", link.id),
        }
    }

    /// A link locked after `failures` wrong passcodes in a row.
    pub async fn passcode_locked(&self, link: &LinkRecord, meta: &ClientMeta, failures: i64) {
        self.raise(
            AlertKind::WrongPasscodes,
            link,
            meta,
            format!("locked after {failures} wrong passcodes in a row"),
        )
        .await;
    }

    /// An opening refused because the recipient's supplier is suspended.
    pub async fn opened_while_suspended(&self, link: &LinkRecord, meta: &ClientMeta, since: i64) {
        self.raise(
            AlertKind::AfterSuspension,
            link,
            meta,
            format!(
                "supplier suspended since {}; opening refused",
                rfc3339(since)
            ),
        )
        .await;
    }

    /// The organisation's latest alerts, newest first.
    ///
    /// # Errors
    /// The store failing.
    pub async fn alerts(&self, actor: &Actor, limit: u32) -> Result<Vec<AlertRecord>> {
        self.store.alerts(actor.org, limit).await
    }

    /// Marks an alert of the actor's organisation acknowledged (audited); false when there is
    /// none or it already was.
    ///
    /// # Errors
    /// The store failing.
    pub async fn acknowledge_alert(
        &self,
        id: &str,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<bool> {
        if !self
            .store
            .acknowledge_alert(actor.org, id, &actor.name, now_secs())
            .await?
        {
            return Ok(false);
        }
        let entry = actor.entry(meta, AuditKind::Alert, format!("{id} acknowledged"));
        self.store.append_audit(&entry).await?;
        Ok(true)
    }

    /// Adds a webhook for the actor's organisation; returns it and its signing secret (shown
    /// this once).
    ///
    /// # Errors
    /// [`WebhookError::Refused`] for a URL that is not `https://` or names a private address
    /// (unless allowed); the store failing.
    pub async fn add_webhook(
        &self,
        url: &str,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<(WebhookRecord, String)> {
        let url = self.check_webhook_url(url)?;
        let id = format!("whk_{}", hex::encode(secrets::random::<8>()?));
        let raw: [u8; 32] = secrets::random()?;
        let webhook = WebhookRecord {
            secret_wrapped: self.keys.wrap_webhook_secret(&id, &raw)?,
            id,
            org: actor.org,
            url: url.to_string(),
            created_at: now_secs(),
            created_by: actor.name.clone(),
        };
        let entry = actor.entry(
            meta,
            AuditKind::Alert,
            format!("webhook {} added: {}", webhook.id, webhook.url),
        );
        self.store.add_webhook(&webhook, &entry).await?;
        Ok((webhook, shown_secret(&raw)))
    }

    /// Removes a webhook of the actor's organisation; false when there is none.
    ///
    /// # Errors
    /// The store failing.
    pub async fn remove_webhook(&self, id: &str, actor: &Actor, meta: &ClientMeta) -> Result<bool> {
        let entry = actor.entry(meta, AuditKind::Alert, format!("webhook {id} removed"));
        self.store.remove_webhook(actor.org, id, &entry).await
    }

    fn check_webhook_url(&self, url: &str) -> Result<reqwest::Url> {
        let allow = self.config.alerts.webhook_allow_private;
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| WebhookError::Refused(format!("{url:?} is not a URL: {e}")))?;
        let scheme_ok = parsed.scheme() == "https" || (allow && parsed.scheme() == "http");
        if !scheme_ok {
            return Err(WebhookError::Refused(
                "a webhook must be an https:// URL (alerts name recipients and addresses)".into(),
            )
            .into());
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(WebhookError::Refused(
                "put no credentials in a webhook URL; check the signature instead".into(),
            )
            .into());
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| WebhookError::Refused("a webhook URL needs a host".into()))?;
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && !allow
            && !veilmark_shared::net::is_public(ip)
        {
            return Err(WebhookError::Refused(format!(
                "{ip} is not a public address; webhooks reach only public addresses unless the server runs with --webhook-allow-private"
            ))
            .into());
        }
        if host.eq_ignore_ascii_case("localhost") && !allow {
            return Err(WebhookError::Refused(
                "localhost is not a public address (--webhook-allow-private allows it)".into(),
            )
            .into());
        }
        Ok(parsed)
    }

    /// Sends one claimed delivery: resolves the host (every address must be public unless
    /// allowed), pins it, POSTs the signed JSON without following redirects, and records the
    /// outcome with the next attempt's time.
    ///
    /// # Errors
    /// The store failing to record the outcome (a failed send is an outcome, not an error).
    pub async fn attempt_delivery(&self, d: &Delivery) -> Result<bool> {
        let now = now_secs();
        let outcome = self.send_delivery(d, now).await;
        let attempts = d.attempts + 1;
        match outcome {
            Ok(()) => {
                self.store
                    .delivery_attempted(&d.alert.id, &d.webhook.id, Some(now), None, None)
                    .await?;
                Ok(true)
            }
            Err(e) => {
                let next = retry_after(attempts, self.config.alerts.webhook_retry_base_secs)
                    .map(|wait| now + wait);
                let error: String = format!("{e:#}").chars().take(300).collect();
                tracing::warn!(
                    "webhook {} did not take alert {} (attempt {attempts}): {error}",
                    d.webhook.id,
                    d.alert.id
                );
                self.store
                    .delivery_attempted(&d.alert.id, &d.webhook.id, None, Some(&error), next)
                    .await?;
                Ok(false)
            }
        }
    }

    async fn send_delivery(&self, d: &Delivery, now: i64) -> Result<()> {
        let url = self.check_webhook_url(&d.webhook.url)?;
        let host = url.host_str().context("no host")?.to_owned();
        let port = url.port_or_known_default().context("no port")?;
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((literal.as_str(), port))
                .await
                .with_context(|| format!("cannot resolve {host}"))?
                .collect(),
        };
        if addrs.is_empty() {
            bail!("{host} resolves to no address");
        }
        if !self.config.alerts.webhook_allow_private
            && let Some(bad) = addrs
                .iter()
                .find(|a| !veilmark_shared::net::is_public(a.ip()))
        {
            bail!("{host} resolves to {}, not a public address", bad.ip());
        }
        let org = self.store.org(d.alert.org).await?;
        let a = &d.alert;
        let payload = AlertPayload {
            kind_of_event: "alert",
            id: &a.id,
            kind: a.kind.as_str(),
            summary: a.kind.describe(),
            organisation: &org.name,
            link: &a.link_id,
            recipient: &a.recipient,
            detail: &a.detail,
            ip: a.ip.as_deref(),
            at: rfc3339(a.created_at),
            console: format!(
                "{}/console/alerts",
                self.config.public_url.trim_end_matches('/')
            ),
        };
        let body = serde_json::to_vec(&payload)?;
        let raw = self
            .keys
            .unwrap_webhook_secret(&d.webhook.id, &d.webhook.secret_wrapped)?;
        let sig = signature(&shown_secret(&raw), now, &body);
        use_ring_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .resolve_to_addrs(&literal, &addrs)
            .user_agent(concat!("veilmark-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let resp = client
            .post(url)
            .header("content-type", "application/json")
            .header("veilmark-signature", sig)
            .header("veilmark-webhook-id", &d.webhook.id)
            .header("veilmark-delivery", format!("{}.{}", a.id, d.webhook.id))
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("request failed: {}", e.without_url()))?;
        let status = resp.status();
        if !status.is_success() {
            bail!("answered {status}");
        }
        Ok(())
    }

    /// Attempts the deliveries due now every [`crate::AlertSettings::delivery_tick`] until the
    /// process ends.
    pub fn spawn_delivery_task(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(state.config.alerts.delivery_tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let due = match state.store.claim_deliveries(now_secs(), 60, 20).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!("webhook deliveries not read: {e:#}");
                        continue;
                    }
                };
                for d in &due {
                    if let Err(e) = state.attempt_delivery(d).await {
                        tracing::warn!("webhook delivery not recorded: {e:#}");
                    }
                }
            }
        })
    }
}

/// reqwest is built without a default rustls provider: use ring, as the server's TLS does.
fn use_ring_provider() {
    use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
    if CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one first, which is as good.
        let _ = ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=\
             38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
