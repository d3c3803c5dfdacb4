//! `cargo xtask bench`: envelope throughput next to `age`, measured on the same file in one run.
//!
//! Both tools read and write real files in the same temporary folder, so both pay the same page
//! cache and file-system costs. The best of N runs is reported, in MB/s of plaintext (10^6 B/s).
//! The input file is read once beforehand so that neither tool pays for the first cold read.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use veilmark_shared::xorshift::XorShift64Star;

use crate::{setup, sh};

/// Runs the envelope benchmark on a file of `size_mib` MiB.
pub fn run(size_mib: u64, runs: u32) -> Result<()> {
    setup::ensure_debian_packages(&[("/usr/bin/age", "age"), ("/usr/bin/age-keygen", "age")])?;
    sh::run(
        "cargo",
        &["build", "--release", "--quiet", "-p", "veilmark"],
    )?;
    let veilmark = std::fs::canonicalize("target/release/veilmark")?;
    let veilmark = veilmark.to_string_lossy();
    let dir = tempfile::Builder::new()
        .prefix("veilmark-bench-")
        .tempdir_in(bench_dir())?;
    let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let bytes = size_mib * 1024 * 1024;
    println!(
        "writing a {size_mib} MiB random input file in {}",
        dir.path().display()
    );
    write_random_file(Path::new(&d("input.bin")), bytes)?;
    let _ = std::fs::read(d("input.bin"))?; // warm the page cache for both tools

    sh::run(&veilmark, &["envelope", "keygen", &d("key"), "--force"])?;
    sh::run("age-keygen", &["-o", &d("age-identity")])?;
    let identity = std::fs::read_to_string(d("age-identity"))?;
    let recipient = identity
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .context("age-keygen printed no public key")?
        .to_owned();

    let cases: [(&str, Vec<String>); 4] = [
        (
            "veilmark seal",
            vec![
                veilmark.to_string(),
                "envelope".into(),
                "seal".into(),
                d("input.bin"),
                d("out.vmk"),
                "--key-file".into(),
                d("key"),
                "--force".into(),
                "--quiet".into(),
            ],
        ),
        (
            "veilmark open",
            vec![
                veilmark.to_string(),
                "envelope".into(),
                "open".into(),
                d("out.vmk"),
                d("back.bin"),
                "--key-file".into(),
                d("key"),
                "--force".into(),
                "--quiet".into(),
            ],
        ),
        (
            "age encrypt",
            vec![
                "age".into(),
                "-e".into(),
                "-r".into(),
                recipient.clone(),
                "-o".into(),
                d("out.age"),
                d("input.bin"),
            ],
        ),
        (
            "age decrypt",
            vec![
                "age".into(),
                "-d".into(),
                "-i".into(),
                d("age-identity"),
                "-o".into(),
                d("back-age.bin"),
                d("out.age"),
            ],
        ),
    ];
    let mut results = Vec::new();
    for (name, argv) in &cases {
        let mut best = f64::INFINITY;
        for _ in 0..runs {
            let started = Instant::now();
            let status = Command::new(&argv[0]).args(&argv[1..]).status()?;
            let secs = started.elapsed().as_secs_f64();
            if !status.success() {
                bail!("{name} failed ({status})");
            }
            best = best.min(secs);
        }
        results.push((*name, best));
    }
    let same = |a: &str, b: &str| -> Result<bool> { Ok(file_digest(a)? == file_digest(b)?) };
    if !same(&d("input.bin"), &d("back.bin"))? || !same(&d("input.bin"), &d("back-age.bin"))? {
        bail!("a round trip did not reproduce the input");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\nenvelope throughput, {size_mib} MiB file, best of {runs}, {cores} cores, MB/s of plaintext:"
    );
    println!("{:<16} {:>10} {:>10}", "tool", "seconds", "MB/s");
    for (name, secs) in &results {
        println!(
            "{name:<16} {secs:>10.3} {:>10.0}",
            bytes as f64 / 1e6 / secs
        );
    }
    let ratio = |a: usize, b: usize| results[b].1 / results[a].1;
    println!(
        "\nveilmark / age: seal {:.2}x, open {:.2}x",
        ratio(0, 2),
        ratio(1, 3)
    );
    Ok(())
}

/// Where the benchmark's large files go: `VEILMARK_BENCH_DIR`, else the system temp folder.
fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("VEILMARK_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into)
}

/// Writes `len` bytes of fast pseudo-random data (xorshift64*; incompressible enough for ciphers).
fn write_random_file(path: &Path, len: u64) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = XorShift64Star::new(0x9E37_79B9_7F4A_7C15);
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        rng.fill_bytes(&mut block);
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(())
}

/// SHA-256 of a file, for the round-trip check.
fn file_digest(path: &str) -> Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut hasher = Sha256::new();
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(hasher.finalize().into()),
            n => hasher.update(&buf[..n]),
        }
    }
}
