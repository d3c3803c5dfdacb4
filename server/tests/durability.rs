//! Issue 16, hostile load and durability: uploads are checked from their headers and streamed
//! to disk (rows 1), envelopes are durable before their row and interrupted writes are swept
//! at startup (row 4), and the data directory is private (row 12).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veilmark_server::service::{Actor, ClientMeta};
use veilmark_server::{AppState, Config};

use crate::common::child::{ChildOptions, ChildServer};
use crate::common::{self, OWNER, PLAINTEXT};

const CHILD: &str = "durability::child_server";

/// Not a test on its own: the server process the tests below start, measure and kill.
#[test]
fn child_server() {
    common::child::serve_if_child();
}

/// Sends a raw HTTP/1.1 request whose body is `len` bytes of a PDF-looking file, written in
/// 1 MiB pieces (never held whole by the client), and returns the status line.
async fn raw_upload(base: &str, path: &str, token: &str, len: usize, chunked: bool) -> String {
    let addr = base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {len}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\n{framing}\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut piece = vec![b'x'; 1 << 20];
    piece[..8].copy_from_slice(b"%PDF-1.7");
    let mut sent = 0;
    let mut write_err = false;
    while sent < len {
        let n = (len - sent).min(piece.len());
        let r = if chunked {
            let mut c = format!("{n:x}\r\n").into_bytes();
            c.extend_from_slice(&piece[..n]);
            c.extend_from_slice(b"\r\n");
            sock.write_all(&c).await
        } else {
            sock.write_all(&piece[..n]).await
        };
        if r.is_err() {
            write_err = true; // the server answered and closed early
            break;
        }
        piece[..8].copy_from_slice(b"xxxxxxxx");
        sent += n;
    }
    if chunked && !write_err {
        let _ = sock.write_all(b"0\r\n\r\n").await;
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(120), sock.read(&mut buf))
        .await
        .expect("no answer")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Row 1: a 200 MiB upload through the owner API is streamed to a temporary file and sealed
/// from it: the server's peak resident memory stays far below the file's size (it buffered the
/// body and the envelope whole before: ~600 MiB).
#[tokio::test]
async fn an_authenticated_200_mib_upload_keeps_memory_low() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let child = ChildServer::start(CHILD, &data, &ChildOptions::default()).await;
    let before = child.peak_rss_kib();
    let status = raw_upload(
        &child.base,
        "/api/owner/documents?title=big",
        &child.token,
        200 << 20,
        false,
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 201"), "{status}");
    let peak = child.peak_rss_kib();
    eprintln!("200 MiB upload: peak RSS {before} KiB before, {peak} KiB after");
    assert!(
        peak < 160 * 1024,
        "peak resident memory {peak} KiB for a 200 MiB upload (was {before} KiB before it)"
    );
    let envelopes = std::fs::read_dir(data.join("blobs/envelopes"))
        .unwrap()
        .count();
    assert_eq!(envelopes, 1);
    assert_eq!(std::fs::read_dir(data.join("tmp")).unwrap().count(), 0);
}

/// Row 1: an auditor's token may not seal: the upload is refused from its headers, before the
/// server reads the body the client still owes (it read 200 MB first before).
#[tokio::test]
async fn an_auditor_upload_is_refused_before_its_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let child = ChildServer::start(CHILD, &data, &ChildOptions::default()).await;
    let addr = child.base.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/owner/documents?title=x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 200000000\r\n\r\n%PDF-1.7",
        child.auditor
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
        .await
        .expect("no answer while the body is still owed")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

/// Row 1: a body over the limit is answered 413, whether it declares its length or streams
/// in chunks, and leaves no file behind.
#[tokio::test]
async fn an_upload_over_the_limit_is_413_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let opts = ChildOptions {
        max_upload: Some(4 << 20),
        ..ChildOptions::default()
    };
    let child = ChildServer::start(CHILD, &data, &opts).await;
    for chunked in [false, true] {
        let status = raw_upload(
            &child.base,
            "/api/owner/documents?title=big",
            &child.token,
            9 << 20,
            chunked,
        )
        .await;
        assert!(
            status.starts_with("HTTP/1.1 413"),
            "chunked {chunked}: {status}"
        );
    }
    let ok = raw_upload(
        &child.base,
        "/api/owner/documents?title=ok",
        &child.token,
        4 << 20,
        true,
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 201"), "{ok}");
    assert_eq!(std::fs::read_dir(data.join("tmp")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(data.join("blobs/envelopes"))
            .unwrap()
            .count(),
        1,
        "only the accepted upload's envelope"
    );
}

fn set_old(path: &Path) {
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

async fn open(dir: &Path) -> AppState {
    let mut config = Config::new(dir);
    config.www_dir = None;
    AppState::open(config).await.unwrap()
}

/// Row 4: after a seal returns, its envelope is in place under its final name (no temporary
/// file left); a restart removes what interrupted writes left (temporary files, envelopes no
/// row names, abandoned uploads) once older than the grace period, keeps younger ones, and
/// reports a document whose envelope is missing.
#[tokio::test]
async fn startup_sweeps_orphans_and_reports_missing_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    assert!(state.startup.is_clean());
    let org = state.org_named("default").await.unwrap().id;
    let owner = Actor::operator(org, OWNER);
    let kept = state
        .ingest_plaintext(PLAINTEXT, "kept", None, &owner, &ClientMeta::cli())
        .await
        .unwrap();
    let lost = state
        .ingest_plaintext(PLAINTEXT, "lost", None, &owner, &ClientMeta::cli())
        .await
        .unwrap();
    let cut = state
        .ingest_plaintext(PLAINTEXT, "cut", None, &owner, &ClientMeta::cli())
        .await
        .unwrap();
    let envelopes = dir.path().join("blobs/envelopes");
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&envelopes),
        {
            let mut v = vec![
                format!("{}.vmk", kept.id),
                format!("{}.vmk", lost.id),
                format!("{}.vmk", cut.id),
            ];
            v.sort();
            v
        },
        "envelopes under their final names, nothing else"
    );
    drop(state);

    std::fs::remove_file(envelopes.join(format!("{}.vmk", lost.id))).unwrap();
    // What a power cut leaves of an envelope renamed into place without its `fsync`: the name,
    // none of the bytes.
    std::fs::write(envelopes.join(format!("{}.vmk", cut.id)), b"").unwrap();
    let orphans = [
        envelopes.join(format!(".{}.vmk.tmp-0011223344556677", "ab".repeat(16))),
        envelopes.join(format!("{}.vmk", "cd".repeat(16))),
        envelopes.join(format!("{}.vmk#7", "ef".repeat(16))),
        dir.path().join("tmp/.upload.tmp-8899aabbccddeeff"),
        dir.path().join("evidence/.run-3.warc.tmp-0123456789abcdef"),
    ];
    std::fs::create_dir_all(dir.path().join("evidence")).unwrap();
    for o in &orphans {
        std::fs::write(o, b"half written").unwrap();
        set_old(o);
    }
    let young = envelopes.join(format!("{}.vmk", "12".repeat(16)));
    std::fs::write(&young, b"being written by a CLI seal right now").unwrap();

    let state = open(dir.path()).await;
    for o in &orphans {
        assert!(!o.exists(), "{} survived the sweep", o.display());
    }
    assert!(young.exists(), "a young file may be a write in progress");
    assert_eq!(
        state.startup.removed.len(),
        orphans.len(),
        "{:?}",
        state.startup
    );
    assert_eq!(state.startup.kept_young, 1);
    let mut damaged = vec![lost.id.clone(), cut.id.clone()];
    damaged.sort();
    assert_eq!(state.startup.missing_envelopes, damaged);
    assert!(envelopes.join(format!("{}.vmk", kept.id)).exists());
}

