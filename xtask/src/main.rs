//! Project automation, in Rust so that it runs wherever cargo does.
//!
//! - `cargo xtask demo`: installs what the demo needs and runs `veilmark demo`.
//! - `cargo xtask test`: installs every tool the tests need on a fresh machine, then runs every
//!   check and test suite: formatting, clippy (native and wasm32), docs, test vectors, the
//!   workspace tests, the independent Python decryptor, the STEP loader against occt-import-js,
//!   the wasm tests in headless Chromium and the fuzz smoke runs. The storage tests use the
//!   machine's PostgreSQL, or start a throwaway one (`xtask/src/postgres.rs`). Nothing is skipped silently: a missing tool is installed or the run fails.
//! - `cargo xtask bench`: throughput benchmarks next to named peers: the envelope against age
//!   (`bench` or `bench envelope`), the browser viewer against pdf.js (`bench viewer`), the CAD
//!   viewer on 2 M triangles against three.js (`bench cad`), the
//!   forensic watermark against invisible-watermark (`bench watermark`) and its false positives
//!   on 10 000+ unmarked pictures (`bench watermark-fpr`).
//! - `cargo xtask vectors [--check]`: regenerates (or checks) `docs/vectors/`.
//! - `cargo xtask crashtest [--kills N] [--crawl-kills N]`: kills a real server with SIGKILL at
//!   least 200 times during writes, and `veilmark crawl` 50 times, and checks nothing
//!   acknowledged was lost and every hit's evidence is whole (`docs/server.md#durability`).
//! - `cargo xtask powerloss [--cuts N]`: cuts the power under a real server 50 times (its data
//!   on a loop-mounted ext4 image; needs root) and checks nothing acknowledged was lost.
//! - `cargo xtask loadtest`: a release server on loopback under legitimate load, quiet and
//!   while one address attacks it; prints latency, errors and peak memory (not part of `test`).

// A host-only tool that runs on 64-bit development and CI machines.
#![allow(clippy::cast_possible_truncation)]

