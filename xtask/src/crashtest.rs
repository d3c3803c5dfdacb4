//! `cargo xtask crashtest`: the crash campaign at full length.
//!
//! The server's test suite runs a short campaign (10 kills) by default; this runs the same test
//! (`crash::kill_9_at_random_points_loses_no_acknowledged_write`) with at least 200 SIGKILLs of
//! a real server process during seals, uploads, link creation and revocations, then the crawl
//! campaign (`crawl_crash::kill_9_during_crawls_loses_no_hit_and_leaves_evidence_whole`, 6 kills
//! by default) with `--crawl-kills` SIGKILLs of `veilmark crawl`, in release mode unless
//! `--debug` is given. Its figures go into `docs/server.md#durability`.
//!
//! `cargo xtask powerloss` runs the power-loss campaign (`power_loss::
//! power_cut_at_random_points_loses_no_acknowledged_write`): the server's data on a
//! loop-mounted ext4 image, the power cut by copying the image as the disk holds it. It needs
//! root; `cargo xtask test` runs 5 cuts of it.

use anyhow::{Result, bail};

use crate::sh;

/// Runs the server campaign with `kills` kills, then the crawl campaign with `crawl_kills`.
pub fn run(kills: u32, crawl_kills: u32, debug: bool) -> Result<()> {
    if kills < 1 || crawl_kills < 1 {
        bail!("--kills and --crawl-kills must be at least 1");
    }
    run_campaign(
        ("veilmark-server", "server"),
        "crash::kill_9_at_random_points_loses_no_acknowledged_write",
        ("VEILMARK_CRASH_KILLS", kills),
        &format!("crash campaign: {kills} kills"),
        debug,
    )?;
    run_campaign(
        ("veilmark", "cli"),
        "crawl_crash::kill_9_during_crawls_loses_no_hit_and_leaves_evidence_whole",
        ("VEILMARK_CRAWL_CRASH_KILLS", crawl_kills),
        &format!("crawl crash campaign: {crawl_kills} kills"),
        debug,
    )
}

/// Runs one campaign test (`test` in the test binary `package`/`binary`) with its count in
/// the environment variable `count.0`.
fn run_campaign(
    (package, binary): (&str, &str),
    test: &str,
    count: (&str, u32),
    heading: &str,
    debug: bool,
) -> Result<()> {
    let mut args = vec!["test", "-p", package, "--test", binary];
    if !debug {
        args.push("--release");
    }
    args.extend(["--", test, "--exact", "--nocapture"]);
    let n = count.1.to_string();
    sh::step(heading, || sh::run_env("cargo", &args, &[(count.0, &n)]))
}

/// The power-loss campaign's test.
const POWER_LOSS_TEST: &str = "power_loss::power_cut_at_random_points_loses_no_acknowledged_write";

/// Whether this process runs as root (the power-loss campaign mounts a loop device).
pub fn is_root() -> bool {
    sh::output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}

/// Runs the power-loss campaign with `cuts` power cuts.
pub fn power_loss(cuts: u32, debug: bool) -> Result<()> {
    if cuts < 1 {
        bail!("--cuts must be at least 1");
    }
    if !is_root() {
        bail!(
            "the power-loss campaign needs root: it mounts an ext4 image on a loop device and \
             turns off the kernel's periodic writeback while it runs"
        );
    }
    let cuts = cuts.to_string();
    sh::step(&format!("power-loss campaign: {cuts} cuts"), || {
        let bin = server_test_binary(debug)?;
        let status = std::process::Command::new(&bin)
            .args([POWER_LOSS_TEST, "--exact", "--ignored", "--nocapture"])
            .env("VEILMARK_POWER_CUTS", &cuts)
            .current_dir("server")
            .status()?;
        if !status.success() {
            bail!("the power-loss campaign failed ({status})");
        }
        Ok(())
    })
}

/// Builds the server's test binary and returns its path. The debug one is built the way
/// `cargo test --workspace` builds it (a test run has just built it: nothing is rebuilt; `-p`
/// or `--test` would select other dependency features and rebuild much of the tree).
fn server_test_binary(debug: bool) -> Result<std::path::PathBuf> {
    let mut args = vec!["test", "--no-run", "--message-format=json"];
    if debug {
        args.push("--workspace");
    } else {
        args.extend(["--release", "-p", "veilmark-server", "--test", "server"]);
    }
    let out = sh::capture_env("cargo", &args, &[])?;
    for line in out.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let target = &msg["target"];
        if msg["reason"] == "compiler-artifact"
            && target["name"] == "server"
            && target["kind"] == serde_json::json!(["test"])
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(exe.into());
        }
    }
    bail!("cargo built no `server` test binary")
}
