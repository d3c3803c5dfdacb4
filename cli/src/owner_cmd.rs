//! The owner's commands: `serve`, `seal`, `link`, `links`, `revoke`, `audit` (accounts and
//! organisations are in `account_cmd`). Each acts in one organisation (`--org`, default
//! `default`).
//!
//! They act on the data directory directly, through the same library the server uses
//! (`veilmark-server`), rather than through the HTTP API: sealing streams a file of any size with
//! constant memory and no upload, and the commands work whether or not the server is running.
//! SQLite in WAL mode lets the CLI and a running server share the database; a revocation made
//! here reaches open viewers through the server's revocation feed within a second. Remote
//! administration goes through the JSON API with an API token (`veilmark owner token`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use veilmark_server::client_addr::{Cidr, TrustedProxies};
use veilmark_server::embed::EmbedOrigin;
use veilmark_server::service::{Actor, ClientMeta, NewLink};
use veilmark_server::{AppState, Config, audit, rfc3339};
use veilmark_shared::envelope::{ContentKey, DEFAULT_CHUNK_SIZE};
use veilmark_shared::text::escape_for_terminal;
use veilmark_store::Backend;
use veilmark_store::objects::{OBJECTS_ENV, ObjectsLocation, ObjectsUrl};
use veilmark_store::tenancy::DEFAULT_ORG;
use zeroize::Zeroize;

use crate::account_cmd::OrgArg;
use crate::envelope_file::{SealOptions, seal_file};
use crate::progress::Progress;

/// Where the server keeps its database, envelopes and keys.
#[derive(Args, Clone)]
pub struct DataArgs {
    /// Data directory (database, envelopes, keys).
    #[arg(long, value_name = "DIR", default_value = "veilmark-data")]
    pub data: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Where envelopes and WARC evidence live: a folder, or `s3://bucket/prefix` with endpoint,
    /// region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY (and AWS_ALLOW_HTTP for a plain-HTTP endpoint). Default: the data
    /// directory; also read from VEILMARK_OBJECTS (store/README.md#objects).
    #[arg(long, value_name = "URL")]
    pub objects: Option<ObjectsUrl>,
}

/// Which database holds the state (`docs/deploy.md`).
#[derive(Args, Clone, Default)]
pub struct DatabaseArg {
    /// PostgreSQL database shared by several servers (postgres://USER:PASSWORD@HOST:PORT/DB, password optional);
    /// default: the data directory's SQLite database. Also read from VEILMARK_DATABASE_URL,
    /// which keeps a password out of the process list.
    #[arg(long = "database", id = "database_url", value_name = "URL")]
    pub url: Option<String>,
}

impl DatabaseArg {
    /// The backend: this flag, else `VEILMARK_DATABASE_URL`, else the embedded database.
    pub fn backend(&self) -> Result<Backend> {
        Ok(Backend::from_flag_or_env(self.url.as_deref())?)
    }
}

