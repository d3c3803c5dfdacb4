//! The fixture marketplace: a generated multi-shop e-commerce site with ground truth, served on
//! 127.0.0.1 with slow, failing, looping and trap routes.
//!
//! The crawler's end-to-end tests and `veilmark demo` both crawl it; it is never pointed at the
//! outside world. The site itself is written by `tests/fixtures/marketplace/generate.py` from
//! scikit-image's sample photographs (see `docs/crawler.md`).
//!
//! Why a crate of its own: this is test and demo scaffolding (a Python driver and a deliberately
//! misbehaving HTTP server), so it does not belong in `veilmark-crawler`'s library, which ships
//! in the server and the CLI. As a separate `publish = false` crate it is a *dev*-dependency of
//! the crawler (its tests) and a dependency of the CLI only, because `veilmark demo` is the
//! demo's front door and serves the marketplace at run time. It needs nothing from the crawler,
//! so the dependency runs one way. A `#[cfg(feature = "fixture")]` module in the crawler would
//! keep the code in the library and let a feature unification switch it on everywhere; a
//! `tests/common` module could not be reached by the CLI's demo.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The forensic watermark key the fixture's planted leaks are marked with (tests decode them
/// with it; a Veilmark server's own key reads them as unmarked, as it should).
pub const FIXTURE_WATERMARK_KEY: [u8; 32] = *b"veilmark fixture marketplace k01";

/// Session codes of the planted leaks: `FIRST_LEAK_CODE`, `FIRST_LEAK_CODE + 1`, ….
pub const FIRST_LEAK_CODE: u64 = 0x00f1_0000_0001;

/// How many distinct leak sessions the generator may use.
pub const LEAK_SESSIONS: u64 = 16;

/// Output version of `generate.py` this crate expects (`generator_version` in the ground
/// truth); an older cached fixture is regenerated.
pub const GENERATOR_VERSION: u64 = 2;

