//! The crawl loop: frontier, politeness, budgets, and the page → images → hits pipeline.
//!
//! We use our own small frontier on `reqwest` rather than the `spider` crate: spider follows
//! redirects and schedules requests itself, while Veilmark must check every hop (scope,
//! robots.txt, private addresses), persist the frontier in SQLite for crash-resume, and count
//! budgets exactly; wrapping spider's ~800 KB `website.rs` to do that was more code than this
//! module (see `docs/crawler.md`).
//!
//! Scheduling: a crawl is one or more workers, each a loop that leases a batch of queued
//! frontier entries from the store (so several loops in one process, or several processes on
//! several machines, share one frontier without fetching a URL twice) and runs at most
//! `max_concurrency` page tasks. Each request first takes one of its host's
//! `max_concurrency_per_host` permits and then its host's next slot (`1 /
//! requests_per_second`, or robots.txt `Crawl-delay` if slower), both from the store, so all
//! workers of a run together keep the host's rate; robots.txt is fetched once per run and
//! shared through the store too. A page task fetches the page, extracts listing and links,
//! then fetches and matches the listing's images one by one; the page is marked `done` in the
//! frontier only when all of that is stored, so a crash re-does at most the pages in flight,
//! which other workers take over when the dead worker's leases run out
//! (`docs/crawler.md#several-workers`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use url::Url;

use crate::canon::{canonicalise, host_key};
use crate::decode_budget::{DecodeBudget, decoded_bytes};
use crate::extract::{Listing, extract};
use crate::fetch::{FetchError, Fetched, Fetcher, Response};
use crate::hash::{decode_limited, fingerprint};
use crate::matcher::{Matcher, Thresholds};
use crate::profile::SiteProfile;
use crate::robots::Robots;
use crate::robots_fetch::{RawRobots, fetch_robots_raw};
use crate::watermark::{NoDecoder, WatermarkDecoder};
use veilmark_store::Evidence as Store;
use veilmark_store::evidence::{
    FrontierEntry, HitRecord, RobotsClaim, Seen, SeenTable, StoredRobots,
};
use veilmark_store::warc::{HttpRecord, WarcWriter};

/// Progress counters, shown on a terminal while crawling.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Progress {
    /// Pages requested.
    pub pages: u64,
    /// Images requested.
    pub images: u64,
    /// New hits stored.
    pub hits: u64,
    /// Pages waiting in the frontier.
    pub queued: u64,
    /// Requests that failed (network, status, size, decoding).
    pub errors: u64,
    /// URLs not fetched because robots.txt forbids them.
    pub robots_blocked: u64,
    /// Pages or images skipped because they did not change since the last crawl.
    pub unchanged: u64,
}

/// What a crawl did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrawlReport {
    /// Run id in the database.
    pub run_id: i64,
    /// True when an interrupted run was resumed.
    pub resumed: bool,
    /// Final counters.
    pub progress: Progress,
    /// Failures by kind (`"status 404"`, `"timeout"`, `"decode"`, ...).
    pub errors: HashMap<String, u64>,
    /// Which budget stopped the crawl early, if any (`"pages"`, `"images"`, `"time"`).
    pub budget_exhausted: Option<String>,
    /// Most frontier entries held in memory at once (at most `max_frontier_in_memory`).
    pub frontier_window_peak: u64,
    /// Wall-clock duration.
    pub elapsed_ms: u64,
}

/// A callback receiving progress counters.
pub type ProgressFn = Box<dyn Fn(&Progress) + Send + Sync>;

/// Knobs that are not part of a site profile.
pub struct CrawlOptions {
    /// Matching thresholds.
    pub thresholds: Thresholds,
    /// Watermark decoder run on every image.
    pub decoder: Arc<dyn WatermarkDecoder>,
    /// Called after every page with the current counters.
    pub on_progress: Option<ProgressFn>,
    /// Worker loops in this process, all leasing from the run's frontier (at least 1).
    pub workers: usize,
    /// Join the profile's running run (started by another process) instead of resuming or
    /// starting one; an error when none is running.
    pub join: bool,
    /// How long a leased frontier entry stays with its worker without being renewed: a
    /// killed worker's pages go to the others this long after its last renewal.
    pub lease: Duration,
}

impl Default for CrawlOptions {
    fn default() -> CrawlOptions {
        CrawlOptions {
            thresholds: Thresholds::default(),
            decoder: Arc::new(NoDecoder),
            on_progress: None,
            workers: 1,
            join: false,
            lease: Duration::from_secs(60),
        }
    }
}