/// `veilmark serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Public base URL printed in links, when it differs from the listen address (behind a
    /// reverse proxy that terminates TLS, for example).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Folder of static files served at `/` (the viewer).
    #[arg(long, value_name = "DIR", default_value = "www")]
    www: PathBuf,
    /// Mark cookies Secure and send HSTS (set when clients reach the server over HTTPS through
    /// a reverse proxy; implied by --tls-cert).
    #[arg(long)]
    secure_cookies: bool,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Let this partner origin (`https://host[:port]`, no path) frame the viewer page, for
    /// `<veilmark-viewer>` in a partner portal; repeat for several (docs/embedding.md).
    #[arg(long = "embed-origin", value_name = "ORIGIN")]
    embed_origins: Vec<EmbedOrigin>,
    /// Take the client address from `X-Forwarded-For` (or `Forwarded`) when the connection
    /// comes from this reverse proxy range (`10.0.0.0/8`, `fd00::/8`, or one address); repeat
    /// for several. Without it those headers are ignored (docs/server.md#limits).
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<Cidr>,
    /// Send access-review reminders through this SMTP server: `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://host:465`, or `smtp://host:25` on a trusted network; credentials as
    /// `smtp://user:password@host…`. Better given as VEILMARK_SMTP_URL (a secret; never
    /// printed). Without it reminders are shown in the console only.
    #[arg(long, value_name = "URL")]
    smtp: Option<String>,
    /// The sender of those e-mails (default `veilmark@` and the public URL's host).
    #[arg(long, value_name = "ADDRESS")]
    mail_from: Option<String>,
    /// Let alert webhooks be plain http:// and reach loopback and private addresses (a
    /// receiver on the operator's own network). Without it a webhook must be https:// on a
    /// public address, checked again each time its name is resolved.
    #[arg(long)]
    webhook_allow_private: bool,
    /// How often the review task runs (starts scheduled reviews, closes due ones, sends
    /// reminders).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, hide = true)]
    review_tick: i64,
}

/// `veilmark seal`.
#[derive(Args)]
pub struct SealArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    org: OrgArg,
    /// File to seal and store.
    file: PathBuf,
    /// Title shown to the owner and the viewer (default: the file name).
    #[arg(long, short)]
    title: Option<String>,
    /// Classification level (`veilmark level list`; default: the organisation's default,
    /// Internal unless it defined its own levels). Its ceilings apply to every link.
    #[arg(long, value_name = "LEVEL")]
    pub(crate) level: Option<String>,
    /// Print the document as JSON.
    #[arg(long)]
    json: bool,
}

/// `veilmark link`.
#[derive(Args)]
pub struct LinkArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    org: OrgArg,
    /// Document id, as printed by `veilmark seal`.
    doc: String,
    /// Recipient e-mail address (shown in the visible watermark).
    #[arg(long, value_name = "EMAIL")]
    to: String,
    /// Lifetime: a number with s, m, h, d or w (e.g. 90m, 7d); default 7 days, or the
    /// document level's longest lifetime when shorter.
    #[arg(long, value_parser = parse_duration)]
    expires: Option<i64>,
    /// Maximum number of licences (openings) granted through the link.
    #[arg(long, value_name = "N")]
    max_views: Option<i64>,
    /// Require a passcode; one is generated and printed once, send it by another channel.
    #[arg(long)]
    passcode: bool,
    /// Share only these pages of a PDF (`1-3,7`): the recipient gets a document holding just
    /// them, under its own key; the other pages cannot be decrypted with the link's licence.
    #[arg(long, value_name = "LIST")]
    pages: Option<String>,
    /// Share only these parts of a 3D model or assembly (`"Housing,Gear train"`: names of
    /// parts or assemblies from its tree): the recipient gets a model holding just them, under
    /// its own key; the other parts cannot be decrypted with the link's licence.
    #[arg(long, value_name = "NAMES", conflicts_with = "pages")]
    parts: Option<String>,
    /// Base URL for the printed link (default: the one `veilmark serve` recorded).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Print the link as JSON.
    #[arg(long)]
    json: bool,
}

/// `veilmark links`.
#[derive(Args)]
pub struct LinksArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    org: OrgArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `veilmark revoke`.
#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    org: OrgArg,
    /// Link id (`lnk_…`), as listed by `veilmark links`.
    link: String,
}

/// `veilmark audit`.
#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    org: OrgArg,
    /// Export as JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Export as CSV.
    #[arg(long)]
    csv: bool,
    /// Check the hash chain; exit status 1 if any entry was edited, deleted or reordered.
    #[arg(long)]
    verify: bool,
    /// The server's own chain instead of an organisation's: logins naming no account and
    /// requests with link tokens that name no link.
    #[arg(long, conflicts_with = "org")]
    server: bool,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) async fn open(args: &DataArgs, url: Option<String>) -> Result<AppState> {
    let data = &args.data;
    let mut config = Config::new(data);
    config.database = args.database.backend()?;
    config.objects = objects_location(args.objects.clone())?;
    config.public_url = match url {
        Some(u) => u,
        None => veilmark_store::DataDir::new(data)
            .public_url()
            .unwrap_or(config.public_url),
    };
    AppState::open(config).await
}