/// Whether `out` holds a complete fixture from the current generator.
fn is_current(out: &Path) -> bool {
    std::fs::read_to_string(out.join("ground_truth.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|gt| gt["generator_version"].as_u64() == Some(GENERATOR_VERSION))
}

/// Writes one session tile per leak session into `dir` (`<code>.vmwt`), marked under
/// [`FIXTURE_WATERMARK_KEY`], for the generator to stamp its leaked screenshots with.
fn write_leak_tiles(dir: &Path) -> anyhow::Result<()> {
    use veilmark_shared::watermark::{Embedder, SessionCode, WatermarkKey};
    std::fs::create_dir_all(dir)?;
    let key = WatermarkKey::from_bytes(FIXTURE_WATERMARK_KEY);
    for i in 0..LEAK_SESSIONS {
        let code = SessionCode::new(FIRST_LEAK_CODE + i)?;
        std::fs::write(
            dir.join(format!("{code}.vmwt")),
            Embedder::new(&key, code).to_bytes(),
        )?;
    }
    Ok(())
}

/// Runs the Python generator (`tests/fixtures/marketplace/generate.py` under `repo_root`) to
/// write a fixture marketplace into `out`, unless a current one is already there. Returns `out`.
///
/// Planted leaks carry the real forensic watermark under [`FIXTURE_WATERMARK_KEY`]: this
/// function writes the session tiles the generator stamps them with.
///
/// The site is generated into a temporary sibling folder and renamed into place, so concurrent
/// callers (parallel tests, several test binaries) never see a half-written fixture.
pub fn generate(
    repo_root: &Path,
    out: &Path,
    listings: u32,
    references: u32,
) -> anyhow::Result<PathBuf> {
    if is_current(out) {
        return Ok(out.to_path_buf());
    }
    let parent = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(
        ".{}-{}-{:?}",
        out.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("fixture"),
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let tiles = tmp.with_extension("tiles");
    write_leak_tiles(&tiles)?;
    let status = std::process::Command::new("python3")
        .arg(repo_root.join("tests/fixtures/marketplace/generate.py"))
        .arg("--out")
        .arg(&tmp)
        .args([
            "--listings",
            &listings.to_string(),
            "--references",
            &references.to_string(),
            "--seed",
            "7",
        ])
        .arg("--leak-tiles")
        .arg(&tiles)
        .status();
    let _ = std::fs::remove_dir_all(&tiles);
    match status {
        Ok(s) if s.success() => {}
        other => {
            let _ = std::fs::remove_dir_all(&tmp);
            anyhow::bail!(
                "the fixture marketplace could not be generated ({other:?}). It needs Python 3 with \
                 `pip install scikit-image pillow numpy`"
            );
        }
    }
    if out.exists() && !is_current(out) {
        // A fixture from an older generator: replace it.
        let _ = std::fs::remove_dir_all(out);
    }
    if std::fs::rename(&tmp, out).is_err() {
        // Another caller finished first; theirs is identical (same seed).
        let _ = std::fs::remove_dir_all(&tmp);
        anyhow::ensure!(
            out.join("ground_truth.json").exists(),
            "cannot move the fixture into {}",
            out.display()
        );
    }
    Ok(out.to_path_buf())
}

/// A running fixture server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub host_port: String,
    /// Every request target, in arrival order.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Every request target with the moment it arrived, in arrival order.
    pub arrivals: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Server {
    /// The request targets seen so far.
    #[must_use]
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// The request targets seen so far, with when each arrived.
    #[must_use]
    pub fn arrivals(&self) -> Vec<(Instant, String)> {
        self.arrivals.lock().expect("log lock").clone()
    }
}

/// How the server answers `/robots.txt` (the hostile robots.txt cases of issue 16).
#[derive(Debug, Clone, Default)]
pub enum RobotsRoute {
    /// The site's own `robots.txt` file (404 if it has none).
    #[default]
    File,
    /// A chain of `hops` redirects (`302`) ending at the site's `real-robots.txt`.
    Redirect {
        /// Redirects before the file: 1 points straight at it.
        hops: u32,
    },
    /// Always this status, with a short body.
    Status(u16),
    /// `503` to the first `n` requests, then the site's `robots.txt`.
    FailFirst(u32),
}

/// Misbehaviour of a fixture server beyond its fixed hostile routes.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// How `/robots.txt` is answered.
    pub robots: RobotsRoute,
    /// Delay before answering `/robots.txt` (a slow host).
    pub robots_delay: Duration,
}

/// Serves `site` on 127.0.0.1 (random port) until the runtime ends.
pub async fn serve(site: PathBuf) -> std::io::Result<Server> {
    serve_with(site, ServeOptions::default()).await
}

/// Serves `site` on 127.0.0.1 (random port) with `options`, until the runtime ends.
pub async fn serve_with(site: PathBuf, options: ServeOptions) -> std::io::Result<Server> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let (log2, arrivals2, site) = (log.clone(), arrivals.clone(), Arc::new(site));
    let options = Arc::new(options);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let (log, arrivals, hits, site, options) = (
                log2.clone(),
                arrivals2.clone(),
                hits.clone(),
                site.clone(),
                options.clone(),
            );
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    if buf.len() > 65536 {
                        return;
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let inm = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("if-none-match: ")
                            .or_else(|| l.strip_prefix("If-None-Match: "))
                    })
                    .map(|s| s.trim().to_string());
                log.lock().expect("log lock").push(target.clone());
                arrivals
                    .lock()
                    .expect("log lock")
                    .push((Instant::now(), target.clone()));
                let n = {
                    let mut h = hits.lock().expect("hits lock");
                    let e = h.entry(target.clone()).or_default();
                    *e += 1;
                    *e
                };
                let resp = match robots_route(&options, &target, n).await {
                    Some(resp) => resp,
                    None => route(&site, &target, n, inm.as_deref()).await,
                };
                let _ = sock.write_all(&resp).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(Server {
        base: format!("http://{addr}"),
        host_port: addr.to_string(),
        log,
        arrivals,
    })
}

