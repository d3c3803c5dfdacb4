//! `cargo xtask test`: the one command that runs every test, on a fresh machine or a warm one.
//!
//! `.ci/run` calls exactly this. Steps run in order and stop at the first failure; each prints
//! its duration so that slow steps are visible in CI logs. The workspace tests run last but for
//! the short power-loss campaign (root only), so that the run closes on their summary.

use anyhow::Result;

use crate::postgres::{self, TestPostgres};
use crate::{setup, sh};

/// Installs prerequisites, then runs all checks and suites.
pub fn run(fuzz_seconds: u32) -> Result<()> {
    sh::step("install prerequisites", || {
        setup::ensure_wasm_target()?;
        setup::ensure_debian_packages(&[
            ("/usr/bin/chromium", "chromium"),
            ("/usr/bin/chromedriver", "chromium-driver"),
            // Native wgpu without a GPU (`veilmark render`, the renderer's tests): Mesa's
            // lavapipe software Vulkan driver and the Vulkan loader.
            (
                "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
                "mesa-vulkan-drivers",
            ),
            ("/usr/lib/x86_64-linux-gnu/libvulkan.so.1", "libvulkan1"),
            // A real CAD file from a package (cad/tests/debian.rs).
            (
                "/usr/share/doc/asymptote/examples/uhrturm.obj",
                "asymptote-doc",
            ),
        ])?;
        setup::ensure_python_modules(&[
            ("cryptography", "cryptography"),
            // The crawler's fixture marketplace is generated from scikit-image's sample photos.
            ("skimage", "scikit-image"),
            ("PIL", "pillow"),
            // A real SMTP server on loopback for the access-review reminders
            // (testkit/src/smtp.rs).
            ("aiosmtpd", "aiosmtpd"),
        ])?;
        setup::ensure_wasm_bindgen_cli()?;
        setup::ensure_cargo_fuzz()
    })?;
    sh::step("cargo fmt --check", || {
        sh::run("cargo", &["fmt", "--all", "--", "--check"])
    })?;
    sh::step("clippy (native, all targets)", || {
        sh::run(
            "cargo",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ],
        )
    })?;
    // The library and the browser tests; shared's other tests and benchmarks are native-only.
    sh::step("clippy (wasm32: shared, viewer, browser tests)", || {
        sh::run(
            "cargo",
            &[
                "clippy",
                "--quiet",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "veilmark-shared",
                "-p",
                "veilmark-viewer-wasm",
                "--lib",
                "--test",
                "wasm",
                "--test",
                "wasm_bench",
                "--",
                "-D",
                "warnings",
            ],
        )
    })?;
    sh::step("clippy (wasm32: CAD loaders and renderer)", || {
        sh::run(
            "cargo",
            &[
                "clippy",
                "--quiet",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "veilmark-cad",
                "-p",
                "veilmark-render",
                "--lib",
                "--",
                "-D",
                "warnings",
            ],
        )
    })?;
    sh::step("cargo doc (warnings are errors)", || {
        sh::run_env(
            "cargo",
            &["doc", "--workspace", "--no-deps", "--quiet"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )
    })?;
    sh::step("test vectors match the implementation", || {
        crate::vectors::run(std::path::Path::new("docs/vectors/envelope"), true)
    })?;
    sh::step("fuzz smoke runs", || fuzz_smoke(fuzz_seconds))?;
    sh::step(
        "independent Python decryptor agrees with every vector",
        || {
            sh::run(
                "python3",
                &["tests/interop/envelope_interop.py", "docs/vectors/envelope"],
            )
        },
    )?;
    sh::step(
        "STEP loader agrees with occt-import-js (OpenCascade)",
        crate::occt::run,
    )?;
    // The viewer's wasm build first: the wasm tests reuse its dependency builds.
    crate::viewer::build_viewer()?;
    crate::viewer::wasm_tests()?;
    crate::viewer::e2e()?;
    sh::step(
        "owner and review consoles in headless Chromium (playwright-core, axe-core)",
        crate::console_e2e::run,
    )?;
    // PostgreSQL for the storage tests: the machine's own, or a throwaway one stopped when
    // `postgres` drops at the end of this function.
    let postgres = sh::step("PostgreSQL for the storage tests", TestPostgres::ensure)?;
    sh::step("cargo test (workspace)", || {
        sh::run_env(
            "cargo",
            &["test", "--workspace"],
            &[(postgres::SERVER_ENV, postgres.url())],
        )
    })?;
    // The power-loss campaign needs root (a loop mount); elsewhere it is reported, not hidden.
    if crate::crashtest::is_root() {
        crate::crashtest::power_loss(5, true)?;
    } else {
        println!(
            "\nNOT RUN: the power-loss campaign (server/tests/power_loss.rs) needs root; run \
             `sudo cargo xtask powerloss`"
        );
    }
    println!("\nall checks and test suites passed");
    Ok(())
}

/// Runs each fuzz target for a few seconds. cargo-fuzz needs nightly-only compiler flags; this
/// machine has one stable toolchain, so `RUSTC_BOOTSTRAP=1` unlocks them for the fuzz build only.
fn fuzz_smoke(seconds: u32) -> Result<()> {
    let list = sh::output("cargo", &["fuzz", "list", "--fuzz-dir", "fuzz"]).unwrap_or_default();
    let targets: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    anyhow::ensure!(!targets.is_empty(), "no fuzz targets found in fuzz/");
    let max_time = format!("-max_total_time={seconds}");
    for target in targets {
        sh::run_env(
            "cargo",
            &[
                "fuzz",
                "run",
                "--fuzz-dir",
                "fuzz",
                target,
                "--",
                &max_time,
                "-rss_limit_mb=2048",
            ],
            &[("RUSTC_BOOTSTRAP", "1")],
        )?;
    }
    Ok(())
}
