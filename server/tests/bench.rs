//! Load benchmark on loopback: 200 concurrent viewers take licences back to back for 5 s, then
//! renew their leases back to back for 10 s. Prints grants and renewals per second with
//! p50/p99 latency. Ignored by default (it measures, it does not check):
//! `cargo test -p veilmark-server --release --test bench -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, relaxed, start};
use serde_json::Value;

const VIEWERS: usize = 200;
const GRANT_FOR: Duration = Duration::from_secs(5);
const RENEW_FOR: Duration = Duration::from_secs(10);

fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

fn report(what: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    println!(
        "{what:<8} {:>6} requests in {:>5.2} s = {:>7.1}/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(&lat, 500).as_secs_f64() * 1e3,
        percentile(&lat, 990).as_secs_f64() * 1e3,
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "load benchmark; run explicitly with --ignored --nocapture"]
async fn bench_200_viewers_renewing_leases() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    let client = common::http_client()
        .pool_max_idle_per_host(VIEWERS)
        .build()
        .unwrap();

    // Phase 1: 200 concurrent viewers take licences back to back for GRANT_FOR.
    let t0 = Instant::now();
    let mut grants = Vec::new();
    for _ in 0..VIEWERS {
        let client = client.clone();
        let url = format!("{}/api/v/{token}/licence", s.base);
        grants.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut renew = String::new();
            while renew.is_empty() || t0.elapsed() < GRANT_FOR {
                let body = TestServer::licence_body(&common::viewer(), None);
                let t = Instant::now();
                let resp = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                let v: Value = resp.json().await.unwrap();
                lat.push(t.elapsed());
                renew = v["urls"]["renew"].as_str().unwrap().to_owned();
            }
            (lat, renew)
        }));
    }
    let mut lat = Vec::new();
    let mut renew_urls = Vec::new();
    for g in grants {
        let (d, url) = g.await.unwrap();
        lat.extend(d);
        renew_urls.push(url);
    }
    report("grant", lat, t0.elapsed());

    // Phase 2: every viewer renews back to back for RENEW_FOR.
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for url in renew_urls {
        let client = client.clone();
        let url = format!("{}{url}", s.base);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while t0.elapsed() < RENEW_FOR {
                let t = Instant::now();
                let resp = client.post(&url).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                let _ = resp.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    report("renew", lat, t0.elapsed());
}
