//! Issue 16 row 10: one slow host must not stall the others, the frontier of a large site stays
//! in the store with a bounded window in memory, and image decoding keeps to its memory budget.

use std::path::Path;
use std::time::{Duration, Instant};

use veilmark_crawler::crawl::{CrawlOptions, CrawlReport, crawl};
use veilmark_crawler::profile::SiteProfile;
use veilmark_crawler_fixture::{ServeOptions, Server, serve_with};

fn page(body: &str) -> String {
    format!("<!DOCTYPE html><html><body><h1>p</h1>{body}</body></html>")
}

fn profile(seeds: &[String], hosts: &[&Server], limits: &str) -> SiteProfile {
    let seeds: Vec<String> = seeds.iter().map(|s| format!("\"{s}\"")).collect();
    let hosts: Vec<String> = hosts
        .iter()
        .map(|h| format!("\"{}\"", h.host_port))
        .collect();
    SiteProfile::from_toml(&format!(
        "name = \"limits\"\nseeds = [{}]\nallowed_hosts = [{}]\nallow_private_addresses = true\n[limits]\nrequests_per_second = 1000.0\nretries = 0\ntimeout_seconds = 15\n{limits}\n",
        seeds.join(", "),
        hosts.join(", ")
    ))
    .unwrap()
}

async fn site_server(dir: &Path, options: ServeOptions) -> Server {
    serve_with(dir.to_path_buf(), options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_host_does_not_delay_another_hosts_pages() {
    let slow_dir = tempfile::tempdir().unwrap();
    std::fs::write(slow_dir.path().join("index.html"), page("")).unwrap();
    let fast_dir = tempfile::tempdir().unwrap();
    let links: String = (0..5)
        .map(|i| format!("<a href=\"/p{i}.html\">{i}</a>"))
        .collect();
    std::fs::write(fast_dir.path().join("index.html"), page(&links)).unwrap();
    for i in 0..5 {
        std::fs::write(fast_dir.path().join(format!("p{i}.html")), page("")).unwrap();
    }
    let slow = site_server(
        slow_dir.path(),
        ServeOptions {
            robots_delay: Duration::from_secs(3),
            ..ServeOptions::default()
        },
    )
    .await;
    let fast = site_server(fast_dir.path(), ServeOptions::default()).await;
    let (_data, store) = crate::common::evidence_store().await;
    let p = profile(
        &[format!("{}/", slow.base), format!("{}/", fast.base)],
        &[&slow, &fast],
        "max_concurrency = 4",
    );
    let started = Instant::now();
    let report = crawl(p, store, CrawlOptions::default()).await.unwrap();
    assert_eq!(report.progress.pages, 7, "{report:?}");
    let fast_pages = fast.arrivals();
    assert_eq!(fast_pages.len(), 7, "{fast_pages:?}"); // robots.txt, index, 5 pages
    let last = fast_pages.iter().map(|(t, _)| *t).max().unwrap();
    let took = last.duration_since(started);
    eprintln!(
        "fast host done after {took:?}; whole crawl {:?}",
        started.elapsed()
    );
    assert!(
        took < Duration::from_millis(1500),
        "the fast host waited {took:?} for the slow host's robots.txt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frontier_window_stays_bounded_on_a_large_site() {
    let dir = tempfile::tempdir().unwrap();
    let links: String = (0..2_000)
        .map(|i| format!("<a href=\"/l/{i}.html\">{i}</a>"))
        .collect();
    std::fs::write(dir.path().join("index.html"), page(&links)).unwrap();
    let server = site_server(dir.path(), ServeOptions::default()).await;
    let (_data, store) = crate::common::evidence_store().await;
    let p = profile(
        &[format!("{}/", server.base)],
        &[&server],
        "max_concurrency = 8\nmax_pages = 150\nmax_frontier_in_memory = 40",
    );
    let report: CrawlReport = crawl(p, store.clone(), CrawlOptions::default())
        .await
        .unwrap();
    assert_eq!(report.budget_exhausted.as_deref(), Some("pages"));
    assert_eq!(report.progress.pages, 150);
    assert!(
        report.frontier_window_peak <= 40,
        "{} frontier entries in memory",
        report.frontier_window_peak
    );
    // The rest waits in the store, in order, for the next run.
    let queued = store.queued_count(report.run_id).await.unwrap();
    assert!(queued >= 1_800, "{queued} queued in the store");
    // Pages were fetched in the order they were found (from the store, oldest first).
    for r in server.requests() {
        if let Some(n) = r.strip_prefix("/l/").and_then(|r| r.strip_suffix(".html")) {
            assert!(n.parse::<u32>().unwrap() < 200, "{r} fetched out of order");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_decoding_keeps_to_its_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([
            u8::try_from(x * 4).unwrap(),
            u8::try_from(y * 4).unwrap(),
            90,
        ])
    });
    img.save(dir.path().join("i.png")).unwrap();
    std::fs::write(dir.path().join("index.html"), page("<img src=\"/i.png\">")).unwrap();
    let server = site_server(dir.path(), ServeOptions::default()).await;
    for (budget, refused) in [(4_096u64, 1u64), (1 << 30, 0)] {
        let (_data, store) = crate::common::evidence_store().await;
        let p = profile(
            &[format!("{}/", server.base)],
            &[&server],
            &format!("max_decode_bytes = {budget}"),
        );
        let report = crawl(p, store, CrawlOptions::default()).await.unwrap();
        assert_eq!(report.progress.images, 1, "{report:?}");
        assert_eq!(
            report
                .errors
                .get("image over decode budget")
                .copied()
                .unwrap_or(0),
            refused,
            "budget {budget}: {:?}",
            report.errors
        );
    }
}
