//! The real open sequence (`veilmark_viewer_wasm::open`) against a real `veilmark-server` on
//! 127.0.0.1: a sealed PDF opened through a link, its first frame carrying both watermarks, a
//! lease renewal, then revocation wiping the session. Only the transport is test code: reqwest
//! in place of the browser's `fetch`.
#![allow(missing_docs)]
#![cfg(not(target_arch = "wasm32"))]

use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support;

use futures_util::StreamExt;
use tokio::net::TcpListener;
use veilmark_server::service::{ClientMeta, NewLink};
use veilmark_server::{AppState, Config};
use veilmark_shared::media::MediaType;
use veilmark_shared::watermark::{Detector, WatermarkKey};
use veilmark_shared::wire::{
    ErrorCode, LicenceRequest, LicenceResponse, Report, RevokedEvent, ServerKeyResponse,
};
use veilmark_viewer_wasm::mark::MarkCache;
use veilmark_viewer_wasm::open::{self, Transport};
use veilmark_viewer_wasm::render::PdfDocument;
use veilmark_viewer_wasm::session::ViewerError;

const OWNER: &str = "owner@brand.example";

/// The viewer API over HTTP with reqwest: what `web.rs` does with `fetch`.
struct HttpTransport {
    base: String,
    client: reqwest::Client,
}

