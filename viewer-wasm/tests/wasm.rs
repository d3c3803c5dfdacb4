//! The viewer's logic in WebAssembly, in headless Chromium (`cargo xtask test` runs it with
//! `wasm-bindgen-test-runner`): session and licence handling, the envelope read in ranged
//! chunks, rendering a PDF to a frame, the visible watermark, UTC formatting, and — something
//! only wasm can show — that dropping the document, a frame or the key leaves zeros in linear
//! memory, the memory any devtools user can read; and that a CAD file's part names and
//! broken tokens stay out of every string handed to the page.
//!
//! The pipeline also runs natively on a real Debian PDF (`tests/pipeline.rs`); here the PDF is
//! written by the test, since a wasm test cannot read files.
#![cfg(target_arch = "wasm32")]
// Offsets into test buffers of a few hundred KiB: casts cannot truncate.
#![allow(clippy::cast_possible_truncation)]

mod support;

use support::{NOW, PAGE, SERVER_SEED, decrypt, range, read_memory, seal_and_license, tiny_pdf};
use veilmark_shared::envelope::ContentKey;
use veilmark_shared::licence::{self, LicenceTerms, Permissions, ServerKey, SessionId};
use veilmark_viewer_wasm::envelope::{EnvelopeReader, HEADER_PROBE_LEN};
use veilmark_viewer_wasm::mark::{mark_frame, mark_lines, utc_minute};
use veilmark_viewer_wasm::render::PdfDocument;
use veilmark_viewer_wasm::session::{ErrorCode, LicenceResponse, Session, ViewerError};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use zeroize::Zeroizing;

wasm_bindgen_test_configure!(run_in_browser);

fn key() -> ContentKey {
    ContentKey::from_bytes([5; 32])
}

/// A licence for `session` with other terms (a renewal, or another session's licence).
fn licence_for(session: &Session, session_id: SessionId, expires: u64) -> LicenceResponse {
    let server = ServerKey::from_seed(SERVER_SEED);
    let request = session.licence_request([1; 16], NOW, None);
    let viewer_key: [u8; 32] = hex::decode(&request.viewer_key)
        .unwrap()
        .try_into()
        .unwrap();
    let terms = LicenceTerms {
        document_id: veilmark_shared::envelope::DocumentId([1; 16]),
        session_id,
        session_code: licence::SessionCode::new(0xabc_def_123).unwrap(),
        permissions: Permissions::VIEW,
        issued_at: NOW,
        lease_expires_at: expires,
        viewer_key,
        recipient: "alice@supplier.example".into(),
    };
    let lic = licence::issue(&terms, &key(), &server, [8; 32]).unwrap();
    LicenceResponse {
        licence: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, lic),
        session_id: session_id.to_string(),
        lease_expires_at: expires,
        lease_secs: 60,
        server_key: None,
        document: support::document_info(1, 1),
        urls: support::session_urls(),
        watermark_tile: None,
    }
}

#[wasm_bindgen_test]
fn licence_request_carries_a_fresh_public_key_and_no_absent_passcode() {
    let session = Session::new(Zeroizing::new([7; 32]), [0; 32]);
    let req = serde_json::to_value(session.licence_request([4; 16], NOW, None)).unwrap();
    assert_eq!(
        req["viewer_key"].as_str().unwrap(),
        hex::encode(licence::ViewerKey::from_seed([7; 32]).public_key())
    );
    assert_eq!(req["nonce"].as_str().unwrap(), "04".repeat(16));
    assert_eq!(req["timestamp"].as_u64(), Some(NOW));
    assert!(req.get("passcode").is_none());
    let with = serde_json::to_value(session.licence_request([4; 16], NOW, Some("1234"))).unwrap();
    assert_eq!(with["passcode"].as_str(), Some("1234"));
    // Another seed, another key: nothing is shared between sessions.
    let other = Session::new(Zeroizing::new([8; 32]), [0; 32]);
    assert_ne!(
        other.licence_request([4; 16], NOW, None),
        session.licence_request([4; 16], NOW, None)
    );
}

