//! `cargo xtask crashtest`: the crash campaign at full length.
//!
//! The server's test suite runs a short campaign (10 kills) by default; this runs the same test
//! (`crash::kill_9_at_random_points_loses_no_acknowledged_write`) with at least 200 SIGKILLs of
//! a real server process during seals, uploads, link creation and revocations, then the crawl
//! campaign (`crawl_crash::kill_9_during_crawls_loses_no_hit_and_leaves_evidence_whole`, 6 kills
//! by default) with `--crawl-kills` SIGKILLs of `veilmark crawl`, in release mode unless
//! `--debug` is given. Its figures go into `docs/server.md#durability`.

use anyhow::{Result, bail};

use crate::sh;

/// Runs the server campaign with `kills` kills, then the crawl campaign with `crawl_kills`.
pub fn run(kills: u32, crawl_kills: u32, debug: bool) -> Result<()> {
    if kills < 1 || crawl_kills < 1 {
        bail!("--kills and --crawl-kills must be at least 1");
    }
    let kills = kills.to_string();
    let mut args = vec!["test", "-p", "veilmark-server", "--test", "server"];
    if !debug {
        args.push("--release");
    }
    args.extend([
        "--",
        "crash::kill_9_at_random_points_loses_no_acknowledged_write",
        "--exact",
        "--nocapture",
    ]);
    sh::step(&format!("crash campaign: {kills} kills"), || {
        sh::run_env("cargo", &args, &[("VEILMARK_CRASH_KILLS", &kills)])
    })?;
    let crawl_kills = crawl_kills.to_string();
    let mut args = vec!["test", "-p", "veilmark", "--test", "cli"];
    if !debug {
        args.push("--release");
    }
    args.extend([
        "--",
        "crawl_crash::kill_9_during_crawls_loses_no_hit_and_leaves_evidence_whole",
        "--exact",
        "--nocapture",
    ]);
    sh::step(
        &format!("crawl crash campaign: {crawl_kills} kills"),
        || {
            sh::run_env(
                "cargo",
                &args,
                &[("VEILMARK_CRAWL_CRASH_KILLS", &crawl_kills)],
            )
        },
    )
}
