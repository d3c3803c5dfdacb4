//! What the viewer's tests share (the browser tests and, natively, `pipeline.rs`): a small PDF
//! written here (a wasm test cannot read a Debian package's file), the server's half of the
//! protocol (seal, issue a licence), the ranged reads the wasm layer does over HTTP, and, in
//! wasm, a window onto linear memory.
#![allow(dead_code)] // each test crate uses a different part

use base64::Engine;
use veilmark_shared::envelope::{self, ContentKey, DocumentId};
use veilmark_shared::licence::{
    self, LicenceTerms, Permissions, ServerKey, SessionCode, SessionId,
};
use veilmark_shared::wire::{LicenceRequest, Report, ServerKeyResponse};
use veilmark_viewer_wasm::open::{self, Transport};
use veilmark_viewer_wasm::session::{
    DocumentInfo, LicenceResponse, Session, SessionUrls, ViewerError,
};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::JsCast;
use zeroize::Zeroizing;

/// The clock the tests pretend it is (unix seconds).
pub const NOW: u64 = 1_800_000_000;
/// Seed of the test server's Ed25519 key.
pub const SERVER_SEED: [u8; 32] = [9; 32];
/// The server's forensic watermark key; the viewer only sees the session tile made with it.
pub const WATERMARK_KEY: [u8; 32] = [0x5a; 32];
/// Page size of [`tiny_pdf`] pages, in points.
pub const PAGE: (f32, f32) = (300.0, 200.0);

/// A valid PDF of `texts.len()` pages of 300×200 pt, each with a black 120×60 pt rectangle at
/// (20, 20) from the bottom left and its text in Helvetica (a standard-14 font hayro embeds).
#[must_use]
pub fn tiny_pdf(texts: &[&str]) -> Vec<u8> {
    let n = texts.len();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for (i, text) in texts.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] \
             /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            PAGE.0,
            PAGE.1,
            5 + 2 * i
        ));
        let content = format!("0 0 0 rg 20 20 120 60 re f BT /F1 18 Tf 20 150 Td ({text}) Tj ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", n * 2 + 4).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            n * 2 + 4
        )
        .as_bytes(),
    );
    pdf
}

/// A real multi-page PDF from a Debian package (`shared-mime-info`, `libtasn1-doc`);
/// `VEILMARK_TEST_PDF` overrides. `viewer-wasm/tests/fetch-fixture.sh` extracts one when none is
/// installed. Native tests only (a wasm test cannot read files).
#[must_use]
pub fn fixture_pdf() -> Vec<u8> {
    let candidates = std::env::var_os("VEILMARK_TEST_PDF")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain([
            "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf".into(),
            "/usr/share/doc/libtasn1-doc/libtasn1.pdf".into(),
            concat!(
                env!("CARGO_TARGET_TMPDIR"),
                "/fixture/shared-mime-info-spec.pdf"
            )
            .into(),
        ]);
    for p in candidates {
        if let Ok(bytes) = std::fs::read(&p) {
            return bytes;
        }
    }
    // Never skip silently: a missing fixture is a failed test with instructions.
    panic!(
        "no fixture PDF: install Debian's shared-mime-info or run viewer-wasm/tests/fetch-fixture.sh"
    )
}

/// A sealed document and a session licensed to open it, as the server would leave them.
pub struct Sealed {
    /// The envelope bytes the server stores.
    pub envelope: Vec<u8>,
    /// The viewer's session (key pair made, licence not yet accepted).
    pub session: Session,
    /// The server's licence answer.
    pub response: LicenceResponse,
}

/// Seals `plaintext` under `key` in chunks of `chunk_size` and issues a 60 s licence for it
/// to a fresh session.
pub fn seal_and_license(plaintext: &[u8], key: &ContentKey, chunk_size: u32) -> Sealed {
    let server = ServerKey::from_seed(SERVER_SEED);
    let doc = DocumentId([1; 16]);
    let envelope = envelope::seal(
        key,
        doc,
        "application/pdf",
        plaintext,
        chunk_size,
        [2; 16],
        [3; 7],
    )
    .unwrap();
    let session = Session::new(Zeroizing::new([7; 32]), server.verifying_key());
    let request = session.licence_request([4; 16], NOW, None);
    let viewer_key: [u8; 32] = hex::decode(&request.viewer_key)
        .unwrap()
        .try_into()
        .unwrap();
    // The session's public key is what the licence request carries.
    assert_eq!(
        viewer_key,
        licence::ViewerKey::from_seed([7; 32]).public_key()
    );
    assert!(request.passcode.is_none());
    assert!(
        serde_json::to_value(&request)
            .unwrap()
            .get("passcode")
            .is_none()
    );
    let terms = LicenceTerms {
        document_id: doc,
        session_id: SessionId([6; 16]),
        session_code: SessionCode::new(0xabc_def_123).unwrap(),
        permissions: Permissions::VIEW,
        issued_at: NOW,
        lease_expires_at: NOW + 60,
        viewer_key,
        recipient: "alice@supplier.example".into(),
    };
    let lic = licence::issue(&terms, key, &server, [8; 32]).unwrap();
    let response = LicenceResponse {
        licence: base64::engine::general_purpose::STANDARD.encode(lic),
        session_id: terms.session_id.to_string(),
        lease_expires_at: terms.lease_expires_at,
        lease_secs: 60,
        server_key: Some(hex::encode(server.verifying_key())),
        document: document_info(plaintext.len() as u64, envelope.len() as u64),
        urls: session_urls(),
        watermark_tile: Some(
            base64::engine::general_purpose::STANDARD.encode(
                veilmark_shared::watermark::Embedder::new(
                    &veilmark_shared::watermark::WatermarkKey::from_bytes(WATERMARK_KEY),
                    terms.session_code,
                )
                .to_bytes(),
            ),
        ),
    };
    Sealed {
        envelope,
        session,
        response,
    }
}

