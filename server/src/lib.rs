//! `veilmark serve`: the link and licence server a brand owner runs to share sealed files and stay
//! in control of them.
//!
//! - [`store`]: the server's records behind the [`store::MetaStore`] trait, crawl hits behind
//!   [`veilmark_store::EvidenceStore`], envelopes behind `object_store`; all owned by the
//!   `veilmark-store` crate (SQLite and a local folder by default).
//! - [`keys`]: the server's signing, wrapping and watermark keys and what they do.
//! - [`sealing`]: uploads sealed from a file with constant memory and stored durably.
//! - [`service`]: owner operations (seal, link, revoke, audit) shared by the JSON API and the CLI.
//! - [`http`]: the axum router — viewer API (licences, leases, revocation push, ranged envelope)
//!   and owner API — with security headers, body limits and rate limits.
//! - [`audit`]: the hash-chained audit log (kept by `veilmark-store`).
//! - [`tls`]: optional HTTPS with rustls.
//! - [`embed`]: partner origins allowed to frame the viewer (`docs/embedding.md`).
//!
//! The API is documented in `docs/server.md`; what it protects against, and what it cannot, in
//! `docs/threat-model.md`.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod classification;
pub mod client_addr;
pub mod config;
pub mod conn;
pub mod embed;
pub mod error;
pub mod http;
pub mod keys;
pub mod mail;
pub mod members;
pub mod offboarding;
pub mod qr;
pub mod ratelimit;
pub mod review;
pub mod sealing;
pub mod second_factor;
pub mod secrets;
pub mod service;
pub mod slots;
pub mod subset;
pub mod syn_filter;
pub mod tls;

pub use veilmark_store::audit;
/// The server's records and the trait they are stored behind (owned by `veilmark-store`).
pub use veilmark_store::meta as store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use object_store::ObjectStore;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use veilmark_store::open::Opened;
use veilmark_store::sweep::SweepReport;
use veilmark_store::{
    DataDir, Durability, Evidence, EvidenceStore, OrgId, PostgresStore, SharedBuckets,
};

pub use config::{AlertSettings, Config, Limits};
pub use error::AppError;
pub use http::app;

