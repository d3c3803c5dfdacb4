//! `cargo xtask loadtest`: a release `veilmark serve` on loopback under a legitimate load, first
//! alone and then while one hostile address attacks it (issue 16).
//!
//! Legitimate viewers (threads, each from its own loopback address 127.0.1.N, as real viewers
//! come from their own addresses) loop: open their link (licence), renew the lease, read the
//! envelope. The attacker, from 127.0.0.2, holds idle sockets, trickles headers (slowloris),
//! sends unauthenticated 256 MiB uploads, floods event streams and renewals. Printed: the
//! legitimate p50/p99 latency and errors for the quiet and the attacked phase, and the server's
//! peak resident memory (`VmHWM`). Targets: attacked p99 ≤ 2× quiet p99, zero legitimate
//! errors, peak memory ≤ 512 MiB.
//!
//! Plain blocking sockets and threads, no HTTP client library: the client must not be the
//! bottleneck, and each request is one connection (`Connection: close`), as a cold viewer is.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use socket2::{Domain, Socket, Type};
use veilmark_shared::licence::ViewerKey;

use crate::sh;

/// Settings of one run.
pub struct Options {
    /// Legitimate viewers.
    pub viewers: usize,
    /// Idle sockets the attacker tries to hold.
    pub idle_sockets: usize,
    /// Seconds per phase (quiet, then attacked).
    pub phase_secs: u64,
    /// Build and run the debug binary instead of release (faster to build on a busy machine).
    pub debug: bool,
    /// Run the attacker in this process at the viewers' priority instead of its own process at
    /// `nice 19`.
    pub attacker_same_priority: bool,
    /// Run only this attack (`idle`, `slowloris`, `uploads` or `streams`), to tell their costs
    /// apart; all of them when `None`.
    pub only_attack: Option<String>,
    /// Server on CPU 0, load generator and attacker on CPU 1.
    pub pin: bool,
}

