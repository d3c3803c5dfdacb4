//! The wasm layer: fetch, canvas and the handle the page's script holds.
//!
//! Everything that touches plaintext happens here or below: the licence request and key unwrap,
//! ranged envelope fetches (ciphertext crosses JS only as `ArrayBuffer`s of sealed chunks),
//! decryption, rendering, watermarking and `putImageData`. The script gets a [`Viewer`] handle
//! whose methods return promises of numbers, strings of metadata, or errors whose `name` is a
//! [`ViewerError::kind`].

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{
    CanvasRenderingContext2d, HtmlCanvasElement, ImageData, Request, RequestCache,
    RequestCredentials, RequestInit, Response,
};
use zeroize::Zeroizing;

use crate::envelope::{EnvelopeReader, FETCH_BATCH};
use crate::mark::{MarkCache, mark_frame_cached};
use crate::render::PdfDocument;
use crate::session::{LicenceResponse, Session, SessionUrls, ViewerError};

#[allow(clippy::cast_possible_truncation)] // whole seconds since 1970: far below 2^53
fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

fn js_error(e: &ViewerError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(e.kind());
    err.into()
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, ViewerError> {
    let mut buf = Zeroizing::new([0u8; N]);
    getrandom::getrandom(&mut buf[..])
        .map_err(|e| ViewerError::Protocol(format!("no randomness: {e}")))?;
    Ok(buf)
}

fn net(e: JsValue) -> ViewerError {
    ViewerError::Network(
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "request failed".into()),
    )
}

/// One HTTP exchange from wasm. Errors carry the server's JSON `message` when there is one.
async fn fetch(
    method: &str,
    url: &str,
    json: Option<&str>,
    range: Option<Range<u64>>,
) -> Result<Response, ViewerError> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_cache(RequestCache::NoStore);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(body) = json {
        init.set_body(&JsValue::from_str(body));
    }
    let req = Request::new_with_str_and_init(url, &init).map_err(net)?;
    if json.is_some() {
        req.headers()
            .set("content-type", "application/json")
            .map_err(net)?;
    }
    if let Some(r) = range {
        req.headers()
            .set(
                "range",
                &format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
            )
            .map_err(net)?;
    }
    let window = web_sys::window().ok_or_else(|| ViewerError::Network("no window".into()))?;
    let resp: Response = JsFuture::from(window.fetch_with_request(&req))
        .await
        .map_err(net)?
        .dyn_into()
        .map_err(net)?;
    if resp.ok() {
        return Ok(resp);
    }
    let status = resp.status();
    let text = text(&resp).await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("the server answered {status}"));
    Err(ViewerError::Server { status, message })
}

async fn text(resp: &Response) -> Result<String, ViewerError> {
    JsFuture::from(resp.text().map_err(net)?)
        .await
        .map_err(net)?
        .as_string()
        .ok_or_else(|| ViewerError::Protocol("body is not text".into()))
}

async fn bytes(resp: &Response) -> Result<Vec<u8>, ViewerError> {
    let buf = JsFuture::from(resp.array_buffer().map_err(net)?)
        .await
        .map_err(net)?;
    Ok(Uint8Array::new(&buf).to_vec())
}

struct Inner {
    marks: MarkCache,
    token: String,
    session: Session,
    urls: SessionUrls,
    document: Option<PdfDocument>,
    title: String,
}

/// The page's handle on one viewing session.
#[wasm_bindgen]
pub struct Viewer {
    inner: Rc<RefCell<Inner>>,
}

fn base(token: &str) -> String {
    format!("/api/v/{token}")
}

#[wasm_bindgen]
impl Viewer {
    /// Opens the link `token`: pins the server key, makes the ephemeral key pair, gets and
    /// verifies a licence, fetches and decrypts the envelope (calling `on_progress(fraction)`
    /// after each chunk) and parses the PDF. Resolves to a [`Viewer`].
    pub fn open(token: String, passcode: Option<String>, on_progress: js_sys::Function) -> Promise {
        future_to_promise(async move {
            Self::open_inner(token, passcode, on_progress)
                .await
                .map(JsValue::from)
                .map_err(|e| js_error(&e))
        })
    }

