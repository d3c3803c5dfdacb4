//! The browser viewer's build, browser tests and benchmark, for `cargo xtask test` and
//! `cargo xtask bench viewer` to call.
//!
//! [`build_viewer`] compiles `viewer-wasm` for wasm32 in the [`WASM_PROFILE`] profile and runs
//! wasm-bindgen into `www/viewer/pkg/` (gitignored), then writes gzip and brotli copies that
//! `veilmark serve` sends to browsers that accept them. [`wasm_tests`] runs the wasm32 tests of
//! `shared` and `viewer-wasm` in headless Chromium in the same profile, so that they reuse every
//! dependency the viewer build compiled. [`e2e`] runs `tests/e2e/viewer.e2e.mjs` (then
//! `tests/e2e/embed.e2e.mjs`, the viewer embedded in a partner portal on another origin, with
//! the same binary, wasm and npm install) and [`bench()`]
//! `tests/e2e/viewer.bench.mjs` (our viewer against pdf.js) against a real `veilmark serve`.
//!
//! No wasm-opt pass: Debian's binaryen (108) cannot parse what wasm-bindgen 0.2.130 emits for a
//! reference-types build (`table.fill`), turning reference types off breaks wasm-bindgen's
//! externref pass, and a current binaryen (npm's, compiled to wasm) takes ~100 s to save 4 % of
//! the gzipped size with no measurable render speed-up (docs/viewer.md#performance). Dropping
//! the name section in wasm-bindgen gives most of wasm-opt's raw-size gain for free.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{setup, sh};

/// The cargo profile of every wasm32 build: the shipped viewer, its tests and its benchmark.
/// One profile means one build of the dependencies (`Cargo.toml` says why it has no LTO).
pub const WASM_PROFILE: &str = "wasm-release";

/// The built module, as served.
const WASM: &str = "www/viewer/pkg/veilmark_viewer_wasm_bg.wasm";

/// Builds the wasm viewer into `www/viewer/pkg/` with `.gz` and `.br` copies of its files.
pub fn build_viewer() -> Result<()> {
    sh::step("viewer: wasm build", || {
        setup::ensure_debian_packages(&[("/usr/bin/brotli", "brotli")])?;
        sh::run(
            "cargo",
            &[
                "build",
                "--profile",
                WASM_PROFILE,
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "veilmark-viewer-wasm",
            ],
        )?;
        let built =
            format!("target/wasm32-unknown-unknown/{WASM_PROFILE}/veilmark_viewer_wasm.wasm");
        sh::run(
            "wasm-bindgen",
            &[
                "--target",
                "web",
                "--no-typescript",
                "--remove-name-section",
                "--out-dir",
                "www/viewer/pkg",
                &built,
            ],
        )?;
        let mut sizes = Vec::new();
        for file in [WASM, "www/viewer/pkg/veilmark_viewer_wasm.js"] {
            sh::run("gzip", &["-9", "--no-name", "--keep", "--force", file])?;
            sh::run("brotli", &["-q", "9", "--keep", "--force", file])?;
            sizes.push(size(file)?);
        }
        let (gz, br) = (size(&format!("{WASM}.gz"))?, size(&format!("{WASM}.br"))?);
        println!(
            "viewer wasm: {} KiB ({} KiB gzip, {} KiB brotli); JS glue {} KiB",
            sizes[0] / 1024,
            gz / 1024,
            br / 1024,
            sizes[1] / 1024
        );
        Ok(())
    })
}

fn size(path: &str) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{path} was not written"))?
        .len())
}

/// The environment that makes `cargo test --target wasm32-unknown-unknown` run its tests in
/// headless Chromium through `wasm-bindgen-test-runner` and the Debian chromedriver.
fn wasm_runner_env() -> Result<Vec<(&'static str, String)>> {
    let webdriver_json = std::fs::canonicalize("tests/webdriver.json")?;
    Ok(vec![
        (
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner".into(),
        ),
        ("CHROMEDRIVER", "/usr/bin/chromedriver".into()),
        (
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            webdriver_json.to_string_lossy().into_owned(),
        ),
        ("WASM_BINDGEN_TEST_TIMEOUT", "120".into()),
    ])
}

