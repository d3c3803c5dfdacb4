//! The browser viewer's build and end-to-end test, for `cargo xtask test` to call.
//!
//! [`build_viewer`] compiles `viewer-wasm` for wasm32 and runs wasm-bindgen into
//! `www/viewer/pkg/` (gitignored); [`e2e`] builds the `veilmark` binary and runs
//! `tests/e2e/viewer.e2e.mjs` (playwright-core driving the system Chromium) against it, then
//! `tests/e2e/embed.e2e.mjs` (the viewer embedded in a partner portal on another origin) with
//! the same binary, wasm and npm install, so embedding adds only its own ~10 s.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::sh;

/// Builds the wasm viewer into `www/viewer/pkg/` (release, as served).
pub fn build_viewer() -> Result<()> {
    sh::step("viewer: wasm build", || {
        sh::run(
            "cargo",
            &[
                "build",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "veilmark-viewer-wasm",
            ],
        )?;
        sh::run(
            "wasm-bindgen",
            &[
                "--target",
                "web",
                "--no-typescript",
                "--out-dir",
                "www/viewer/pkg",
                "target/wasm32-unknown-unknown/release/veilmark_viewer_wasm.wasm",
            ],
        )?;
        let wasm = Path::new("www/viewer/pkg/veilmark_viewer_wasm_bg.wasm");
        let len = std::fs::metadata(wasm)
            .context("wasm-bindgen wrote no .wasm")?
            .len();
        println!("viewer wasm: {} KiB", len / 1024);
        Ok(())
    })
}

/// Builds the viewer and the CLI, then runs the playwright-core end-to-end tests of the viewer
/// and of embedding it.
pub fn e2e() -> Result<()> {
    build_viewer()?;
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
        if !Path::new("/usr/bin/chromium").exists() && std::env::var_os("CHROMIUM").is_none() {
            bail!("no Chromium at /usr/bin/chromium (set CHROMIUM)");
        }
        sh::run(
            "npm",
            &["ci", "--prefix", "tests/e2e", "--no-audit", "--no-fund"],
        )?;
        sh::run("node", &["tests/e2e/viewer.e2e.mjs"])
    })?;
    sh::step("embedding: e2e (partner portal, headless Chromium)", || {
        sh::run("node", &["tests/e2e/embed.e2e.mjs"])
    })
}