#[wasm_bindgen_test]
fn accepted_licence_gives_the_content_key_until_the_lease_ends() {
    let mut sealed = seal_and_license(&tiny_pdf(&["a"]), &key(), 1024);
    assert_eq!(
        sealed.session.content_key(NOW).unwrap_err().kind(),
        "ended",
        "no key before a licence"
    );
    let terms = sealed.session.accept(&sealed.response, NOW + 1).unwrap();
    assert_eq!(terms.recipient, "alice@supplier.example");
    assert_eq!(terms.lease_expires_at, NOW + 60);
    assert_eq!(
        sealed.session.content_key(NOW + 59).unwrap().as_bytes(),
        key().as_bytes()
    );
    assert_eq!(
        sealed.session.content_key(NOW + 60).unwrap_err().kind(),
        "expired"
    );
    // A renewal for the same session extends the lease.
    let renewal = licence_for(&sealed.session, SessionId([6; 16]), NOW + 120);
    sealed.session.accept(&renewal, NOW + 50).unwrap();
    assert!(sealed.session.content_key(NOW + 100).is_ok());
}

#[wasm_bindgen_test]
fn licences_that_do_not_verify_are_refused() {
    let mut sealed = seal_and_license(&tiny_pdf(&["a"]), &key(), 1024);
    // Already expired when it arrives.
    let err = sealed
        .session
        .accept(&sealed.response, NOW + 61)
        .unwrap_err();
    assert_eq!(err.kind(), "expired");
    // Signed by a server other than the pinned one.
    let mut pinned_elsewhere = Session::new(
        Zeroizing::new([7; 32]),
        ServerKey::from_seed([1; 32]).verifying_key(),
    );
    let err = pinned_elsewhere.accept(&sealed.response, NOW).unwrap_err();
    assert_eq!(err.kind(), "integrity", "claimed key differs from the pin");
    sealed.response.server_key = None;
    let err = pinned_elsewhere.accept(&sealed.response, NOW).unwrap_err();
    assert!(matches!(err, ViewerError::Licence(_)), "{err}");
    // Not base64.
    let mut garbled = licence_for(&sealed.session, SessionId([6; 16]), NOW + 60);
    garbled.licence = "not base64!".into();
    assert_eq!(
        sealed.session.accept(&garbled, NOW).unwrap_err().kind(),
        "integrity"
    );
    // A renewal that belongs to another session.
    sealed.session.accept(&sealed.response, NOW).unwrap();
    let foreign = licence_for(&sealed.session, SessionId([9; 16]), NOW + 120);
    let err = sealed.session.accept(&foreign, NOW).unwrap_err();
    assert!(err.to_string().contains("another session"), "{err}");
}

#[wasm_bindgen_test]
fn wiped_session_gives_no_key_and_accepts_no_licence() {
    let mut sealed = seal_and_license(&tiny_pdf(&["a"]), &key(), 1024);
    sealed.session.accept(&sealed.response, NOW).unwrap();
    sealed.session.wipe();
    assert!(sealed.session.is_ended());
    assert_eq!(sealed.session.content_key(NOW).unwrap_err().kind(), "ended");
    assert_eq!(
        sealed
            .session
            .accept(&sealed.response, NOW)
            .unwrap_err()
            .kind(),
        "ended"
    );
}

#[wasm_bindgen_test]
fn server_errors_map_to_the_pages_error_screens() {
    // The screen follows the code in the server's error body, never its message text.
    let server = |code: ErrorCode, message: &str| {
        ViewerError::from_answer(
            code.status(),
            &format!(
                r#"{{"error":"{}","code":{},"message":"{message}"}}"#,
                code.class(),
                serde_json::to_string(&code).unwrap()
            ),
        )
    };
    assert_eq!(server(ErrorCode::LinkExpired, "").kind(), "link-expired");
    assert_eq!(
        server(ErrorCode::LinkRevoked, "link expired?").kind(),
        "gone"
    );
    assert_eq!(server(ErrorCode::LeaseExpired, "").kind(), "expired");
    assert_eq!(server(ErrorCode::ViewLimitReached, "").kind(), "view-limit");
    assert_eq!(server(ErrorCode::PasscodeRequired, "").kind(), "passcode");
    assert_eq!(server(ErrorCode::PasscodeWrong, "").kind(), "passcode");
    assert_eq!(server(ErrorCode::Locked, "").kind(), "passcode");
    assert_eq!(server(ErrorCode::RateLimited, "").kind(), "rate-limited");
    assert_eq!(server(ErrorCode::NotFound, "").kind(), "unknown-link");
    assert_eq!(server(ErrorCode::Internal, "").kind(), "server");
    // A proxy's bare status: the code is guessed from it.
    assert_eq!(
        ViewerError::from_answer(429, "<html>").kind(),
        "rate-limited"
    );
    assert_eq!(ViewerError::from_answer(502, "").kind(), "server");
    assert_eq!(ViewerError::Network("x".into()).kind(), "network");
    assert_eq!(ViewerError::Render("x".into()).kind(), "render");
}

