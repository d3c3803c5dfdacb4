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

/// How one upload attempt ended.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// The server answered with this status.
    Status(u16),
    /// The connection was made and closed without an answer.
    Closed,
    /// The connection was never made within a second: the kernel dropped the SYN.
    NoHandshake,
}

/// One unauthenticated upload from `from`: the headers declare 2 MiB, one chunk of body goes
/// out, and the answer's status is read.
async fn refused_upload(s: &TestServer, from: IpAddr) -> Attempt {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(from, 0)).unwrap();
    let connect = socket.connect(addr(s).parse().unwrap());
    let Ok(connected) = tokio::time::timeout(Duration::from_secs(1), connect).await else {
        return Attempt::NoHandshake;
    };
    let mut tcp = connected.unwrap();
    let head = "POST /console/documents/upload HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/octet-stream\r\nContent-Length: 2097152\r\n\r\n";
    let _ = tcp.write_all(head.as_bytes()).await;
    let _ = tcp.write_all(&[b'A'; 16 * 1024]).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .map_or(Attempt::Closed, Attempt::Status)
}

#[tokio::test]
async fn an_address_flooding_refused_uploads_is_shut_out_and_no_one_else() {
    let mut limits = common::relaxed();
    limits.refused_upload_penalty = Duration::from_secs(4);
    let s = common::start(limits).await;
    let attacker = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    // Five refused uploads (the limit): each answered 401 from the headers alone.
    for i in 0..5 {
        assert_eq!(
            refused_upload(&s, attacker).await,
            Attempt::Status(401),
            "upload {i} was not refused"
        );
    }
    let shut_at = Instant::now();
    // From then on that address's connections are not even made (on Linux the kernel drops
    // its SYNs: no handshake, no accept, no wake-up), whatever they ask for.
    let expected = if cfg!(target_os = "linux") {
        Attempt::NoHandshake
    } else {
        Attempt::Closed
    };
    assert_eq!(refused_upload(&s, attacker).await, expected);
    let health = format!("{}/healthz", s.base);
    let health_from = |from: IpAddr| {
        let url = health.clone();
        async move {
            client_from(from)
                .get(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    let during = tokio::time::timeout(Duration::from_millis(1500), health_from(attacker)).await;
    assert!(
        !matches!(during, Ok(Ok(_))),
        "a shut-out address was served: {during:?}"
    );
    // Everyone else is served, including a viewer's licence request.
    assert_eq!(health_from(REAL_VIEWER).await.unwrap(), 200);
    let token = TestServer::token(&s.link(|_| {}).await);
    let resp = s.request_licence(&token, &common::viewer(), None).await;
    assert_eq!(resp.status(), 200);
    // Ordinary refusals (no large body) never count: twenty of them leave the address served.
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
    for _ in 0..20 {
        let status = client_from(other)
            .get(format!("{}/api/owner/documents", s.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    assert_eq!(health_from(other).await.unwrap(), 200);
    // The shut-out ends with its penalty: the address is served again.
    let left = Duration::from_millis(4_300).saturating_sub(shut_at.elapsed());
    tokio::time::sleep(left).await;
    assert_eq!(
        health_from(attacker).await.unwrap(),
        200,
        "the address is still shut out after its penalty"
    );
}

/// A TCP connection from `from`, or `None` when none is made within `within` (on Linux, a
/// shut-out address's SYNs are dropped by the kernel).
async fn connect_from(s: &TestServer, from: IpAddr, within: Duration) -> Option<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(from, 0)).unwrap();
    let connect = socket.connect(addr(s).parse().unwrap());
    tokio::time::timeout(within, connect)
        .await
        .ok()
        .map(Result::unwrap)
}

/// An address at its connection cap that keeps reconnecting (the idle-socket flood) costs the
/// server an accept and a close per attempt: on Linux, after one refusal its SYNs are dropped
/// for a second instead, while connections already open and other addresses are untouched.
#[tokio::test]
async fn an_address_over_its_cap_gets_no_handshake_for_a_second() {
    let mut limits = common::relaxed();
    limits.max_connections_per_addr = 3;
    let s = common::start(limits).await;
    let flooder = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
    let wait = Duration::from_millis(500);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            connect_from(&s, flooder, wait)
                .await
                .expect("within the cap"),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fourth is accepted and closed: the cap, as before.
    let mut fourth = connect_from(&s, flooder, wait).await.expect("a handshake");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), fourth.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    let refused_at = Instant::now();
    // Then the kernel drops its SYNs: not even a handshake.
    if cfg!(target_os = "linux") {
        assert!(
            connect_from(&s, flooder, Duration::from_millis(400))
                .await
                .is_none(),
            "an address over its cap still gets handshakes"
        );
    }
    // Its open connections still work, and everyone else is served.
    held[0]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), held[0].read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    let health = format!("{}/healthz", s.base);
    let status = client_from(REAL_VIEWER).get(&health).send().await.unwrap();
    assert_eq!(status.status(), 200);
    // A second on, with a slot free again, the address is served.
    held.remove(0);
    tokio::time::sleep(Duration::from_millis(1_100).saturating_sub(refused_at.elapsed())).await;
    let status = client_from(flooder).get(&health).send().await.unwrap();
    assert_eq!(status.status(), 200);
}