mod bench;
mod cad_bench;
mod console_e2e;
mod crashtest;
mod loadtest;
mod occt;
mod postgres;
mod scaleout_bench;
mod setup;
mod sh;
mod test;
mod vectors;
mod viewer;
mod watermark_bench;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Veilmark project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build in release mode and run the guided demo (`veilmark demo`).
    Demo {
        /// Scratch folder for the demo.
        #[arg(long, default_value = "veilmark-demo")]
        dir: PathBuf,
        /// Address the demo's server listens on (default loopback; another address lets a
        /// browser on another machine open the links, and is announced with a warning).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Install what the tests need, then run every check and test.
    Test {
        /// Seconds each fuzz target runs (smoke test).
        #[arg(long, default_value_t = 10)]
        fuzz_seconds: u32,
    },
    /// Run benchmarks and print our figures next to a peer's, measured in the same run
    /// (without a suite: the envelope against age).
    Bench {
        /// Which benchmark; the envelope one when left out.
        #[command(subcommand)]
        suite: Option<BenchSuite>,
        /// Size of the file for the envelope benchmark, in MiB.
        #[arg(long, default_value_t = 1024)]
        size_mib: u64,
        /// Repetitions per measurement (the best is reported).
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
    /// Kill a real server with SIGKILL at random points during seals, uploads, links and
    /// revocations, restart it each time, and check that nothing acknowledged was lost.
    Crashtest {
        /// How many times the server is killed.
        #[arg(long, default_value_t = 200)]
        kills: u32,
        /// How many times `veilmark crawl` is killed.
        #[arg(long, default_value_t = 50)]
        crawl_kills: u32,
        /// Build in debug mode instead of release.
        #[arg(long)]
        debug: bool,
    },
    /// Power-loss campaign: the server's data on a loop-mounted ext4 image, the power cut at
    /// random moments by taking the image as the disk holds it (needs root).
    Powerloss {
        /// How many times the power is cut.
        #[arg(long, default_value_t = 50)]
        cuts: u32,
        /// Build in debug mode instead of release.
        #[arg(long)]
        debug: bool,
    },
    /// Load test: legitimate viewers against a release server on loopback, quiet and while
    /// one address attacks it (idle sockets, slowloris, 256 MiB uploads, event-stream and
    /// renewal floods); prints p50/p99, errors and the server's peak memory.
    Loadtest {
        /// Legitimate viewers (each from its own loopback address).
        #[arg(long, default_value_t = 200)]
        viewers: usize,
        /// Idle sockets the attacker holds.
        #[arg(long, default_value_t = 2000)]
        idle_sockets: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 20)]
        phase_secs: u64,
        /// Use a debug build (quicker to build; slower to serve).
        #[arg(long)]
        debug: bool,
        /// Run the attacker at the same CPU priority as the server and the viewers (by default
        /// it is a separate process at `nice 19`, standing for a machine of its own).
        #[arg(long)]
        attacker_same_priority: bool,
        /// Only this attack: idle, slowloris, uploads or streams (to tell their costs apart),
        /// or none (a control run: the attacked phase without an attack).
        #[arg(long, value_name = "ATTACK")]
        only_attack: Option<String>,
        /// Pin the server to CPU 0 and the load generator and attacker to CPU 1 (`taskset`):
        /// the server gets a core of its own, as it would on a machine of its own.
        #[arg(long)]
        pin: bool,
    },
    /// The load test's attacker alone (started by `loadtest` as its own process).
    #[command(hide = true)]
    LoadtestAttacker {
        /// The server's address.
        #[arg(long)]
        to: std::net::SocketAddr,
        /// The attacker's own link token.
        #[arg(long)]
        token: String,
        /// Idle sockets to hold.
        #[arg(long)]
        idle_sockets: usize,
        /// Only this attack.
        #[arg(long)]
        only_attack: Option<String>,
    },
    /// Regenerate the test vectors in docs/vectors/ (or, with --check, verify them).
    Vectors {
        /// Fail if the committed vectors differ instead of rewriting them.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum BenchSuite {
    /// Envelope throughput against age (the default; takes `bench`'s own options).
    Envelope,
    /// The browser viewer against pdf.js in headless Chromium: time to first page, per-page
    /// render time, AES-GCM decryption throughput and watermark cost in wasm.
    Viewer {
        /// Runs per document (medians are reported).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Pages timed per document (page 1 and pages 2..N).
        #[arg(long, default_value_t = 8)]
        pages: u32,
    },
    /// The CAD viewer on a 2-million-triangle model (WebGPU and WebGL2) next to three.js on
    /// the same STL in the same Chromium: load to first frame, and frame time while orbiting.
    Cad {
        /// Loads per viewer and backend (medians are reported).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Orbit frames timed after each load.
        #[arg(long, default_value_t = 10)]
        frames: u32,
        /// Torus grid: 2·grid² triangles (1000 gives 2 000 000).
        #[arg(long, default_value_t = 1000)]
        grid: u32,
    },
    /// The forensic watermark's attack suite (drawing, render and five photos) next to
    /// invisible-watermark's dwtDct and dwtDctSvd on the same pictures, side by side.
    Watermark {
        /// Trials per picture and attack for Veilmark.
        #[arg(long, default_value_t = 10)]
        trials: u32,
        /// Trials per picture and attack for the peer (slower per trial).
        #[arg(long, default_value_t = 5)]
        peer_trials: u32,
    },
    /// The scale-out figures of docs/deploy.md: licence grants per second with 1, 2 and 4
    /// release `veilmark serve` replicas on one PostgreSQL database next to one server on
    /// SQLite, then crawl pages per second with 1, 2 and 4 workers on both stores.
    Scaleout {
        /// Seconds per licence-grant phase (a phase also ends when its links are used up).
        #[arg(long, default_value_t = 10)]
        secs: u64,
        /// Links made per phase; each serves 15 licence requests (below the per-link burst).
        #[arg(long, default_value_t = 800)]
        links: usize,
        /// Run one part only: `grants` or `crawl`.
        #[arg(long, value_name = "PART")]
        only: Option<String>,
    },
    /// False positives of the watermark detector on at least `--target` unmarked real pictures
    /// (rendered PDF pages from Debian documentation, photos, icons; whole and as crops).
    WatermarkFpr {
        /// How many pictures to examine at least.
        #[arg(long, default_value_t = 10_000)]
        target: u32,
    },
}