/// The answer to `/robots.txt` and its redirect hops under `options`, or `None` for the
/// ordinary routes.
async fn robots_route(options: &ServeOptions, target: &str, n: u32) -> Option<Vec<u8>> {
    let redirect = |to: String| {
        respond(
            "302 Found",
            "text/plain",
            &format!("Location: {to}\r\n"),
            b"",
        )
    };
    if let Some(rest) = target.strip_prefix("/robots-hop/") {
        let left: u32 = rest.parse().unwrap_or(0);
        return Some(if left == 0 {
            redirect("/real-robots.txt".into())
        } else {
            redirect(format!("/robots-hop/{}", left - 1))
        });
    }
    if target != "/robots.txt" {
        return None;
    }
    tokio::time::sleep(options.robots_delay).await;
    match &options.robots {
        RobotsRoute::File => None,
        RobotsRoute::Redirect { hops } => Some(match hops {
            0 | 1 => redirect("/real-robots.txt".into()),
            n => redirect(format!("/robots-hop/{}", n - 2)),
        }),
        RobotsRoute::Status(code) => Some(respond(
            &format!("{code} Status"),
            "text/plain",
            "",
            b"robots status",
        )),
        RobotsRoute::FailFirst(k) if n <= *k => Some(respond(
            "503 Service Unavailable",
            "text/plain",
            "",
            b"later",
        )),
        RobotsRoute::FailFirst(_) => None,
    }
}

fn respond(status: &str, ctype: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

fn html(body: &str) -> Vec<u8> {
    respond(
        "200 OK",
        "text/html; charset=utf-8",
        "",
        format!("<!DOCTYPE html><html><body>{body}</body></html>").as_bytes(),
    )
}

async fn route(site: &Path, target: &str, n: u32, inm: Option<&str>) -> Vec<u8> {
    let path = target.split('?').next().unwrap_or("/");
    if path.starts_with("/slow/") {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        return html("slow");
    }
    match path {
        "/flaky/500.html" => return respond("500 Internal Server Error", "text/html", "", b"boom"),
        "/flaky/once.html" if n == 1 => {
            return respond("503 Service Unavailable", "text/html", "", b"later");
        }
        "/flaky/once.html" => return html("recovered"),
        "/loop/a" => return respond("302 Found", "text/html", "Location: /loop/b\r\n", b""),
        "/loop/b" => return respond("302 Found", "text/html", "Location: /loop/a\r\n", b""),
        "/redirect/to-item" => {
            return respond(
                "301 Moved Permanently",
                "text/html",
                "Location: /shop/atelier/item/0.html\r\n",
                b"",
            );
        }
        "/huge.html" => return html(&"<p>padding</p>".repeat(200_000)),
        "/img/hostile/huge.jpg" => {
            let mut body = vec![0xFF, 0xD8, 0xFF, 0xE0];
            body.resize(6 << 20, 0x55);
            return respond("200 OK", "image/jpeg", "", &body);
        }
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/calendar/") {
        let mut parts = rest.split('/').filter_map(|p| p.parse::<u32>().ok());
        let (y, m) = (parts.next().unwrap_or(2026), parts.next().unwrap_or(1));
        let (ny, nm) = if m >= 12 { (y + 1, 1) } else { (y, m + 1) };
        return html(&format!(
            "<h1>{y}-{m}</h1><a href=\"/calendar/{ny}/{nm}\">next month</a>"
        ));
    }
    if path.starts_with("/trap/") {
        return html("<a href=\"sub/\">deeper</a><a href=\"sub/page.html\">page</a>");
    }
    let rel = if path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    };
    if rel.contains("..") {
        return respond("400 Bad Request", "text/plain", "", b"bad");
    }
    let file = site.join(rel.trim_start_matches('/'));
    match tokio::fs::read(&file).await {
        Ok(body) => {
            let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..16]);
            if inm == Some(etag.as_str()) {
                return respond(
                    "304 Not Modified",
                    "text/plain",
                    &format!("ETag: {etag}\r\n"),
                    b"",
                );
            }
            let ctype = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("txt") => "text/plain",
                Some("jpg") => "image/jpeg",
                Some("png") => "image/png",
                Some("webp") => "image/webp",
                Some("gif") => "image/gif",
                _ => "application/octet-stream",
            };
            respond("200 OK", ctype, &format!("ETag: {etag}\r\n"), &body)
        }
        Err(_) => respond("404 Not Found", "text/html", "", b"<h1>not found</h1>"),
    }
}