/// What the audit log names the operator's command line as.
pub(crate) fn operator_name() -> String {
    std::env::var("USER").map_or_else(|_| "cli".into(), |u| format!("{u} (cli)"))
}

/// The operator acting in the organisation `--org` names (default `default`).
pub(crate) async fn actor(state: &AppState, org: &OrgArg) -> Result<Actor> {
    let org = state
        .org_named(org.org.as_deref().unwrap_or(DEFAULT_ORG))
        .await?;
    Ok(Actor::operator(org.id, operator_name()))
}

/// Where reminder e-mail goes out: `--smtp`, else `VEILMARK_SMTP_URL`, else nowhere. Checked
/// here, so a URL lettre cannot use stops the start (named without its credentials).
fn mail_config(
    args: &ServeArgs,
    public_url: &str,
) -> Result<Option<veilmark_server::mail::MailConfig>> {
    let Some(url) = smtp_url(args.smtp.as_deref()) else {
        return Ok(None);
    };
    let from = args.mail_from.clone().unwrap_or_else(|| {
        let host = public_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split([':', '/']).next())
            .filter(|h| h.contains('.') && !h.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .unwrap_or("localhost");
        format!("veilmark@{host}")
    });
    let config = veilmark_server::mail::MailConfig { url, from };
    veilmark_server::mail::Mailer::new(&config)?;
    Ok(Some(config))
}

/// The environment variable `--smtp` falls back to.
const SMTP_ENV: &str = "VEILMARK_SMTP_URL";

/// The SMTP server's URL: the `--smtp` flag, else `VEILMARK_SMTP_URL`, else none (`serve` and
/// `review tick`).
pub(crate) fn smtp_url(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(SMTP_ENV).ok())
        .filter(|u| !u.trim().is_empty())
}

/// The `--objects` location: the flag, else `VEILMARK_OBJECTS`, else none (the data directory).
pub(crate) fn objects_location(flag: Option<ObjectsUrl>) -> Result<Option<ObjectsLocation>> {
    let url = match flag {
        Some(url) => url,
        None => match std::env::var(OBJECTS_ENV) {
            Ok(v) if !v.trim().is_empty() => v
                .parse()
                .with_context(|| format!("{OBJECTS_ENV} is not a valid objects location"))?,
            _ => return Ok(None),
        },
    };
    Ok(Some(ObjectsLocation::from_env(url)))
}

