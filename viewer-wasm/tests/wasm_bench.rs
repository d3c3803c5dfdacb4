//! Browser micro-benchmarks for `cargo xtask bench viewer`: AES-256-GCM decryption throughput
//! of the envelope in wasm, and the cost of the watermarks per 1920×1080 frame. Ignored by
//! default (`--include-ignored` runs them); each prints one `VIEWER_BENCH {json}` line, which
//! the xtask collects with `--nocapture`.
//!
//! Built in the same profile as the shipped viewer, so the figures are the viewer's.
#![cfg(target_arch = "wasm32")]
// Synthetic pixel and byte patterns are made by truncating on purpose.
#![allow(clippy::cast_possible_truncation)]

mod support;

use support::{now_ms, range};
use veilmark_shared::envelope::{self, ContentKey, DEFAULT_CHUNK_SIZE, DocumentId};
use veilmark_shared::licence;
use veilmark_shared::visible::{DEFAULT_FONT, MarkStyle, VisibleMark};
use veilmark_shared::watermark::{Embedder, SessionCode, WatermarkKey};
use veilmark_viewer_wasm::envelope::EnvelopeReader;
use veilmark_viewer_wasm::mark::mark_frame;
use veilmark_viewer_wasm::render::Frame;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use zeroize::Zeroizing;

wasm_bindgen_test_configure!(run_in_browser);

/// Best time of `runs` calls of `f`, in milliseconds, after two untimed calls (V8 runs wasm in
/// its baseline compiler first and swaps in optimised code between calls).
fn best_ms(runs: u32, mut f: impl FnMut()) -> f64 {
    f();
    f();
    (0..runs)
        .map(|_| {
            let t = now_ms();
            f();
            now_ms() - t
        })
        .fold(f64::INFINITY, f64::min)
}

const MIB: usize = 1024 * 1024;

#[wasm_bindgen_test]
#[ignore = "benchmark: cargo xtask bench viewer"]
fn envelope_decryption_throughput() {
    let size = 64 * MIB;
    let plaintext: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let key = ContentKey::from_bytes([5; 32]);
    let sealed = envelope::seal(
        &key,
        DocumentId([1; 16]),
        "application/pdf",
        &plaintext,
        DEFAULT_CHUNK_SIZE,
        [2; 16],
        [3; 7],
    )
    .unwrap();
    let len = sealed.len() as u64;
    // What the viewer does per chunk: take the fetched bytes, decrypt in place, append.
    let reader_ms = best_ms(3, || {
        let mut reader = EnvelopeReader::new(&key, &sealed[..4096], len).unwrap();
        while let Some(i) = reader.next_chunk() {
            let r = reader.chunk_range(i).unwrap();
            reader.push_chunk(range(&sealed, r)).unwrap();
        }
        assert_eq!(reader.finish().unwrap().len(), size);
    });
    // The whole-buffer API, without the per-chunk copy.
    let open_ms = best_ms(3, || {
        assert_eq!(envelope::open(&key, &sealed).unwrap().plaintext.len(), size);
    });
    let mbps = |ms: f64| size as f64 / 1e6 / (ms / 1000.0);
    console_log!(
        "VIEWER_BENCH {{\"envelope_open_mbps\":{:.1},\"envelope_open_whole_mbps\":{:.1}}}",
        mbps(reader_ms),
        mbps(open_ms)
    );
}

/// A 1920×1080 frame that looks like a rendered drawing: white paper with dark strokes.
fn drawing_frame() -> Frame {
    let (width, height) = (1920u32, 1080u32);
    let mut rgba = vec![255u8; (width * height * 4) as usize];
    for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i % 1920, i / 1920);
        if x % 97 < 2 || y % 61 < 2 {
            px[..3].copy_from_slice(&[20, 20, 20]);
        }
    }
    Frame {
        width,
        height,
        rgba: Zeroizing::new(rgba),
    }
}

#[wasm_bindgen_test]
#[ignore = "benchmark: cargo xtask bench viewer"]
fn watermark_cost_per_full_hd_frame() {
    let mut frame = drawing_frame();
    let lines = [
        "alice@supplier.example",
        "2027-01-15 08:00 UTC · 0000abcdef12",
    ];
    let prepare = || {
        VisibleMark::prepare(
            DEFAULT_FONT,
            &lines,
            frame.width,
            frame.height,
            &MarkStyle::default(),
        )
        .unwrap()
    };
    let prepare_ms = best_ms(10, || drop(prepare()));
    let mark = prepare();
    let apply_ms = best_ms(10, || mark.apply(&mut frame.rgba).unwrap());
    let embedder = Embedder::new(
        &WatermarkKey::from_bytes([7; 32]),
        SessionCode::new(0xabc_def_123).unwrap(),
    );
    let embed_ms = best_ms(10, || {
        embedder
            .embed(&mut frame.rgba, frame.width, frame.height)
            .unwrap();
    });
    // The viewer's whole mark step per frame: visible (prepared per frame) then forensic.
    let viewer_ms = best_ms(10, || {
        mark_frame(
            &mut frame,
            "alice@supplier.example",
            1_800_000_000,
            licence::SessionCode::new(0xabc_def_123).unwrap(),
            &embedder,
        )
        .unwrap();
    });
    console_log!(
        "VIEWER_BENCH {{\"visible_prepare_ms\":{prepare_ms:.2},\"visible_apply_ms\":{apply_ms:.2},\
         \"forensic_embed_ms\":{embed_ms:.2},\"mark_frame_ms\":{viewer_ms:.2}}}"
    );
}