/// The attacks [`Options::only_attack`] can name; `none` is the control run: the second phase
/// is timed exactly like an attacked one (attacker process started, 3 s head start) with no
/// attack at all, so its ratio is the phase-to-phase noise of this machine.
pub const ATTACKS: [&str; 5] = ["idle", "slowloris", "uploads", "streams", "none"];

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the load test and prints its figures.
pub fn run(opts: &Options) -> Result<()> {
    if let Some(a) = &opts.only_attack
        && !ATTACKS.contains(&a.as_str())
    {
        bail!("--only-attack takes one of {}", ATTACKS.join(", "));
    }
    check_fd_limit(opts.idle_sockets + opts.viewers + 512)?;
    let profile = if opts.debug { "debug" } else { "release" };
    let bin = build_veilmark(opts.debug)?;
    let scratch = tempfile::tempdir()?;
    let data = scratch.path().join("data");
    let doc_id = seal_drawing(&bin, scratch.path(), 256 * 1024, &[])?;
    eprintln!(
        "creating {} links (one per viewer, plus the attacker's)",
        opts.viewers + 1
    );
    let tokens = (0..=opts.viewers)
        .map(|i| {
            let url = veilmark(
                &bin,
                &data,
                &["link", &doc_id, "--to", &format!("viewer{i}@load.example")],
            )?;
            Ok(url.trim().rsplit('/').next().unwrap_or_default().to_owned())
        })
        .collect::<Result<Vec<_>>>()?;
    let port = free_port()?;
    let server_addr = SocketAddr::from(([127, 0, 0, 1], port));
    if opts.pin {
        // This process (and every thread and process it starts from now on) on CPU 1.
        sh::run(
            "taskset",
            &["-a", "-p", "-c", "1", &std::process::id().to_string()],
        )?;
    }
    let mut server_cmd = if opts.pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let mut server = Server(
        server_cmd
            .args(["serve", "--listen", &server_addr.to_string(), "--www"])
            .arg(scratch.path().join("no-www"))
            .arg("--data")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start veilmark serve")?,
    );
    wait_until_up(server_addr)?;
    let pid = server.0.id();

    let (viewer_tokens, attacker_token) = tokens.split_at(opts.viewers);
    let cpu_start = cpu_secs(pid);
    let quiet = phase(server_addr, viewer_tokens, opts.phase_secs, Vec::new);
    let cpu_quiet = cpu_secs(pid);
    eprintln!("quiet phase: {}", quiet.summary());
    let attacker_token = attacker_token[0].clone();
    let idle = opts.idle_sockets;
    let same_priority = opts.attacker_same_priority;
    let only = opts.only_attack.clone();
    let attacked = phase(server_addr, viewer_tokens, opts.phase_secs, move || {
        if same_priority {
            attack(server_addr, &attacker_token, idle, only.as_deref())
        } else {
            attack_from_niced_process(server_addr, &attacker_token, idle, only.as_deref())
        }
    });
    let cpu_attacked = cpu_secs(pid);
    let peak_kib = vm_hwm(pid).unwrap_or(0);
    server.0.kill().ok();

    println!(
        "load test ({profile} build, {} viewers, {} s per phase, attacker {})",
        opts.viewers,
        opts.phase_secs,
        if opts.attacker_same_priority {
            "threads in the load generator at its priority"
        } else {
            "its own process at nice 19 (a machine of its own, sharing these cores)"
        }
    );
    if let Some(a) = &opts.only_attack {
        println!("  only the {a} attack");
    }
    if opts.pin {
        println!("  server pinned to CPU 0; load generator and attacker to CPU 1");
    }
    println!("  quiet:         {}", quiet.summary());
    println!("  under attack:  {}", attacked.summary());
    let window = Duration::from_secs(2);
    println!(
        "  p99 by 2 s window, quiet (ms):        {}",
        quiet.p99_timeline(window)
    );
    println!(
        "  p99 by 2 s window, under attack (ms): {}",
        attacked.p99_timeline(window)
    );
    println!("  server peak RSS (VmHWM): {} MiB", peak_kib / 1024);
    if let (Some(a), Some(b), Some(c)) = (cpu_start, cpu_quiet, cpu_attacked) {
        // Phases last phase_secs each (plus the attack's 3 s build-up): CPU seconds per second.
        let secs = opts.phase_secs as f64;
        println!(
            "  server CPU (user+system): quiet {:.1} s ({:.0} %), under attack {:.1} s ({:.0} % of one core)",
            b - a,
            (b - a) / secs * 100.0,
            c - b,
            (c - b) / (secs + 3.0) * 100.0
        );
    }
    let ratio = attacked.p(99).as_secs_f64() / quiet.p(99).as_secs_f64().max(1e-6);
    println!("  p99 attacked / quiet: {ratio:.2} (target ≤ 2)");
    let ok = ratio <= 2.0 && attacked.errors == 0 && quiet.errors == 0 && peak_kib <= 512 * 1024;
    println!("  targets met: {}", if ok { "yes" } else { "NO" });
    Ok(())
}

/// Builds `veilmark` (release unless `debug`) and returns the binary's path. The benchmarks
/// that start servers all build it this way, so one does not rebuild what another built.
pub(crate) fn build_veilmark(debug: bool) -> Result<PathBuf> {
    let mut build = vec!["build", "-p", "veilmark", "--bin", "veilmark"];
    if !debug {
        build.push("--release");
    }
    crate::sh::run("cargo", &build)?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let bin = target
        .join(if debug { "debug" } else { "release" })
        .join("veilmark");
    Ok(std::fs::canonicalize(&bin)?)
}

/// Writes a `len`-byte PDF-looking drawing in `scratch` and seals it into `scratch/data` (with
/// `extra` arguments, such as `--database URL`); returns the document id.
pub(crate) fn seal_drawing(
    bin: &Path,
    scratch: &Path,
    len: usize,
    extra: &[&str],
) -> Result<String> {
    let doc = scratch.join("drawing.pdf");
    let mut body = b"%PDF-1.7\n% a load-test drawing\n".to_vec();
    body.resize(len, b'x');
    std::fs::write(&doc, &body)?;
    let mut args = vec!["seal", path_str(&doc)?, "--json"];
    args.extend_from_slice(extra);
    let seal = veilmark(bin, &scratch.join("data"), &args)?;
    json_str(&seal, "id").context("seal printed no document id")
}

