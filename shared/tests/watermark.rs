//! Watermark codec: round trip, invisibility, the attack suite, false positives, hostile input.
#![allow(missing_docs, clippy::cast_possible_truncation)]

mod common;

use common::{Attack, Rng};
use image::RgbaImage;
use veilmark_shared::watermark::{Detector, Embedder, SessionCode, WatermarkKey};

fn key() -> WatermarkKey {
    WatermarkKey::from_bytes(*b"veilmark test watermark key 0001")
}

fn marked(img: &RgbaImage, code: u64) -> RgbaImage {
    let mut out = img.clone();
    Embedder::new(&key(), SessionCode::new(code).unwrap())
        .embed(&mut out, img.width(), img.height())
        .unwrap();
    out
}

#[test]
#[ignore = "exploration: prints the robustness table"]
fn explore() {
    let detector = Detector::new(&key());
    let pics = [
        ("drawing", common::line_drawing(512, 384, 1)),
        ("render", common::shaded_render(512, 384, 2)),
    ];
    for (name, p) in &pics {
        let m = marked(p, 0x1234_5678_9abc);
        println!(
            "{name}: psnr {:.2} ssim {:.4}",
            common::psnr(p, &m),
            common::ssim(p, &m)
        );
    }
    let only: Option<String> = std::env::var("WM_ATTACK").ok();
    let trials: u64 = std::env::var("WM_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for attack in Attack::suite() {
        if let Some(o) = &only {
            if !attack.name().contains(o.as_str()) {
                continue;
            }
        }
        let mut ok = 0;
        let mut n = 0;
        let mut notes = String::new();
        let t = std::time::Instant::now();
        for (pi, (_, p)) in pics.iter().enumerate() {
            for trial in 0..trials {
                let code = 0x1000_0000_0000 + trial * 7919 + pi as u64;
                let m = marked(p, code);
                let mut rng = Rng::new(trial * 31 + pi as u64);
                let a = attack.apply(&m, &mut rng);
                let d = detector.detect(a.as_raw(), a.width(), a.height()).unwrap();
                n += 1;
                match d {
                    Some(d) if d.code.get() == code => {
                        ok += 1;
                        notes.push_str(&format!(
                            " [c{:.2} e{} z{:.1} s{:.3}]",
                            d.confidence, d.bit_errors_corrected, d.sync_score, d.geometry.scale
                        ));
                    }
                    Some(_) => notes.push_str(" WRONG"),
                    None => notes.push_str(" miss"),
                }
            }
        }
        println!(
            "{:28} {ok}/{n} {:.0}ms {notes}",
            attack.name(),
            t.elapsed().as_millis() as f64 / n as f64
        );
    }
}