use keys::ServerKeys;
use ratelimit::{Limiter, RateLimiter};
use slots::Slots;
use store::{MetaStore, RevocationWakeups};

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The shared parts of [`AppState`].
pub struct Inner {
    /// Metadata storage.
    pub store: Arc<dyn MetaStore>,
    /// Crawl hits, catalog and reviews (the review console); reach it scoped to one
    /// organisation through [`AppState::evidence`].
    pub evidence_store: Arc<dyn EvidenceStore>,
    /// The data directory evidence files live in.
    pub data: DataDir,
    /// Envelope storage.
    pub blobs: Arc<dyn ObjectStore>,
    /// Server secrets.
    pub keys: ServerKeys,
    /// Settings.
    pub config: Config,
    /// Per-IP limit on viewer requests.
    pub ip_limiter: RateLimiter,
    /// Per-link limit on token and passcode checks (shared by replicas on PostgreSQL).
    pub link_limiter: Limiter,
    /// Per-IP limit on owner logins (shared by replicas on PostgreSQL).
    pub login_limiter: Limiter,
    /// Per-session limit on lease renewals ([`Limits::renewals_per_lease`] per lease).
    pub renew_limiter: RateLimiter,
    /// Link ids as they are revoked, for open event streams.
    pub revocations: broadcast::Sender<String>,
    /// Envelopes are files under [`Inner::data`] (the embedded store), written durably there
    /// rather than through [`Inner::blobs`]' generic `put`.
    pub envelopes_on_disk: bool,
    /// Where finished WARC evidence files are (`--objects`); `None`: only in the data
    /// directory.
    pub evidence_objects: Option<Arc<dyn ObjectStore>>,
    /// What the startup sweep found (orphans removed, documents whose envelope is missing or
    /// not whole).
    pub startup: SweepReport,
    /// Open event streams per viewer session.
    pub streams_per_session: Slots<String>,
    /// Open event streams per client address (IPv6: per /64).
    pub streams_per_addr: Slots<String>,
    /// The last readiness answer and when it was made (`GET /readyz` reuses it briefly).
    pub readiness: tokio::sync::Mutex<Option<(std::time::Instant, http::health::Readiness)>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the stores `config.database` names (the data directory's SQLite by default, or
    /// PostgreSQL), the blob store and the keys of the data directory `config.data_dir`,
    /// creating them on first use. Envelopes and finished evidence go to `config.objects`
    /// when it is set (checked here: a wrong key or a missing bucket fails the start). On the
    /// embedded store the data directory is swept for interrupted writes first; on a shared
    /// database the per-link and login rate limits are kept in it, so that they hold across
    /// replicas.
    pub async fn open(config: Config) -> Result<Self> {
        let data = DataDir::new(&config.data_dir);
        data.create()?;
        let keys = ServerKeys::load_or_create(&data)?;
        let stores = veilmark_store::open_stores(&config.database, &data, Durability::Full)
            .await
            .with_context(|| format!("cannot open {}", config.database.describe(&data)))?;
        // A bucket (or another folder) named by `--objects`, checked now so that a wrong key
        // or a missing bucket stops the start rather than the first upload.
        let objects = match &config.objects {
            Some(location) => Some(location.open_checked().await?),
            None => None,
        };
        let blobs: Arc<dyn ObjectStore> = match &objects {
            Some(o) => o.clone(),
            None => Arc::new(data.blob_store()?),
        };
        let startup = match &stores.opened {
            Opened::Sqlite(store) => {
                let mut startup = veilmark_store::sweep::sweep(&data, store, config.orphan_grace)
                    .await
                    .context("the startup sweep of the data directory failed")?;
                if objects.is_some() {
                    // The sweep looks for envelopes in the data directory; these live elsewhere.
                    startup.missing_envelopes.clear();
                }
                for path in &startup.removed {
                    tracing::info!("startup: removed {path}, left by an interrupted write");
                }
                for id in &startup.missing_envelopes {
                    tracing::error!(
                        "startup: the envelope of document {id} is missing from the disk or \
                         not the length its row records"
                    );
                }
                startup
            }
            Opened::Postgres(_) => SweepReport::default(),
        };
        let shared = stores.postgres().map(PostgresStore::rate_buckets);
        let mut state = Self::with_stores(config, keys, stores.meta, stores.evidence, data, blobs);
        if let Some(buckets) = shared {
            state = state.with_shared_limits(&buckets);
        }
        let inner = Arc::get_mut(&mut state.0).expect("just built, not shared yet");
        inner.envelopes_on_disk = objects.is_none();
        inner.evidence_objects = objects;
        inner.startup = startup;
        Ok(state)
    }

    /// Keeps the per-link and login rate limits in the shared database's `buckets`, so that
    /// they hold across every replica on it. Call before the state is shared (cloned).
    ///
    /// # Panics
    /// When the state was already cloned.
    #[must_use]
    pub fn with_shared_limits(mut self, buckets: &SharedBuckets) -> Self {
        let inner = Arc::get_mut(&mut self.0).expect("shared limits are set before serving");
        let l = &inner.config.limits;
        inner.link_limiter = Limiter::shared(buckets.clone(), "link", l.per_link);
        inner.login_limiter = Limiter::shared(buckets.clone(), "login", l.login);
        self
    }

    /// Builds the state from any storage backends (PostgreSQL, S3, test doubles).
    #[must_use]
    pub fn with_stores(
        config: Config,
        keys: ServerKeys,
        store: Arc<dyn MetaStore>,
        evidence_store: Arc<dyn EvidenceStore>,
        data: DataDir,
        blobs: Arc<dyn ObjectStore>,
    ) -> Self {
        let l = &config.limits;
        let (revocations, _) = broadcast::channel(1024);
        Self(Arc::new(Inner {
            ip_limiter: RateLimiter::new(l.per_ip),
            link_limiter: Limiter::Local(RateLimiter::new(l.per_link)),
            login_limiter: Limiter::Local(RateLimiter::new(l.login)),
            renew_limiter: RateLimiter::new(renew_rate(l)),
            streams_per_session: Slots::new(l.event_streams_per_session),
            streams_per_addr: Slots::new(l.event_streams_per_addr),
            store,
            evidence_store,
            data,
            blobs,
            keys,
            config,
            revocations,
            envelopes_on_disk: false,
            evidence_objects: None,
            startup: SweepReport::default(),
            readiness: tokio::sync::Mutex::new(None),
        }))
    }

    /// The evidence (catalog, hits, reviews, WARC files) of one organisation.
    #[must_use]
    pub fn evidence(&self, org: OrgId) -> Evidence {
        let evidence = Evidence::new(self.evidence_store.clone(), self.data.clone(), org);
        match &self.evidence_objects {
            Some(objects) => evidence.with_objects(objects.clone()),
            None => evidence,
        }
    }

    /// Reads the store's revocation feed whenever it may have grown and broadcasts new
    /// revocations to open event streams, so that a link revoked by another process (the owner
    /// CLI, another replica) still reaches viewers within a second or two. SQLite: the feed is
    /// polled every 500 ms; PostgreSQL: a `NOTIFY` wakes the watcher at once
    /// ([`MetaStore::revocation_wakeups`]). Also purges stale request nonces once a minute.
    pub fn spawn_revocation_watcher(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            // Subscribed before the first read, so that nothing revoked in between is missed.
            let mut wakeups = match state.store.revocation_wakeups().await {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!("revocation notifications unavailable, polling: {e:#}");
                    RevocationWakeups::polling(RevocationWakeups::POLL)
                }
            };
            let mut after = match state.store.revocations_after(0).await {
                Ok(all) => all.last().map_or(0, |(seq, _)| *seq),
                Err(e) => {
                    tracing::error!("revocation watcher cannot start: {e:#}");
                    0
                }
            };
            let mut last_purge: Option<tokio::time::Instant> = None;
            loop {
                if last_purge.is_none_or(|t| t.elapsed() >= NONCE_PURGE_EVERY) {
                    last_purge = Some(tokio::time::Instant::now());
                    if let Err(e) = state.store.purge_nonces(now_secs()).await {
                        tracing::warn!("nonce purge failed: {e:#}");
                    }
                }
                wakeups.wait().await;
                match state.store.revocations_after(after).await {
                    Ok(new) => {
                        for (seq, link) in new {
                            after = seq;
                            // No receiver is fine: nobody has that link open.
                            let _ = state.revocations.send(link);
                        }
                    }
                    Err(e) => tracing::warn!("revocation poll failed: {e:#}"),
                }
            }
        })
    }
}