/// Kills the server when the load test ends, however it ends.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn path_str(p: &Path) -> Result<&str> {
    p.to_str().context("scratch path is not UTF-8")
}

pub(crate) fn veilmark(bin: &Path, data: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "veilmark {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The soft file-descriptor limit must cover the attacker's sockets and the viewers'.
pub(crate) fn check_fd_limit(needed: usize) -> Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    match soft {
        Some(n) if n < needed => bail!(
            "the open-file limit is {n}; the load test needs {needed} (run `ulimit -n {needed}` first)"
        ),
        _ => Ok(()),
    }
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) fn wait_until_up(addr: SocketAddr) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok((200, _)) = request(viewer_ip(0), addr, "GET", "/api/server-key", &[]) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the server did not answer within 30 s")
}

/// Viewer `i`'s own loopback address.
pub(crate) fn viewer_ip(i: usize) -> IpAddr {
    let i = u16::try_from(i).unwrap_or(u16::MAX);
    let [hi, lo] = (i + 1).to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 0, 1 + hi, lo))
}

/// A TCP connection to `to` from `from`.
fn connect(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.bind(&SocketAddr::new(from, 0).into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(5))?;
    let tcp: TcpStream = s.into();
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(tcp)
}

/// One request on its own connection: the status and the body.
pub(crate) fn request(
    from: IpAddr,
    to: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut tcp = connect(from, to)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes())?;
    tcp.write_all(body)?;
    let mut resp = Vec::new();
    tcp.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp[..resp.len().min(64)]).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(resp.len(), |p| p + 4);
    Ok((status, resp.split_off(at)))
}

/// The string value of `"key":` in a JSON text (enough for the server's own answers).
pub(crate) fn json_str(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[at..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// A licence request body with a fresh key and nonce.
pub(crate) fn licence_body(seq: u64) -> Vec<u8> {
    let seed: [u8; 32] =
        Sha256::digest(format!("loadtest viewer {seq} {:?}", Instant::now())).into();
    let key = ViewerKey::from_seed(seed);
    let nonce = &hex::encode(Sha256::digest(seed))[..32];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        r#"{{"viewer_key":"{}","nonce":"{nonce}","timestamp":{now}}}"#,
        hex::encode(key.public_key())
    )
    .into_bytes()
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Latencies and errors of one phase.
#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    /// When each latency's request ended, from the phase's start (same order).
    ended_at: Vec<Duration>,
    errors: usize,
    first_errors: Vec<String>,
    started: Option<Instant>,
}

impl Stats {
    fn p(&self, pct: usize) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut v = self.latencies.clone();
        v.sort();
        v[(v.len() - 1) * pct / 100]
    }

    /// p99 in windows of `window` through the phase: where the tail comes from (a burst at the
    /// attack's start, or all along).
    fn p99_timeline(&self, window: Duration) -> String {
        let mut buckets: Vec<Vec<Duration>> = Vec::new();
        for (at, latency) in self.ended_at.iter().zip(&self.latencies) {
            let i = (at.as_secs_f64() / window.as_secs_f64()) as usize;
            if buckets.len() <= i {
                buckets.resize(i + 1, Vec::new());
            }
            buckets[i].push(*latency);
        }
        buckets
            .iter_mut()
            .map(|b| {
                b.sort();
                b.get((b.len().max(1) - 1) * 99 / 100)
                    .map_or("-".to_string(), |d| format!("{:.0}", d.as_secs_f64() * 1e3))
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }

    fn summary(&self) -> String {
        format!(
            "{} requests, p50 {:.1} ms, p99 {:.1} ms, {} errors{}",
            self.latencies.len(),
            self.p(50).as_secs_f64() * 1e3,
            self.p(99).as_secs_f64() * 1e3,
            self.errors,
            if self.first_errors.is_empty() {
                String::new()
            } else {
                format!(" (first: {})", self.first_errors.join("; "))
            }
        )
    }
}

/// Runs the viewers for `secs` while `background` (started first, in its own thread) runs.
fn phase<F>(to: SocketAddr, tokens: &[String], secs: u64, background: F) -> Stats
where
    F: FnOnce() -> Vec<std::thread::JoinHandle<()>> + Send + 'static,
{
    let stats = Arc::new(Mutex::new(Stats::default()));
    let attackers = background();
    if !attackers.is_empty() {
        // Let the attack build up before timing anyone.
        std::thread::sleep(Duration::from_secs(3));
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .started = Some(Instant::now());
    let viewers: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let token = token.clone();
            let stats = stats.clone();
            std::thread::spawn(move || {
                // Spread the viewers' starts over a second.
                std::thread::sleep(Duration::from_millis((i as u64 * 5) % 1000));
                while Instant::now() < deadline {
                    viewer_cycle(viewer_ip(i), to, &token, &stats);
                    // A viewer renews about twice per 60 s lease; this is busier than that.
                    std::thread::sleep(Duration::from_millis(2500));
                }
            })
        })
        .collect();
    for v in viewers {
        let _ = v.join();
    }
    ATTACK_STOP.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.join();
    }
    ATTACK_STOP.store(false, Ordering::Relaxed);
    Arc::try_unwrap(stats)
        .map(|m| m.into_inner().unwrap_or_default())
        .unwrap_or_default()
}

