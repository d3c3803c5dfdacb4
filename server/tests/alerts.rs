//! Unusual-access alerts through the viewer and owner APIs, with a real webhook receiver on
//! loopback: a new network, many sessions at once, a lock after wrong passcodes and an attempt
//! while the supplier is suspended each raise one alert, delivered signed (HMAC-SHA256 over
//! the timestamp and the body), retried after the receiver failed, and refused for private
//! addresses unless the operator allowed them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common;

use axum::http::HeaderMap;
use common::{OWNER, TestServer, relaxed, start_with, viewer};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use veilmark_server::client_addr::TrustedProxies;
use veilmark_server::service::ClientMeta;
use veilmark_store::classification::SupplierStatus;

const PASSWORD: &str = "correct horse battery";

/// One request a receiver got: its signature header and its body.
type Received = (String, Vec<u8>);

/// A webhook receiver: answers 500 to its first request and 200 to the others, and keeps every
/// request's signature header and body.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
}

async fn start_receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let seen = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let sig = headers
                    .get("veilmark-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut got = seen.got.lock().unwrap();
                got.push((sig, body.to_vec()));
                if got.len() == 1 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, format!("http://{addr}/hook"))
}

async fn open_from(s: &TestServer, token: &str, ip: &str, passcode: Option<&str>) -> u16 {
    let body = TestServer::licence_body(&viewer(), passcode);
    s.client
        .post(format!("{}/api/v/{token}/licence", s.base))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&hex::decode(v1).unwrap_or_default())
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusual_openings_raise_alerts_delivered_signed_and_retried() {
    let s = start_with(relaxed(), |c| {
        c.trusted_proxies = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap()]);
        c.alerts.webhook_allow_private = true;
        c.alerts.webhook_retry_base_secs = 1;
        c.alerts.delivery_tick = Duration::from_millis(100);
    })
    .await;
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    let admin = s.state.create_api_token(OWNER).await.unwrap();
    let (receiver, hook) = start_receiver().await;
    let r = s
        .client
        .post(format!("{}/api/owner/webhooks", s.base))
        .bearer_auth(&admin)
        .json(&json!({ "url": hook }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let added: Value = r.json().await.unwrap();
    let secret = added["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{added}");

    let link = s.link(|l| l.passcode = Some(true)).await;
    let token = TestServer::token(&link);
    let pass = link.passcode.clone().unwrap();
    // The first network is the recipient's own: no alert. A second is new: one alert.
    assert_eq!(open_from(&s, &token, "203.0.113.5", Some(&pass)).await, 200);
    assert_eq!(
        open_from(&s, &token, "203.0.113.77", Some(&pass)).await,
        200
    );
    assert_eq!(
        open_from(&s, &token, "198.51.100.7", Some(&pass)).await,
        200
    );
    // Three sessions are open at once now.
    // Five wrong passcodes lock the link.
    for _ in 0..5 {
        let st = open_from(&s, &token, "198.51.100.7", Some("wrong-passcode")).await;
        assert!(st == 401 || st == 423, "{st}");
    }
    // A suspended supplier's recipient tries to open.
    let other = s
        .link(|l| l.recipient = "zoe@suspended.example".into())
        .await;
    s.state
        .set_supplier(
            "suspended.example",
            None,
            SupplierStatus::Suspended,
            &s.operator(),
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    assert_eq!(
        open_from(&s, &TestServer::token(&other), "203.0.113.5", None).await,
        403
    );
    assert_eq!(
        open_from(&s, &TestServer::token(&other), "203.0.113.5", None).await,
        403,
        "a second attempt is kept quiet"
    );

    // The owner sees exactly one alert of each kind.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let alerts = loop {
        let alerts: Value = s
            .client
            .get(format!("{}/api/owner/alerts", s.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if alerts.as_array().unwrap().len() >= 4 || std::time::Instant::now() > deadline {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut kinds: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "after-suspension",
            "many-sessions",
            "new-network",
            "wrong-passcodes"
        ],
        "{alerts}"
    );
    let by_kind = |k: &str| {
        alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(by_kind("new-network")["ip"], "198.51.100.7");
    assert!(
        by_kind("new-network")["detail"]
            .as_str()
            .unwrap()
            .contains("198.51.100.0/24; 1 other network(s)"),
        "{alerts}"
    );
    assert!(
        by_kind("many-sessions")["detail"]
            .as_str()
            .unwrap()
            .starts_with("3 sessions")
    );
    assert_eq!(
        by_kind("after-suspension")["recipient"],
        "zoe@suspended.example"
    );

    // Every alert reaches the webhook, signed; the first attempt failed and was retried.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = receiver.got.lock().unwrap().clone();
        let mut delivered: Vec<String> = got
            .iter()
            .skip(1)
            .map(|(_, b)| {
                serde_json::from_slice::<Value>(b).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        delivered.sort();
        delivered.dedup();
        if delivered.len() == 4 {
            for (sig, body) in &got {
                assert!(verify(&secret, sig, body), "bad signature {sig}");
                assert!(!verify("whsec_wrong", sig, body));
            }
            let first: Value = serde_json::from_slice(&got[0].1).unwrap();
            assert!(
                delivered.contains(&first["id"].as_str().unwrap().to_owned()),
                "the alert whose first delivery failed was delivered again"
            );
            assert_eq!(first["type"], "alert");
            assert_eq!(first["organisation"], "default");
            assert!(
                first["console"]
                    .as_str()
                    .unwrap()
                    .ends_with("/console/alerts")
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivered: {delivered:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hooks: Value = s
        .client
        .get(format!("{}/api/owner/webhooks", s.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deliveries = hooks["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 4, "{hooks}");
    assert!(
        deliveries.iter().all(|d| !d["delivered_at"].is_null()),
        "{hooks}"
    );
    assert_eq!(
        deliveries
            .iter()
            .map(|d| d["attempts"].as_i64().unwrap())
            .sum::<i64>(),
        5,
        "one retry: {hooks}"
    );

    // Acknowledged once; audited.
    let id = by_kind("wrong-passcodes")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ack = |s: &TestServer| {
        s.client
            .post(format!("{}/api/owner/alerts/{id}/acknowledge", s.base))
            .bearer_auth(&admin)
            .send()
    };
    assert_eq!(ack(&s).await.unwrap().status(), 200);
    assert_eq!(ack(&s).await.unwrap().status(), 404);
    let audit = s.audit_kinds().await;
    assert_eq!(
        audit.iter().filter(|(k, _)| k == "alert").count(),
        6,
        "webhook added, 4 alerts, 1 acknowledgement: {audit:?}"
    );
}

#[tokio::test]
async fn webhooks_reach_only_public_https_addresses_unless_allowed() {
    let s = common::start(relaxed()).await;
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    let admin = s.state.create_api_token(OWNER).await.unwrap();
    let add = |url: &'static str| {
        s.client
            .post(format!("{}/api/owner/webhooks", s.base))
            .bearer_auth(&admin)
            .json(&json!({ "url": url }))
            .send()
    };
    for (url, says) in [
        ("http://siem.brand.example/hook", "https://"),
        ("https://127.0.0.1/hook", "not a public address"),
        ("https://[::1]:8443/hook", "not a public address"),
        ("https://10.1.2.3/hook", "not a public address"),
        ("https://[::ffff:192.168.0.1]/hook", "not a public address"),
        ("https://localhost/hook", "not a public address"),
        ("https://user:pw@siem.brand.example/hook", "no credentials"),
        ("ftp://siem.brand.example/", "https://"),
    ] {
        let r = add(url).await.unwrap();
        assert_eq!(r.status(), 400, "{url}");
        let v: Value = r.json().await.unwrap();
        assert!(v["message"].as_str().unwrap().contains(says), "{url}: {v}");
    }
    // A name is checked when it is resolved, at each delivery: one resolving to loopback is
    // refused then, and the refusal is kept with the delivery. The machine's own name resolves
    // to one of its addresses (loopback or private) on every test machine; which name depends
    // on its hosts file.
    let own = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut name = None;
    for candidate in [
        own.as_str(),
        "localhost.localdomain",
        "ip6-localhost",
        "localhost.",
    ] {
        if candidate.is_empty() || candidate == "localhost" {
            continue;
        }
        if let Ok(mut addrs) = tokio::net::lookup_host((candidate, 9)).await
            && addrs.all(|a| !veilmark_shared::net::is_public(a.ip()))
        {
            name = Some(candidate.to_owned());
            break;
        }
    }
    let name = name.expect("no host name on this machine resolves to a private address");
    let url = format!("https://{name}:9/hook");
    let r = s
        .client
        .post(format!("{}/api/owner/webhooks", s.base))
        .bearer_auth(&admin)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{url}");
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    for _ in 0..3 {
        let r = s
            .post_licence(&token, &TestServer::licence_body(&viewer(), None))
            .await;
        assert_eq!(r.status(), 200);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let hooks: Value = s
            .client
            .get(format!("{}/api/owner/webhooks", s.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let err = hooks["deliveries"][0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !err.is_empty() {
            assert!(err.contains("not a public address"), "{hooks}");
            assert!(hooks["deliveries"][0]["delivered_at"].is_null());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{hooks}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
