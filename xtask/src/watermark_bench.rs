//! `cargo xtask bench watermark` and `cargo xtask bench watermark-fpr`: the forensic watermark's
//! attack table next to `invisible-watermark` (same pictures, same run), and its false-positive
//! count on more than 10 000 unmarked real pictures (`docs/watermark.md#results`).

use std::path::Path;

use anyhow::{Context, Result};

use crate::{setup, sh};

/// scikit-image's sample photos used as pictures (public domain / CC0).
const PHOTOS: &str = "astronaut camera chelsea coffee rocket";

/// Writes scikit-image's sample photos as PNG into `dir`.
fn write_photos(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let script = format!(
        "import sys, skimage.data as d\nfrom PIL import Image\nfor n in '{PHOTOS}'.split():\n    Image.fromarray(getattr(d, n)()).save(f'{{sys.argv[1]}}/{{n}}.png')\n"
    );
    sh::run("python3", &["-c", &script, &dir.to_string_lossy()])
}

/// Installs `invisible-watermark` without its torch/onnx dependencies (only `rivaGan` needs
/// them, and it is not measured).
fn ensure_invisible_watermark() -> Result<()> {
    let have = sh::output(
        "python3",
        &[
            "-c",
            "import importlib.util, sys; sys.exit(importlib.util.find_spec('imwatermark') is None)",
        ],
    );
    if have.is_some() {
        return Ok(());
    }
    sh::run(
        "python3",
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "invisible-watermark",
            "PyWavelets",
            "opencv-python-headless",
        ],
    )
}

/// The attack suite on the drawing, the render and five photos, then the peer on the same
/// pictures with a side-by-side table.
pub fn attacks(trials: u32, peer_trials: u32) -> Result<()> {
    setup::ensure_debian_packages(&[("/usr/bin/cwebp", "webp"), ("/usr/bin/dwebp", "webp")])?;
    setup::ensure_python_modules(&[("skimage", "scikit-image"), ("PIL", "pillow")])?;
    ensure_invisible_watermark()?;
    // Absolute: `cargo bench` runs the benchmark in the package's own folder.
    let dir = std::env::current_dir()?.join("target/wm-bench");
    let dir = dir.as_path();
    let _ = std::fs::remove_dir_all(dir);
    let (photos, pictures, results) = (
        dir.join("photos"),
        dir.join("pictures"),
        dir.join("veilmark.json"),
    );
    write_photos(&photos)?;
    sh::run_env(
        "cargo",
        &[
            "bench",
            "-q",
            "-p",
            "veilmark-shared",
            "--bench",
            "watermark_attacks",
        ],
        &[
            ("WM_TRIALS", &trials.to_string()),
            ("WM_PHOTOS", &photos.to_string_lossy()),
            ("WM_NEGATIVES", "300"),
            ("WM_DUMP", &pictures.to_string_lossy()),
            ("WM_RESULTS", &results.to_string_lossy()),
        ],
    )?;
    println!();
    sh::run(
        "python3",
        &[
            "tests/peers/invisible_watermark_peer.py",
            &pictures.to_string_lossy(),
            &peer_trials.to_string(),
            &results.to_string_lossy(),
        ],
    )
}

/// Debian documentation packages whose PDFs (manuals, reference cards, plots, CAD-style
/// figures) join the false-positive corpus: (a file the package installs, package).
const DOC_PACKAGES: [(&str, &str); 2] = [
    ("/usr/share/doc/asymptote/asymptote.pdf", "asymptote-doc"),
    ("/usr/share/doc/gnuplot/gnuplot.pdf", "gnuplot-doc"),
];

/// False positives of the detector on `target` unmarked pictures or more: rendered PDF pages
/// and image files, whole and as crops, rescales and JPEG re-encodes.
pub fn false_positives(target: u32) -> Result<()> {
    setup::ensure_debian_packages(&DOC_PACKAGES)?;
    setup::ensure_python_modules(&[("skimage", "scikit-image"), ("PIL", "pillow")])?;
    let site_packages = sh::output(
        "python3",
        &[
            "-c",
            "import os, skimage; print(os.path.dirname(os.path.dirname(skimage.__file__)))",
        ],
    )
    .context("cannot locate Python's site-packages")?;
    let mut images = format!("/usr/share:{}", site_packages.trim());
    for fixture in [
        "target/fixture-marketplace/demo",
        "target/fixture-marketplace/demo-test",
    ] {
        let img = std::env::current_dir()?.join(fixture).join("site/img");
        if img.exists() {
            images.push(':');
            images.push_str(&img.to_string_lossy());
        }
    }
    sh::run_env(
        "cargo",
        &[
            "bench",
            "-q",
            "-p",
            "veilmark-viewer-wasm",
            "--bench",
            "forensic_fpr",
        ],
        &[
            ("FPR_TARGET", &target.to_string()),
            ("FPR_PDFS", "/usr/share/doc"),
            ("FPR_IMAGES", &images),
        ],
    )
}