#[wasm_bindgen_test]
fn envelope_decrypts_chunk_by_chunk_from_ranged_reads() {
    let pdf = tiny_pdf(&["one", "two", "three", "four"]);
    let mut sealed = seal_and_license(&pdf, &key(), 1024);
    sealed.session.accept(&sealed.response, NOW).unwrap();
    let len = sealed.envelope.len() as u64;
    // The probe is clamped to the envelope; the header fits in it.
    let probe_range = EnvelopeReader::header_probe(len);
    assert_eq!(probe_range, 0..HEADER_PROBE_LEN.min(len));
    let probe = range(&sealed.envelope, probe_range);
    let header_len = EnvelopeReader::header_len(&probe).unwrap();
    assert!(header_len <= probe.len());
    // Twelve bytes are enough to learn the header's length (for a second fetch).
    assert_eq!(
        EnvelopeReader::header_len(&probe[..12]).unwrap(),
        header_len
    );

    let key = sealed.session.content_key(NOW).unwrap();
    let mut reader = EnvelopeReader::new(&key, &probe[..header_len], len).unwrap();
    assert_eq!(reader.header().plaintext_len(), pdf.len() as u64);
    let chunks = reader.chunk_count();
    assert_eq!(chunks as usize, pdf.len().div_ceil(1024));
    assert!(chunks >= 2, "several chunks: {chunks}");
    let mut previous_end = header_len as u64;
    while let Some(i) = reader.next_chunk() {
        let r = reader.chunk_range(i).unwrap();
        assert_eq!(r.start, previous_end, "chunks are contiguous");
        previous_end = r.end;
        reader.push_chunk(range(&sealed.envelope, r)).unwrap();
        let expected = f64::from(i + 1) / f64::from(chunks);
        assert!((reader.progress() - expected).abs() < 1e-9);
    }
    assert_eq!(previous_end, len);
    assert_eq!(reader.chunk_range(chunks).unwrap_err().kind(), "integrity");
    assert_eq!(&reader.finish().unwrap()[..], &pdf[..]);
}

