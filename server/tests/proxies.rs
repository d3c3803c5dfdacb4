//! The client address behind a reverse proxy (issue 16, row 6): forwarding headers count only
//! from `--trusted-proxy` peers, and limits are then kept per client (IPv6 per /64).

use crate::common::{self, TestServer};

use veilmark_server::client_addr::TrustedProxies;

/// Licence requests for `token` claiming to come from `xff`; the status of each.
async fn licence_statuses(s: &TestServer, token: &str, xff: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        let body = TestServer::licence_body(&common::viewer(), None);
        let resp = s
            .client
            .post(format!("{}/api/v/{token}/licence", s.base))
            .header("x-forwarded-for", xff)
            .json(&body)
            .send()
            .await
            .unwrap();
        out.push(resp.status().as_u16());
    }
    out
}

fn tight() -> veilmark_server::Limits {
    let mut l = common::relaxed();
    l.per_ip.burst = 2;
    l.per_ip.per_sec = 0.001;
    l
}

#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let s = common::start(tight()).await;
    let token = TestServer::token(&s.link(|_| {}).await);
    // Each request names another client; with no trusted proxy they all share 127.0.0.1's limit.
    assert_eq!(
        licence_statuses(&s, &token, "198.51.100.1", 2).await,
        [200, 200]
    );
    assert_eq!(licence_statuses(&s, &token, "198.51.100.2", 1).await, [429]);
    let ips: Vec<_> = s
        .state
        .audit_log(s.org)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.ip)
        .collect();
    assert!(!ips.is_empty());
    assert!(ips.iter().all(|ip| ip == "127.0.0.1"), "{ips:?}");
}

#[tokio::test]
async fn trusted_proxy_gives_each_client_its_own_limit() {
    let s = common::start_with(tight(), |c| {
        c.trusted_proxies = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
    })
    .await;
    let token = TestServer::token(&s.link(|_| {}).await);
    // The client wrote a fake first hop; the proxy appended the real one.
    assert_eq!(
        licence_statuses(&s, &token, "10.9.9.9, 198.51.100.1", 3).await,
        [200, 200, 429]
    );
    assert_eq!(licence_statuses(&s, &token, "198.51.100.2", 1).await, [200]);
    // IPv6: one /64 is one client, whatever the last 64 bits.
    assert_eq!(
        licence_statuses(&s, &token, "2001:db8::1", 2).await,
        [200, 200]
    );
    assert_eq!(
        licence_statuses(&s, &token, "2001:db8::ffff:2", 1).await,
        [429]
    );
    assert_eq!(
        licence_statuses(&s, &token, "2001:db8:0:1::1", 1).await,
        [200]
    );
    let ips: Vec<_> = s
        .state
        .audit_log(s.org)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.ip)
        .collect();
    assert!(ips.iter().any(|ip| ip == "198.51.100.1"), "{ips:?}");
    assert!(!ips.iter().any(|ip| ip == "10.9.9.9"), "{ips:?}");
}