#[derive(Default)]
struct Counters {
    pages: AtomicU64,
    images: AtomicU64,
    hits: AtomicU64,
    errors: AtomicU64,
    robots_blocked: AtomicU64,
    unchanged: AtomicU64,
}

struct Ctx {
    profile: SiteProfile,
    store: Store,
    fetcher: Fetcher,
    matcher: Matcher,
    decoder: Arc<dyn WatermarkDecoder>,
    run: i64,
    catalog_gen: i64,
    deadline: Instant,
    interval: Duration,
    counters: Counters,
    error_kinds: Mutex<HashMap<String, u64>>,
    exhausted: Mutex<Option<String>>,
    /// Per-host robots.txt state (a local copy of the run's shared one); the map's lock is
    /// only held to find a host's slot, and a host's own lock only by requests to that host,
    /// so a slow robots.txt stalls no one else.
    robots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedRobots>>>>>,
    /// This process's id in the store (`host:pid:nonce`): holder of its host permits and
    /// robots.txt claims, prefix of its workers' ids.
    node: String,
    /// Frontier lease duration.
    lease: Duration,
    /// Longest a host permit or a robots.txt claim is held (a request with all its retries).
    hold: Duration,
    /// Memory all concurrent image decodes share (`max_decode_bytes`).
    decode_budget: DecodeBudget,
}

/// A host's robots.txt rules, and when to ask again if it was unreachable.
struct CachedRobots {
    rules: Arc<Robots>,
    retry_at: Option<Instant>,
}

/// One of a host's request permits, given back to the store when dropped.
struct HostPermit {
    store: Store,
    run: i64,
    host: String,
    holder: String,
    slot: u32,
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        let (store, run, host, holder, slot) = (
            self.store.clone(),
            self.run,
            std::mem::take(&mut self.host),
            std::mem::take(&mut self.holder),
            self.slot,
        );
        // Given back in the background; if that fails the permit expires (`hold`).
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = store.release_host_permit(run, &host, &holder, slot).await;
            });
        }
    }
}

/// One worker loop: its id in the store (leases) and its own evidence file.
struct Worker {
    id: String,
    /// True for the first worker of a run this process started: it writes the run's
    /// `run-N.warc`; every other worker writes `run-N-<worker>.warc`.
    run_file: bool,
    warc: tokio::sync::Mutex<Option<WarcWriter>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    Image,
}

/// Why a URL produced no response.
enum Skip {
    Robots,
    OutOfScope,
    Budget,
    Failed(String),
    NotModified,
}