/// Opens the link, renews the lease, reads the envelope; each step timed.
fn viewer_cycle(from: IpAddr, to: SocketAddr, token: &str, stats: &Mutex<Stats>) {
    let record = |started: Instant,
                  what: &str,
                  result: std::io::Result<(u16, Vec<u8>)>,
                  ok: u16|
     -> Option<Vec<u8>> {
        let elapsed = started.elapsed();
        let mut s = stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok((status, body)) if status == ok => {
                s.latencies.push(elapsed);
                let at = s.started.map_or(Duration::ZERO, |t| t.elapsed());
                s.ended_at.push(at);
                Some(body)
            }
            other => {
                s.errors += 1;
                if s.first_errors.len() < 3 {
                    let why = match other {
                        Ok((status, body)) => format!(
                            "{what}: {status} {}",
                            String::from_utf8_lossy(&body[..body.len().min(120)])
                        ),
                        Err(e) => format!("{what}: {e}"),
                    };
                    s.first_errors.push(why);
                }
                None
            }
        }
    };
    let body = licence_body(SEQ.fetch_add(1, Ordering::Relaxed));
    let t = Instant::now();
    let Some(licence) = record(
        t,
        "licence",
        request(from, to, "POST", &format!("/api/v/{token}/licence"), &body),
        200,
    ) else {
        return;
    };
    let licence = String::from_utf8_lossy(&licence);
    let (Some(renew), Some(envelope)) =
        (json_str(&licence, "renew"), json_str(&licence, "envelope"))
    else {
        record(
            t,
            "licence",
            Err(std::io::Error::other("no urls in the licence")),
            200,
        );
        return;
    };
    let t = Instant::now();
    record(t, "renew", request(from, to, "POST", &renew, &[]), 200);
    let t = Instant::now();
    record(t, "envelope", request(from, to, "GET", &envelope, &[]), 200);
}

static ATTACK_STOP: AtomicBool = AtomicBool::new(false);

/// `cargo xtask loadtest-attacker`: runs [`attack`] until killed.
pub fn attacker_process(
    to: SocketAddr,
    token: &str,
    idle_sockets: usize,
    only: Option<&str>,
) -> Result<()> {
    let threads = attack(to, token, idle_sockets, only);
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// Runs the attacker as a separate process at the lowest CPU priority (`nice -n 19`), killed when
/// the phase ends. On a machine where load generator and server share two cores, an attacker at
/// the same priority takes CPU time the server would have on its own machine: the attacker's
/// reconnect loop alone keeps a core busy. At nice 19 it still sends everything it can whenever
/// a core is free, which is the load a real remote attacker's traffic puts on this machine.
fn attack_from_niced_process(
    to: SocketAddr,
    token: &str,
    idle_sockets: usize,
    only: Option<&str>,
) -> Vec<std::thread::JoinHandle<()>> {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find the xtask binary for the attacker: {e}");
            return Vec::new();
        }
    };
    let mut cmd = Command::new("nice");
    cmd.args(["-n", "19"]).arg(exe).args([
        "loadtest-attacker",
        "--to",
        &to.to_string(),
        "--token",
        token,
        "--idle-sockets",
        &idle_sockets.to_string(),
    ]);
    if let Some(a) = only {
        cmd.args(["--only-attack", a]);
    }
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start the attacker process: {e}");
            return Vec::new();
        }
    };
    vec![std::thread::spawn(move || {
        while attacking() {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    })]
}