impl HttpTransport {
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ViewerError> {
        let resp = req
            .send()
            .await
            .map_err(|e| ViewerError::Network(e.to_string()))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(ViewerError::from_answer(status, &text))
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ViewerError> {
        self.send(req)
            .await?
            .json()
            .await
            .map_err(|e| ViewerError::Protocol(e.to_string()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Transport for HttpTransport {
    async fn server_key(&self) -> Result<ServerKeyResponse, ViewerError> {
        self.json(self.client.get(self.url("/api/server-key")))
            .await
    }

    async fn licence(
        &self,
        url: &str,
        request: &LicenceRequest,
    ) -> Result<LicenceResponse, ViewerError> {
        self.json(self.client.post(self.url(url)).json(request))
            .await
    }

    async fn renew(&self, url: &str) -> Result<LicenceResponse, ViewerError> {
        self.json(self.client.post(self.url(url))).await
    }

    async fn envelope(&self, url: &str, range: Range<u64>) -> Result<Vec<u8>, ViewerError> {
        let req = self.client.get(self.url(url)).header(
            "range",
            format!("bytes={}-{}", range.start, range.end.saturating_sub(1)),
        );
        let bytes = self
            .send(req)
            .await?
            .bytes()
            .await
            .map_err(|e| ViewerError::Network(e.to_string()))?;
        Ok(bytes.to_vec())
    }

    async fn report(&self, url: &str, report: Report) -> Result<(), ViewerError> {
        self.send(self.client.post(self.url(url)).json(&report))
            .await
            .map(|_| ())
    }

    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), ViewerError> {
        for chunk in buf.chunks_mut(32) {
            let r: [u8; 32] = veilmark_server::secrets::random()
                .map_err(|e| ViewerError::Protocol(e.to_string()))?;
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        Ok(())
    }
}

/// A server on 127.0.0.1:0 with a scratch data directory, its state and the directory.
async fn start() -> (String, AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::new(dir.path());
    config.public_url = format!("http://{addr}");
    config.www_dir = None;
    let state = AppState::open(config).await.unwrap();
    tokio::spawn(veilmark_server::serve(state.clone(), listener));
    (format!("http://{addr}"), state, dir)
}

/// White paper that the visible mark greyed, as a share of the frame.
fn greyed_share(before: &[u8], after: &[u8]) -> f64 {
    let greyed = before
        .chunks_exact(4)
        .zip(after.chunks_exact(4))
        .filter(|(a, b)| a[..3] == [255; 3] && b[0] < 235)
        .count();
    greyed as f64 / (before.len() / 4) as f64
}

#[tokio::test]
async fn opens_a_sealed_pdf_through_a_link_renews_and_is_wiped_on_revocation() {
    let pdf = support::fixture_pdf();
    let (base, state, _dir) = start().await;
    let org = state.org_named("default").await.unwrap().id;
    let owner = veilmark_server::service::Actor::operator(org, OWNER);
    let doc = state
        .ingest_plaintext(&pdf, "Spec", None, &owner, &ClientMeta::cli())
        .await
        .unwrap();
    let link = state
        .create_link(
            &NewLink {
                document_id: doc.id.clone(),
                recipient: "alice@supplier.example".into(),
                expires_in_secs: None,
                max_views: None,
                passcode: None,
                pages: None,
                parts: None,
            },
            &owner,
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    let token = link.url.rsplit('/').next().unwrap().to_owned();
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let t = HttpTransport {
        base,
        client: reqwest::Client::new(),
    };

    // Licence → envelope fetch → decryption, the sequence the browser runs.
    let mut progress = Vec::new();
    let opened = open::open(&t, &token, None, |p| progress.push(p))
        .await
        .unwrap();
    assert_eq!(opened.media, MediaType::Pdf);
    assert_eq!(&opened.plaintext[..], &pdf[..]);
    assert_eq!(progress.last().copied(), Some(1.0));
    assert_eq!(opened.document.title, "Spec");
    let open::Opened {
        mut session,
        urls,
        plaintext,
        ..
    } = opened;
    let terms = session.terms().unwrap().clone();
    assert_eq!(terms.recipient, "alice@supplier.example");

    // The first frame, marked: the visible mark covers the page, and the forensic mark names
    // this session under the server's watermark key.
    let pdf_doc = PdfDocument::open(plaintext).unwrap();
    let mut marks = MarkCache::default();
    let plain = pdf_doc.render(0, 1.5).unwrap();
    let frame = open::marked_page(&pdf_doc, &session, &mut marks, 0, 1.5, t.now()).unwrap();
    assert_eq!((frame.width, frame.height), (plain.width, plain.height));
    let share = greyed_share(&plain.rgba, &frame.rgba);
    assert!(share > 0.03, "visible watermark covers the page: {share}");
    let found = Detector::new(&WatermarkKey::from_bytes(*state.keys.watermark()))
        .detect(&frame.rgba, frame.width, frame.height)
        .unwrap()
        .expect("forensic watermark found in the first frame");
    assert_eq!(found.code, terms.session_code);
    // The audit log prints the code in the one form the watermark shows.
    let audit = state.audit_log(org).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.kind == "grant" && e.detail == format!("session code {}", found.code)),
        "grant names session code {}",
        found.code
    );
    t.report(&urls.report, Report { page: 1 }).await.unwrap();

    // A renewal: a new signed lease for the same session.
    let lease = open::renew(&t, &mut session, &urls).await.unwrap();
    assert!(lease >= terms.lease_expires_at);
    assert!(session.content_key(t.now()).is_ok());

    // Revocation: the push arrives on the event stream, and a renewal is refused with the
    // code that ends the session, which wipes it.
    let events = t.client.get(t.url(&urls.events)).send().await.unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        state
            .revoke(&link.link.id, &owner, &ClientMeta::cli())
            .await
            .unwrap()
    );
    let mut stream = events.bytes_stream();
    let mut text = String::new();
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if let Some(at) = text.find("event: revoked\n") {
                let rest = &text[at..];
                if let Some(data) = rest.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str::<RevokedEvent>(data).unwrap();
                }
            }
        }
        panic!("event stream ended without a revoked event: {text}");
    })
    .await
    .expect("revocation pushed within 5 s");
    let err = open::renew(&t, &mut session, &urls).await.unwrap_err();
    assert!(
        matches!(
            err,
            ViewerError::Server {
                code: ErrorCode::LinkRevoked,
                ..
            }
        ),
        "{err}"
    );
    assert!(open::ends_session(&err));
    assert_eq!(err.kind(), "gone");
    assert!(session.is_ended(), "the refused renewal wiped the session");
    let pushed = open::revoked(&mut session, &event);
    assert_eq!(pushed.kind(), "gone");
    assert_eq!(session.content_key(t.now()).unwrap_err().kind(), "ended");
    assert_eq!(
        open::marked_page(&pdf_doc, &session, &mut marks, 0, 1.0, t.now())
            .unwrap_err()
            .kind(),
        "ended",
        "no frame after the wipe"
    );
    // And the link opens no more.
    let err = open::open(&t, &token, None, |_| {}).await.unwrap_err();
    assert!(
        matches!(
            err,
            ViewerError::Server {
                code: ErrorCode::LinkRevoked,
                ..
            }
        ),
        "{err}"
    );
}