#[wasm_bindgen_test]
fn envelope_opens_in_few_batched_reads() {
    let texts: Vec<String> = (1..=16).map(|n| format!("page {n}")).collect();
    let pdf = tiny_pdf(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let mut sealed = seal_and_license(&pdf, &key(), 1024);
    sealed.session.accept(&sealed.response, NOW).unwrap();
    let key = sealed.session.content_key(NOW).unwrap();
    let env = &sealed.envelope;
    let len = env.len() as u64;

    // A small document comes whole in the first answer.
    assert_eq!(EnvelopeReader::first_fetch(len), 0..len);
    let mut reader = EnvelopeReader::new(&key, env, len).unwrap();
    assert_eq!(reader.push_batch(0, env).unwrap(), reader.chunk_count());
    assert_eq!(reader.next_batch(1 << 20), None);
    assert_eq!(&reader.finish().unwrap()[..], &pdf[..]);

    // Batches of at most 3000 bytes (whole sealed chunks), after a first answer that holds
    // the header and part of chunk 0 only.
    let mut reader = EnvelopeReader::new(&key, env, len).unwrap();
    assert!(reader.chunk_count() >= 5, "{} chunks", reader.chunk_count());
    let chunk0 = reader.chunk_range(0).unwrap();
    let per_batch = u32::try_from(3000 / (chunk0.end - chunk0.start)).unwrap();
    assert!(per_batch >= 2);
    let first = range(env, 0..chunk0.start + 500);
    assert_eq!(
        reader.push_batch(0, &first).unwrap(),
        0,
        "no whole chunk yet"
    );
    let mut requests = 1;
    while let Some(r) = reader.next_batch(3000) {
        assert!(r.end - r.start <= 3000, "{r:?}");
        let pushed = reader.push_batch(r.start, &range(env, r.clone())).unwrap();
        assert!(pushed >= 1, "{r:?}");
        // As many chunks as fit: the next one would not have.
        if let Some(next) = reader.next_chunk() {
            assert!(reader.chunk_range(next).unwrap().end - r.start > 3000);
        }
        requests += 1;
    }
    assert!(
        requests <= 1 + reader.chunk_count().div_ceil(per_batch),
        "{requests}"
    );
    assert_eq!(&reader.finish().unwrap()[..], &pdf[..]);

    // A batch never has less than one chunk, however small the limit.
    let reader = EnvelopeReader::new(&key, env, len).unwrap();
    assert_eq!(reader.next_batch(10), Some(reader.chunk_range(0).unwrap()));
    // A short answer holds no whole chunk: nothing is pushed (the wasm layer then fails).
    let mut reader = EnvelopeReader::new(&key, env, len).unwrap();
    let r = reader.next_batch(3000).unwrap();
    assert_eq!(
        reader
            .push_batch(r.start, &range(env, r.start..r.end - 1))
            .unwrap(),
        1
    );
    let r = reader.next_batch(3000).unwrap();
    assert_eq!(
        reader
            .push_batch(r.start, &range(env, r.start..r.start + 100))
            .unwrap(),
        0
    );
    // Bytes that start elsewhere than where the answer claims do not verify.
    let r = reader.next_batch(3000).unwrap();
    let shifted = range(env, r.start + 1..r.end);
    assert_eq!(
        reader.push_batch(r.start, &shifted).unwrap_err().kind(),
        "integrity"
    );
}

#[wasm_bindgen_test]
fn reordered_tampered_short_or_wrongly_keyed_envelopes_are_refused() {
    let pdf = tiny_pdf(&["one", "two", "three", "four"]);
    let sealed = seal_and_license(&pdf, &key(), 1024);
    let len = sealed.envelope.len() as u64;
    let env = &sealed.envelope;
    let open = || EnvelopeReader::new(&key(), &env[..4096.min(env.len())], len).unwrap();

    // Chunk 1 offered as chunk 0.
    let mut reader = open();
    let second = reader.chunk_range(1).unwrap();
    assert_eq!(
        reader.push_chunk(range(env, second)).unwrap_err().kind(),
        "integrity"
    );
    // One flipped bit.
    let mut reader = open();
    let mut chunk = range(env, reader.chunk_range(0).unwrap());
    chunk[30] ^= 1;
    assert_eq!(reader.push_chunk(chunk).unwrap_err().kind(), "integrity");
    // Stopping early yields nothing.
    let mut reader = open();
    let first = reader.chunk_range(0).unwrap();
    reader.push_chunk(range(env, first)).unwrap();
    assert_eq!(reader.finish().unwrap_err().kind(), "integrity");
    // A length other than the header's (truncated download).
    assert!(EnvelopeReader::new(&key(), &env[..4096.min(env.len())], len - 1).is_err());
    // Another key.
    let wrong = ContentKey::from_bytes([6; 32]);
    assert_eq!(
        EnvelopeReader::new(&wrong, &env[..4096.min(env.len())], len)
            .unwrap_err()
            .kind(),
        "integrity"
    );
}

/// Whether the pixel at (x, y) of an RGBA frame `width` wide is darker than mid-grey.
fn dark(rgba: &[u8], width: u32, x: u32, y: u32) -> bool {
    let i = ((y * width + x) * 4) as usize;
    u32::from(rgba[i]) + u32::from(rgba[i + 1]) + u32::from(rgba[i + 2]) < 3 * 128
}

#[wasm_bindgen_test]
fn a_page_renders_to_a_frame_of_the_right_size_and_pixels() {
    let pdf = tiny_pdf(&["Veilmark page one", "page two"]);
    let doc = PdfDocument::open(Zeroizing::new(pdf)).unwrap();
    assert_eq!(doc.page_count(), 2);
    assert_eq!(doc.page_size(1).unwrap(), PAGE);
    let frame = doc.render(0, 2.0).unwrap();
    assert_eq!((frame.width, frame.height), (600, 400));
    assert_eq!(frame.rgba.len(), 600 * 400 * 4);
    assert!(frame.rgba.chunks_exact(4).all(|p| p[3] == 255), "opaque");
    // The rectangle spans x 20–140 pt, y 20–80 pt from the bottom: pixels 40–280, 240–360.
    assert!(dark(&frame.rgba, 600, 100, 300), "inside the rectangle");
    assert!(!dark(&frame.rgba, 600, 300, 300), "right of the rectangle");
    assert!(!dark(&frame.rgba, 600, 100, 200), "above the rectangle");
    // Text in the band above it (baseline 150 pt → row 100).
    let text_ink = (40..560).filter(|&x| dark(&frame.rgba, 600, x, 90)).count();
    assert!(
        text_ink > 20,
        "text drawn: {text_ink} dark pixels on row 90"
    );
    // Scale is clamped, never zero or huge.
    let thumb = doc.render(1, 0.0).unwrap();
    assert!(thumb.width >= 1 && thumb.width <= 10);
    let huge = doc.render(1, 1000.0).unwrap();
    assert_eq!(huge.width, veilmark_viewer_wasm::render::MAX_FRAME_SIDE);
    drop(huge);
    let err = doc.render(2, 1.0).unwrap_err();
    assert_eq!(err.kind(), "render");
    assert!(err.to_string().contains("page 3 does not exist"), "{err}");
    assert_eq!(
        PdfDocument::open(Zeroizing::new(b"not a pdf".to_vec()))
            .unwrap_err()
            .kind(),
        "render"
    );
}

#[wasm_bindgen_test]
fn every_frame_carries_the_visible_watermark() {
    let doc = PdfDocument::open(Zeroizing::new(tiny_pdf(&["watermarked"]))).unwrap();
    let mut frame = doc.render(0, 3.0).unwrap();
    let before = frame.rgba.clone();
    let code = licence::SessionCode::new(0xabc_def_123).unwrap();
    let forensic = veilmark_shared::watermark::Embedder::new(
        &veilmark_shared::watermark::WatermarkKey::from_bytes([0x5a; 32]),
        code,
    );
    mark_frame(&mut frame, "alice@supplier.example", NOW, code, &forensic).unwrap();
    // White paper that the mark greyed: the mark is tiled over the page, not only the text.
    let greyed = before
        .chunks_exact(4)
        .zip(frame.rgba.chunks_exact(4))
        .filter(|(a, b)| a[..3] == [255; 3] && b[0] < 235)
        .count();
    let share = greyed as f64 / f64::from(frame.width * frame.height);
    assert!(share > 0.03, "visible watermark covers the page: {share}");
    // The lines it draws name the recipient, the minute and the session.
    let lines = mark_lines(
        "alice@supplier.example",
        &utc_minute(NOW),
        licence::SessionCode::new(0xabc_def_123).unwrap(),
    );
    assert_eq!(lines[0], "alice@supplier.example");
    assert!(
        lines[1].starts_with("2027-01-15 08:00 UTC · "),
        "{}",
        lines[1]
    );
    assert!(lines[1].len() > "2027-01-15 08:00 UTC · ".len());
}

#[wasm_bindgen_test]
fn watermark_time_is_utc_to_the_minute() {
    assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
    assert_eq!(utc_minute(59), "1970-01-01 00:00 UTC");
    assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
    assert_eq!(utc_minute(1_709_251_199), "2024-02-29 23:59 UTC");
    assert_eq!(utc_minute(1_735_689_599), "2024-12-31 23:59 UTC");
    assert_eq!(utc_minute(1_735_689_600), "2025-01-01 00:00 UTC");
    assert_eq!(utc_minute(4_102_444_800), "2100-01-01 00:00 UTC");
}

/// Bytes at either end of a freed block that the allocator may overwrite with its own
/// bookkeeping (dlmalloc's free-list pointers at the start, the size footer at the end).
const ALLOCATOR_HEAD: usize = 32;
const ALLOCATOR_TAIL: usize = 8;

/// Non-zero bytes in a freed block, allocator bookkeeping excepted.
fn leftover(bytes: &[u8]) -> usize {
    bytes[ALLOCATOR_HEAD..bytes.len() - ALLOCATOR_TAIL]
        .iter()
        .filter(|&&b| b != 0)
        .count()
}

#[wasm_bindgen_test]
fn dropping_the_document_and_its_frames_leaves_zeros_in_linear_memory() {
    let pdf = tiny_pdf(&["plaintext that must not outlive the session", "two"]);
    let mut sealed = seal_and_license(&pdf, &key(), 1024);
    let plaintext = decrypt(&mut sealed);
    let (text_at, text_len) = (plaintext.as_ptr() as usize, plaintext.len());
    let doc = PdfDocument::open(plaintext).unwrap();
    let frame = doc.render(0, 1.0).unwrap();
    let (frame_at, frame_len) = (frame.rgba.as_ptr() as usize, frame.rgba.len());
    // Buffers for reading memory back, allocated before anything is freed.
    let mut text_seen = vec![0u8; text_len];
    let mut frame_seen = vec![0u8; frame_len];
    read_memory(text_at, &mut text_seen);
    assert_eq!(
        text_seen, pdf,
        "the window shows the plaintext while the page is open"
    );
    read_memory(frame_at, &mut frame_seen);
    assert_eq!(&frame_seen[..], &frame.rgba[..]);

    drop(frame);
    drop(doc);
    read_memory(frame_at, &mut frame_seen);
    read_memory(text_at, &mut text_seen);
    assert_eq!(leftover(&frame_seen), 0, "the frame's pixels were wiped");
    assert_eq!(leftover(&text_seen), 0, "the decrypted file was wiped");
}

#[wasm_bindgen_test]
fn wiping_the_session_removes_the_content_key_from_its_memory() {
    let mut sealed = seal_and_license(&tiny_pdf(&["a"]), &key(), 1024);
    sealed.session.accept(&sealed.response, NOW).unwrap();
    let at = std::ptr::from_ref(&sealed.session) as usize;
    let mut seen = vec![0u8; std::mem::size_of::<Session>()];
    let holds_key = |seen: &[u8]| seen.windows(32).any(|w| w == key().as_bytes());
    read_memory(at, &mut seen);
    assert!(holds_key(&seen), "the session holds the key while licensed");
    sealed.session.wipe();
    read_memory(at, &mut seen);
    assert!(
        !holds_key(&seen),
        "the key is gone from the session after wipe"
    );
}

/// A name no real file holds (`tests/cad_strings.rs` runs the same check natively on every
/// format).
const MARKER: &str = "SECRET-PART-NAME-7f3a";

#[wasm_bindgen_test]
fn cad_names_and_broken_tokens_stay_in_wasm() {
    use veilmark_shared::media::MediaType;
    use veilmark_viewer_wasm::cad::CadView;

    let obj = format!("o {MARKER}\nv 0 0 0\nv 10 0 0\nv 0 10 0\nf 1 2 3\n");
    let view = CadView::open(MediaType::Obj, Zeroizing::new(obj.into_bytes())).unwrap();
    let outline = view.outline_json();
    assert!(!outline.contains(MARKER), "{outline}");
    assert!(outline.contains("\"label\":\"Part 1\""), "{outline}");
    let name = view.draw_name(0, 300, 20, 0).expect("the name as pixels");
    assert!(name.rgba.chunks_exact(4).filter(|p| p[3] > 0).count() > 100);

    let broken = format!("v 1 2 {MARKER}\n");
    let err = CadView::open(MediaType::Obj, Zeroizing::new(broken.into_bytes())).unwrap_err();
    let shown = err.to_string();
    assert!(
        !shown.contains(MARKER) && shown.contains("line 1"),
        "{shown}"
    );
}
