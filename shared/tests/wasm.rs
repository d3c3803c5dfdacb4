//! The envelope in WebAssembly, run in headless Chromium by `cargo xtask test`: the viewer
//! decrypts with exactly this code, so it must behave the same there as natively.
// Test data is made by deliberately truncating counters to bytes.
#![allow(clippy::cast_possible_truncation)]
#![cfg(target_arch = "wasm32")]

mod envelope_vectors;

use veilmark_shared::envelope::{self, ContentKey, DocumentId};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn vectors_hold_in_the_browser() {
    for text in [
        include_str!("../../docs/vectors/envelope/empty.txt"),
        include_str!("../../docs/vectors/envelope/multi_chunk.txt"),
        include_str!("../../docs/vectors/envelope/exact_multiple.txt"),
        include_str!("../../docs/vectors/envelope/stream_chunks_swapped.txt"),
        include_str!("../../docs/vectors/envelope/stream_bit_flip_second_chunk.txt"),
        include_str!("../../docs/vectors/envelope/wrong_key.txt"),
        include_str!("../../docs/vectors/envelope/plaintext_length_edited.txt"),
    ] {
        envelope_vectors::check(&envelope_vectors::parse(text)).unwrap();
    }
}

#[wasm_bindgen_test]
fn a_megabyte_round_trips_in_the_browser() {
    let key = ContentKey::from_bytes([9; 32]);
    let plaintext: Vec<u8> = (0..1_000_003u32).map(|i| (i * 31 % 251) as u8).collect();
    let sealed = envelope::seal(
        &key,
        DocumentId([4; 16]),
        "model/stl",
        &plaintext,
        envelope::DEFAULT_CHUNK_SIZE,
        [5; 16],
        [6; 7],
    )
    .unwrap();
    let opened = envelope::open(&key, &sealed).unwrap();
    assert_eq!(opened.plaintext.as_slice(), plaintext.as_slice());
}

#[wasm_bindgen_test]
fn a_session_tile_marks_the_same_in_the_browser() {
    use veilmark_shared::watermark::{Embedder, SessionCode, WatermarkKey};
    // The viewer receives the tile, never the key: the browser must rebuild an embedder that
    // marks bit for bit like the server's (pinned by docs/vectors/watermark/embed_grey_tile.txt).
    let mut key = [0u8; 32];
    key.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    let code = SessionCode::new(0x0123_4567_89ab).unwrap();
    let server = Embedder::new(&WatermarkKey::from_bytes(key), code);
    let viewer = Embedder::from_bytes(&server.to_bytes()).unwrap();
    let mut a = vec![128u8; 128 * 128 * 4];
    let mut b = a.clone();
    server.embed(&mut a, 128, 128).unwrap();
    viewer.embed(&mut b, 128, 128).unwrap();
    assert_eq!(a, b);
    assert!(Embedder::from_bytes(&[0; 12]).is_err());
}
