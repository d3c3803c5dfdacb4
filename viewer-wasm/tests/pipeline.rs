//! The viewer pipeline natively, on a real multi-page PDF shipped by a Debian package:
//! licence → key unwrap → chunked decryption → hayro render → visible and forensic watermarks.
#![allow(missing_docs)]
// Test envelopes are a few hundred KiB: offsets fit any usize.
#![allow(clippy::cast_possible_truncation)]

use std::time::Instant;

use crate::support;

use support::{NOW, Sealed, WATERMARK_KEY};
use veilmark_shared::envelope::ContentKey;
use veilmark_shared::licence::ServerKey;
use veilmark_shared::watermark::{Detector, WatermarkKey};
use veilmark_viewer_wasm::envelope::EnvelopeReader;
use veilmark_viewer_wasm::mark::{mark_frame, utc_minute};
use veilmark_viewer_wasm::render::PdfDocument;
use veilmark_viewer_wasm::session::{Session, ViewerError};
use zeroize::Zeroizing;

/// The real PDF fixture (`support::fixture_pdf`).
fn fixture_pdf() -> Option<Vec<u8>> {
    Some(support::fixture_pdf())
}

/// The content key the server seals with in these tests.
fn key() -> ContentKey {
    ContentKey::from_bytes([5; 32])
}

/// What the server does: seal the file in 16 KiB chunks, issue a licence to the session's
/// fresh key.
fn seal_and_license(pdf: &[u8]) -> Sealed {
    support::seal_and_license(pdf, &key(), 16 * 1024)
}

/// The real open sequence over the sealed bytes in memory (`support::decrypt`).
fn decrypt(s: &mut Sealed) -> Zeroizing<Vec<u8>> {
    assert!(s.envelope.len() > 3 * 16 * 1024, "several chunks");
    support::decrypt(s)
}

fn dark_fraction(rgba: &[u8]) -> f64 {
    let dark = rgba
        .chunks_exact(4)
        .filter(|p| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) < 3 * 128)
        .count();
    dark as f64 / (rgba.len() / 4) as f64
}

#[test]
fn decrypts_renders_and_marks_a_real_multi_page_pdf() {
    let Some(pdf) = fixture_pdf() else { return };
    let mut sealed = seal_and_license(&pdf);
    let plaintext = decrypt(&mut sealed);
    assert_eq!(&plaintext[..], &pdf[..]);

    let doc = PdfDocument::open(plaintext).unwrap();
    assert!(doc.page_count() > 3, "multi-page: {}", doc.page_count());
    let (w, h) = doc.page_size(0).unwrap();
    assert!(w > 100.0 && h > 100.0);

    let t = Instant::now();
    let mut frame = doc.render(1, 1.5).unwrap();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    eprintln!(
        "rendered page 2 at 150 % ({}×{}) in {ms:.1} ms (debug build of our crate)",
        frame.width, frame.height
    );
    assert_eq!(frame.width, (w * 1.5) as u32);
    assert_eq!(frame.rgba.len(), (frame.width * frame.height * 4) as usize);
    let ink = dark_fraction(&frame.rgba);
    assert!(ink > 0.002 && ink < 0.5, "page has text, not blank: {ink}");

    let before = frame.rgba.clone();
    let terms = sealed.session.terms().unwrap().clone();
    let forensic = sealed.session.forensic().unwrap();
    mark_frame(
        &mut frame,
        &terms.recipient,
        NOW,
        terms.session_code,
        forensic,
    )
    .unwrap();
    // White paper that the mark greyed: the watermark covers the page, not only the text.
    let greyed = before
        .chunks_exact(4)
        .zip(frame.rgba.chunks_exact(4))
        .filter(|(a, b)| a[..3] == [255; 3] && b[0] < 235)
        .count();
    let share = greyed as f64 / f64::from(frame.width * frame.height);
    assert!(share > 0.03, "visible watermark covers the page: {share}");

    // The invisible mark names the session under the server's key, from the pixels alone.
    let found = Detector::new(&WatermarkKey::from_bytes(WATERMARK_KEY))
        .detect(&frame.rgba, frame.width, frame.height)
        .unwrap()
        .expect("forensic watermark found in the rendered page");
    assert_eq!(found.code.get(), terms.session_code.get());
    // And not under another key.
    assert!(
        Detector::new(&WatermarkKey::from_bytes([1; 32]))
            .detect(&frame.rgba, frame.width, frame.height)
            .unwrap()
            .is_none()
    );
}