impl Ctx {
    fn error(&self, kind: impl Into<String>) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        *self
            .error_kinds
            .lock()
            .expect("poisoned")
            .entry(kind.into())
            .or_default() += 1;
    }

    fn exhaust(&self, budget: &str) {
        self.exhausted
            .lock()
            .expect("poisoned")
            .get_or_insert_with(|| budget.to_string());
    }

    fn progress(&self, queued: u64) -> Progress {
        let c = &self.counters;
        Progress {
            pages: c.pages.load(Ordering::Relaxed),
            images: c.images.load(Ordering::Relaxed),
            hits: c.hits.load(Ordering::Relaxed),
            queued,
            errors: c.errors.load(Ordering::Relaxed),
            robots_blocked: c.robots_blocked.load(Ordering::Relaxed),
            unchanged: c.unchanged.load(Ordering::Relaxed),
        }
    }

    /// Robots rules of a host: the run's shared copy, fetched by the first worker that needs
    /// it, and again once `robots_retry_seconds` have passed if it was unreachable. Only
    /// requests to the same host wait for a fetch in progress.
    async fn robots_for(&self, url: &Url) -> Arc<Robots> {
        let key = host_key(url);
        let slot = self
            .robots
            .lock()
            .expect("poisoned")
            .entry(key.clone())
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref()
            && c.retry_at.is_none_or(|t| Instant::now() < t)
        {
            return c.rules.clone();
        }
        let (rules, retry_at) = self.shared_robots(url, &key).await;
        *cached = Some(CachedRobots {
            rules: rules.clone(),
            retry_at,
        });
        rules
    }

    /// The run's robots.txt answer for `key`'s host from the store, fetching and storing it
    /// when this worker is the one to; with when to ask the store again.
    async fn shared_robots(&self, url: &Url, key: &str) -> (Arc<Robots>, Option<Instant>) {
        let retry = Duration::from_secs(self.profile.limits.robots_retry_seconds);
        let claim_for = self.hold * (crate::robots_fetch::MAX_ROBOTS_REDIRECTS + 1);
        let stored = loop {
            match self
                .store
                .claim_robots(self.run, key, &self.node, claim_for)
                .await
            {
                Ok(RobotsClaim::Stored(s)) => break s,
                Ok(RobotsClaim::Wait) => tokio::time::sleep(Duration::from_millis(50)).await,
                Ok(RobotsClaim::Fetch) => {
                    let raw = match self.wait_turn(key, None).await {
                        Ok(_permit) => fetch_robots_raw(&self.fetcher, url).await,
                        Err(e) => RawRobots::Unreachable(format!("store: {e}")),
                    };
                    let stored = match raw {
                        RawRobots::Body(b) => StoredRobots::Rules(b),
                        RawRobots::Unavailable => StoredRobots::Unavailable,
                        RawRobots::Unreachable(why) => {
                            self.error(format!(
                                "robots.txt unreachable: {}",
                                why.chars().take(60).collect::<String>()
                            ));
                            StoredRobots::Unreachable(why)
                        }
                    };
                    let retry_after =
                        matches!(stored, StoredRobots::Unreachable(_)).then_some(retry);
                    if let Err(e) = self
                        .store
                        .store_robots(self.run, key, &stored, retry_after)
                        .await
                    {
                        self.error(format!("store: {e}"));
                    }
                    break stored;
                }
                Err(e) => {
                    self.error(format!("store: {e}"));
                    break StoredRobots::Unreachable(e.to_string());
                }
            }
        };
        match stored {
            StoredRobots::Rules(body) => (
                Arc::new(Robots::parse_bytes(&body, &self.profile.user_agent)),
                None,
            ),
            StoredRobots::Unavailable => (Arc::new(Robots::allow_all()), None),
            // Asked again soon: the store says when the retry is due and who makes it.
            StoredRobots::Unreachable(_) => (
                Arc::new(Robots::disallow_all()),
                Some(Instant::now() + retry.min(Duration::from_secs(1))),
            ),
        }
    }

    /// Waits for a new request slot of the host for a retry (the permit is still held). If the
    /// store fails, waits one interval.
    async fn retry_turn(&self, key: &str, delay: Option<f64>) {
        let interval = self.host_interval(delay);
        let wait = self
            .store
            .host_slot(self.run, key, interval)
            .await
            .unwrap_or(interval);
        tokio::time::sleep(wait).await;
    }

    /// Time between two requests to a host: the profile's rate, or robots.txt's Crawl-delay if
    /// slower (at most 60 s).
    fn host_interval(&self, delay: Option<f64>) -> Duration {
        match delay {
            Some(d) => self
                .interval
                .max(Duration::from_secs_f64(d.clamp(0.0, 60.0))),
            None => self.interval,
        }
    }

    /// Takes one of the host's request permits and then waits for the host's next request
    /// slot, both shared by every worker of the run through the store. The permit is held
    /// until the returned guard is dropped.
    async fn wait_turn(&self, key: &str, delay: Option<f64>) -> anyhow::Result<HostPermit> {
        let interval = self.host_interval(delay);
        let max = u32::try_from(self.profile.limits.max_concurrency_per_host).unwrap_or(u32::MAX);
        let slot = loop {
            if let Some(slot) = self
                .store
                .take_host_permit(self.run, key, &self.node, max, self.hold)
                .await?
            {
                break slot;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let permit = HostPermit {
            store: self.store.clone(),
            run: self.run,
            host: key.to_string(),
            holder: self.node.clone(),
            slot,
        };
        // Slot after permit: a request starts at its slot, never in a burst of requests whose
        // slots passed while they waited for permits.
        let wait = self.store.host_slot(self.run, key, interval).await?;
        tokio::time::sleep(wait).await;
        Ok(permit)
    }

    /// Checks and fetches `url`, following redirects hop by hop; each hop is checked for scope,
    /// robots.txt and budgets. Returns the final URL and response.
    async fn fetch_checked(
        &self,
        url: &Url,
        kind: Kind,
        depth: u32,
        etag: Option<&str>,
    ) -> Result<(Url, Response), Skip> {
        let limits = &self.profile.limits;
        let max_bytes = if kind == Kind::Page {
            limits.max_page_bytes
        } else {
            limits.max_image_bytes
        };
        let mut current = url.clone();
        let mut visited = HashSet::new();
        for _hop in 0..=limits.max_redirects {
            if !visited.insert(current.clone()) {
                return Err(Skip::Failed("redirect loop".into()));
            }
            if !self.profile.host_allowed(&current) || self.profile.is_denied(&current) {
                return Err(Skip::OutOfScope);
            }
            let robots = self.robots_for(&current).await;
            let path = match current.query() {
                Some(q) => format!("{}?{q}", current.path()),
                None => current.path().to_string(),
            };
            if !robots.allowed(&path) {
                return Err(Skip::Robots);
            }
            if Instant::now() >= self.deadline {
                self.exhaust("time");
                return Err(Skip::Budget);
            }
            let (counter, budget, name) = match kind {
                Kind::Page => (&self.counters.pages, limits.max_pages, "pages"),
                Kind::Image => (&self.counters.images, limits.max_images, "images"),
            };
            if counter.fetch_add(1, Ordering::Relaxed) >= budget {
                counter.fetch_sub(1, Ordering::Relaxed);
                self.exhaust(name);
                return Err(Skip::Budget);
            }
            let host = host_key(&current);
            let _permit = self
                .wait_turn(&host, robots.crawl_delay)
                .await
                .map_err(|e| Skip::Failed(format!("store: {e}")))?;
            let fetched = self
                .fetcher
                .get_paced(&current, max_bytes, etag, || {
                    self.retry_turn(&host, robots.crawl_delay)
                })
                .await;
            match fetched {
                Ok(Fetched::Done(r)) => return Ok((current, r)),
                Ok(Fetched::NotModified) => return Err(Skip::NotModified),
                Ok(Fetched::Redirect(_, target)) => {
                    current = canonicalise(target)
                        .map_err(|_| Skip::Failed("redirect to unusable URL".into()))?;
                    // A page redirecting to a page already in the frontier (or back to itself)
                    // is fetched there, once; a new one is recorded as done (it is read here).
                    if kind == Kind::Page {
                        match self
                            .store
                            .enqueue_in_state(self.run, current.as_str(), depth, "done")
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => return Err(Skip::OutOfScope),
                            Err(e) => return Err(Skip::Failed(format!("store: {e}"))),
                        }
                    }
                }
                Err(FetchError::TooLarge(_)) => return Err(Skip::Failed("too large".into())),
                Err(FetchError::Timeout) => return Err(Skip::Failed("timeout".into())),
                Err(FetchError::PrivateAddress(_)) => {
                    return Err(Skip::Failed("private address".into()));
                }
                Err(e) => {
                    return Err(Skip::Failed(format!(
                        "network: {}",
                        e.to_string().chars().take(60).collect::<String>()
                    )));
                }
            }
        }
        Err(Skip::Failed("too many redirects".into()))
    }
}

