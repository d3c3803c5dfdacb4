//! `cargo xtask bench scaleout`: the figures of docs/deploy.md#figures (issue 17).
//!
//! 1. **Licence grants per second**: release `veilmark serve` processes on loopback, one on the
//!    embedded SQLite store (the peer), then 1, 2 and 4 replicas sharing one PostgreSQL
//!    database. Client threads send licence requests round-robin over the replicas, one
//!    connection per request (a cold viewer), each from its own loopback address and each link
//!    used at most [`USES_PER_LINK`] times, so that the per-address and per-link rate limits
//!    (which are part of the product and stay on) never refuse a request. A phase ends after
//!    `secs` seconds or when its links are used up; grants per second are the 200 answers over
//!    the phase's wall time.
//! 2. **Crawl pages per second** with 1, 2 and 4 workers on the fixture marketplace (politeness
//!    raised to the fixture profile's 500 requests per second and 4 in flight), on SQLite and on
//!    PostgreSQL: the measurement test in cli/tests/crawl_workers.rs, run with the release
//!    `veilmark` binary (`VEILMARK_BENCH_BIN`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::loadtest::{
    Server, build_veilmark, free_port, licence_body, request, seal_drawing, veilmark, viewer_ip,
    wait_until_up,
};
use crate::postgres::TestPostgres;

/// Licence requests per link: below the per-link burst (20), so no request is rate-limited.
const USES_PER_LINK: usize = 15;
/// Client addresses, used in turn: at 1 request per address per [`ADDRESSES`] requests, the
/// per-address limit (burst 60, 2 per second) holds beyond 2 000 requests per second.
const ADDRESSES: usize = 1000;
/// Client threads sending requests (blocking, one connection each at a time).
const CLIENTS: usize = 32;

/// Runs both measurements (or one: `only` is `grants` or `crawl`).
pub fn run(secs: u64, links: usize, only: Option<&str>) -> Result<()> {
    if let Some(o) = only
        && o != "grants"
        && o != "crawl"
    {
        bail!("--only takes grants or crawl, not {o}");
    }
    crate::loadtest::check_fd_limit(CLIENTS * 4 + 256)?;
    let bin = build_veilmark(false)?;
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mut table = Vec::new();
    if only.is_none_or(|o| o == "grants") {
        let pg = TestPostgres::ensure()?;
        let sqlite = grants_phase(&bin, None, 1, secs, links)?;
        table.push(("SQLite (embedded), 1 server".to_owned(), sqlite));
        for replicas in [1usize, 2, 4] {
            let db = Database::create(pg.url(), &format!("bench_scaleout_{replicas}"))?;
            let g = grants_phase(&bin, Some(&db.url), replicas, secs, links)?;
            table.push((format!("PostgreSQL, {replicas} replica(s)"), g));
        }
        println!();
        println!(
            "licence grants per second (release build, {cpus} CPUs, {CLIENTS} client threads on the same machine, one connection per request)"
        );
        println!("| store | grants/s | p50 ms | p99 ms | refused |");
        println!("|---|---|---|---|---|");
        for (what, g) in &table {
            println!(
                "| {what} | {:.0} | {:.1} | {:.1} | {} |",
                g.per_sec(),
                g.p(50),
                g.p(99),
                g.refused
            );
        }
    }
    if only.is_none_or(|o| o == "crawl") {
        let pg = TestPostgres::ensure()?;
        println!();
        println!("crawl pages per second (release veilmark, fixture server in the test process)");
        let status = Command::new("cargo")
            .args([
                "test",
                "--workspace",
                "--test",
                "cli",
                "--",
                "--ignored",
                "--nocapture",
                "crawl_workers::measure_pages_per_second",
            ])
            .env("VEILMARK_BENCH_BIN", &bin)
            .env(crate::postgres::SERVER_ENV, pg.url())
            .status()
            .context("cannot run cargo test")?;
        if !status.success() {
            bail!("the crawl measurement failed");
        }
    }
    Ok(())
}

