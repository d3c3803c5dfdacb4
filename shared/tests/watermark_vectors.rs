//! Runs every case in `docs/vectors/watermark/` (one file per behaviour, rage-testkit style).
//!
//! A case file is a few `name: value` lines:
//! - `key:` the 32-byte watermark key in hex;
//! - either `frame: grey128 WxH` and `code:` (an embedding case; `expect: sha256 <hex>` of the
//!   marked RGBA bytes pins the embedder bit for bit),
//! - or `image:` a file beside the case (a detection case; `expect: code <12 hex>` or
//!   `expect: none`);
//! - or `export: session-tile` and `code:` (the serialised session tile the server sends the
//!   viewer; `expect: sha256 <hex>` of its bytes);
//! - `comment:` free text.
//!
//! `WM_WRITE_VECTORS=1 cargo test -p veilmark-shared --test watermark_vectors -- --ignored`
//! regenerates the files (only when the format deliberately changes).
#![cfg(not(target_arch = "wasm32"))]
#![allow(missing_docs, clippy::cast_possible_truncation)]

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use veilmark_shared::watermark::{Detector, Embedder, SessionCode, WatermarkKey};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/watermark")
}

fn parse_case(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn key_from_hex(h: &str) -> WatermarkKey {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(h, &mut bytes).expect("64 hex digits");
    WatermarkKey::from_bytes(bytes)
}

fn grey_frame(spec: &str) -> (Vec<u8>, u32, u32) {
    let dims = spec.strip_prefix("grey128 ").expect("frame: grey128 WxH");
    let (w, h) = dims.split_once('x').expect("WxH");
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    let mut frame = vec![128u8; (w * h * 4) as usize];
    frame.iter_mut().skip(3).step_by(4).for_each(|a| *a = 255);
    (frame, w, h)
}

#[test]
fn every_vector_passes() {
    let mut cases = 0;
    for entry in std::fs::read_dir(dir()).expect("docs/vectors/watermark") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let case = parse_case(&std::fs::read_to_string(&path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let key = key_from_hex(&case["key"]);
        let expect = &case["expect"];
        if case.get("export").is_some_and(|e| e == "session-tile") {
            let code = SessionCode::new(u64::from_str_radix(&case["code"], 16).unwrap()).unwrap();
            let bytes = Embedder::new(&key, code).to_bytes();
            let digest = hex::encode(Sha256::digest(&bytes));
            assert_eq!(expect, &format!("sha256 {digest}"), "{name}");
        } else if let Some(spec) = case.get("frame") {
            let (mut frame, w, h) = grey_frame(spec);
            let code = SessionCode::new(u64::from_str_radix(&case["code"], 16).unwrap()).unwrap();
            Embedder::new(&key, code).embed(&mut frame, w, h).unwrap();
            let digest = hex::encode(Sha256::digest(&frame));
            assert_eq!(expect, &format!("sha256 {digest}"), "{name}");
        } else {
            let img = image::open(dir().join(&case["image"])).unwrap().to_rgba8();
            let found = Detector::new(&key)
                .detect(img.as_raw(), img.width(), img.height())
                .unwrap();
            let got = found.map_or("none".to_owned(), |d| format!("code {}", d.code));
            assert_eq!(expect, &got, "{name}");
        }
        cases += 1;
    }
    assert!(cases >= 4, "only {cases} vector cases found");
}

#[test]
#[ignore = "regenerates docs/vectors/watermark when WM_WRITE_VECTORS=1"]
fn write_vectors() {
    if std::env::var("WM_WRITE_VECTORS").is_err() {
        return;
    }
    let key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let other_hex = "ff".repeat(32);
    let key = key_from_hex(key_hex);
    let code = SessionCode::new(0x0123_4567_89ab).unwrap();
    let write = |name: &str, body: String| std::fs::write(dir().join(name), body).unwrap();

    let (mut frame, w, h) = grey_frame("grey128 128x128");
    Embedder::new(&key, code).embed(&mut frame, w, h).unwrap();
    write(
        "embed_grey_tile.txt",
        format!(
            "comment: one tile on a mid-grey frame; pins layout, check, convolutional code, tile rendering and rounding\nkey: {key_hex}\ncode: {:012x}\nframe: grey128 128x128\nexpect: sha256 {}\n",
            code.get(),
            hex::encode(Sha256::digest(&frame))
        ),
    );

    write(
        "export_session_tile.txt",
        format!(
            "comment: the session tile (docs/watermark.md#session-tile) the server sends the viewer for this key and code\nkey: {key_hex}\ncode: {:012x}\nexport: session-tile\nexpect: sha256 {}\n",
            code.get(),
            hex::encode(Sha256::digest(Embedder::new(&key, code).to_bytes()))
        ),
    );

    let mut render = common::shaded_render(320, 240, 11);
    Embedder::new(&key, code)
        .embed(&mut render, 320, 240)
        .unwrap();
    let jpeg = common::jpeg(&render, 85);
    image::DynamicImage::ImageRgba8(jpeg)
        .to_rgb8()
        .save(dir().join("marked_render_320x240_q85.jpg"))
        .unwrap();
    write(
        "detect_marked_jpeg.txt",
        format!(
            "comment: a marked 320x240 render saved as JPEG quality 85 decodes to its code\nkey: {key_hex}\nimage: marked_render_320x240_q85.jpg\nexpect: code {code}\n"
        ),
    );
    write(
        "detect_other_key_is_none.txt",
        format!(
            "comment: the same image under another key reads as unmarked, never as another code\nkey: {other_hex}\nimage: marked_render_320x240_q85.jpg\nexpect: none\n"
        ),
    );
    let clean = common::jpeg(&common::shaded_render(320, 240, 11), 85);
    image::DynamicImage::ImageRgba8(clean)
        .to_rgb8()
        .save(dir().join("unmarked_render_320x240_q85.jpg"))
        .unwrap();
    write(
        "detect_unmarked_is_none.txt",
        format!(
            "comment: the same render without a mark reads as unmarked\nkey: {key_hex}\nimage: unmarked_render_320x240_q85.jpg\nexpect: none\n"
        ),
    );
}
