//! Server settings: where the data lives, the public URL links are printed with, and limits.

use std::path::PathBuf;

use crate::client_addr::TrustedProxies;
use crate::embed::EmbedOrigin;
use crate::ratelimit::Rate;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory: envelopes, keys and (on the embedded backend) the database.
    pub data_dir: PathBuf,
    /// Where metadata and evidence live: the data directory's SQLite (the default) or a
    /// PostgreSQL database shared by several replicas (`--database`, `VEILMARK_DATABASE_URL`).
    pub database: veilmark_store::Backend,
    /// Base URL printed in protected links (`{public_url}/v/{token}`).
    pub public_url: String,
    /// Folder of static files (the viewer); a built-in placeholder page is served when absent.
    pub www_dir: Option<PathBuf>,
    /// Mark cookies `Secure` and send HSTS (set when served over HTTPS, directly or via a proxy).
    pub secure_cookies: bool,
    /// Partner origins allowed to frame the viewer page `/v/{token}` (`--embed-origin`). Empty
    /// (the default): no page of this server can be framed (`frame-ancestors 'none'`).
    pub embed_origins: Vec<EmbedOrigin>,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers name the client
    /// (`--trusted-proxy`); empty (the default): the socket peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// Rate limits, lease length and body limits.
    pub limits: Limits,
    /// At startup, temporary files and unreferenced envelopes older than this are removed
    /// (younger ones may belong to a write in progress in another process).
    pub orphan_grace: std::time::Duration,
    /// Where envelopes and finished WARC evidence live (`--objects`); `None` (the default): the
    /// data directory, envelopes written durably under `blobs/`.
    pub objects: Option<veilmark_store::objects::ObjectsLocation>,
    /// Outgoing e-mail (access-review reminders): `--smtp URL --mail-from ADDRESS`; `None`:
    /// reminders are only shown in the console.
    pub mail: Option<crate::mail::MailConfig>,
    /// How often the review task starts scheduled reviews, closes due ones and sends
    /// reminders.
    pub review_tick: std::time::Duration,
    /// Unusual-access alerts and their webhooks (`docs/server.md#alerts`).
    pub alerts: AlertSettings,
}

/// When an opening is unusual, and how alerts reach webhooks.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Sessions of one link open at once (leases running) from which an alert is raised.
    pub many_sessions: i64,
    /// An alert of one kind for one link is raised at most once in this many seconds.
    pub quiet_secs: i64,
    /// Webhooks may be plain `http://` and reach loopback and private addresses
    /// (`--webhook-allow-private`; tests, or a receiver on the operator's own network).
    pub webhook_allow_private: bool,
    /// Wait before the first retry of a failed delivery, seconds; it doubles after each.
    pub webhook_retry_base_secs: i64,
    /// How often the delivery task looks for due deliveries.
    pub delivery_tick: std::time::Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            many_sessions: 3,
            quiet_secs: 3600,
            webhook_allow_private: false,
            webhook_retry_base_secs: 30,
            delivery_tick: std::time::Duration::from_secs(1),
        }
    }
}

impl Config {
    /// Defaults for a data directory.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: veilmark_store::Backend::Embedded,
            public_url: "http://127.0.0.1:8080".into(),
            www_dir: Some(PathBuf::from("www")),
            secure_cookies: false,
            embed_origins: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            limits: Limits::default(),
            orphan_grace: std::time::Duration::from_secs(15 * 60),
            objects: None,
            mail: None,
            review_tick: std::time::Duration::from_secs(60),
            alerts: AlertSettings::default(),
        }
    }
}

/// Limits applied by the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Viewer requests per client IP.
    pub per_ip: Rate,
    /// Token and passcode checks per link.
    pub per_link: Rate,
    /// Owner login attempts per client IP.
    pub login: Rate,
    /// Wrong passcodes in a row before the link locks.
    pub passcode_max_failures: i64,
    /// How long a locked link stays locked, in seconds.
    pub passcode_lockout_secs: i64,
    /// Failed logins in a row (password or second factor) before the account is locked.
    pub login_max_failures: i64,
    /// How long an account stays locked after too many failed logins.
    pub login_lockout_secs: i64,
    /// Absolute lifetime of a console session.
    pub console_session_secs: i64,
    /// A console session unused for this long ends.
    pub console_idle_secs: i64,
    /// Lease length in seconds; viewers renew before it ends.
    pub lease_secs: i64,
    /// How far a licence request's timestamp may be from the server's clock, in seconds.
    pub request_window_secs: i64,
    /// Largest JSON body accepted.
    pub max_json_body: usize,
    /// Largest document upload accepted by the owner API.
    pub max_upload: usize,
    /// A client must send its request headers within this time (slowloris defence).
    pub header_read_timeout: std::time::Duration,
    /// Open connections beyond this are closed at once (open event streams count).
    pub max_connections: usize,
    /// Open connections from one address (IPv6: one /64) beyond this are closed at once;
    /// trusted proxies are exempt (they carry many clients).
    pub max_connections_per_addr: usize,
    /// Large request bodies (declared 1 MiB or more) refused for missing or wrong credentials
    /// (401/403/413) from one address within [`Limits::refused_upload_window`] before that
    /// address's new connections are closed at once, for [`Limits::refused_upload_penalty`];
    /// trusted proxies are exempt. A flood of unauthenticated uploads otherwise costs the server
    /// a task, a parse and thread wake-ups per connection.
    pub refused_uploads_per_addr: u32,
    /// The window [`Limits::refused_uploads_per_addr`] counts in.
    pub refused_upload_window: std::time::Duration,
    /// How long an address stays shut out once it reached [`Limits::refused_uploads_per_addr`].
    pub refused_upload_penalty: std::time::Duration,
    /// A connection on which nothing was read or written for this long is closed (a client
    /// that stops reading its response, or stalls mid-body).
    pub idle_timeout: std::time::Duration,
    /// A request body must arrive at this many bytes per second on average, after
    /// [`Limits::body_grace`] (slow-body defence).
    pub body_min_rate: u64,
    /// Time a request body may take before [`Limits::body_min_rate`] applies.
    pub body_grace: std::time::Duration,
    /// Open event streams per viewer session; one more is refused with 429.
    pub event_streams_per_session: usize,
    /// Open event streams per client address (IPv6: one /64); one more is refused with 429.
    pub event_streams_per_addr: usize,
    /// Lease renewals per session within one lease period; one more is refused with 429 and
    /// writes nothing.
    pub renewals_per_lease: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_ip: Rate {
                burst: 60,
                per_sec: 2.0,
            },
            per_link: Rate {
                burst: 20,
                per_sec: 0.5,
            },
            login: Rate {
                burst: 10,
                per_sec: 0.1,
            },
            passcode_max_failures: 5,
            passcode_lockout_secs: 15 * 60,
            login_max_failures: 5,
            login_lockout_secs: 15 * 60,
            console_session_secs: 12 * 3600,
            console_idle_secs: 30 * 60,
            lease_secs: 60,
            request_window_secs: 60,
            max_json_body: 16 * 1024,
            max_upload: 256 * 1024 * 1024,
            header_read_timeout: std::time::Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_addr: 128,
            refused_uploads_per_addr: 5,
            refused_upload_window: std::time::Duration::from_secs(10),
            refused_upload_penalty: std::time::Duration::from_secs(30),
            idle_timeout: std::time::Duration::from_secs(60),
            body_min_rate: 1024,
            body_grace: std::time::Duration::from_secs(10),
            event_streams_per_session: 2,
            event_streams_per_addr: 32,
            renewals_per_lease: 4,
        }
    }
}
