//! `cargo xtask bench cad`: a 2-million-triangle model in the browser viewer (WebGPU and WebGL2)
//! next to three.js loading the same STL unencrypted in the same Chromium.
//!
//! The model is generated here (a torus tessellated on a 1000 × 1000 grid, binary STL,
//! 100 MB), so the benchmark needs no download and every run measures the same bytes.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::{setup, sh, viewer};

/// The three.js release measured against.
pub const THREE_VERSION: &str = "0.187.0";

/// Writes a binary STL torus with `2 · n · n` triangles.
fn write_torus(path: &Path, n: u32) -> Result<u64> {
    let (big, small) = (60.0f64, 20.0f64);
    let point = |i: u32, j: u32| {
        let u = std::f64::consts::TAU * f64::from(i % n) / f64::from(n);
        let v = std::f64::consts::TAU * f64::from(j % n) / f64::from(n);
        let r = big + small * v.cos();
        [
            (r * u.cos()) as f32,
            (r * u.sin()) as f32,
            (small * v.sin()) as f32,
        ]
    };
    let triangles = 2 * u64::from(n) * u64::from(n);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut header = [0u8; 80];
    header[..32].copy_from_slice(b"veilmark bench torus (xtask)    ");
    out.write_all(&header)?;
    out.write_all(&u32::try_from(triangles)?.to_le_bytes())?;
    let mut facet = |a: [f32; 3], b: [f32; 3], c: [f32; 3]| -> std::io::Result<()> {
        out.write_all(&[0u8; 12])?; // normal: readers recompute it
        for p in [a, b, c] {
            for v in p {
                out.write_all(&v.to_le_bytes())?;
            }
        }
        out.write_all(&[0, 0])
    };
    for i in 0..n {
        for j in 0..n {
            let (p00, p10, p11, p01) = (
                point(i, j),
                point(i + 1, j),
                point(i + 1, j + 1),
                point(i, j + 1),
            );
            facet(p00, p10, p11)?;
            facet(p00, p11, p01)?;
        }
    }
    out.flush()?;
    Ok(triangles)
}

/// Unpacks `three` at [`THREE_VERSION`] under `dir` (once) and returns its folder.
fn ensure_three(dir: &Path) -> Result<PathBuf> {
    setup::npm_unpack("three", THREE_VERSION, dir, "build/three.module.js")
}

/// Runs the benchmark: `runs` loads per viewer and backend, `frames` orbit frames each.
pub fn run(runs: u32, frames: u32, grid: u32) -> Result<()> {
    setup::ensure_debian_packages(&[("/usr/bin/chromium", "chromium")])?;
    setup::ensure_wasm_target()?;
    setup::ensure_wasm_bindgen_cli()?;
    let out = PathBuf::from("target/bench-cad");
    std::fs::create_dir_all(&out)?;
    let stl = out.join(format!("torus-{grid}.stl"));
    let triangles = sh::step("generate the benchmark model", || {
        let t = write_torus(&stl, grid)?;
        println!("{}: {t} triangles", stl.display());
        Ok(t)
    })?;
    viewer::build_viewer()?;
    sh::step("build veilmark (release)", || {
        sh::run(
            "cargo",
            &["build", "--release", "--quiet", "-p", "veilmark"],
        )
    })?;
    sh::step("CAD viewer against three.js in headless Chromium", || {
        sh::run(
            "npm",
            &["ci", "--prefix", "tests/e2e", "--no-audit", "--no-fund"],
        )?;
        let three = ensure_three(&out)?;
        let results = out.join("cad.json");
        sh::run(
            "node",
            &[
                "tests/e2e/cad.bench.mjs",
                "--bin",
                "target/release/veilmark",
                "--stl",
                &stl.to_string_lossy(),
                "--three",
                &three.to_string_lossy(),
                "--triangles",
                &triangles.to_string(),
                "--runs",
                &runs.to_string(),
                "--frames",
                &frames.to_string(),
                "--out",
                &results.to_string_lossy(),
            ],
        )
    })
}
