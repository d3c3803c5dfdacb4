//! End to end: crawl the small fixture marketplace and check every promise of issue 7.

use crate::common;

use std::collections::{BTreeMap, HashMap, HashSet};

use std::sync::Arc;

use serde_json::Value;
use veilmark_crawler::crawl::{CrawlOptions, crawl};
use veilmark_crawler::profile::SiteProfile;
use veilmark_crawler::watermark::ForensicDecoder;
use veilmark_crawler_fixture::FIXTURE_WATERMARK_KEY;
use veilmark_store::{DataDir, Evidence as Store};

fn profile(
    fixture: &std::path::Path,
    server: &common::Server,
    max_pages: u32,
    max_images: u32,
) -> SiteProfile {
    let text = std::fs::read_to_string(fixture.join("profile.toml.in"))
        .unwrap()
        .replace("@BASE@", &server.base)
        .replace("@HOSTPORT@", &server.host_port)
        .replace("@MAX_PAGES@", &max_pages.to_string())
        .replace("@MAX_IMAGES@", &max_images.to_string());
    SiteProfile::from_toml(&text).unwrap()
}

async fn catalog(store: &Store, fixture: &std::path::Path, gt: &Value) {
    for r in gt["references"].as_array().unwrap() {
        let path = fixture.join(r["file"].as_str().unwrap());
        veilmark_crawler::catalog::add_files(store, &[path], r["sku"].as_str().unwrap(), None)
            .await
            .unwrap();
    }
}

/// (page path, image path) → (planted SKU, variant, hard), for listings the crawler may fetch.
type Planted = HashMap<(String, String), (String, String, bool)>;