/// How often the revocation watcher forgets request nonces whose replay window has passed.
const NONCE_PURGE_EVERY: Duration = Duration::from_secs(60);

/// [`Limits::renewals_per_lease`] per session, refilled over one lease.
fn renew_rate(l: &Limits) -> ratelimit::Rate {
    let burst = l.renewals_per_lease.max(1);
    // A lease is seconds to days: exact in an f64.
    #[allow(clippy::cast_precision_loss)]
    let lease = l.lease_secs.max(1) as f64;
    ratelimit::Rate {
        burst,
        per_sec: f64::from(burst) / lease,
    }
}

/// Serves `state` on `listener` until the process ends, with the revocation watcher running.
pub async fn serve(state: AppState, listener: TcpListener) -> Result<()> {
    let watcher = state.spawn_revocation_watcher();
    let reviews = state.spawn_review_task();
    let deliveries = state.spawn_delivery_task();
    let limits = conn::ConnLimits::from_config(&state.config);
    conn::serve_connections(app(state), listener, None, limits).await;
    watcher.abort();
    reviews.abort();
    deliveries.abort();
    Ok(())
}

/// Serves `state` over TLS (rustls) on `listener` until the process ends.
pub async fn serve_tls(
    state: AppState,
    listener: TcpListener,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
) -> Result<()> {
    let watcher = state.spawn_revocation_watcher();
    let reviews = state.spawn_review_task();
    let deliveries = state.spawn_delivery_task();
    let limits = conn::ConnLimits::from_config(&state.config);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    conn::serve_connections(app(state), listener, Some(acceptor), limits).await;
    watcher.abort();
    reviews.abort();
    deliveries.abort();
    Ok(())
}

/// Current unix time in seconds.
#[must_use]
pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// Current unix time in milliseconds.
#[must_use]
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Formats unix seconds as an RFC 3339 UTC time (`2026-11-30T12:00:00Z`).
#[must_use]
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = veilmark_shared::civil::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
