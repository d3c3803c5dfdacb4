//! `veilmark demo` end to end, as a new user runs it: envelope, server, viewer licence, revocation,
//! audit, a crawl of the fixture marketplace with a planted leak, and `identify` tracing that
//! leak back to its recipient through the server's database.

use std::path::Path;
use std::process::Command;

#[test]
fn demo_tells_the_whole_story_and_traces_the_leak() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let fixture = root.join("target/fixture-marketplace/demo-test");
    veilmark_crawler_fixture::generate(root, &fixture, 60, 6).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(["demo", "--no-serve", "--dir"])
        .arg(dir.path())
        .arg("--marketplace")
        .arg(&fixture)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "SHA-256 identical",
        "chunks were reordered",
        "Ed25519 signature verified",
        "decrypted in memory",
        "HTTP 410",
        "chain verified",
        "catalog hits not planted (false positives): 0",
        "= Alice's session",
        "its API token lists 0 links",
        "answers HTTP 404 (as if it did not exist)",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
    assert!(!text.contains("NOT traced"), "{text}");

    let identify = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .arg("identify")
        .arg(fixture.join("site/leaks/drawing.jpg"))
        .arg(
            fixture
                .join("catalog")
                .read_dir()
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let found = String::from_utf8_lossy(&identify.stdout);
    assert!(identify.status.success(), "{found}");
    assert!(
        found.contains("recipient alice@supplier.example via link lnk_"),
        "{found}"
    );
    assert!(found.contains(": no watermark"), "{found}");
}

/// `veilmark demo --listen 0.0.0.0` (for a user on another machine): it warns, binds every
/// address, prints links with the machine's host name, and the example partner portal may
/// frame the viewer over plain HTTP there (it was refused as an insecure embed origin before).
#[test]
fn demo_listens_beyond_loopback_with_a_warning() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    assert!(root.join("www/embed/example-portal/index.html").exists());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .current_dir(root)
        .args(["demo", "--no-serve", "--listen", "0.0.0.0", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(err.contains("not loopback"), "{err}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    assert!(text.contains(&format!("http://{host}:")), "{text}");
    assert!(!text.contains("http://0.0.0.0"), "{text}");
    assert!(
        text.contains(&format!("--embed-origin http://{host}:")),
        "{text}"
    );
}
