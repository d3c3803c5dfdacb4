//! Operations on the shared PostgreSQL backend: two replicas on one database share the per-link
//! limit on token checks, and `/readyz` turns 503 when the database goes away under a running
//! server.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use veilmark_server::ratelimit::Rate;
use veilmark_store::Backend;
use veilmark_testkit::PgTestDb;

use crate::common::{TestServer, relaxed, start_with, viewer};

/// A replica on `db`; `keys_from` is another replica whose key files it copies (as
/// docs/deploy.md#keys says), so that either can unwrap the other's documents.
async fn replica(
    db: &PgTestDb,
    limits: veilmark_server::Limits,
    keys_from: Option<&TestServer>,
) -> TestServer {
    let url = db.url().to_owned();
    let from = keys_from.map(|s| s.dir.path().join("keys"));
    start_with(limits, move |c| {
        c.database = Backend::Postgres(url);
        if let Some(from) = from {
            let keys = c.data_dir.join("keys");
            std::fs::create_dir_all(&keys).unwrap();
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
            for name in ["signing.key", "wrap.key", "watermark.key"] {
                std::fs::copy(from.join(name), keys.join(name)).unwrap();
            }
        }
    })
    .await
}

#[tokio::test]
async fn two_replicas_together_allow_one_burst_of_token_checks_per_link() {
    let db = PgTestDb::create().await;
    let mut limits = relaxed();
    limits.per_link = Rate {
        burst: 6,
        per_sec: 0.001,
    };
    let a = replica(&db, limits.clone(), None).await;
    let b = replica(&db, limits, Some(&a)).await;
    let link = a.link(|_| {}).await;
    let token = TestServer::token(&link);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let server = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let client = a.client.clone();
        let body = TestServer::licence_body(&viewer(), None);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{server}/api/v/{token}/licence"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let granted = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((granted, limited), (6, 34), "{statuses:?}");
}

#[tokio::test]
async fn not_ready_once_the_database_is_dropped_under_the_server() {
    let db = PgTestDb::create().await;
    let s = replica(&db, relaxed(), None).await;
    let ready = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    drop(db); // DROP DATABASE … WITH (FORCE): every connection of the pool is cut.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = std::time::Instant::now();
    let resp = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered within the 2 s budget"
    );
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("not ready: the database"), "{body}");
    assert!(
        !body.contains("127.0.0.1") && !body.contains("veilmark_test"),
        "{body}"
    );
    let alive = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
}
