//! `veilmark identify` end to end: a marked PNG and JPEG, an unmarked image, a corrupt file.
#![allow(missing_docs, clippy::cast_possible_truncation)]

use std::path::Path;
use std::process::Command;

use veilmark_shared::watermark::{Embedder, SessionCode, WatermarkKey};

const KEY: [u8; 32] = [0x5a; 32];

fn gradient(width: u32, height: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(width, height, |x, y| {
        let v = (60 + (x * 120 / width) + (y * 60 / height)) as u8;
        image::Rgba([v, v.saturating_add(10), v.saturating_add(30), 255])
    })
}

fn write_key(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("watermark.key");
    std::fs::write(
        &path,
        format!(
            "# test key\nveilmark-watermark-key-v1 {}\n",
            hex::encode(KEY)
        ),
    )
    .unwrap();
    path
}

fn veilmark(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .arg("identify")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn identifies_marked_images_and_reports_unmarked_and_corrupt_ones() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = write_key(dir.path());
    let mut img = gradient(400, 300);
    Embedder::new(
        &WatermarkKey::from_bytes(KEY),
        SessionCode::new(0xc0ffee).unwrap(),
    )
    .embed(&mut img, 400, 300)
    .unwrap();
    let png = dir.path().join("leak.png");
    img.save(&png).unwrap();
    let jpg = dir.path().join("leak.jpg");
    image::DynamicImage::ImageRgba8(img)
        .to_rgb8()
        .save(&jpg)
        .unwrap();
    let clean = dir.path().join("clean.png");
    gradient(400, 300).save(&clean).unwrap();

    let out = veilmark(&[
        png.as_os_str(),
        jpg.as_os_str(),
        clean.as_os_str(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].contains("watermark found, session 000000c0ffee"),
        "{stdout}"
    );
    assert!(
        lines[1].contains("watermark found, session 000000c0ffee"),
        "{stdout}"
    );
    assert!(lines[2].ends_with("clean.png: no watermark"), "{stdout}");

    let corrupt = dir.path().join("corrupt.png");
    let mut bytes = std::fs::read(&png).unwrap();
    bytes.truncate(200);
    std::fs::write(&corrupt, bytes).unwrap();
    let out = veilmark(&[
        "--json".as_ref(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
        png.as_os_str(),
        corrupt.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("\"found\":true,\"session_code\":\"000000c0ffee\""),
        "{stdout}"
    );
    assert!(lines[1].contains("\"error\":\"cannot decode"), "{stdout}");
}

#[test]
fn refuses_a_bad_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("bad.key");
    std::fs::write(&key_file, "veilmark-content-key-v1 00\n").unwrap();
    let out = veilmark(&[
        "--key-file".as_ref(),
        key_file.as_os_str(),
        "x.png".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a Veilmark watermark key file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
