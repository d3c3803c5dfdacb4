//! Installing what the tests, demo and benchmarks need on a fresh machine.
//!
//! Each `ensure_*` checks first and installs only what is missing, so a warm machine pays
//! nothing. Installs come from the package registries this project may use: rustup targets,
//! crates.io, Debian's packages, PyPI and npm. Nothing downloads a prebuilt browser.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::sh;

/// `rustup target add wasm32-unknown-unknown` unless installed.
pub fn ensure_wasm_target() -> Result<()> {
    let installed = sh::output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    sh::run("rustup", &["target", "add", "wasm32-unknown-unknown"])
}

/// Installs Debian packages whose named binary is missing (`apt-get`, as root or via sudo).
pub fn ensure_debian_packages(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(binary, _)| !std::path::Path::new(binary).exists())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing Debian packages: {}", missing.join(" "));
    let is_root = sh::output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    let (program, prefix): (&str, Vec<&str>) = if is_root {
        ("apt-get", vec![])
    } else if sh::output("sudo", &["-n", "true"]).is_some() {
        ("sudo", vec!["apt-get"])
    } else {
        bail!(
            "these Debian packages are needed: {}; install them as root (apt-get install {})",
            missing.join(", "),
            missing.join(" ")
        );
    };
    // Another install (unattended upgrades, a second terminal) may hold dpkg's lock: wait for
    // it rather than failing at once, and say so when the wait runs out.
    let lock_wait = format!("DPkg::Lock::Timeout={APT_LOCK_WAIT_SECS}");
    let mut update = prefix.clone();
    update.extend(["-o", &lock_wait, "update", "-qq"]);
    let mut install = prefix;
    install.extend([
        "-o",
        &lock_wait,
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
    ]);
    install.extend(missing.iter().copied());
    sh::run(program, &update)
        .and_then(|()| sh::run_env(program, &install, &[("DEBIAN_FRONTEND", "noninteractive")]))
        .with_context(|| {
            format!(
                "installing {} failed; if another package install held the lock for more than \
                 {APT_LOCK_WAIT_SECS} s, wait for it to finish and run this again",
                missing.join(" ")
            )
        })
}

/// How long an install waits for another one's dpkg lock.
const APT_LOCK_WAIT_SECS: u32 = 600;

/// The version of `crate_name` recorded in Cargo.lock.
pub fn locked_version(crate_name: &str) -> Result<String> {
    let lock = std::fs::read_to_string("Cargo.lock").context("cannot read Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{crate_name}\"")
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
        {
            return Ok(v.trim_matches('"').to_owned());
        }
    }
    bail!("{crate_name} is not in Cargo.lock")
}

/// `cargo install wasm-bindgen-cli` at exactly the version the workspace links against.
pub fn ensure_wasm_bindgen_cli() -> Result<()> {
    let version = locked_version("wasm-bindgen")?;
    let have = sh::output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(version.as_str()) {
        return Ok(());
    }
    println!("installing wasm-bindgen-cli {version} (about 2-3 minutes, once)");
    // Without --locked: the CLI's own lock file names a dependency version the registry lacks.
    sh::run(
        "cargo",
        &[
            "install",
            "--quiet",
            "wasm-bindgen-cli",
            "--version",
            &version,
        ],
    )
}

/// `cargo install cargo-fuzz` unless present.
pub fn ensure_cargo_fuzz() -> Result<()> {
    if sh::output("cargo", &["fuzz", "--version"]).is_some() {
        return Ok(());
    }
    println!("installing cargo-fuzz (about 1-2 minutes, once)");
    sh::run("cargo", &["install", "--quiet", "cargo-fuzz"])
}

/// `pip install` the Python packages whose module cannot be imported.
pub fn ensure_python_modules(wanted: &[(&str, &str)]) -> Result<()> {
    for (module, package) in wanted {
        if sh::output("python3", &["-c", &format!("import {module}")]).is_none() {
            sh::run("python3", &["-m", "pip", "install", "--quiet", package])?;
        }
    }
    Ok(())
}

/// Unpacks the npm package `name@version` under `dir` once (`npm pack` and `tar`, no
/// `node_modules`), and returns its folder. `marker` is a file inside the package that shows
/// an earlier unpack is complete.
pub fn npm_unpack(name: &str, version: &str, dir: &Path, marker: &str) -> Result<PathBuf> {
    let unpacked = dir.join(format!("{name}-{version}"));
    if unpacked.join(marker).is_file() {
        return Ok(unpacked);
    }
    sh::run(
        "npm",
        &[
            "pack",
            &format!("{name}@{version}"),
            "--pack-destination",
            &dir.to_string_lossy(),
            "--silent",
        ],
    )?;
    std::fs::create_dir_all(&unpacked)?;
    let tarball = dir.join(format!("{name}-{version}.tgz"));
    sh::run(
        "tar",
        &[
            "-xzf",
            &tarball.to_string_lossy(),
            "-C",
            &unpacked.to_string_lossy(),
            "--strip-components=1",
        ],
    )?;
    Ok(unpacked)
}