fn looks_like_html(r: &Response) -> bool {
    let ct = r.header("content-type").unwrap_or("").to_ascii_lowercase();
    if ct.contains("html") || ct.contains("xml") {
        return true;
    }
    let head: String = String::from_utf8_lossy(&r.body[..r.body.len().min(512)])
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    ct.is_empty() && (head.starts_with("<!doctype html") || head.starts_with("<html"))
}

/// A page whose images are being processed (kept for its evidence record).
struct PageEvidence {
    url: Url,
    response: Response,
    listing: Listing,
    warc_offset: tokio::sync::Mutex<Option<u64>>,
}

struct PageOutcome {
    url: Url,
    depth: u32,
    links: Vec<Url>,
    state: &'static str,
}

async fn process_page(ctx: Arc<Ctx>, worker: Arc<Worker>, url: Url, depth: u32) -> PageOutcome {
    let mut out = PageOutcome {
        url: url.clone(),
        depth,
        links: Vec::new(),
        state: "done",
    };
    let (final_url, resp) = match ctx.fetch_checked(&url, Kind::Page, depth, None).await {
        Ok(ok) => ok,
        Err(skip) => {
            out.state = match skip {
                Skip::Robots => {
                    ctx.counters.robots_blocked.fetch_add(1, Ordering::Relaxed);
                    "skipped"
                }
                Skip::OutOfScope | Skip::NotModified => "skipped",
                Skip::Budget => "queued",
                Skip::Failed(kind) => {
                    ctx.error(kind);
                    "failed"
                }
            };
            return out;
        }
    };
    // A redirect that landed on a page new to this run recorded it as done in fetch_checked.
    let url = final_url;
    if resp.status != 200 {
        ctx.error(format!("status {}", resp.status));
        out.state = "failed";
        return out;
    }
    if !looks_like_html(&resp) {
        ctx.error("not html");
        out.state = "failed";
        return out;
    }
    let sha = hex::encode(Sha256::digest(&resp.body));
    let unchanged = matches!(
        ctx.store.seen(SeenTable::Page, url.as_str()).await,
        Ok(Some(s)) if s.sha256 == sha && s.catalog_gen == ctx.catalog_gen
    );
    let html = String::from_utf8_lossy(&resp.body).into_owned();
    let extracted = extract(&html, &url, &ctx.profile.selectors);
    if ctx.profile.should_follow(&url) {
        out.links = extracted.links;
    }
    if unchanged {
        ctx.counters.unchanged.fetch_add(1, Ordering::Relaxed);
    } else if ctx.profile.is_listing(&url) && !extracted.listing.images.is_empty() {
        let page = Arc::new(PageEvidence {
            url: url.clone(),
            response: resp,
            listing: extracted.listing,
            warc_offset: tokio::sync::Mutex::new(None),
        });
        for image in page.listing.images.clone() {
            if !process_image(&ctx, &worker, &page, &image).await {
                out.state = "queued"; // budget ran out mid-page: not done
                return out;
            }
        }
    }
    if let Err(e) = ctx
        .store
        .record_seen(
            SeenTable::Page,
            url.as_str(),
            &Seen {
                sha256: sha,
                etag: None,
                catalog_gen: ctx.catalog_gen,
                hit: false,
            },
        )
        .await
    {
        ctx.error(format!("store: {e}"));
    }
    out
}