/// Runs `veilmark serve`.
pub fn serve(args: &ServeArgs) -> Result<()> {
    tracing_init();
    runtime()?.block_on(async {
        let listener = veilmark_server::conn::bind_listener(args.listen)
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(veilmark_server::tls::load_config(cert, key)?),
            _ => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}"));
        let mut config = Config::new(&args.data.data);
        config.database = args.data.database.backend()?;
        let database = config
            .database
            .describe(&veilmark_store::DataDir::new(&args.data.data));
        config.public_url = public_url.clone();
        config.www_dir = Some(args.www.clone());
        config.secure_cookies = args.secure_cookies || tls.is_some();
        config.embed_origins.clone_from(&args.embed_origins);
        config.trusted_proxies = TrustedProxies::new(args.trusted_proxies.clone());
        config.objects = objects_location(args.data.objects.clone())?;
        config.mail = mail_config(args, &public_url)?;
        config.alerts.webhook_allow_private = args.webhook_allow_private;
        config.review_tick =
            std::time::Duration::from_secs(u64::try_from(args.review_tick.max(1)).unwrap_or(60));
        let objects_shown = config.objects.as_ref().map(|o| o.url.to_string());
        let mail_shown = config.mail.as_ref().map(|m| m.from.clone());
        let state = AppState::open(config).await?;
        if let Some(from) = mail_shown {
            eprintln!("access-review reminders are e-mailed from {from}");
        }
        if let Some(objects) = objects_shown {
            eprintln!("envelopes and evidence in {objects}");
        }
        veilmark_store::DataDir::new(&args.data.data).record_public_url(&public_url)?;
        eprintln!(
            "veilmark serving {} on {public_url} (data in {}, database {database})",
            if args.www.join("index.html").is_file() {
                "the viewer"
            } else {
                "the API"
            },
            args.data.data.display()
        );
        if !args.embed_origins.is_empty() {
            let list: Vec<&str> = args.embed_origins.iter().map(EmbedOrigin::as_str).collect();
            eprintln!("the viewer may be embedded by {}", list.join(", "));
        }
        let server = async {
            match tls {
                Some(tls) => veilmark_server::serve_tls(state, listener, tls).await,
                None => veilmark_server::serve(state, listener).await,
            }
        };
        tokio::select! {
            r = server => r,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("stopping");
                Ok(())
            }
        }
    })
}

fn tracing_init() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Runs `veilmark seal`.
pub fn seal(args: &SealArgs) -> Result<()> {
    let title = args.title.clone().unwrap_or_else(|| {
        args.file
            .file_name()
            .map_or_else(|| "untitled".into(), |n| n.to_string_lossy().into_owned())
    });
    let data = &args.data.data;
    runtime()?.block_on(async {
        let state = open(&args.data, None).await?;
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).context("the operating system's random generator failed")?;
        let key = ContentKey::from_bytes(raw);
        raw.zeroize();
        let tmp = tempfile::Builder::new()
            .prefix(".sealing-")
            .tempfile_in(data)?
            .into_temp_path();
        let file = args.file.clone();
        let out = tmp.to_path_buf();
        let key2 = key.clone();
        tokio::task::spawn_blocking(move || {
            seal_file(
                &key2,
                &file,
                &out,
                &SealOptions {
                    chunk_size: DEFAULT_CHUNK_SIZE,
                    media_type: None,
                    document_id: None,
                    force: true,
                    progress: Progress::auto(false),
                },
            )
        })
        .await??;
        let by = actor(&state, &args.org).await?;
        let doc = state
            .ingest_envelope_file(
                &tmp,
                &title,
                args.level.as_deref(),
                &key,
                &by,
                &ClientMeta::cli(),
            )
            .await?;
        tmp.close()?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&doc)?);
        } else {
            println!("{}", doc.id);
            eprintln!(
                "sealed {:?} ({}, {} bytes, {}); share it with `veilmark link {} --to EMAIL`",
                doc.title, doc.media_type, doc.plaintext_len, doc.level, doc.id
            );
        }
        Ok(())
    })
}

/// Runs `veilmark link`.
pub fn link(args: &LinkArgs) -> Result<()> {
    runtime()?.block_on(async {
        let state = open(&args.data, args.url.clone()).await?;
        let by = actor(&state, &args.org).await?;
        let created = state
            .create_link(
                &NewLink {
                    document_id: args.doc.clone(),
                    recipient: args.to.clone(),
                    expires_in_secs: args.expires,
                    max_views: args.max_views,
                    passcode: args.passcode.then_some(true),
                    pages: args.pages.clone(),
                    parts: args.parts.clone(),
                },
                &by,
                &ClientMeta::cli(),
            )
            .await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&created)?);
            return Ok(());
        }
        println!("{}", created.url);
        eprintln!(
            "link {} for {} ({}), expires {}{}",
            created.link.id,
            created.link.recipient,
            created.link.level,
            rfc3339(created.link.expires_at),
            created
                .link
                .max_views
                .map(|n| format!(", at most {n} views"))
                .unwrap_or_default()
        );
        if let Some(code) = &created.passcode {
            eprintln!("passcode: {code}  (send it through another channel; it is not shown again)");
        }
        Ok(())
    })
}

