//! The `veilmark envelope` commands as a user runs them: real processes, real files, exit codes.
// Test data is made by deliberately truncating counters to bytes.
#![allow(clippy::cast_possible_truncation)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn veilmark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(args)
        .output()
        .expect("veilmark runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = veilmark(&["envelope", "keygen", s(&dir.path().join("k"))]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn key(&self) -> String {
        s(&self.path("k")).to_owned()
    }
    fn seal(&self, input: &str, output: &str) -> Output {
        veilmark(&[
            "envelope",
            "seal",
            s(&self.path(input)),
            s(&self.path(output)),
            "--key-file",
            &self.key(),
        ])
    }
    fn open(&self, input: &str, output: &str) -> Output {
        veilmark(&[
            "envelope",
            "open",
            s(&self.path(input)),
            s(&self.path(output)),
            "--key-file",
            &self.key(),
        ])
    }
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["envelope", "--help"],
        vec!["envelope", "seal", "--help"],
        vec!["envelope", "open", "--help"],
        vec!["envelope", "keygen", "--help"],
        vec!["envelope", "inspect", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = veilmark(&args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
    let bad = veilmark(&["envelope", "seal"]);
    assert_eq!(bad.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn key_files_are_private_and_not_overwritten() {
    let sc = Scratch::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(sc.path("k")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = veilmark(&["envelope", "keygen", &sc.key()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    fs::write(sc.path("bad-key"), "not a key\n").unwrap();
    fs::write(sc.path("x"), "x").unwrap();
    let out = veilmark(&[
        "envelope",
        "seal",
        s(&sc.path("x")),
        s(&sc.path("x.vmk")),
        "--key-file",
        s(&sc.path("bad-key")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Veilmark key file"));
}

#[test]
fn round_trips_at_chunk_boundaries_and_detects_media_type() {
    let sc = Scratch::new();
    let chunk = 64 * 1024;
    for len in [0usize, 1, chunk - 1, chunk, chunk + 1] {
        let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        fs::write(sc.path("in"), &data).unwrap();
        let out = sc.seal("in", "in.vmk");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = veilmark(&[
            "envelope",
            "open",
            s(&sc.path("in.vmk")),
            s(&sc.path("back")),
            "--key-file",
            &sc.key(),
            "--force",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(fs::read(sc.path("back")).unwrap(), data, "len {len}");
        fs::remove_file(sc.path("in.vmk")).unwrap();
    }
    fs::write(
        sc.path("drawing.bin"),
        b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n",
    )
    .unwrap();
    assert!(sc.seal("drawing.bin", "drawing.vmk").status.success());
    let out = veilmark(&["envelope", "inspect", s(&sc.path("drawing.vmk")), "--json"]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains("\"media_type\":\"application/pdf\""),
        "{json}"
    );
}

#[test]
fn tampered_envelopes_exit_3_and_write_nothing() {
    let sc = Scratch::new();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    fs::write(sc.path("in"), &data).unwrap();
    assert!(sc.seal("in", "good.vmk").status.success());
    let good = fs::read(sc.path("good.vmk")).unwrap();
    let mut flipped = good.clone();
    flipped[200_000] ^= 1;
    let mut swapped = good.clone();
    let (a, b) = (200..200 + 65560, 200 + 65560..200 + 2 * 65560);
    let hl = u16::from_be_bytes([good[10], good[11]]) as usize;
    let (a, b) = (
        hl + a.start - 200..hl + a.end - 200,
        hl + b.start - 200..hl + b.end - 200,
    );
    swapped[a.clone()].copy_from_slice(&good[b.clone()]);
    swapped[b].copy_from_slice(&good[a]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("flip", flipped, "failed authentication"),
        ("truncate", good[..good.len() - 1].to_vec(), "truncated"),
        (
            "append",
            [good.clone(), b"x".to_vec()].concat(),
            "unexpected bytes",
        ),
        ("swap", swapped, "reordered"),
        (
            "header",
            {
                let mut g = good.clone();
                g[14] ^= 1;
                g
            },
            "modified after sealing",
        ),
    ];
    for (name, bytes, message) in cases {
        fs::write(sc.path("bad.vmk"), bytes).unwrap();
        let out = sc.open("bad.vmk", name);
        assert_eq!(out.status.code(), Some(3), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{name}: {err}");
        assert!(!sc.path(name).exists(), "{name}: output was written");
    }
    let leftovers: Vec<_> = fs::read_dir(sc.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // A wrong key is a rejection too.
    let other = Scratch::new();
    let out = veilmark(&[
        "envelope",
        "open",
        s(&sc.path("good.vmk")),
        s(&sc.path("w")),
        "--key-file",
        &other.key(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key does not open"));
}

/// 1 GiB through seal and open, with the peak memory of each process measured: streaming must
/// not hold the file in memory.
#[test]
fn one_gibibyte_round_trips_in_constant_memory() {
    use sha2::{Digest, Sha256};
    let sc = Scratch::new();
    let size: u64 = 1 << 30;
    let mut block = vec![0u8; 1 << 20];
    veilmark_shared::xorshift::XorShift64Star::new(0x2545_F491_4F6C_DD1D).fill_bytes(&mut block);
    let mut expected = Sha256::new();
    {
        let mut f = std::io::BufWriter::new(fs::File::create(sc.path("big")).unwrap());
        for i in 0..(size >> 20) {
            block[0] = i as u8; // no two MiB identical
            block[1] = (i >> 8) as u8;
            f.write_all(&block).unwrap();
            expected.update(&block);
        }
    }
    let key = sc.key();
    let seal_rss = peak_rss_mib(&[
        "envelope",
        "seal",
        s(&sc.path("big")),
        s(&sc.path("big.vmk")),
        "--key-file",
        &key,
    ]);
    fs::remove_file(sc.path("big")).unwrap();
    let open_rss = peak_rss_mib(&[
        "envelope",
        "open",
        s(&sc.path("big.vmk")),
        s(&sc.path("big.back")),
        "--key-file",
        &key,
    ]);
    let mut got = Sha256::new();
    let mut f = fs::File::open(sc.path("big.back")).unwrap();
    assert_eq!(f.metadata().unwrap().len(), size);
    std::io::copy(&mut f, &mut HashWriter(&mut got)).unwrap();
    assert_eq!(got.finalize(), expected.finalize());
    assert!(seal_rss < 128, "sealing 1 GiB peaked at {seal_rss} MiB");
    assert!(open_rss < 128, "opening 1 GiB peaked at {open_rss} MiB");
}

struct HashWriter<'a>(&'a mut sha2::Sha256);
impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Peak resident memory of the largest child process waited for so far, in MiB.
/// Arguments for [`rss_child`], separated by U+001F.
const RSS_CHILD_ENV: &str = "VEILMARK_RSS_CHILD_ARGS";

/// Not a test on its own: the process [`peak_rss_mib`] starts, so that the peak memory it reads
/// is of one `veilmark` run and not of other tests' children in this test binary.
#[test]
fn rss_child() {
    let Ok(args) = std::env::var(RSS_CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = args.split('\u{1f}').collect();
    let out = veilmark(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    println!("peak-rss-mib {}", usage.max_rss() / 1024);
}

/// Runs `veilmark ARGS` (which must succeed) from a fresh process and returns its peak RSS.
fn peak_rss_mib(args: &[&str]) -> i64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "envelope_cli::rss_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RSS_CHILD_ENV, args.join("\u{1f}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split("peak-rss-mib ").nth(1))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stdout}"))
}