fn main() -> Result<()> {
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match Cli::parse().command {
        Command::Demo { dir, listen } => demo(&root, &dir, listen.as_deref()),
        Command::Test { fuzz_seconds } => test::run(fuzz_seconds),
        Command::Crashtest {
            kills,
            crawl_kills,
            debug,
        } => crashtest::run(kills, crawl_kills, debug),
        Command::Powerloss { cuts, debug } => crashtest::power_loss(cuts, debug),
        Command::Loadtest {
            viewers,
            idle_sockets,
            phase_secs,
            debug,
            attacker_same_priority,
            only_attack,
            pin,
        } => loadtest::run(&loadtest::Options {
            viewers,
            idle_sockets,
            phase_secs,
            debug,
            attacker_same_priority,
            only_attack,
            pin,
        }),
        Command::LoadtestAttacker {
            to,
            token,
            idle_sockets,
            only_attack,
        } => loadtest::attacker_process(to, &token, idle_sockets, only_attack.as_deref()),
        Command::Bench {
            suite: None | Some(BenchSuite::Envelope),
            size_mib,
            runs,
        } => bench::run(size_mib, runs),
        Command::Bench {
            suite: Some(BenchSuite::Viewer { runs, pages }),
            ..
        } => viewer::bench(runs, pages),
        Command::Bench {
            suite: Some(BenchSuite::Cad { runs, frames, grid }),
            ..
        } => cad_bench::run(runs, frames, grid),
        Command::Bench {
            suite:
                Some(BenchSuite::Watermark {
                    trials,
                    peer_trials,
                }),
            ..
        } => watermark_bench::attacks(trials, peer_trials),
        Command::Bench {
            suite: Some(BenchSuite::Scaleout { secs, links, only }),
            ..
        } => scaleout_bench::run(secs, links, only.as_deref()),
        Command::Bench {
            suite: Some(BenchSuite::WatermarkFpr { target }),
            ..
        } => watermark_bench::false_positives(target),
        Command::Vectors { check } => vectors::run(&root.join("docs/vectors/envelope"), check),
    }
}

/// Installs what the demo needs, generates the fixture marketplace once, builds the wasm viewer
/// (so that the links the demo prints open in a browser) and `veilmark` in release mode, with
/// cargo's progress shown, and runs its demo.
fn demo(root: &std::path::Path, dir: &std::path::Path, listen: Option<&str>) -> Result<()> {
    sh::step("install what the demo needs", || {
        setup::ensure_wasm_target()?;
        setup::ensure_python_modules(&[("skimage", "scikit-image"), ("PIL", "pillow")])?;
        // The demo renders the CAD assembly's reference views natively: lavapipe without a GPU.
        setup::ensure_debian_packages(&[
            (
                "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
                "mesa-vulkan-drivers",
            ),
            ("/usr/lib/x86_64-linux-gnu/libvulkan.so.1", "libvulkan1"),
        ])?;
        setup::ensure_wasm_bindgen_cli()
    })?;
    let marketplace = root.join("target/fixture-marketplace/demo");
    if !marketplace.join("ground_truth.json").exists() {
        sh::step("generate the fixture marketplace (once)", || {
            sh::run(
                "python3",
                &[
                    "tests/fixtures/marketplace/generate.py",
                    "--out",
                    &marketplace.to_string_lossy(),
                    "--listings",
                    "300",
                    "--references",
                    "12",
                    "--seed",
                    "7",
                ],
            )
        })?;
    }
    // Without the wasm module every printed link would open a page that cannot start.
    viewer::build_viewer()?;
    sh::step("build veilmark (release)", || {
        sh::run("cargo", &["build", "--release", "-p", "veilmark"])
    })?;
    let dir = dir.to_string_lossy();
    let marketplace = marketplace.to_string_lossy();
    let mut args = vec!["demo", "--dir", &dir, "--marketplace", &marketplace];
    if let Some(listen) = listen {
        args.extend(["--listen", listen]);
    }
    // (`veilmark demo` gives Mesa's Vulkan driver a runtime folder itself: cli/src/main.rs.)
    sh::run("target/release/veilmark", &args)
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
