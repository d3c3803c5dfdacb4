//! HTTPS with rustls: a real TLS handshake against the test certificate, the security headers
//! over TLS, the client address reaching the audit log, a stalled handshake not blocking
//! other clients, and the connection budget applying before a handshake starts.

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use veilmark_server::{AppState, Config};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(data("cert.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tls-test\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A TLS server with `limits` on a fresh data directory: its address and state.
async fn start_tls(
    dir: &std::path::Path,
    limits: veilmark_server::Limits,
) -> (std::net::SocketAddr, AppState) {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let mut config = Config::new(dir);
    config.www_dir = None;
    config.secure_cookies = true;
    config.limits = limits;
    let state = AppState::open(config).await.unwrap();
    let tls = veilmark_server::tls::load_config(&data("cert.pem"), &data("key.pem")).unwrap();
    tokio::spawn(veilmark_server::serve_tls(state.clone(), tcp, tls));
    (addr, state)
}

#[tokio::test]
async fn serves_https_with_headers_and_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, state) = start_tls(dir.path(), common::relaxed()).await;

    // A client that connects and never sends a ClientHello must not block the others.
    let _stalled = TcpStream::connect(addr).await.unwrap();

    let resp = tokio::time::timeout(Duration::from_secs(5), get(addr, "/api/server-key"))
        .await
        .expect("answered despite a stalled handshake");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("content-security-policy: default-src 'none'"));
    assert!(resp.contains("strict-transport-security: max-age=31536000"));

    // Unknown token over TLS: denial recorded with the client's address and user agent.
    let resp = get(addr, "/api/v/AAAAAAAAAAAAAAAAAAAAAA/envelope?session=x").await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    // A token that names no link belongs to no organisation: the server's own chain.
    let entries = state.store.audit_entries(None).await.unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last.kind, "deny");
    assert_eq!(last.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(last.user_agent.as_deref(), Some("tls-test"));
}

/// A TCP connection that never sends a ClientHello holds a file descriptor for the whole
/// handshake timeout: it must take one of its address's connection slots like any other
/// connection, so one address cannot pile up unfinished handshakes while another is served.
#[tokio::test]
async fn unfinished_handshakes_count_toward_the_address_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut limits = common::relaxed();
    limits.max_connections_per_addr = 3;
    let (addr, _state) = start_tls(dir.path(), limits).await;

    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The fourth from the same address is closed at once, not after the handshake timeout.
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(3), fourth.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "a fourth unfinished handshake from one address was kept open: {read:?}"
    );
    // The three still wait for their handshake (they are not simply all closed) ...
    let mut first = stalled.remove(0);
    let read = tokio::time::timeout(Duration::from_millis(300), first.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "an unfinished handshake within the cap was closed: {read:?}"
    );
    // ... and when one goes, its slot is free again for a real client.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let resp = tokio::time::timeout(Duration::from_secs(5), get(addr, "/api/server-key"))
        .await
        .expect("a client within the cap is answered");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[test]
fn mismatched_key_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, "not a key").unwrap();
    let err = veilmark_server::tls::load_config(&data("cert.pem"), &other).unwrap_err();
    assert!(format!("{err:#}").contains("private key"), "{err:#}");
}