    async fn open_inner(
        token: String,
        passcode: Option<String>,
        on_progress: js_sys::Function,
    ) -> Result<Viewer, ViewerError> {
        let key_json = text(&fetch("GET", "/api/server-key", None, None).await?).await?;
        let key: serde_json::Value =
            serde_json::from_str(&key_json).map_err(|e| ViewerError::Protocol(e.to_string()))?;
        let server_key: [u8; 32] = key["ed25519"]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| ViewerError::Protocol("server key is not 32 hex bytes".into()))?;
        let mut session = Session::new(random::<32>()?, server_key);
        let nonce = *random::<16>()?;
        let body = session.licence_request(nonce, now_secs(), passcode.as_deref());
        let resp = fetch(
            "POST",
            &format!("{}/licence", base(&token)),
            Some(&body),
            None,
        )
        .await?;
        let lic: LicenceResponse = serde_json::from_str(&text(&resp).await?)
            .map_err(|e| ViewerError::Protocol(e.to_string()))?;
        session.accept(&lic, now_secs())?;
        let (Some(doc), Some(urls)) = (lic.document, lic.urls) else {
            return Err(ViewerError::Protocol(
                "licence answer lacks document or urls".into(),
            ));
        };
        if doc.media_type != "application/pdf" {
            return Err(ViewerError::Render(format!(
                "{} documents are not supported by this viewer yet",
                doc.media_type
            )));
        }
        // Few round trips: the header and the first chunks in one answer, then 1 MiB batches.
        let first_range = EnvelopeReader::first_fetch(doc.envelope_len);
        let first = bytes(&fetch("GET", &urls.envelope, None, Some(first_range)).await?).await?;
        let header_len = EnvelopeReader::header_len(&first)?;
        let longer_header;
        let header = if first.len() < header_len {
            longer_header =
                bytes(&fetch("GET", &urls.envelope, None, Some(0..header_len as u64)).await?)
                    .await?;
            &longer_header
        } else {
            &first
        };
        let key = session.content_key(now_secs())?;
        let mut reader = EnvelopeReader::new(&key, header, doc.envelope_len)?;
        drop(key);
        let progress = |reader: &EnvelopeReader| {
            let _ = on_progress.call1(&JsValue::NULL, &JsValue::from_f64(reader.progress()));
        };
        reader.push_batch(0, &first)?;
        progress(&reader);
        while let Some(range) = reader.next_batch(FETCH_BATCH) {
            let at = range.start;
            let sealed = bytes(&fetch("GET", &urls.envelope, None, Some(range)).await?).await?;
            if reader.push_batch(at, &sealed)? == 0 {
                return Err(ViewerError::Protocol(
                    "the server's answer holds no whole chunk".into(),
                ));
            }
            progress(&reader);
        }
        let document = PdfDocument::open(reader.finish()?)?;
        Ok(Viewer {
            inner: Rc::new(RefCell::new(Inner {
                marks: MarkCache::default(),
                token,
                session,
                urls,
                document: Some(document),
                title: doc.title,
            })),
        })
    }

    /// Number of pages (0 once wiped).
    #[wasm_bindgen(js_name = pageCount)]
    pub fn page_count(&self) -> u32 {
        self.inner
            .borrow()
            .document
            .as_ref()
            .map_or(0, PdfDocument::page_count)
    }

    /// `[width, height]` of page `index` (from 0) in points.
    #[wasm_bindgen(js_name = pageSize)]
    pub fn page_size(&self, index: u32) -> Result<Vec<f32>, JsValue> {
        let inner = self.inner.borrow();
        let doc = inner
            .document
            .as_ref()
            .ok_or_else(|| js_error(&ViewerError::Ended))?;
        let (w, h) = doc.page_size(index).map_err(|e| js_error(&e))?;
        Ok(vec![w, h])
    }

    /// The document title the owner chose.
    pub fn title(&self) -> String {
        self.inner.borrow().title.clone()
    }

    /// Unix seconds at which the current lease ends.
    #[wasm_bindgen(js_name = leaseExpiresAt)]
    pub fn lease_expires_at(&self) -> f64 {
        self.inner
            .borrow()
            .session
            .terms()
            .map_or(0.0, |t| t.lease_expires_at as f64)
    }

    /// The server-sent events URL (revocation feed) for this session.
    #[wasm_bindgen(js_name = eventsUrl)]
    pub fn events_url(&self) -> String {
        self.inner.borrow().urls.events.clone()
    }

    /// Renders page `index` at `scale` pixels per point into `canvas` (resized to fit),
    /// watermarked. Returns the render time in milliseconds.
    pub fn render(
        &self,
        canvas: &HtmlCanvasElement,
        index: u32,
        scale: f32,
    ) -> Result<f64, JsValue> {
        let t0 = js_sys::Date::now();
        let mut guard = self
            .inner
            .try_borrow_mut()
            .map_err(|_| js_error(&ViewerError::Render("a render is already running".into())))?;
        let Inner {
            marks,
            session,
            document,
            ..
        } = &mut *guard;
        let now = now_secs();
        // No pixels without a live lease.
        session.content_key(now).map_err(|e| js_error(&e))?;
        let terms = session
            .terms()
            .ok_or_else(|| js_error(&ViewerError::Ended))?;
        let doc = document
            .as_ref()
            .ok_or_else(|| js_error(&ViewerError::Ended))?;
        let mut frame = doc.render(index, scale).map_err(|e| js_error(&e))?;
        let forensic = session.forensic().map_err(|e| js_error(&e))?;
        mark_frame_cached(
            marks,
            &mut frame,
            &terms.recipient,
            now,
            terms.session_code,
            forensic,
        )
        .map_err(|e| js_error(&e))?;
        let ctx = context(canvas)?;
        let image = ImageData::new_with_u8_clamped_array_and_sh(
            Clamped(&frame.rgba[..]),
            frame.width,
            frame.height,
        )?;
        canvas.set_width(frame.width);
        canvas.set_height(frame.height);
        ctx.put_image_data(&image, 0.0, 0.0)?;
        Ok(js_sys::Date::now() - t0)
    }

    /// Renews the lease (call well before [`Viewer::lease_expires_at`]).
    pub fn renew(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let url = inner.borrow().urls.renew.clone();
            let result = async {
                let resp = fetch("POST", &url, None, None).await?;
                let lic: LicenceResponse = serde_json::from_str(&text(&resp).await?)
                    .map_err(|e| ViewerError::Protocol(e.to_string()))?;
                inner.borrow_mut().session.accept(&lic, now_secs())?;
                Ok::<_, ViewerError>(
                    inner
                        .borrow()
                        .session
                        .terms()
                        .map_or(0.0, |t| t.lease_expires_at as f64),
                )
            }
            .await;
            result.map(JsValue::from_f64).map_err(|e| js_error(&e))
        })
    }

    /// Records a page view (`page` from 1) in the owner's audit log.
    pub fn report(&self, page: u32) -> Promise {
        let url = self.inner.borrow().urls.report.clone();
        future_to_promise(async move {
            let body = format!("{{\"page\":{page}}}");
            fetch("POST", &url, Some(&body), None)
                .await
                .map(|_| JsValue::UNDEFINED)
                .map_err(|e| js_error(&e))
        })
    }

    /// Wipes the content key and the decrypted document and clears `canvas` (revocation,
    /// expiry, tab hidden too long, unload). The handle is useless afterwards.
    pub fn wipe(&self, canvas: Option<HtmlCanvasElement>) {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.session.wipe();
            inner.marks.clear();
            inner.document = None; // drops the last reference: the plaintext is zeroized.
            inner.token.clear();
        }
        if let Some(c) = canvas {
            clear(&c);
        }
    }
}

fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsValue> {
    canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .dyn_into()
        .map_err(|_| JsValue::from_str("not a 2d context"))
}

/// Blanks a canvas and shrinks its backing store so no rendered pixels remain.
pub fn clear(canvas: &HtmlCanvasElement) {
    if let Ok(ctx) = context(canvas) {
        ctx.clear_rect(
            0.0,
            0.0,
            f64::from(canvas.width()),
            f64::from(canvas.height()),
        );
    }
    canvas.set_width(0);
    canvas.set_height(0);
}