/// Fetches, fingerprints and matches one image; false when a budget stopped it.
async fn process_image(
    ctx: &Arc<Ctx>,
    worker: &Worker,
    page: &Arc<PageEvidence>,
    url: &Url,
) -> bool {
    let seen = ctx
        .store
        .seen(SeenTable::Image, url.as_str())
        .await
        .ok()
        .flatten();
    // An image that matched before is fetched again for every page showing it (each listing
    // needs its own evidence); one that did not is skipped while unchanged.
    let reusable = seen
        .as_ref()
        .filter(|s| s.catalog_gen == ctx.catalog_gen && !s.hit);
    let etag = reusable.and_then(|s| s.etag.clone());
    let (_, resp) = match ctx
        .fetch_checked(url, Kind::Image, 0, etag.as_deref())
        .await
    {
        Ok(ok) => ok,
        Err(Skip::Budget) => return false,
        Err(Skip::NotModified) => {
            ctx.counters.unchanged.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        Err(Skip::Robots) => {
            ctx.counters.robots_blocked.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        Err(Skip::OutOfScope) => return true,
        Err(Skip::Failed(kind)) => {
            ctx.error(format!("image {kind}"));
            return true;
        }
    };
    if resp.status != 200 {
        ctx.error(format!("image status {}", resp.status));
        return true;
    }
    let sha = hex::encode(Sha256::digest(&resp.body));
    if reusable.is_some_and(|s| s.sha256 == sha) {
        ctx.counters.unchanged.fetch_add(1, Ordering::Relaxed);
        return true;
    }
    let max_pixels = ctx.profile.limits.max_image_pixels;
    // Reserve the decoded size in the crawl's decode budget before decoding (the header says
    // how large it will be); held until the pixels are hashed and dropped.
    let _reserved = match crate::hash::dimensions(&resp.body) {
        Ok((w, h)) if u64::from(w) * u64::from(h) <= max_pixels => {
            match ctx.decode_budget.reserve(decoded_bytes(w, h)).await {
                Ok(permit) => Some(permit),
                Err(_) => {
                    ctx.error("image over decode budget");
                    return true;
                }
            }
        }
        // Too many pixels, or no readable header: decode_limited below says which.
        _ => None,
    };
    let body = resp.body.clone();
    let decoder = ctx.decoder.clone();
    let analysed = tokio::task::spawn_blocking(move || {
        let img = decode_limited(&body, max_pixels)?;
        let fp = fingerprint(&img);
        let rgba = img.to_rgba8();
        let wm = decoder.decode(rgba.as_raw(), rgba.width(), rgba.height());
        Ok::<_, crate::hash::ImageError>((fp, wm))
    })
    .await;
    let (fp, wm) = match analysed {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            let kind = match e {
                crate::hash::ImageError::NotAnImage(_) => "image not an image",
                crate::hash::ImageError::TooLarge { .. } => "image too many pixels",
                crate::hash::ImageError::TooSmall(..) => "image too small",
                _ => "image decode",
            };
            ctx.error(kind);
            return true;
        }
        Err(_) => {
            ctx.error("image decoder panicked");
            return true;
        }
    };
    let found = ctx.matcher.best(&fp);
    let hit = found.is_some() || wm.is_some();
    if hit && let Err(e) = store_hit(ctx, worker, page, url, &resp, &sha, found, wm).await {
        ctx.error(format!("store: {e}"));
        return true;
    }
    let etag = resp.header("etag").map(str::to_string);
    if let Err(e) = ctx
        .store
        .record_seen(
            SeenTable::Image,
            url.as_str(),
            &Seen {
                sha256: sha,
                etag,
                catalog_gen: ctx.catalog_gen,
                hit,
            },
        )
        .await
    {
        ctx.error(format!("store: {e}"));
    }
    true
}

#[allow(clippy::too_many_arguments)]
async fn store_hit(
    ctx: &Arc<Ctx>,
    worker: &Worker,
    page: &Arc<PageEvidence>,
    url: &Url,
    resp: &Response,
    sha: &str,
    found: Option<crate::matcher::Match>,
    wm: Option<crate::watermark::DecodedWatermark>,
) -> anyhow::Result<()> {
    let (warc_file, page_offset, image_offset) = {
        let mut guard = worker.warc.lock().await;
        if guard.is_none() {
            *guard = Some(if worker.run_file {
                ctx.store.warc_writer(ctx.run)?
            } else {
                ctx.store.worker_warc_writer(ctx.run, &worker.id)?
            });
        }
        let w = guard.as_mut().expect("just opened");
        let mut page_off = page.warc_offset.lock().await;
        if page_off.is_none() {
            let r = &page.response;
            *page_off = Some(w.write_response(&HttpRecord {
                url: page.url.as_str(),
                fetched_at: &r.fetched_at,
                status: r.status,
                headers: &r.headers,
                body: &r.body,
            })?);
        }
        let img_off = w.write_response(&HttpRecord {
            url: url.as_str(),
            fetched_at: &resp.fetched_at,
            status: resp.status,
            headers: &resp.headers,
            body: &resp.body,
        })?;
        (w.relative_path().to_owned(), *page_off, img_off)
    };
    let headers: serde_json::Map<String, serde_json::Value> = resp
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let hit = HitRecord {
        marketplace: ctx.profile.name.clone(),
        page_url: page.url.to_string(),
        image_url: url.to_string(),
        image_sha256: sha.to_string(),
        fetched_at: resp.fetched_at.clone(),
        http_status: resp.status,
        http_headers: serde_json::Value::Object(headers),
        listing_title: page.listing.title.clone(),
        listing_price: page.listing.price.clone(),
        listing_seller: page.listing.seller.clone(),
        reference_id: found.as_ref().map(|m| m.reference_id),
        sku: found.as_ref().map(|m| m.sku.clone()),
        hash_kind: found.as_ref().map(|m| m.hash_kind.to_string()),
        distance: found.as_ref().map(|m| i64::from(m.distance)),
        transform: found.as_ref().map(|m| m.transform.to_string()),
        window: found.as_ref().map(|m| m.window.clone()),
        watermark_session: wm.map(|w| w.session),
        warc_file,
        warc_page_offset: page_offset.map(i64::try_from).transpose()?,
        warc_image_offset: i64::try_from(image_offset)?,
    };
    if ctx.store.insert_hit(ctx.run, &hit).await? {
        ctx.counters.hits.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Crawls one marketplace with `options.workers` worker loops, resuming its interrupted run if
/// there is one, or (`options.join`) joining the run another process is crawling.
pub async fn crawl(
    profile: SiteProfile,
    store: Store,
    options: CrawlOptions,
) -> anyhow::Result<CrawlReport> {
    let started = Instant::now();
    let (run, resumed) = if options.join {
        let run = store.running_run(&profile.name).await?.ok_or_else(|| {
            anyhow::anyhow!(
                "no crawl of profile {:?} is running to join; start one with `veilmark crawl --profile …` (without --join)",
                profile.name
            )
        })?;
        (run, true)
    } else {
        store.resume_or_start_run(&profile.name).await?
    };
    let matcher = Matcher::new(&store.references().await?, options.thresholds);
    let catalog_gen = store.catalog_generation().await?;
    let limits = profile.limits.clone();
    let fetcher = Fetcher::new(
        &profile.user_agent,
        limits.timeout(),
        limits.retries,
        Duration::from_millis(limits.backoff_ms),
        profile.allow_private_addresses,
    )?;
    let (machine, node) = node_id();
    let hold = limits.timeout() * (limits.retries + 1)
        + Duration::from_millis(
            limits
                .backoff_ms
                .saturating_mul(1 << limits.retries.min(16)),
        )
        + Duration::from_secs(5);
    let ctx = Arc::new(Ctx {
        interval: Duration::from_secs_f64(1.0 / limits.requests_per_second),
        deadline: started + Duration::from_secs(limits.max_seconds),
        profile,
        store: store.clone(),
        fetcher,
        matcher,
        decoder: options.decoder,
        run,
        catalog_gen,
        counters: Counters::default(),
        error_kinds: Mutex::default(),
        exhausted: Mutex::default(),
        robots: Mutex::default(),
        node,
        lease: options.lease.max(Duration::from_millis(300)),
        hold,
        decode_budget: DecodeBudget::new(limits.max_decode_bytes),
    });

    // What dead processes of this machine held (a crawl killed and started again) is given
    // back now rather than when it expires. Other machines' holds always wait for expiry.
    for holder in store.lease_holders(run).await? {
        if let Some(prefix) = dead_local_holder(&holder, &machine) {
            store.release_holder(run, &prefix).await?;
        }
    }
    // Seeds already in the run's frontier are left as they are (enqueue ignores them).
    if !options.join {
        for seed in &ctx.profile.seeds {
            let Ok(u) = Url::parse(seed)
                .map_err(|_| ())
                .and_then(|u| canonicalise(u).map_err(|_| ()))
            else {
                continue;
            };
            store.enqueue(run, u.as_str(), 0).await?;
        }
    }

    let on_progress: Arc<Option<ProgressFn>> = Arc::new(options.on_progress);
    let mut loops = tokio::task::JoinSet::new();
    for i in 0..options.workers.max(1) {
        let worker = Arc::new(Worker {
            id: format!("{}w{i}", ctx.node),
            run_file: i == 0 && !resumed,
            warc: tokio::sync::Mutex::new(None),
        });
        loops.spawn(work(ctx.clone(), worker, on_progress.clone()));
    }
    let mut window_peak = 0usize;
    let mut failure = None;
    while let Some(done) = loops.join_next().await {
        match done {
            Ok(Ok(peak)) => window_peak = window_peak.max(peak),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(anyhow::anyhow!("crawl worker failed: {e}"));
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }

    let exhausted = ctx.exhausted.lock().expect("poisoned").clone();
    let queued = store.queued_count(run).await?;
    let progress = ctx.progress(queued);
    // A run stopped by a budget is finished too: the next crawl starts afresh (and skips what
    // did not change). Only a crash or kill leaves a run 'running' to resume. With several
    // processes, each adds its counters when it finds the frontier empty.
    if exhausted.is_some() || queued == 0 {
        store
            .finish_run(run, progress.pages, progress.images)
            .await?;
    }
    Ok(CrawlReport {
        run_id: run,
        resumed,
        errors: ctx.error_kinds.lock().expect("poisoned").clone(),
        progress,
        budget_exhausted: exhausted,
        frontier_window_peak: window_peak as u64,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// One worker loop: leases queued frontier entries, crawls them at most `max_concurrency` at
/// a time, queues the links found and marks each page finished; renews its leases while it
/// works. Ends when the run's frontier has nothing queued (leased by anyone), when a budget
/// stops the crawl, or when another process finished the run. Returns the most frontier
/// entries it held at once.
async fn work(
    ctx: Arc<Ctx>,
    worker: Arc<Worker>,
    on_progress: Arc<Option<ProgressFn>>,
) -> anyhow::Result<usize> {
    let store = ctx.store.clone();
    let run = ctx.run;
    let limits = ctx.profile.limits.clone();
    let window_cap = limits.max_frontier_in_memory.max(1);
    let renew_every = ctx.lease / 3;
    let mut renew_at = Instant::now() + renew_every;
    let mut leased: VecDeque<FrontierEntry> = VecDeque::new();
    let mut peak = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    let result = async {
        loop {
            if Instant::now() >= renew_at {
                store.renew_leases(run, &worker.id, ctx.lease).await?;
                renew_at = Instant::now() + renew_every;
            }
            let stop = ctx.exhausted.lock().expect("poisoned").is_some();
            if !stop && leased.is_empty() && tasks.len() < limits.max_concurrency {
                let room = (limits.max_concurrency - tasks.len())
                    .min(window_cap.saturating_sub(tasks.len()))
                    .max(1);
                let got = store
                    .lease_frontier(
                        run,
                        &worker.id,
                        u32::try_from(room).unwrap_or(u32::MAX),
                        ctx.lease,
                    )
                    .await?;
                leased.extend(got);
                peak = peak.max(leased.len() + tasks.len());
            }
            while !stop && tasks.len() < limits.max_concurrency {
                let Some(entry) = leased.pop_front() else {
                    break;
                };
                match Url::parse(&entry.url) {
                    Ok(u) => {
                        tasks.spawn(process_page(ctx.clone(), worker.clone(), u, entry.depth));
                    }
                    Err(_) => {
                        store
                            .complete_leased(run, &worker.id, &entry.url, "failed")
                            .await?;
                    }
                }
            }
            if tasks.is_empty() {
                if stop {
                    break;
                }
                if leased.is_empty() {
                    // Nothing free: done if nothing is queued at all (or another process
                    // finished the run); else other workers hold leases, and their links or
                    // their expired leases come to us.
                    if store.queued_count(run).await? == 0
                        || store.running_run(&ctx.profile.name).await? != Some(run)
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100).min(renew_every)).await;
                }
                continue;
            }
            let done = tokio::select! {
                done = tasks.join_next() => done,
                () = tokio::time::sleep_until(renew_at.into()) => continue,
            };
            let Some(done) = done else { continue };
            let outcome = match done {
                Ok(o) => o,
                Err(e) => {
                    // Its lease runs out and another worker (or a later crawl) takes the page.
                    ctx.error(format!("task failed: {e}"));
                    continue;
                }
            };
            // Links are queued durably before the page is marked done: a worker killed
            // between the two must leave the links to find, or the pages behind them (and
            // their hits) are lost. The store's frontier is the one record of what was seen:
            // a link already in it is not queued again.
            let next_depth = outcome.depth + 1;
            if next_depth <= limits.max_depth {
                for link in outcome.links {
                    if !ctx.profile.host_allowed(&link) || ctx.profile.is_denied(&link) {
                        continue;
                    }
                    store.enqueue(run, link.as_str(), next_depth).await?;
                }
            }
            // `queued` (a budget stopped it) gives the lease back for the next crawl.
            store
                .complete_leased(run, &worker.id, outcome.url.as_str(), outcome.state)
                .await?;
            if let Some(cb) = on_progress.as_ref() {
                cb(&ctx.progress(store.queued_count(run).await?));
            }
        }
        anyhow::Ok(())
    }
    .await;
    // Whatever this worker still holds (a budget stopped it, or the store failed) goes back.
    tasks.shutdown().await;
    let released = store.release_leases(run, &worker.id).await;
    result?;
    released?;
    Ok(peak)
}

/// This machine's name and this process's id in the store: `machine:pid:nonce:` (worker ids
/// append `w0`, `w1`, …). The nonce tells apart two crawls one process made in turn.
fn node_id() -> (String, String) {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace(':', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    static CRAWLS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let node = format!(
        "{machine}:{}:{}-{nanos:x}:",
        std::process::id(),
        CRAWLS.fetch_add(1, Ordering::Relaxed)
    );
    (machine, node)
}

/// The prefix to release for `holder` if it is a crawl of this machine that is gone: a
/// process that no longer runs, or an earlier crawl of this very process (it was dropped, or
/// it would not have let a new one start on its run).
fn dead_local_holder(holder: &str, machine: &str) -> Option<String> {
    let mut parts = holder.split(':');
    let (m, pid, nonce) = (parts.next()?, parts.next()?, parts.next()?);
    if m != machine {
        return None;
    }
    let pid_n: u32 = pid.parse().ok()?;
    if pid_n == std::process::id() {
        return Some(format!("{m}:{pid}:{nonce}:"));
    }
    (!std::path::Path::new(&format!("/proc/{pid_n}")).exists()).then(|| format!("{m}:{pid}:"))
}
