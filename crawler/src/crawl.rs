//! The crawl loop: frontier, politeness, budgets, and the page → images → hits pipeline.
//!
//! We use our own small frontier on `reqwest` rather than the `spider` crate: spider follows
//! redirects and schedules requests itself, while Veilmark must check every hop (scope,
//! robots.txt, private addresses), persist the frontier in SQLite for crash-resume, and count
//! budgets exactly; wrapping spider's ~800 KB `website.rs` to do that was more code than this
//! module (see `docs/crawler.md`).
//!
//! Scheduling: at most `max_concurrency` page tasks; each request first waits for its host's
//! next slot (`1 / requests_per_second`, or robots.txt `Crawl-delay` if slower) and a per-host
//! concurrency permit. A page task fetches the page, extracts listing and links, then fetches
//! and matches the listing's images one by one; the page is marked `done` in the frontier only
//! when all of that is stored, so a crash re-does at most the pages in flight.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use url::Url;

use crate::canon::{canonicalise, host_key};
use crate::decode_budget::{DecodeBudget, decoded_bytes};
use crate::extract::{Listing, extract};
use crate::fetch::{FetchError, Fetched, Fetcher, Response};
use crate::hash::{decode_limited, fingerprint};
use crate::matcher::{Matcher, Thresholds};
use crate::profile::SiteProfile;
use crate::robots::Robots;
use crate::robots_fetch::{RobotsAnswer, fetch_robots};
use crate::watermark::{NoDecoder, WatermarkDecoder};
use veilmark_store::Evidence as Store;
use veilmark_store::evidence::{HitRecord, Seen, SeenTable};
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
}

