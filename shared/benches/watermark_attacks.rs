//! The watermark attack suite as a table: per attack, exact-payload recovery and bit accuracy;
//! then false positives on unmarked images and the embedding time per 1920×1080 frame.
//!
//! `cargo bench -p veilmark-shared --bench watermark_attacks` (release build). Environment:
//! `WM_TRIALS` (default 10) trials per picture and attack, `WM_SIZE` (default 1024x768) picture
//! size, `WM_PHOTOS` a folder of PNG/JPEG photos to add to the two generated pictures,
//! `WM_NEGATIVES` (default 200) unmarked images for the false-positive count, `WM_DUMP` a
//! folder to write the unmarked pictures to (for `tests/peers/invisible_watermark_peer.py`),
//! `WM_RESULTS` a JSON file for the per-attack totals (the peer script prints them beside its
//! own). `cargo xtask bench watermark` runs both in one go.
#![allow(missing_docs, clippy::cast_possible_truncation, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{Attack, Rng};
use image::RgbaImage;
use veilmark_shared::watermark::{Detector, Embedder, SessionCode, WatermarkKey};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let key = WatermarkKey::from_bytes(*b"veilmark bench watermark key 001");
    let detector = Detector::new(&key);
    let trials: u64 = env_or("WM_TRIALS", 10);
    let size = std::env::var("WM_SIZE").unwrap_or_else(|_| "1024x768".into());
    let (w, h) = size
        .split_once('x')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((1024u32, 768u32));
    let mut pictures: Vec<(String, RgbaImage)> = vec![
        ("drawing".into(), common::line_drawing(w, h, 1)),
        ("render".into(), common::shaded_render(w, h, 2)),
    ];
    if let Ok(dir) = std::env::var("WM_PHOTOS") {
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("WM_PHOTOS folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for path in paths {
            if let Ok(img) = image::open(&path) {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                pictures.push((name, img.to_rgba8()));
            }
        }
    }

    if let Ok(dump) = std::env::var("WM_DUMP") {
        // Unmarked pictures for the peer script (tests/peers/invisible_watermark_peer.py).
        std::fs::create_dir_all(&dump).expect("WM_DUMP folder");
        for (name, p) in &pictures {
            p.save(std::path::Path::new(&dump).join(format!("{name}.png")))
                .expect("write picture");
        }
    }
    println!("# Watermark attack suite ({trials} trials per picture and attack)\n");
    println!("| picture | size | PSNR dB | SSIM |\n|---|---|---|---|");
    for (name, p) in &pictures {
        let mut m = p.clone();
        Embedder::new(&key, SessionCode::new(0xABCDEF).unwrap())
            .embed(&mut m, p.width(), p.height())
            .unwrap();
        println!(
            "| {name} | {}x{} | {:.2} | {:.4} |",
            p.width(),
            p.height(),
            common::psnr(p, &m),
            common::ssim(p, &m)
        );
    }
    println!();
    let names: Vec<&str> = pictures.iter().map(|(n, _)| n.as_str()).collect();
    println!(
        "| attack | {} | all: exact | all: bit accuracy | wrong codes | ms/detect |",
        names.join(" | ")
    );
    println!("|---|{}---|---|---|---|", "---|".repeat(names.len()));
    let mut rng = Rng::new(2026);
    // (attack, exact %, bit accuracy %) for WM_RESULTS, which the peer script prints beside its own.
    let mut summary: Vec<(String, f64, f64)> = Vec::new();
    for attack in Attack::suite() {
        let mut per_picture = Vec::new();
        let (mut exact, mut total, mut wrong) = (0u64, 0u64, 0u64);
        let mut bits_ok = 0u64;
        let mut detect_time = 0.0f64;
        for (pi, (_, p)) in pictures.iter().enumerate() {
            let mut ok = 0;
            for _ in 0..trials {
                let code = rng.next_u64() & SessionCode::MAX;
                let mut m = p.clone();
                Embedder::new(&key, SessionCode::new(code).unwrap())
                    .embed(&mut m, p.width(), p.height())
                    .unwrap();
                let a = attack.apply(&m, &mut rng);
                let t = Instant::now();
                let d = detector.detect(a.as_raw(), a.width(), a.height()).unwrap();
                detect_time += t.elapsed().as_secs_f64();
                total += 1;
                match d {
                    Some(d) if d.code.get() == code => {
                        ok += 1;
                        bits_ok += 48;
                    }
                    Some(d) => {
                        wrong += 1;
                        bits_ok += u64::from(48 - (d.code.get() ^ code).count_ones());
                    }
                    // No detection: the payload bits are unknown, count half as right (chance).
                    None => bits_ok += 24,
                }
            }
            exact += ok;
            per_picture.push(format!("{ok}/{trials}"));
            let _ = pi;
        }
        summary.push((
            attack.name(),
            100.0 * exact as f64 / total as f64,
            100.0 * bits_ok as f64 / (48 * total) as f64,
        ));
        println!(
            "| {} | {} | {:.1} % | {:.1} % | {wrong} | {:.0} |",
            attack.name(),
            per_picture.join(" | "),
            100.0 * exact as f64 / total as f64,
            100.0 * bits_ok as f64 / (48 * total) as f64,
            1000.0 * detect_time / total as f64
        );
    }

    if let Ok(path) = std::env::var("WM_RESULTS") {
        // {"attack name": [exact %, bit accuracy %], ...} for tests/peers/invisible_watermark_peer.py.
        let body: Vec<String> = summary
            .iter()
            .map(|(name, exact, bits)| format!("{name:?}: [{exact:.2}, {bits:.2}]"))
            .collect();
        std::fs::write(&path, format!("{{{}}}\n", body.join(", "))).expect("write WM_RESULTS");
    }

    let negatives: u64 = env_or("WM_NEGATIVES", 200);
    let mut false_positives = 0;
    let t = Instant::now();
    for i in 0..negatives {
        let (_, p) = &pictures[(i as usize) % pictures.len()];
        let variant = match i % 4 {
            0 => common::crop(p, rng.range(0.3, 0.95), &mut rng),
            1 => common::resize(p, rng.range(0.4, 1.6), i % 8 == 1),
            2 => common::jpeg(&common::crop(p, rng.range(0.5, 0.9), &mut rng), 75),
            _ => common::noise(
                &RgbaImage::from_pixel(
                    200 + (rng.next_u64() % 800) as u32,
                    200 + (rng.next_u64() % 600) as u32,
                    image::Rgba([128, 128, 128, 255]),
                ),
                rng.range(1.0, 30.0),
                &mut rng,
            ),
        };
        if detector
            .detect(variant.as_raw(), variant.width(), variant.height())
            .unwrap()
            .is_some()
        {
            false_positives += 1;
        }
    }
    println!(
        "\nFalse positives: {false_positives} of {negatives} unmarked images (crops, rescales, JPEG, noise), {:.0} ms/detect.",
        1000.0 * t.elapsed().as_secs_f64() / negatives as f64
    );

    let mut frame = common::shaded_render(1920, 1080, 5);
    let embedder = Embedder::new(&key, SessionCode::new(77).unwrap());
    let rounds = 50;
    let t = Instant::now();
    for _ in 0..rounds {
        embedder.embed(&mut frame, 1920, 1080).unwrap();
    }
    let per_frame = t.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
    let t = Instant::now();
    let _ = Embedder::new(&key, SessionCode::new(78).unwrap());
    let setup = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let _ = detector.detect(frame.as_raw(), 1920, 1080).unwrap();
    let detect = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "Embed: {per_frame:.2} ms per 1920x1080 frame (native, one core); session setup {setup:.2} ms; detect on 1920x1080 {detect:.0} ms."
    );
}