/// `cargo test` in the wasm profile for wasm32, with the Chromium runner's environment.
fn cargo_wasm_test(cargo_args: &[&str], capture: bool) -> Result<String> {
    let mut args = vec![
        "test",
        "--profile",
        WASM_PROFILE,
        "--target",
        "wasm32-unknown-unknown",
    ];
    args.extend_from_slice(cargo_args);
    let env = wasm_runner_env()?;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if capture {
        sh::capture_env("cargo", &args, &env)
    } else {
        sh::run_env("cargo", &args, &env).map(|()| String::new())
    }
}

/// The wasm32 tests of `shared` (envelope vectors) and `viewer-wasm` (session, envelope reader,
/// render, marks, wipe) in headless Chromium. Run after [`build_viewer`]: only the two test
/// crates are left to compile.
pub fn wasm_tests() -> Result<()> {
    sh::step("wasm32 tests in headless Chromium (shared, viewer)", || {
        cargo_wasm_test(
            &[
                "-p",
                "veilmark-shared",
                "-p",
                "veilmark-viewer-wasm",
                "--test",
                "wasm",
            ],
            false,
        )
        .map(drop)
    })
}

/// Builds the CLI and the native page renderer, then runs the playwright-core end-to-end tests
/// of the viewer and of embedding it (after [`build_viewer`]).
pub fn e2e() -> Result<()> {
    sh::step("viewer: e2e (headless Chromium)", || {
        sh::run("cargo", &["build", "-p", "veilmark"])?;
        sh::run(
            "cargo",
            &[
                "build",
                "-p",
                "veilmark-viewer-wasm",
                "--example",
                "render_page",
            ],
        )?;
        ensure_chromium()?;
        npm_ci()?;
        sh::run("node", &["tests/e2e/viewer.e2e.mjs"])
    })?;
    sh::step("embedding: e2e (partner portal, headless Chromium)", || {
        sh::run("node", &["tests/e2e/embed.e2e.mjs"])
    })?;
    sh::step(
        "CAD viewer: e2e on WebGPU and WebGL2 against native renders (headless Chromium)",
        || sh::run("node", &["tests/e2e/cad.e2e.mjs"]),
    )?;
    sh::step(
        "demo: e2e (the served demo's printed links, console revocation, headless Chromium)",
        || sh::run("node", &["tests/e2e/demo.e2e.mjs"]),
    )
}

fn ensure_chromium() -> Result<()> {
    if !Path::new("/usr/bin/chromium").exists() && std::env::var_os("CHROMIUM").is_none() {
        bail!("no Chromium at /usr/bin/chromium (set CHROMIUM)");
    }
    Ok(())
}

/// playwright-core, from `tests/e2e/package-lock.json`.
fn npm_ci() -> Result<()> {
    sh::run(
        "npm",
        &["ci", "--prefix", "tests/e2e", "--no-audit", "--no-fund"],
    )
}

/// The pdf.js release the benchmark measures against.
pub const PDFJS_VERSION: &str = "6.5.438";

/// Unpacks `pdfjs-dist` at [`PDFJS_VERSION`] under `dir` (once) and returns its folder.
///
/// `npm pack` rather than a dependency in `tests/e2e/package.json`: pdfjs-dist's optional
/// native canvas for Node lists platform packages that the registry mirror lacks, which makes
/// `npm ci` refuse the lock file — and the browser needs none of it.
fn ensure_pdfjs(dir: &Path) -> Result<PathBuf> {
    setup::npm_unpack("pdfjs-dist", PDFJS_VERSION, dir, "build/pdf.min.mjs")
}

