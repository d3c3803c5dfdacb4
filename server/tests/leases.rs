//! Leases under abuse and races (issue 16, rows 3 and 11): a renewal loop is refused before it
//! writes, a renewal racing a revocation is never granted after it, and an event stream ends
//! when its lease does.

use crate::common::{self, TestServer};

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use veilmark_server::service::ClientMeta;

async fn open_session(s: &TestServer, token: &str) -> Value {
    let resp = s.request_licence(token, &common::viewer(), None).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn renew(s: &TestServer, granted: &Value) -> u16 {
    s.client
        .post(format!(
            "{}{}",
            s.base,
            granted["urls"]["renew"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn renew_flood_is_refused_without_audit_rows() {
    let s = common::start(common::relaxed()).await;
    let token = TestServer::token(&s.link(|_| {}).await);
    let granted = open_session(&s, &token).await;
    let before = s.audit_kinds().await.len();
    let mut statuses = Vec::new();
    for _ in 0..50 {
        statuses.push(renew(&s, &granted).await);
    }
    let granted_renewals = statuses.iter().filter(|c| **c == 200).count();
    assert_eq!(granted_renewals, 4, "4 renewals per lease: {statuses:?}");
    assert!(statuses[4..].iter().all(|c| *c == 429), "{statuses:?}");
    let written = s.audit_kinds().await.len() - before;
    assert_eq!(written, 4, "a refused renewal writes no audit row");
}

#[tokio::test]
async fn renewal_racing_a_revocation_is_never_granted_after_it() {
    let s = common::start(common::relaxed()).await;
    for _round in 0..4 {
        let link = s.link(|_| {}).await;
        let token = TestServer::token(&link);
        let mut sessions = Vec::new();
        for _ in 0..16 {
            sessions.push(open_session(&s, &token).await);
        }
        let mut tasks = Vec::new();
        for granted in sessions {
            let client = s.client.clone();
            let url = format!("{}{}", s.base, granted["urls"]["renew"].as_str().unwrap());
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    let _ = client.post(&url).send().await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
        assert!(
            s.state
                .revoke(&link.link.id, &s.operator(), &ClientMeta::cli())
                .await
                .unwrap()
        );
        for t in tasks {
            t.await.unwrap();
        }
        // In the chain's order, nothing is granted to the link after its revocation.
        let log = s.state.audit_log(s.org).await.unwrap();
        let mine: Vec<_> = log
            .iter()
            .filter(|e| e.link_id.as_deref() == Some(link.link.id.as_str()))
            .collect();
        let revoked_at = mine.iter().position(|e| e.kind == "revoke").unwrap();
        let late: Vec<_> = mine[revoked_at..]
            .iter()
            .filter(|e| e.kind == "renew" || e.kind == "grant")
            .map(|e| e.seq)
            .collect();
        assert!(late.is_empty(), "renewed after the revocation: {late:?}");
    }
}

#[tokio::test]
async fn event_stream_ends_with_expired_when_the_lease_runs_out() {
    let mut limits = common::relaxed();
    limits.lease_secs = 1;
    let s = common::start(limits).await;
    let token = TestServer::token(&s.link(|_| {}).await);
    let granted = open_session(&s, &token).await;
    let events = s
        .client
        .get(format!(
            "{}{}",
            s.base,
            granted["urls"]["events"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let started = Instant::now();
    let mut stream = events.bytes_stream();
    let mut seen = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(12), async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its lease: {seen:?}");
    assert!(seen.contains("event: expired"), "{seen:?}");
    let data = seen.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let typed: veilmark_shared::wire::ExpiredEvent = serde_json::from_str(data).unwrap();
    assert_eq!(typed.what, veilmark_shared::wire::ExpiredWhat::Lease);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn audit_log_is_read_and_verified_a_page_at_a_time() {
    let s = common::start(common::relaxed()).await;
    let token = TestServer::token(&s.link(|_| {}).await);
    for _ in 0..5 {
        open_session(&s, &token).await;
    }
    let all = s.state.audit_log(s.org).await.unwrap();
    assert!(all.len() >= 7);
    // Pages of 2 cover the chain exactly once, in order.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let (page, next) = s
            .state
            .store
            .audit_range(Some(s.org), after, 2)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        paged.extend(page);
        after = next;
    }
    assert_eq!(paged, all);
    let whole = veilmark_server::audit::verify(&all).unwrap();
    assert_eq!(
        s.state
            .verify_audit_log(Some(s.org))
            .await
            .unwrap()
            .unwrap(),
        whole
    );
}
