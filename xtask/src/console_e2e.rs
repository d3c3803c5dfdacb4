//! The owner and review console in headless Chromium (`tests/e2e/console/`): builds the
//! `console_fixture` example (a server with a sealed document, links and planted hostile hits),
//! installs playwright-core and axe-core with `npm ci`, and runs the browser test. Screenshots
//! land in `target/console-e2e/` for a person to look at (the committed ones in
//! `docs/screenshots/` are refreshed by running the script by hand).

use anyhow::Result;

use crate::{setup, sh};

/// Builds the fixture, installs the npm packages and runs the console's browser test.
pub fn run() -> Result<()> {
    setup::ensure_debian_packages(&[("/usr/bin/chromium", "chromium")])?;
    if sh::output("node", &["--version"]).is_none() {
        anyhow::bail!(
            "the console browser test needs Node.js 18 or later (apt-get install nodejs npm)"
        );
    }
    sh::run(
        "cargo",
        &[
            "build",
            "-p",
            "veilmark-server",
            "--example",
            "console_fixture",
        ],
    )?;
    sh::run(
        "npm",
        &[
            "ci",
            "--no-audit",
            "--no-fund",
            "--prefix",
            "tests/e2e/console",
        ],
    )?;
    sh::run_env(
        "node",
        &[
            "tests/e2e/console/console.test.mjs",
            "target/debug/examples/console_fixture",
        ],
        &[("CONSOLE_SCREENSHOTS", "target/console-e2e")],
    )
}