/// The benchmark's documents: real multi-page PDFs from Debian packages, varied on purpose.
/// (name, path, Debian package, whether Debian ships it gzipped).
const BENCH_PDFS: [(&str, &str, &str, bool); 4] = [
    (
        "shared-mime-info-spec",
        "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
        "shared-mime-info",
        false,
    ),
    (
        "asymptote-CAD",
        "/usr/share/doc/asymptote/CAD.pdf",
        "asymptote-doc",
        false,
    ),
    (
        "graphviz-dotguide",
        "/usr/share/doc/graphviz/pdf/dotguide.pdf.gz",
        "graphviz-doc",
        true,
    ),
    (
        "asymptote-manual",
        "/usr/share/doc/asymptote/asymptote.pdf",
        "asymptote-doc",
        false,
    ),
];

/// `cargo xtask bench viewer`: the wasm micro-benchmarks (decryption throughput, watermark
/// cost per frame), then our viewer against pdf.js on [`BENCH_PDFS`] in headless Chromium.
pub fn bench(runs: u32, pages: u32) -> Result<()> {
    setup::ensure_debian_packages(&[
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/chromedriver", "chromium-driver"),
    ])?;
    let wanted: Vec<(&str, &str)> = BENCH_PDFS.iter().map(|(_, p, pkg, _)| (*p, *pkg)).collect();
    setup::ensure_debian_packages(&wanted)?;
    setup::ensure_wasm_target()?;
    setup::ensure_wasm_bindgen_cli()?;
    let out = PathBuf::from("target/bench-viewer");
    std::fs::create_dir_all(&out)?;
    let mut pdf_args = Vec::new();
    for (name, path, _, gzipped) in BENCH_PDFS {
        let path = if gzipped {
            let plain = out.join(format!("{name}.pdf"));
            let status = std::process::Command::new("gzip")
                .args(["-dc", path])
                .stdout(std::fs::File::create(&plain)?)
                .status()?;
            anyhow::ensure!(status.success(), "cannot gunzip {path}");
            plain
        } else {
            PathBuf::from(path)
        };
        pdf_args.push(format!("{name}={}", path.display()));
    }
    build_viewer()?;
    sh::step("build veilmark (release)", || {
        sh::run(
            "cargo",
            &["build", "--release", "--quiet", "-p", "veilmark"],
        )
    })?;
    let micro = sh::step("wasm micro-benchmarks in headless Chromium", || {
        let output = cargo_wasm_test(
            &[
                "-p",
                "veilmark-viewer-wasm",
                "--test",
                "wasm_bench",
                "--",
                "--include-ignored",
                "--nocapture",
            ],
            true,
        )?;
        print!("{output}");
        // One JSON object per benchmark line; merged into one for the table.
        let fields: Vec<&str> = output
            .lines()
            .filter_map(|l| l.split_once("VIEWER_BENCH ").map(|(_, json)| json.trim()))
            .map(|json| json.trim_start_matches('{').trim_end_matches('}'))
            .collect();
        anyhow::ensure!(fields.len() == 2, "the wasm benchmarks printed no results");
        let path = out.join("wasm.json");
        std::fs::write(&path, format!("{{{}}}", fields.join(",")))?;
        Ok(path)
    })?;
    sh::step("viewer against pdf.js in headless Chromium", || {
        ensure_chromium()?;
        npm_ci()?;
        let pdfjs = ensure_pdfjs(&out)?;
        let (runs, pages) = (runs.to_string(), pages.to_string());
        let results = out.join("viewer.json");
        let mut args: Vec<String> = [
            "tests/e2e/viewer.bench.mjs",
            "--bin",
            "target/release/veilmark",
            "--runs",
            &runs,
            "--pages",
            &pages,
            "--out",
            &results.to_string_lossy(),
            "--wasm-results",
            &micro.to_string_lossy(),
            "--pdfjs",
            &pdfjs.to_string_lossy(),
        ]
        .map(str::to_owned)
        .to_vec();
        for p in &pdf_args {
            args.extend(["--pdf".to_owned(), p.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sh::run("node", &args)?;
        println!("results: {}", results.display());
        Ok(())
    })
}
