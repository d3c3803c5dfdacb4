//! Connection-level defences: a client trickling its headers is cut off, and connections beyond
//! the cap are closed at once.

use crate::common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(s: &common::TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let mut limits = common::relaxed();
    limits.header_read_timeout = Duration::from_millis(500);
    let s = common::start(limits).await;
    let mut tcp = TcpStream::connect(addr(&s)).await.unwrap();
    tcp.write_all(b"GET /api/server-key HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("200 OK"), "{text}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed() {
    let mut limits = common::relaxed();
    limits.max_connections = 2;
    let s = common::start(limits).await;
    let _a = TcpStream::connect(addr(&s)).await.unwrap();
    let _b = TcpStream::connect(addr(&s)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    let _ = c
        .write_all(b"GET /api/server-key HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), c.read_to_end(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "third connection was served: {:?}",
        String::from_utf8_lossy(&buf)
    );
    drop((_a, _b));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ok = s
        .client
        .get(format!("{}/api/server-key", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