fn planted(gt: &Value) -> (Planted, HashSet<String>) {
    let mut want = HashMap::new();
    let mut forbidden_pages = HashSet::new();
    let extra = gt["extra_pages"].as_array().unwrap();
    for l in gt["listings"].as_array().unwrap().iter().chain(extra) {
        let page = l["url"].as_str().unwrap().to_string();
        if l["robots_forbidden"].as_bool().unwrap() {
            forbidden_pages.insert(page);
            continue;
        }
        for i in l["images"].as_array().unwrap() {
            if let Some(sku) = i["sku"].as_str() {
                want.insert(
                    (page.clone(), i["url"].as_str().unwrap().to_string()),
                    (
                        sku.to_string(),
                        i["variant"].as_str().unwrap().to_string(),
                        i["hard"].as_bool().unwrap_or(false),
                    ),
                );
            }
        }
    }
    (want, forbidden_pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_finds_every_planted_knockoff_politely() {
    let fixture = common::fixture("small", 80, 8);
    let gt: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("ground_truth.json")).unwrap())
            .unwrap();
    let server = common::serve(fixture.join("site")).await;
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(
        &DataDir::new(data.path()),
        veilmark_store::tenancy::DEFAULT_ORG,
    )
    .await
    .unwrap();
    catalog(&store, &fixture, &gt).await;

    let p = profile(&fixture, &server, 400, 2000);
    let options = || CrawlOptions {
        decoder: Arc::new(ForensicDecoder::new(FIXTURE_WATERMARK_KEY)),
        ..CrawlOptions::default()
    };
    let report = crawl(p.clone(), store.clone(), options()).await.unwrap();
    eprintln!("report: {}", serde_json::to_string_pretty(&report).unwrap());
    assert!(!report.resumed);
    assert_eq!(
        report.budget_exhausted, None,
        "the small fixture fits the budgets"
    );

    // Precision and recall per variant.
    let (want, forbidden_pages) = planted(&gt);
    let hits = store.hits(&p.name).await.unwrap();
    let strip = |u: &str| u.strip_prefix(&server.base).unwrap_or(u).to_string();
    let mut found: HashSet<(String, String)> = HashSet::new();
    let mut false_pos = Vec::new();
    let mut leaks_found = HashMap::new();
    for h in &hits {
        if h.reference_id.is_none() {
            let code = h
                .watermark_session
                .clone()
                .expect("a hit without a reference is a leak");
            leaks_found.insert((strip(&h.page_url), strip(&h.image_url)), code);
            continue;
        }
        let key = (strip(&h.page_url), strip(&h.image_url));
        match want.get(&key) {
            Some((sku, ..)) if h.sku.as_deref() == Some(sku) => {
                found.insert(key);
            }
            _ => false_pos.push((
                key,
                h.sku.clone(),
                h.distance,
                h.window.clone(),
                h.hash_kind.clone(),
            )),
        }
    }
    let mut per_variant: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for (key, (_, variant, _)) in &want {
        let e = per_variant.entry(variant.clone()).or_default();
        e.1 += 1;
        if found.contains(key) {
            e.0 += 1;
        }
    }
    eprintln!("variant      recall");
    for (v, (f, t)) in &per_variant {
        eprintln!("{v:<12} {f}/{t}");
    }
    let precision = found.len() as f64 / (found.len() + false_pos.len()).max(1) as f64;
    eprintln!(
        "precision {precision:.3} ({} true, {} false: {false_pos:?})",
        found.len(),
        false_pos.len()
    );
    // Hard variants (heavy crops, big overlays, small products on new backgrounds) are
    // reported above, not required: they measure where global hashes stop working.
    let missed: Vec<_> = want
        .iter()
        .filter(|(k, (_, _, hard))| !hard && !found.contains(*k))
        .collect();
    let mild = want.values().filter(|(_, _, hard)| !hard).count();
    let mild_recall = 1.0 - missed.len() as f64 / mild.max(1) as f64;
    eprintln!("mild recall {mild_recall:.3}, missed: {missed:?}");
    // Known weakness: a trimmed copy of a reference with large flat areas (the sky of
    // `camera`) can miss, because its crop windows are too flat to hash (see docs/crawler.md).
    assert!(mild_recall >= 0.9, "missed planted knock-offs: {missed:?}");
    assert!(false_pos.is_empty(), "false positives: {false_pos:?}");

    // Planted leaks: watermarked screenshots, every one found by the forensic decoder with its
    // exact session code, stored without a reference.
    let leaks: HashMap<(String, String), String> = gt["listings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["robots_forbidden"].as_bool().unwrap())
        .flat_map(|l| {
            l["images"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i.get("watermark_session").is_some())
                .map(move |i| {
                    (
                        (
                            l["url"].as_str().unwrap().to_string(),
                            i["url"].as_str().unwrap().to_string(),
                        ),
                        i["watermark_session"].as_str().unwrap().to_string(),
                    )
                })
        })
        .collect();
    assert!(!leaks.is_empty(), "the fixture plants leaks");
    assert_eq!(leaks_found, leaks, "planted leaks");

    // Evidence: every hit points at WARC records holding the page and the exact image bytes.
    for h in &hits {
        let image = store
            .warc_record(&h.warc_file, h.warc_image_offset)
            .unwrap();
        assert!(
            image
                .header
                .contains(&format!("WARC-Target-URI: {}", h.image_url))
        );
        let body = image.http_body();
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)),
            h.image_sha256
        );
        let page = store
            .warc_record(&h.warc_file, h.warc_page_offset.unwrap())
            .unwrap();
        assert!(
            page.header
                .contains(&format!("WARC-Target-URI: {}", h.page_url))
        );
        assert_eq!(h.http_status, 200);
        assert!(h.listing_title.is_some(), "{h:?}");
        if h.page_url.contains("/item/") {
            assert!(
                h.listing_seller.is_some() && h.listing_price.is_some(),
                "{h:?}"
            );
        }
    }

    // Politeness and traps.
    let requests = server.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("/private/") || r.contains("sort=")),
        "robots.txt was ignored"
    );
    assert!(forbidden_pages.iter().all(|p| !requests.contains(p)));
    let calendar = requests
        .iter()
        .filter(|r| r.starts_with("/calendar/"))
        .count();
    assert!(calendar <= 13, "calendar trap fetched {calendar} pages");
    let trap = requests.iter().filter(|r| r.starts_with("/trap/")).count();
    assert!(trap <= 6, "relative-path trap fetched {trap} pages");
    let loops = requests.iter().filter(|r| r.starts_with("/loop/")).count();
    assert!(loops <= 3, "redirect loop followed {loops} times");
    assert!(
        requests.iter().filter(|r| *r == "/flaky/once.html").count() == 2,
        "a 503 is retried once"
    );
    assert!(requests.iter().filter(|r| *r == "/robots.txt").count() == 1);
    let mut unique = HashSet::new();
    let dup: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.ends_with(".html")
                && !r.starts_with("/flaky/")
                && !r.starts_with("/slow/")
                && !unique.insert(*r)
        })
        .collect();
    assert!(dup.is_empty(), "pages fetched twice: {dup:?}");
    for kind in [
        "image decode",
        "image not an image",
        "image too many pixels",
        "image too large",
        "timeout",
        "status 404",
        "status 500",
        "too large",
    ] {
        assert!(
            report.errors.keys().any(|k| k.contains(kind)),
            "expected a {kind:?} failure, got {:?}",
            report.errors
        );
    }

    // Re-crawl: unchanged pages are not re-processed, no hit is duplicated.
    let before = hits.len();
    let again = crawl(p.clone(), store.clone(), options()).await.unwrap();
    assert_eq!(
        again.progress.images, 0,
        "unchanged listings re-fetched images: {again:?}"
    );
    assert_eq!(again.progress.hits, 0);
    assert_eq!(store.hits(&p.name).await.unwrap().len(), before);

    // Export.
    let out = data.path().join("hits.jsonl");
    let n = veilmark_crawler::catalog::export_hits(&store, &p.name, &out)
        .await
        .unwrap();
    assert_eq!(n, before);
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    for field in [
        "page_url",
        "image_url",
        "image_sha256",
        "fetched_at",
        "marketplace",
        "listing_title",
        "reference_id",
        "distance",
        "watermark_session",
        "warc_file",
    ] {
        assert!(first.get(field).is_some(), "export lacks {field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_hold_and_an_interrupted_crawl_resumes_without_duplicates() {
    let fixture = common::fixture("small", 80, 8);
    let gt: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("ground_truth.json")).unwrap())
            .unwrap();
    let server = common::serve(fixture.join("site")).await;
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(
        &DataDir::new(data.path()),
        veilmark_store::tenancy::DEFAULT_ORG,
    )
    .await
    .unwrap();
    catalog(&store, &fixture, &gt).await;

    // Page budget.
    let mut small = profile(&fixture, &server, 12, 2000);
    small.name = "budget".into();
    // Its own database: pages seen by this run would otherwise count as unchanged below.
    let budget_data = tempfile::tempdir().unwrap();
    let budget_store = Store::open(
        &DataDir::new(budget_data.path()),
        veilmark_store::tenancy::DEFAULT_ORG,
    )
    .await
    .unwrap();
    catalog(&budget_store, &fixture, &gt).await;
    let r = crawl(small, budget_store, CrawlOptions::default())
        .await
        .unwrap();
    assert_eq!(r.budget_exhausted.as_deref(), Some("pages"));
    assert!(r.progress.pages <= 12);
    let html_requests = server
        .requests()
        .iter()
        .filter(|r| r.ends_with(".html") || r.ends_with('/'))
        .count();
    assert!(
        html_requests <= 12 + 1,
        "{html_requests} page requests for a budget of 12"
    );

    // Rate limit: at 20 requests per second to one host, n requests take at least (n - 1) / 20 s.
    let paced_data = tempfile::tempdir().unwrap();
    let paced_store = Store::open(
        &DataDir::new(paced_data.path()),
        veilmark_store::tenancy::DEFAULT_ORG,
    )
    .await
    .unwrap();
    // An image budget of its own: with none, the run ends at the first listing page with an
    // image, which, with several pages in flight, can come before ten requests.
    let mut paced = profile(&fixture, &server, 14, 20);
    paced.name = "paced".into();
    paced.limits.requests_per_second = 20.0;
    let before = server.requests().len();
    let r = crawl(paced, paced_store, CrawlOptions::default())
        .await
        .unwrap();
    let n = server.requests().len() - before;
    assert!(n >= 10, "{n} requests; {r:?}");
    assert!(
        r.elapsed_ms as f64 >= (n - 1) as f64 * 50.0 * 0.95,
        "{n} requests in {} ms at 20/s",
        r.elapsed_ms
    );

    // Time budget: nothing new starts after max_seconds.
    let timed_data = tempfile::tempdir().unwrap();
    let timed_store = Store::open(
        &DataDir::new(timed_data.path()),
        veilmark_store::tenancy::DEFAULT_ORG,
    )
    .await
    .unwrap();
    let mut timed = profile(&fixture, &server, 400, 2000);
    timed.name = "timed".into();
    timed.limits.max_seconds = 1;
    timed.limits.requests_per_second = 25.0;
    let r = crawl(timed, timed_store, CrawlOptions::default())
        .await
        .unwrap();
    assert_eq!(r.budget_exhausted.as_deref(), Some("time"));
    assert!(
        r.elapsed_ms < 6000,
        "in-flight requests outlived the budget: {} ms",
        r.elapsed_ms
    );

    // Kill mid-crawl (the future is dropped at an arbitrary await point), then resume.
    let p = profile(&fixture, &server, 400, 2000);
    let store2 = store.clone();
    let p2 = p.clone();
    let task = tokio::spawn(async move { crawl(p2, store2, CrawlOptions::default()).await });
    while store.hits(&p.name).await.unwrap().is_empty() {
        assert!(!task.is_finished(), "crawl ended before the first hit");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    task.abort();
    let _ = task.await;
    let partial = store.hits(&p.name).await.unwrap().len();
    let resumed = crawl(p.clone(), store.clone(), CrawlOptions::default())
        .await
        .unwrap();
    assert!(resumed.resumed, "the killed run is resumed");
    let hits = store.hits(&p.name).await.unwrap();
    let (want, _) = planted(&gt);
    let keys: HashSet<_> = hits
        .iter()
        .map(|h| (h.page_url.clone(), h.image_sha256.clone(), h.reference_id))
        .collect();
    assert_eq!(keys.len(), hits.len(), "duplicate hits after resume");
    eprintln!(
        "hits before kill {partial}, after resume {} of {} planted",
        hits.len(),
        want.len()
    );
    let required = want.values().filter(|(_, _, hard)| !hard).count();
    assert!(
        hits.len() >= required,
        "resume lost hits: {} < {required}",
        hits.len()
    );
}
