//! The STEP loader judged by OpenCascade: loads the STEP fixtures with occt-import-js
//! (`tests/interop/occt/compare.mjs`, OpenCascade compiled to wasm, installed with `npm ci`)
//! and runs `veilmark-cad`'s `step_occt` test against those fresh figures.

use anyhow::Result;

use crate::sh;

/// Writes occt-import-js's figures to `target/occt-results.jsonl` and compares.
pub fn run() -> Result<()> {
    if sh::output("node", &["--version"]).is_none() {
        anyhow::bail!(
            "the occt-import-js comparison needs Node.js 18 or later (apt-get install nodejs npm)"
        );
    }
    sh::run(
        "npm",
        &[
            "ci",
            "--no-audit",
            "--no-fund",
            "--prefix",
            "tests/interop/occt",
        ],
    )?;
    let files = [
        "tests/fixtures/cad/bracket.step",
        "tests/fixtures/cad/flange.step",
        "tests/fixtures/cad/assembly.step",
    ];
    let mut args = vec!["tests/interop/occt/compare.mjs"];
    args.extend(files);
    let figures = sh::capture_env("node", &args, &[])?;
    std::fs::create_dir_all("target")?;
    let out = "target/occt-results.jsonl";
    std::fs::write(out, figures)?;
    sh::run_env(
        "cargo",
        &[
            "test",
            "--quiet",
            "-p",
            "veilmark-cad",
            "--test",
            "cad",
            "--",
            "step_occt::",
            "--nocapture",
        ],
        &[("OCCT_RESULTS", out)],
    )
}