/// The document facts of a licence answer for a PDF of these sizes.
#[must_use]
pub fn document_info(plaintext_len: u64, envelope_len: u64) -> DocumentInfo {
    DocumentInfo {
        id: DocumentId([1; 16]).to_string(),
        title: "Tiny".into(),
        media_type: "application/pdf".into(),
        plaintext_len,
        envelope_len,
        classification: None,
    }
}

/// Session URLs of a licence answer (these tests call no server).
#[must_use]
pub fn session_urls() -> SessionUrls {
    SessionUrls {
        envelope: "/api/v/t/envelope?session=s".into(),
        renew: "/api/v/t/sessions/s/renew".into(),
        events: "/api/v/t/sessions/s/events".into(),
        report: "/api/v/t/sessions/s/report".into(),
    }
}

/// `envelope[range]`, as a ranged HTTP response would carry it.
#[must_use]
pub fn range(envelope: &[u8], r: std::ops::Range<u64>) -> Vec<u8> {
    envelope[usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap()].to_vec()
}

/// The viewer API served from memory: the sealed document's licence answer and envelope, the
/// clock at `now`, and randomness that makes the key pair [`Sealed::session`] has (seed 7s).
pub struct MemoryTransport<'a> {
    /// What the server holds.
    pub sealed: &'a Sealed,
    /// The viewer's clock.
    pub now: u64,
}

impl Transport for MemoryTransport<'_> {
    async fn server_key(&self) -> Result<ServerKeyResponse, ViewerError> {
        Ok(ServerKeyResponse {
            ed25519: hex::encode(ServerKey::from_seed(SERVER_SEED).verifying_key()),
        })
    }

    async fn licence(
        &self,
        _url: &str,
        request: &LicenceRequest,
    ) -> Result<LicenceResponse, ViewerError> {
        assert_eq!(
            request.viewer_key,
            hex::encode(licence::ViewerKey::from_seed([7; 32]).public_key())
        );
        Ok(self.sealed.response.clone())
    }

    async fn renew(&self, _url: &str) -> Result<LicenceResponse, ViewerError> {
        Ok(LicenceResponse {
            watermark_tile: None,
            ..self.sealed.response.clone()
        })
    }

    async fn envelope(&self, _url: &str, r: std::ops::Range<u64>) -> Result<Vec<u8>, ViewerError> {
        Ok(range(&self.sealed.envelope, r))
    }

    async fn report(&self, _url: &str, _report: Report) -> Result<(), ViewerError> {
        Ok(())
    }

    fn now(&self) -> u64 {
        self.now
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), ViewerError> {
        buf.fill(7);
        Ok(())
    }
}

/// Runs a future that never waits on anything outside it (a [`MemoryTransport`] sequence).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Runs the real open sequence (`open::open`) over a [`MemoryTransport`] at `NOW + 1`: the
/// licence, the ranged envelope reads and the decryption `web.rs` runs. The licensed session
/// replaces [`Sealed::session`]; returns the plaintext.
pub fn decrypt(sealed: &mut Sealed) -> Zeroizing<Vec<u8>> {
    let t = MemoryTransport {
        sealed,
        now: NOW + 1,
    };
    let mut progress = Vec::new();
    let opened = block_on(open::open(&t, "token", None, |p| progress.push(p))).unwrap();
    assert_eq!(progress.last().copied(), Some(1.0), "{progress:?}");
    sealed.session = opened.session;
    opened.plaintext
}

/// A live view of this module's linear memory (what a devtools user could read).
#[cfg(target_arch = "wasm32")]
#[must_use]
pub fn linear_memory() -> js_sys::Uint8Array {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    js_sys::Uint8Array::new(&memory.buffer())
}

/// Copies `len` bytes of linear memory at `addr` into `out` (allocated beforehand, so that
/// reading allocates nothing that could land on the bytes being read).
#[cfg(target_arch = "wasm32")]
pub fn read_memory(addr: usize, out: &mut [u8]) {
    let start = u32::try_from(addr).unwrap();
    let end = start + u32::try_from(out.len()).unwrap();
    linear_memory().subarray(start, end).copy_to(out);
}

/// Milliseconds from the page's clock (`performance.now()`, microsecond resolution).
#[cfg(target_arch = "wasm32")]
#[must_use]
pub fn now_ms() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let now: js_sys::Function = js_sys::Reflect::get(&performance, &"now".into())
        .unwrap()
        .unchecked_into();
    now.call0(&performance).unwrap().as_f64().unwrap()
}