fn attacking() -> bool {
    !ATTACK_STOP.load(Ordering::Relaxed)
}

/// Starts the hostile load from [`ATTACKER`] (every attack, or only the one `only` names); each
/// thread runs until the phase ends.
fn attack(
    to: SocketAddr,
    token: &str,
    idle_sockets: usize,
    only: Option<&str>,
) -> Vec<std::thread::JoinHandle<()>> {
    let on = |name: &str| only.is_none_or(|o| o == name);
    let mut threads = Vec::new();
    // Idle sockets: connect and say nothing; reconnect those the server closes.
    threads.extend(on("idle").then(|| {
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while attacking() {
                held.retain(|s| {
                    let mut b = [0u8; 1];
                    s.set_nonblocking(true).ok();
                    !matches!((&*s).read(&mut b), Ok(0))
                });
                while held.len() < idle_sockets && attacking() {
                    match connect(ATTACKER, to) {
                        Ok(s) => held.push(s),
                        Err(_) => break,
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    }));
    // Slowloris: headers a byte at a time.
    for _ in 0..if on("slowloris") { 4 } else { 0 } {
        threads.push(std::thread::spawn(move || {
            let mut conns: Vec<TcpStream> = Vec::new();
            while attacking() {
                while conns.len() < 50 {
                    match connect(ATTACKER, to) {
                        Ok(s) => conns.push(s),
                        Err(_) => break,
                    }
                }
                conns.retain_mut(|s| s.write_all(b"X").is_ok());
                std::thread::sleep(Duration::from_millis(500));
            }
        }));
    }
    // Unauthenticated 256 MiB uploads, as fast as the server takes them.
    for _ in 0..if on("uploads") { 4 } else { 0 } {
        threads.push(std::thread::spawn(move || {
            let chunk = vec![b'A'; 1 << 20];
            while attacking() {
                let Ok(mut s) = connect(ATTACKER, to) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let head = format!(
                    "POST /console/documents/upload HTTP/1.1\r\nHost: {to}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\n\r\n",
                    256u64 << 20
                );
                if s.write_all(head.as_bytes()).is_err() {
                    continue;
                }
                for _ in 0..256 {
                    if !attacking() || s.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
        }));
    }
    // Event-stream and renewal floods on the attacker's own sessions.
    let token = token.to_owned();
    threads.extend(on("streams").then(|| {
        std::thread::spawn(move || {
            let mut streams = Vec::new();
            let mut sessions = Vec::new();
            while attacking() {
                let body = licence_body(SEQ.fetch_add(1, Ordering::Relaxed));
                if let Ok((200, lic)) = request(
                    ATTACKER,
                    to,
                    "POST",
                    &format!("/api/v/{token}/licence"),
                    &body,
                ) {
                    let lic = String::from_utf8_lossy(&lic).into_owned();
                    if let (Some(e), Some(r)) = (json_str(&lic, "events"), json_str(&lic, "renew"))
                    {
                        sessions.push((e, r));
                    }
                }
                for (events, renew) in &sessions {
                    for _ in 0..5 {
                        if let Ok(mut s) = connect(ATTACKER, to) {
                            let head = format!("GET {events} HTTP/1.1\r\nHost: {to}\r\n\r\n");
                            if s.write_all(head.as_bytes()).is_ok() {
                                streams.push(s);
                            }
                        }
                    }
                    for _ in 0..20 {
                        let _ = request(ATTACKER, to, "POST", renew, &[]);
                    }
                }
                streams.truncate(500);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    }));
    threads
}

/// CPU time (user + system) process `pid` has used, in seconds (`/proc/PID/stat` fields 14 and
/// 15, in clock ticks of 1/100 s, Linux's `USER_HZ` on every architecture it runs on here).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Peak resident memory of process `pid` in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