#[test]
fn licence_without_a_valid_watermark_tile_is_refused() {
    let Some(pdf) = fixture_pdf() else { return };
    let mut sealed = seal_and_license(&pdf);
    let tile = sealed.response.watermark_tile.take();
    let err = sealed.session.accept(&sealed.response, NOW).unwrap_err();
    assert_eq!(err.kind(), "integrity");
    assert!(err.to_string().contains("watermark tile"), "{err}");
    sealed.response.watermark_tile = Some("bm90IGEgdGlsZQ==".into());
    let err = sealed.session.accept(&sealed.response, NOW).unwrap_err();
    assert!(err.to_string().contains("session tile"), "{err}");
    assert!(
        sealed.session.content_key(NOW).is_err(),
        "no key without a mark"
    );
    sealed.response.watermark_tile = tile;
    sealed.session.accept(&sealed.response, NOW).unwrap();
    // Renewals carry no tile; the first one stays.
    sealed.response.watermark_tile = None;
    sealed.session.accept(&sealed.response, NOW).unwrap();
    assert!(sealed.session.forensic().is_ok());
    sealed.session.wipe();
    assert_eq!(sealed.session.forensic().unwrap_err().kind(), "ended");
}

#[test]
fn every_page_renders() {
    let Some(pdf) = fixture_pdf() else { return };
    let doc = PdfDocument::open(Zeroizing::new(pdf)).unwrap();
    for i in 0..doc.page_count() {
        let f = doc.render(i, 0.25).unwrap();
        assert!(f.width > 0 && f.height > 0);
    }
    let err = doc.render(doc.page_count(), 1.0).unwrap_err();
    assert_eq!(err.kind(), "render");
    assert!(err.to_string().contains("does not exist"));
}

#[test]
fn licence_from_another_server_is_refused() {
    let Some(pdf) = fixture_pdf() else { return };
    let mut sealed = seal_and_license(&pdf);
    let other = ServerKey::from_seed([1; 32]).verifying_key();
    let mut session = Session::new(Zeroizing::new([7; 32]), other);
    // The server's claimed key differs from the pinned one.
    let err = session.accept(&sealed.response, NOW).unwrap_err();
    assert_eq!(err.kind(), "integrity");
    // Without the claim, the signature check itself refuses.
    sealed.response.server_key = None;
    let err = session.accept(&sealed.response, NOW).unwrap_err();
    assert!(matches!(err, ViewerError::Licence(_)), "{err}");
}

#[test]
fn expired_lease_and_wipe_withhold_the_key() {
    let Some(pdf) = fixture_pdf() else { return };
    let mut sealed = seal_and_license(&pdf);
    let err = sealed
        .session
        .accept(&sealed.response, NOW + 61)
        .unwrap_err();
    assert_eq!(err.kind(), "expired");
    sealed.session.accept(&sealed.response, NOW).unwrap();
    assert!(sealed.session.content_key(NOW).is_ok());
    assert_eq!(
        sealed.session.content_key(NOW + 60).unwrap_err().kind(),
        "expired"
    );
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

#[test]
fn tampered_chunk_is_refused() {
    let Some(pdf) = fixture_pdf() else { return };
    let mut sealed = seal_and_license(&pdf);
    sealed.session.accept(&sealed.response, NOW).unwrap();
    let key = sealed.session.content_key(NOW).unwrap();
    let len = sealed.envelope.len() as u64;
    let mut reader = EnvelopeReader::new(&key, &sealed.envelope[..4096], len).unwrap();
    let r = reader.chunk_range(0).unwrap();
    let mut chunk = sealed.envelope[r.start as usize..r.end as usize].to_vec();
    chunk[20] ^= 1;
    assert_eq!(reader.push_chunk(chunk).unwrap_err().kind(), "integrity");
}

#[test]
fn watermark_time_is_utc() {
    assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
    assert_eq!(utc_minute(1_800_000_000), "2027-01-15 08:00 UTC");
    assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00 UTC");
}
