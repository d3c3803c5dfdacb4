//! The crash campaign for crawls: `veilmark crawl` is killed with SIGKILL at random moments and
//! started again on the same data directory, over and over, until a run finishes. After every
//! kill, each hit the store holds must still be there and its evidence readable (the WARC
//! records it points at are whole and carry the image whose SHA-256 the hit names); at the end
//! the interrupted crawl must have found exactly what one uninterrupted crawl finds, the run is
//! finished, every WARC file is whole records from start to end, and no temporary file is left
//! in the data directory.
//!
//! The default test run does a few kills; `cargo xtask crashtest` runs this with more
//! (`VEILMARK_CRAWL_CRASH_KILLS`). `VEILMARK_CRASH_SEED` replays one campaign's kill times.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use veilmark_store::evidence::HitRecord;
use veilmark_store::{DataDir, Evidence};

use crate::crawl_workers::{
    HitKey, add_catalog, finished, fixture, hit_keys, veilmark_crawl, write_profile_at_rate,
};

const MARKETPLACE: &str = "fixture-marketplace";

/// Requests per second in this campaign: fast enough that a crawl lasts a few seconds.
const RATE: f64 = 200.0;

/// xorshift64*: kill times that a seed replays, without a dependency for it.
struct KillClock(u64);

impl KillClock {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % (hi - lo)
    }
}

/// Every hit's WARC records are whole: the image record is a response for the hit's image URL
/// whose body has the hit's SHA-256, and the page record (when there is one) is the listing page.
fn assert_evidence_whole(store: &Evidence, hits: &[HitRecord], after: &str) {
    for h in hits {
        let image = store
            .warc_record(&h.warc_file, h.warc_image_offset)
            .unwrap_or_else(|e| panic!("{after}: image record of {} unreadable: {e}", h.image_url));
        assert!(
            image
                .header
                .contains(&format!("WARC-Target-URI: {}", h.image_url)),
            "{after}: the record at {}:{} is not {}",
            h.warc_file,
            h.warc_image_offset,
            h.image_url
        );
        assert_eq!(
            hex::encode(Sha256::digest(image.http_body())),
            h.image_sha256,
            "{after}: image body of {} differs from its hit",
            h.image_url
        );
        if let Some(offset) = h.warc_page_offset {
            let page = store.warc_record(&h.warc_file, offset).unwrap_or_else(|e| {
                panic!("{after}: page record of {} unreadable: {e}", h.page_url)
            });
            assert!(
                page.header
                    .contains(&format!("WARC-Target-URI: {}", h.page_url)),
                "{after}: the page record of {} is another URL",
                h.page_url
            );
        }
    }
}

/// Every WARC file under `dir` is whole records from its first byte to its last, as a WARC
/// reader that walks the file (not only our offset lookups) needs it.
fn assert_warc_files_whole(dir: &Path) {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("evidence")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "warc") {
            let mut file = std::fs::File::open(&path).unwrap();
            let scan = veilmark_store::warc::scan(&mut file).unwrap();
            let len = file.metadata().unwrap().len();
            assert_eq!(
                scan.whole_end,
                len,
                "{} is not whole records",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no WARC file under {}", dir.display());
}

/// Files under `dir` whose names say they are unfinished writes.
fn temporary_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if name.contains(".tmp") || name.ends_with(".part") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_crawls_loses_no_hit_and_leaves_evidence_whole() {
    let kills: u32 = std::env::var("VEILMARK_CRAWL_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("VEILMARK_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            u64::from(nanos) << 20 | 1
        });
    eprintln!("crawl crash campaign: {kills} kills, VEILMARK_CRASH_SEED={seed}");
    let mut clock = KillClock(seed);
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();

    // The reference: one crawl, never interrupted.
    let clean_server = veilmark_crawler_fixture::serve(fixture.join("site"))
        .await
        .unwrap();
    let clean_data = dir.path().join("clean");
    let clean_store = Evidence::open(&DataDir::new(&clean_data), "default")
        .await
        .unwrap();
    add_catalog(&clean_store, &fixture).await;
    let profile = write_profile_at_rate(&fixture, &clean_server, &clean_data, RATE);
    let started = Instant::now();
    finished(
        veilmark_crawl(&profile, &clean_data, &[]).spawn().unwrap(),
        "the uninterrupted crawl",
    );
    let clean_ms = u64::try_from(started.elapsed().as_millis()).unwrap();
    let clean: BTreeSet<HitKey> = hit_keys(
        &clean_store.hits(MARKETPLACE).await.unwrap(),
        &clean_server.base,
    );
    assert!(clean.len() >= 10, "{} hits", clean.len());

    // The campaign: the same marketplace, killed at random points of its crawl.
    let server = veilmark_crawler_fixture::serve(fixture.join("site"))
        .await
        .unwrap();
    let data = dir.path().join("killed");
    let store = Evidence::open(&DataDir::new(&data), "default")
        .await
        .unwrap();
    add_catalog(&store, &fixture).await;
    let profile = write_profile_at_rate(&fixture, &server, &data, RATE);
    let mut held: Vec<HitRecord> = Vec::new();
    let mut killed = 0u32;
    let mut finished_early = 0u32;
    while killed < kills {
        let mut child = veilmark_crawl(&profile, &data, &[]).spawn().unwrap();
        // Anywhere from start-up (catalog loading, robots.txt) to near the end of a whole crawl.
        let at = clock.next_ms(20, clean_ms.max(200));
        tokio::time::sleep(Duration::from_millis(at)).await;
        if child.try_wait().unwrap().is_some() {
            // The crawl finished before its kill: a fresh run starts next time round.
            finished(child, "a crawl that finished before its kill");
            finished_early += 1;
            assert!(
                finished_early <= 2 * kills + 2,
                "crawls keep finishing before {at} ms: nothing is being interrupted"
            );
        } else {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed += 1;
        }
        let now = store.hits(MARKETPLACE).await.unwrap();
        let after = format!("after kill {killed} at {at} ms");
        for h in &held {
            assert!(
                now.contains(h),
                "{after}: an acknowledged hit is gone: {} {}",
                h.page_url,
                h.image_url
            );
        }
        assert_evidence_whole(&store, &now, &after);
        held = now;
    }

    // Then to the end, and what it found against the uninterrupted crawl.
    let text = finished(
        veilmark_crawl(&profile, &data, &[]).spawn().unwrap(),
        "the crawl after the kills",
    );
    eprintln!(
        "{killed} kills ({finished_early} crawls finished before their kill); last crawl: {text}"
    );
    assert_eq!(store.running_run(MARKETPLACE).await.unwrap(), None);
    let last = store.hits(MARKETPLACE).await.unwrap();
    for h in &held {
        assert!(last.contains(h), "an acknowledged hit is gone at the end");
    }
    assert_evidence_whole(&store, &last, "at the end");
    if finished_early == 0 {
        // Every run was one interrupted run resumed: it must find what the clean crawl found.
        assert_eq!(
            hit_keys(&last, &server.base),
            clean,
            "the killed and resumed crawl found other hits than the uninterrupted one"
        );
    } else {
        // Finished runs started afresh; together they still cover what the clean crawl found.
        let found = hit_keys(&last, &server.base);
        let missing: Vec<_> = clean.difference(&found).collect();
        assert!(missing.is_empty(), "hits never found: {missing:?}");
    }
    assert_warc_files_whole(&data);
    let temporary = temporary_files(&data);
    assert!(temporary.is_empty(), "left behind: {temporary:?}");
}