/// A database made for one phase, dropped after.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn create(admin: &str, name: &str) -> Result<Self> {
        let psql = |sql: &str| -> Result<()> {
            let out = Command::new("psql")
                .args([admin, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
                .output()
                .context("cannot run psql (Debian's postgresql-client)")?;
            if !out.status.success() {
                bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        };
        psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        psql(&format!("CREATE DATABASE {name}"))?;
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        Ok(Self {
            admin: admin.to_owned(),
            name: name.to_owned(),
            url: format!("{base}/{name}"),
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// The outcome of one phase.
struct Grants {
    ok: usize,
    refused: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
}

impl Grants {
    fn per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn p(&self, pct: usize) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) * pct / 100]
    }
}

/// One phase: seals a document, makes `links` links, starts `replicas` servers and sends
/// licence requests for `secs` seconds (or until the links are used up).
fn grants_phase(
    bin: &Path,
    database: Option<&str>,
    replicas: usize,
    secs: u64,
    links: usize,
) -> Result<Grants> {
    let what = database.map_or_else(
        || "SQLite, 1 server".to_owned(),
        |_| format!("PostgreSQL, {replicas} replica(s)"),
    );
    let scratch = tempfile::tempdir()?;
    let data = scratch.path().join("data");
    let db_args: Vec<&str> = database.map_or_else(Vec::new, |url| vec!["--database", url]);
    let with_db = |args: &[&str]| -> Result<String> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&db_args);
        veilmark(bin, &data, &all)
    };
    let doc_id = seal_drawing(bin, scratch.path(), 64 * 1024, &db_args)?;
    eprintln!("{what}: making {links} links");
    let tokens: Vec<String> = (0..links)
        .map(|i| {
            let url = with_db(&["link", &doc_id, "--to", &format!("v{i}@bench.example")])?;
            Ok(url.trim().rsplit('/').next().unwrap_or_default().to_owned())
        })
        .collect::<Result<_>>()?;
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..replicas {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", &addr.to_string(), "--www"])
            .arg(scratch.path().join("no-www"))
            .arg("--data")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(url) = database {
            cmd.args(["--database", url]);
        }
        servers.push(Server(cmd.spawn().context("cannot start veilmark serve")?));
        addrs.push(addr);
    }
    for a in &addrs {
        wait_until_up(*a)?;
    }
    let tokens = Arc::new(tokens);
    let addrs = Arc::new(addrs);
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (tokens, addrs, next) = (tokens.clone(), addrs.clone(), next.clone());
            std::thread::spawn(move || {
                let (mut ok, mut refused, mut lat) = (0usize, 0usize, Vec::new());
                let mut first_refusal = None;
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i / USES_PER_LINK) else {
                        break;
                    };
                    let to = addrs[i % addrs.len()];
                    let body = licence_body(i as u64);
                    let t = Instant::now();
                    match request(
                        viewer_ip(i % ADDRESSES),
                        to,
                        "POST",
                        &format!("/api/v/{token}/licence"),
                        &body,
                    ) {
                        Ok((200, _)) => {
                            ok += 1;
                            lat.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                        other => {
                            refused += 1;
                            if first_refusal.is_none() {
                                first_refusal = Some(match other {
                                    Ok((s, b)) => format!(
                                        "{s} {}",
                                        String::from_utf8_lossy(&b[..b.len().min(120)])
                                    ),
                                    Err(e) => e.to_string(),
                                });
                            }
                        }
                    }
                }
                (ok, refused, lat, first_refusal)
            })
        })
        .collect();
    let mut g = Grants {
        ok: 0,
        refused: 0,
        elapsed: Duration::ZERO,
        latencies_ms: Vec::new(),
    };
    for t in threads {
        let (ok, refused, lat, first) = t.join().map_err(|_| anyhow::anyhow!("client panicked"))?;
        g.ok += ok;
        g.refused += refused;
        g.latencies_ms.extend(lat);
        if let Some(why) = first {
            eprintln!("{what}: a request was refused: {why}");
        }
    }
    g.elapsed = started.elapsed();
    if next.load(Ordering::Relaxed) >= tokens.len() * USES_PER_LINK {
        eprintln!(
            "{what}: the {links} links were used up after {:.1} s (raise --links for a longer phase)",
            g.elapsed.as_secs_f64()
        );
    }
    eprintln!(
        "{what}: {} grants in {:.1} s = {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, {} refused",
        g.ok,
        g.elapsed.as_secs_f64(),
        g.per_sec(),
        g.p(50),
        g.p(99),
        g.refused
    );
    drop(servers);
    Ok(g)
}