fn modes_under(root: &Path, out: &mut Vec<(String, u32)>) {
    for e in std::fs::read_dir(root).unwrap() {
        let e = e.unwrap();
        let meta = e.metadata().unwrap();
        out.push((
            e.path().display().to_string(),
            meta.permissions().mode() & 0o777,
        ));
        if meta.is_dir() {
            modes_under(&e.path(), out);
        }
    }
}

fn assert_private(root: &Path) {
    let mut modes = Vec::new();
    modes_under(root, &mut modes);
    assert!(modes.len() > 5, "{modes:?}");
    let root_mode = std::fs::metadata(root).unwrap().permissions().mode() & 0o777;
    assert_eq!(root_mode, 0o700, "the data directory itself");
    let wide: Vec<_> = modes
        .iter()
        .filter(|(p, m)| {
            let is_dir = Path::new(p).is_dir();
            *m != if is_dir { 0o700 } else { 0o600 }
        })
        .collect();
    assert!(wide.is_empty(), "not private: {wide:?}");
}

/// Row 12: every directory the server creates is 0700 and every file 0600 (the database, its
/// -wal and -shm, envelopes, WARC files, temporary files); a directory an older version left
/// 0755/0644 is tightened at startup.
#[tokio::test]
async fn the_data_directory_is_private() {
    let s = common::start(common::relaxed()).await;
    let evidence = s.state.evidence(s.org);
    let mut warc = evidence.warc_writer(1).unwrap();
    warc.write_response(&veilmark_store::warc::HttpRecord {
        url: "https://shop.example/item",
        fetched_at: "2026-12-06T00:00:00Z",
        status: 200,
        headers: &[],
        body: b"<html></html>",
    })
    .unwrap();
    s.state.data.record_public_url(&s.base).unwrap();
    assert!(s.dir.path().join("veilmark.db-wal").exists());
    assert_private(s.dir.path());

    // An older data directory, everything world-readable: tightened when the server opens it.
    let old = tempfile::tempdir().unwrap();
    drop(open(old.path()).await);
    let mut modes = Vec::new();
    modes_under(old.path(), &mut modes);
    for (p, _) in &modes {
        let mode = if Path::new(p).is_dir() { 0o755 } else { 0o644 };
        if !p.contains("/keys") {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
    std::fs::set_permissions(old.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = open(old.path()).await;
    assert_private(old.path());
    drop(state);
}

/// Row 5: thumbnails of a hit in a large WARC file read only their own record, and not at all
/// beyond 32 MiB; an evidence bundle carrying a 300 MB WARC file is streamed. The server's peak
/// resident memory stays far below the file sizes (598 MB for thumbnails before).
#[tokio::test]
async fn thumbnails_and_bundles_of_a_large_warc_keep_memory_low() {
    use veilmark_store::evidence::HitRecord;
    use veilmark_store::warc::HttpRecord;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let child = ChildServer::start(CHILD, &data, &ChildOptions::default()).await;

    // A crawl run's WARC: a small image, a 100 MiB "image", then a sparse tail to 300 MB.
    let ev = veilmark_store::Evidence::open(&veilmark_store::DataDir::new(&data), "default")
        .await
        .unwrap();
    let (run, _) = ev.resume_or_start_run("shop").await.unwrap();
    let mut w = ev.warc_writer(run).unwrap();
    let small = w
        .write_response(&HttpRecord {
            url: "https://shop.example/1.png",
            fetched_at: "2026-12-01T00:00:00Z",
            status: 200,
            headers: &[],
            body: b"\x89PNG\r\n\x1a\nsmall",
        })
        .unwrap();
    let mut huge_body = vec![0u8; 100 << 20];
    huge_body[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    let huge = w
        .write_response(&HttpRecord {
            url: "https://shop.example/2.png",
            fetched_at: "2026-12-01T00:00:00Z",
            status: 200,
            headers: &[],
            body: &huge_body,
        })
        .unwrap();
    drop(huge_body);
    let warc_path = data.join(w.relative_path());
    drop(w);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&warc_path)
        .unwrap()
        .set_len(300_000_000)
        .unwrap();
    let mut ids = Vec::new();
    for (n, off) in [(1, small), (2, huge)] {
        let hit = HitRecord {
            marketplace: "shop".into(),
            page_url: format!("https://shop.example/{n}"),
            image_url: format!("https://shop.example/{n}.png"),
            image_sha256: format!("{n:064}"),
            fetched_at: "2026-12-01T00:00:00Z".into(),
            http_status: 200,
            http_headers: serde_json::json!({}),
            listing_title: Some("listing".into()),
            listing_price: None,
            listing_seller: None,
            reference_id: None,
            sku: None,
            hash_kind: None,
            distance: None,
            transform: None,
            window: None,
            watermark_session: None,
            warc_file: format!("evidence/run-{run}.warc"),
            warc_page_offset: None,
            warc_image_offset: i64::try_from(off).unwrap(),
        };
        assert!(ev.insert_hit(run, &hit).await.unwrap());
        ids.push(ev.reviewed_hits(1).await.unwrap()[0].id);
    }

    let client = common::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .post(format!("{}/console/login", child.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([("email", OWNER), ("password", common::child::PASSWORD)])
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let get = |path: String| {
        client
            .get(format!("{}{path}", child.base))
            .header("cookie", &cookie)
            .send()
    };
    let before = child.peak_rss_kib();
    let thumb = get(format!("/console/review/image/{}/found", ids[0]))
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(&thumb.bytes().await.unwrap()[8..], b"small");
    for _ in 0..3 {
        let big = get(format!("/console/review/image/{}/found", ids[1]))
            .await
            .unwrap();
        assert_eq!(big.status(), 404, "an image over 32 MiB is not read");
    }
    let mut bundle = get(format!("/console/review/bundle?id={}", ids[0]))
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    let mut received = 0usize;
    while let Some(piece) = bundle.chunk().await.unwrap() {
        received += piece.len();
    }
    assert!(
        received > 300_000_000,
        "the WARC file is in the bundle: {received} bytes"
    );
    let peak = child.peak_rss_kib();
    eprintln!("thumbnails and a 300 MB bundle: peak RSS {before} KiB before, {peak} KiB after");
    assert!(
        peak < 160 * 1024,
        "peak resident memory {peak} KiB (was {before} KiB)"
    );
    assert_eq!(
        std::fs::read_dir(data.join("tmp")).unwrap().count(),
        0,
        "bundle file removed"
    );
}