/// Runs `veilmark links`.
pub fn links(args: &LinksArgs) -> Result<()> {
    runtime()?.block_on(async {
        let state = open(&args.data, None).await?;
        let by = actor(&state, &args.org).await?;
        let links = state.store.list_links(by.org).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&links)?);
            return Ok(());
        }
        if links.is_empty() {
            eprintln!("no links yet; create one with `veilmark link DOC --to EMAIL`");
            return Ok(());
        }
        println!(
            "{:<20} {:<32} {:<13} {:<28} {:>7} {:<20} STATUS",
            "LINK", "DOCUMENT", "LEVEL", "RECIPIENT", "VIEWS", "EXPIRES"
        );
        let now = veilmark_server::now_secs();
        for l in links {
            let status = if let Some(at) = l.revoked_at {
                format!("revoked {}", rfc3339(at))
            } else if l.expires_at <= now {
                "expired".into()
            } else if l.locked_until.is_some_and(|u| u > now) {
                "locked (passcode)".into()
            } else {
                "active".into()
            };
            let views = match l.max_views {
                Some(m) => format!("{}/{m}", l.views),
                None => l.views.to_string(),
            };
            println!(
                "{:<20} {:<32} {:<13} {:<28} {:>7} {:<20} {status}",
                escape_for_terminal(&l.id),
                escape_for_terminal(&l.document_id),
                escape_for_terminal(&l.level),
                escape_for_terminal(&l.recipient),
                views,
                rfc3339(l.expires_at)
            );
        }
        Ok(())
    })
}

/// Runs `veilmark revoke`.
pub fn revoke(args: &RevokeArgs) -> Result<()> {
    runtime()?.block_on(async {
        let state = open(&args.data, None).await?;
        let by = actor(&state, &args.org).await?;
        if state.revoke(&args.link, &by, &ClientMeta::cli()).await? {
            eprintln!(
                "revoked {}; open viewers are told within a second if the server is running",
                args.link
            );
        } else {
            eprintln!("{} was already revoked", args.link);
        }
        Ok(())
    })
}

/// Runs `veilmark audit`.
pub fn audit(args: &AuditArgs) -> Result<()> {
    runtime()?.block_on(async {
        let state = open(&args.data, None).await?;
        let by = actor(&state, &args.org).await?;
        let entries = if args.server {
            state.store.audit_entries(None).await?
        } else {
            state.audit_log(by.org).await?
        };
        if args.verify {
            match audit::verify(&entries) {
                Ok((n, head)) => eprintln!(
                    "audit chain intact: {n} entries, head {}",
                    hex::encode(head)
                ),
                Err(e) => bail!("audit chain broken: {e}"),
            }
            if !args.json && !args.csv {
                return Ok(());
            }
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&entries)?);
        } else if args.csv {
            print!("{}", audit::to_csv(&entries));
        } else {
            for e in &entries {
                println!(
                    "{:>5} {} {:<15} {:<20} {:<24} {:<15} {}",
                    e.seq,
                    rfc3339(e.at_ms / 1000),
                    escape_for_terminal(&e.kind),
                    escape_for_terminal(e.link_id.as_deref().unwrap_or("-")),
                    escape_for_terminal(e.actor.as_deref().unwrap_or("-")),
                    escape_for_terminal(e.ip.as_deref().unwrap_or("-")),
                    escape_for_terminal(&e.detail)
                );
            }
        }
        Ok(())
    })
}

/// Parses `90s`, `15m`, `12h`, `7d`, `2w` into seconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h, d or w (e.g. 7d)"))?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("unknown unit {unit:?}; use s, m, h, d or w")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| "duration too long".into())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(7 * 86_400));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("7y").is_err());
    }
}
