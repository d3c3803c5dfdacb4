//! Hostile load from one address (issue 16, row 2): hundreds of idle sockets, trickled headers
//! and bodies and a flood of event streams must not keep a real viewer from another address out.
//! The client side binds 127.0.0.2 to come from a second address on loopback.

use crate::common::{self, TestServer};

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REAL_VIEWER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// A client whose connections come from `from`.
fn client_from(from: IpAddr) -> reqwest::Client {
    common::http_client()
        .local_address(from)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A licence from 127.0.0.1 (the attacker's own session), as JSON.
async fn attacker_session(s: &TestServer, token: &str) -> Value {
    let resp = s.request_licence(token, &common::viewer(), None).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn real_viewers_get_through_while_one_address_attacks() {
    let mut limits = common::relaxed();
    // A small server: 300 connections in all.
    limits.max_connections = 300;
    let s = common::start(limits).await;
    let token = TestServer::token(&s.link(|_| {}).await);
    let granted = attacker_session(&s, &token).await;
    let events_url = format!("{}{}", s.base, granted["urls"]["events"].as_str().unwrap());

    // The attack, all from 127.0.0.1: event streams, then idle sockets and slowloris.
    let attacker = client_from(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut streams = Vec::new();
    for _ in 0..40 {
        if let Ok(r) = attacker.get(&events_url).send().await {
            streams.push(r);
        }
    }
    let mut idle = Vec::new();
    for i in 0..400 {
        let Ok(mut tcp) = TcpStream::connect(addr(&s)).await else {
            continue;
        };
        if i % 4 == 0 {
            let _ = tcp
                .write_all(
                    b"POST /api/v/x/licence HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n",
                )
                .await;
        }
        idle.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A real viewer from another address opens the link, renews and reads the envelope.
    let real = client_from(REAL_VIEWER);
    let started = Instant::now();
    let body = TestServer::licence_body(&common::viewer(), None);
    let resp = real
        .post(format!("{}/api/v/{token}/licence", s.base))
        .json(&body)
        .send()
        .await
        .expect("the real viewer was refused a connection");
    assert_eq!(resp.status(), 200);
    let lic: Value = resp.json().await.unwrap();
    let renew = real
        .post(format!(
            "{}{}",
            s.base,
            lic["urls"]["renew"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(renew.status(), 200);
    let env = real
        .get(format!(
            "{}{}",
            s.base,
            lic["urls"]["envelope"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(env.status(), 200);
    assert!(!env.bytes().await.unwrap().is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    drop((streams, idle));
}

#[tokio::test]
async fn event_streams_are_capped_per_session() {
    let s = common::start(common::relaxed()).await;
    let token = TestServer::token(&s.link(|_| {}).await);
    let granted = attacker_session(&s, &token).await;
    let url = format!("{}{}", s.base, granted["urls"]["events"].as_str().unwrap());
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..10 {
        let r = s.client.get(&url).send().await.unwrap();
        match r.status().as_u16() {
            200 => open.push(r),
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(open.len(), 2, "two streams per session");
    assert_eq!(refused, 8);
    // Closing one frees its slot.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.client.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn slow_bodies_are_cut_off() {
    let s = common::start(common::relaxed()).await;
    let token = TestServer::token(&s.link(|_| {}).await);
    let mut tcp = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "POST /api/v/{token}/licence HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 10000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // One byte every 200 ms: far below the 1 KiB/s a body must keep up after 10 s.
    let (mut rd, mut wr) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        while wr.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut buf)).await;
    trickle.abort();
    assert!(read.is_ok(), "a trickled body held its connection for 20 s");
    assert!(started.elapsed() < Duration::from_secs(15));
}