impl Default for CrawlOptions {
    fn default() -> CrawlOptions {
        CrawlOptions {
            thresholds: Thresholds::default(),
            decoder: Arc::new(NoDecoder),
            on_progress: None,
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
    /// Per-host robots.txt state; the map's lock is only held to find a host's slot, and a
    /// host's own lock only by requests to that host, so a slow robots.txt stalls no one else.
    robots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedRobots>>>>>,
    next_slot: Mutex<HashMap<String, Instant>>,
    host_permits: Mutex<HashMap<String, Arc<Semaphore>>>,
    warc: tokio::sync::Mutex<Option<WarcWriter>>,
    /// Memory all concurrent image decodes share (`max_decode_bytes`).
    decode_budget: DecodeBudget,
}

/// A host's robots.txt rules, and when to ask again if it was unreachable.
struct CachedRobots {
    rules: Arc<Robots>,
    retry_at: Option<Instant>,
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

    /// Robots rules of a host, fetching robots.txt on first use, and again once
    /// `robots_retry_seconds` have passed if it was unreachable. Only requests to the same host
    /// wait for a fetch in progress.
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
        let _permit = self.wait_turn(&key, None).await;
        let answer = fetch_robots(&self.fetcher, url, &self.profile.user_agent).await;
        let retry_at = match &answer {
            RobotsAnswer::Unreachable(why) => {
                self.error(format!(
                    "robots.txt unreachable: {}",
                    why.chars().take(60).collect::<String>()
                ));
                Some(Instant::now() + Duration::from_secs(self.profile.limits.robots_retry_seconds))
            }
            _ => None,
        };
        let rules = Arc::new(answer.robots());
        *cached = Some(CachedRobots {
            rules: rules.clone(),
            retry_at,
        });
        rules
    }

    /// Waits for the host's next request slot; returns a concurrency permit for it.
    async fn wait_turn(&self, key: &str, delay: Option<f64>) -> tokio::sync::OwnedSemaphorePermit {
        let interval = match delay {
            Some(d) => self.interval.max(Duration::from_secs_f64(d.min(60.0))),
            None => self.interval,
        };
        let slot = {
            let mut slots = self.next_slot.lock().expect("poisoned");
            let now = Instant::now();
            let slot = slots.get(key).copied().unwrap_or(now).max(now);
            slots.insert(key.to_string(), slot + interval);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
        let sem = self
            .host_permits
            .lock()
            .expect("poisoned")
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Semaphore::new(self.profile.limits.max_concurrency_per_host))
            })
            .clone();
        sem.acquire_owned().await.expect("semaphore never closed")
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
            let _permit = self
                .wait_turn(&host_key(&current), robots.crawl_delay)
                .await;
            match self.fetcher.get(&current, max_bytes, etag).await {
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

async fn process_page(ctx: Arc<Ctx>, url: Url, depth: u32) -> PageOutcome {
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
            if !process_image(&ctx, &page, &image).await {
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
async fn process_image(ctx: &Arc<Ctx>, page: &Arc<PageEvidence>, url: &Url) -> bool {
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
    if hit && let Err(e) = store_hit(ctx, page, url, &resp, &sha, found, wm).await {
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

async fn store_hit(
    ctx: &Arc<Ctx>,
    page: &Arc<PageEvidence>,
    url: &Url,
    resp: &Response,
    sha: &str,
    found: Option<crate::matcher::Match>,
    wm: Option<crate::watermark::DecodedWatermark>,
) -> anyhow::Result<()> {
    let (warc_file, page_offset, image_offset) = {
        let mut guard = ctx.warc.lock().await;
        if guard.is_none() {
            *guard = Some(ctx.store.warc_writer(ctx.run)?);
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

/// Crawls one marketplace, resuming its interrupted run if there is one.
pub async fn crawl(
    profile: SiteProfile,
    store: Store,
    options: CrawlOptions,
) -> anyhow::Result<CrawlReport> {
    let started = Instant::now();
    let (run, resumed) = store.resume_or_start_run(&profile.name).await?;
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
        next_slot: Mutex::default(),
        host_permits: Mutex::default(),
        warc: tokio::sync::Mutex::new(None),
        decode_budget: DecodeBudget::new(limits.max_decode_bytes),
    });

    // The frontier lives in the store; memory holds a window of at most
    // `max_frontier_in_memory` entries, paged in (oldest first) as it drains.
    // Seeds already in a resumed run's frontier are left as they are (enqueue ignores them).
    for seed in &ctx.profile.seeds {
        let Ok(u) = Url::parse(seed)
            .map_err(|_| ())
            .and_then(|u| canonicalise(u).map_err(|_| ()))
        else {
            continue;
        };
        store.enqueue(run, u.as_str(), 0).await?;
    }
    let window_cap = limits.max_frontier_in_memory;
    let mut window: VecDeque<(Url, u32)> = VecDeque::new();
    let mut cursor = 0i64; // position of the last entry paged in
    let mut stored_queued = store.queued_count(run).await?; // queued in the store, not paged in
    let mut window_peak = 0usize;

    let mut tasks = tokio::task::JoinSet::new();
    loop {
        if window.len() < window_cap.div_ceil(2) && stored_queued > 0 {
            let room = u32::try_from(window_cap - window.len()).unwrap_or(u32::MAX);
            let page = store.queued_frontier(run, cursor, room).await?;
            if page.is_empty() {
                stored_queued = 0;
            }
            for entry in page {
                cursor = entry.position;
                stored_queued = stored_queued.saturating_sub(1);
                if let Ok(u) = Url::parse(&entry.url) {
                    window.push_back((u, entry.depth));
                }
            }
            window_peak = window_peak.max(window.len());
        }
        let stop = ctx.exhausted.lock().expect("poisoned").is_some();
        while !stop && tasks.len() < limits.max_concurrency {
            let Some((url, depth)) = window.pop_front() else {
                break;
            };
            tasks.spawn(process_page(ctx.clone(), url, depth));
        }
        let Some(done) = tasks.join_next().await else {
            if stop || (window.is_empty() && stored_queued == 0) {
                break;
            }
            continue;
        };
        let outcome = match done {
            Ok(o) => o,
            Err(e) => {
                ctx.error(format!("task failed: {e}"));
                continue;
            }
        };
        // Links are queued durably before the page is marked done: a crawl killed between the
        // two must find the links on resume, or the pages behind them (and their hits) are lost.
        // The store's frontier is the one record of what was seen: a link already in it is not
        // queued again.
        let next_depth = outcome.depth + 1;
        if next_depth <= limits.max_depth {
            for link in outcome.links {
                if !ctx.profile.host_allowed(&link) || ctx.profile.is_denied(&link) {
                    continue;
                }
                if store.enqueue(run, link.as_str(), next_depth).await? {
                    stored_queued += 1;
                }
            }
        }
        if outcome.state != "queued" {
            store
                .set_frontier_state(run, outcome.url.as_str(), outcome.state)
                .await?;
        }
        if let Some(cb) = &options.on_progress {
            cb(&ctx.progress(window.len() as u64 + stored_queued));
        }
    }

    let exhausted = ctx.exhausted.lock().expect("poisoned").clone();
    let progress = ctx.progress(window.len() as u64 + stored_queued);
    // A run stopped by a budget is finished too: the next crawl starts afresh (and skips what
    // did not change). Only a crash or kill leaves a run 'running' to resume.
    store
        .finish_run(run, progress.pages, progress.images)
        .await?;
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
