//! The wasm layer: fetch, canvas and the handle the page's script holds.
//!
//! Everything that touches plaintext happens here or below: the licence request and key unwrap,
//! ranged envelope fetches (ciphertext crosses JS only as `ArrayBuffer`s of sealed chunks),
//! decryption, rendering, watermarking and `putImageData`. The script gets a [`Viewer`] handle
//! whose methods return promises of numbers, strings of metadata, or errors whose `name` is a
//! [`ViewerError::kind`]. No string from inside a document is among them: CAD part and layer
//! names reach the page only as pixels (`drawName`).

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

use crate::cad::CadView;
use crate::mark::MarkCache;
use crate::open::{self, Opened, Transport};
use crate::render::{Frame, PdfDocument};
use crate::session::{Session, SessionUrls, ViewerError};
use veilmark_render::{Gpu, Renderer, Scene, StandardView};
use veilmark_shared::media::MediaType;
use veilmark_shared::wire::{LicenceRequest, LicenceResponse, Report, ServerKeyResponse};

#[allow(clippy::cast_possible_truncation)] // whole seconds since 1970: far below 2^53
fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

fn js_error(e: &ViewerError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(e.kind());
    err.into()
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

/// One HTTP exchange from wasm. Refusals carry the server's error code and message.
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
    Err(ViewerError::from_answer(status, &text))
}

/// A JSON answer of type `T`.
async fn json<T: serde::de::DeserializeOwned>(resp: &Response) -> Result<T, ViewerError> {
    serde_json::from_str(&text(resp).await?).map_err(|e| ViewerError::Protocol(e.to_string()))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, ViewerError> {
    serde_json::to_string(value).map_err(|e| ViewerError::Protocol(e.to_string()))
}

/// The open sequence's transport in the browser: `fetch` against the page's origin, the
/// page's clock and `crypto.getRandomValues`.
struct WebTransport;

impl Transport for WebTransport {
    async fn server_key(&self) -> Result<ServerKeyResponse, ViewerError> {
        json(&fetch("GET", "/api/server-key", None, None).await?).await
    }

    async fn licence(
        &self,
        url: &str,
        request: &LicenceRequest,
    ) -> Result<LicenceResponse, ViewerError> {
        json(&fetch("POST", url, Some(&to_json(request)?), None).await?).await
    }

    async fn renew(&self, url: &str) -> Result<LicenceResponse, ViewerError> {
        json(&fetch("POST", url, None, None).await?).await
    }

    async fn envelope(&self, url: &str, range: Range<u64>) -> Result<Vec<u8>, ViewerError> {
        bytes(&fetch("GET", url, None, Some(range)).await?).await
    }

    async fn report(&self, url: &str, report: Report) -> Result<(), ViewerError> {
        fetch("POST", url, Some(&to_json(&report)?), None)
            .await
            .map(|_| ())
    }

    fn now(&self) -> u64 {
        now_secs()
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), ViewerError> {
        getrandom::getrandom(buf).map_err(|e| ViewerError::Protocol(format!("no randomness: {e}")))
    }
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

/// The GPU side of a 3D model: device, pipelines and the uploaded meshes.
struct Gfx {
    gpu: Gpu,
    renderer: Renderer,
    scene: Scene,
}

struct Inner {
    marks: MarkCache,
    token: String,
    session: Session,
    urls: SessionUrls,
    document: Option<PdfDocument>,
    /// A CAD model or drawing (instead of `document`).
    cad: Option<CadView>,
    /// The GPU for a 3D model; taken out while a frame renders.
    gfx: Option<Gfx>,
    /// "WebGPU", "WebGL2" or "CPU" (drawings and PDF pages).
    backend: String,
    title: String,
}

/// The page's handle on one viewing session.
#[wasm_bindgen]
pub struct Viewer {
    inner: Rc<RefCell<Inner>>,
}

#[wasm_bindgen]
impl Viewer {
    /// Opens the link `token`: pins the server key, makes the ephemeral key pair, gets and
    /// verifies a licence, fetches and decrypts the envelope (calling `on_progress(fraction)`
    /// after each chunk) and parses the PDF. Resolves to a [`Viewer`].
    /// CAD models render with WebGPU when the browser has it and WebGL2 otherwise;
    /// `force_webgl2` skips WebGPU (the page's `?gfx=webgl2`, for tests and old drivers).
    /// `accept_terms` is the text of an earlier `terms` error (the organisation's
    /// non-disclosure terms) that the recipient accepted on the page.
    pub fn open(
        token: String,
        passcode: Option<String>,
        on_progress: js_sys::Function,
        force_webgl2: Option<bool>,
        accept_terms: Option<String>,
    ) -> Promise {
        future_to_promise(async move {
            Self::open_inner(
                token,
                passcode,
                accept_terms,
                on_progress,
                force_webgl2.unwrap_or(false),
            )
            .await
            .map(JsValue::from)
            .map_err(|e| js_error(&e))
        })
    }

    async fn open_inner(
        token: String,
        passcode: Option<String>,
        accept_terms: Option<String>,
        on_progress: js_sys::Function,
        force_webgl2: bool,
    ) -> Result<Viewer, ViewerError> {
        let Opened {
            session,
            document: doc,
            urls,
            media,
            plaintext,
        } = open::open_accepting(
            &WebTransport,
            &token,
            passcode.as_deref(),
            accept_terms.as_deref(),
            |fraction| {
                let _ = on_progress.call1(&JsValue::NULL, &JsValue::from_f64(fraction));
            },
        )
        .await?;
        let (document, cad, gfx, backend) = if media == MediaType::Pdf {
            (
                Some(PdfDocument::open(plaintext)?),
                None,
                None,
                "CPU".to_owned(),
            )
        } else {
            let cad = CadView::open(media, plaintext)?;
            if cad.kind() == "model" {
                let gpu = Gpu::browser(!force_webgl2)
                    .await
                    .map_err(|e| ViewerError::Render(e.to_string()))?;
                let renderer = Renderer::new(&gpu);
                let scene = cad.upload(&gpu, &renderer)?;
                let backend = if gpu.backend == wgpu::Backend::BrowserWebGpu {
                    "WebGPU"
                } else {
                    "WebGL2"
                };
                let gfx = Gfx {
                    gpu,
                    renderer,
                    scene,
                };
                (None, Some(cad), Some(gfx), backend.to_owned())
            } else {
                (None, Some(cad), None, "CPU".to_owned())
            }
        };
        Ok(Viewer {
            inner: Rc::new(RefCell::new(Inner {
                marks: MarkCache::for_document(doc.classification),
                token,
                session,
                urls,
                document,
                cad,
                gfx,
                backend,
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

    /// The level's rank (0 the lowest; the banner's colour), or -1 without a level.
    #[wasm_bindgen(js_name = levelRank)]
    pub fn level_rank(&self) -> i32 {
        self.inner.borrow().marks.level_rank().map_or(-1, i32::from)
    }

    /// The document's classification level (`Restricted`), drawn as a banner on every page
    /// and frame; empty when the server sent none.
    pub fn level(&self) -> String {
        self.inner
            .borrow()
            .marks
            .level()
            .unwrap_or_default()
            .to_owned()
    }

    /// Who the visible watermark names, and the session, as one line for the canvas's
    /// accessible label (`alice@supplier.example · session 1a2b3c4d5e6f`): what a sighted
    /// user reads across every frame, in the same 12-digit form `veilmark identify` prints.
    /// Empty once the session ended.
    #[wasm_bindgen(js_name = watermarkLabel)]
    pub fn watermark_label(&self) -> String {
        self.inner
            .borrow()
            .session
            .terms()
            .map_or_else(String::new, |t| {
                format!("{} · session {}", t.recipient, t.session_code)
            })
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
        let doc = document
            .as_ref()
            .ok_or_else(|| js_error(&ViewerError::Ended))?;
        let frame = open::marked_page(doc, session, marks, index, scale, now_secs())
            .map_err(|e| js_error(&e))?;
        show(&frame, canvas)?;
        Ok(js_sys::Date::now() - t0)
    }

    /// "pdf", "model" or "drawing".
    pub fn kind(&self) -> String {
        let inner = self.inner.borrow();
        inner.cad.as_ref().map_or("pdf", CadView::kind).to_owned()
    }

    /// What draws the frames: "WebGPU", "WebGL2" or "CPU".
    pub fn backend(&self) -> String {
        self.inner.borrow().backend.clone()
    }

    /// The part tree (models) or layers (drawings) as JSON:
    /// `[{"id","kind","label","parent","depth","part","count"}]`. Labels are neutral ("Part 3");
    /// no string from the file is in it (`docs/viewer.md#outline`).
    pub fn outline(&self) -> String {
        let inner = self.inner.borrow();
        inner
            .cad
            .as_ref()
            .map_or_else(|| "[]".into(), CadView::outline_json)
    }

    /// Draws the real name of outline entry `id` into `canvas` (resized to `width × height`),
    /// in colour `rgb` (`0xRRGGBB`) on transparent pixels: the name is rasterised in wasm and
    /// only pixels reach the canvas. Returns false, leaving the canvas alone, when the entry
    /// has no name (show its label instead), the id is unknown or the size out of bounds.
    #[wasm_bindgen(js_name = drawName)]
    pub fn draw_name(
        &self,
        id: usize,
        canvas: &HtmlCanvasElement,
        width: u32,
        height: u32,
        rgb: u32,
    ) -> Result<bool, JsValue> {
        let image = {
            let inner = self.inner.borrow();
            let Some(cad) = inner.cad.as_ref() else {
                return Ok(false);
            };
            cad.draw_name(id, width, height, rgb)
        };
        match image {
            Some(image) => show(&image, canvas).map(|()| true),
            None => Ok(false),
        }
    }

    /// `[triangles or entities, parts or layers]` and the unit, as JSON.
    pub fn stats(&self) -> String {
        let inner = self.inner.borrow();
        inner.cad.as_ref().map_or_else(String::new, |c| {
            let (a, b, unit) = c.stats();
            format!("{{\"primitives\":{a},\"groups\":{b},\"unit\":\"{unit}\"}}")
        })
    }

    /// Draws the CAD view into `canvas` at `width × height` pixels, watermarked. Resolves to
    /// the frame time in milliseconds. Call again after each interaction (the page coalesces
    /// calls to one per animation frame).
    pub fn draw(&self, canvas: HtmlCanvasElement, width: u32, height: u32) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let t0 = js_sys::Date::now();
            let result = draw_cad(&inner, &canvas, width, height).await;
            result
                .map(|()| JsValue::from_f64(js_sys::Date::now() - t0))
                .map_err(|e| js_error(&e))
        })
    }

    /// Orbits (models) or pans (drawings) by a drag of `(dx, dy)` pixels.
    pub fn orbit(&self, dx: f64, dy: f64, width: f64, height: f64) {
        self.with_cad(|c| {
            if c.kind() == "model" {
                c.orbit(dx, dy, height);
            } else {
                c.pan(dx, dy, width, height);
            }
        });
    }

    /// Pans by a drag of `(dx, dy)` pixels.
    pub fn pan(&self, dx: f64, dy: f64, width: f64, height: f64) {
        self.with_cad(|c| c.pan(dx, dy, width, height));
    }

    /// Zooms by `factor` (> 1 in) around pixel `(x, y)`.
    pub fn zoom(&self, factor: f64, x: f64, y: f64, width: f64, height: f64) {
        self.with_cad(|c| c.zoom(factor, x, y, width, height));
    }

    /// Turns to a standard view (`iso`, `front`, `top`, `right`, `back`, `bottom`, `left`) and
    /// fits.
    #[wasm_bindgen(js_name = setView)]
    pub fn set_view(&self, name: &str, width: f64, height: f64) -> Result<(), JsValue> {
        let view = StandardView::parse(name)
            .ok_or_else(|| JsValue::from_str(&format!("unknown view '{name}'")))?;
        self.with_cad(|c| c.set_view(view, width, height));
        Ok(())
    }

    /// Fits everything visible.
    pub fn fit(&self, width: f64, height: f64) {
        self.with_cad(|c| c.fit(width, height));
    }

    /// Section plane across `axis` ("x", "y", "z") at `fraction` (0..1), or off ("off").
    #[wasm_bindgen(js_name = setSection)]
    pub fn set_section(&self, axis: &str, fraction: f64) {
        let axis = match axis {
            "x" => Some(0),
            "y" => Some(1),
            "z" => Some(2),
            _ => None,
        };
        self.with_cad(|c| c.set_section(axis.map(|a| (a, fraction))));
    }

    /// Shows or hides the feature edges.
    #[wasm_bindgen(js_name = setEdges)]
    pub fn set_edges(&self, on: bool) {
        self.with_cad(|c| c.set_edges(on));
    }

    /// Shows or hides outline entry `id` (a tree node with everything under it, or a layer).
    #[wasm_bindgen(js_name = setHidden)]
    pub fn set_hidden(&self, id: usize, hidden: bool) {
        self.with_cad(|c| c.set_hidden(id, hidden));
    }

    /// Highlights outline entry `id` (negative clears).
    pub fn select(&self, id: i32) {
        self.with_cad(|c| c.select(usize::try_from(id).ok()));
    }

    /// A measuring click at pixel `(x, y)`; `edge` measures the edge under the cursor.
    /// Returns the measurement as JSON (`kind`, `value`, `unit`, `unit_declared`, `points`,
    /// `part`: the clicked part's outline id, for [`Viewer::draw_name`]).
    #[wasm_bindgen(js_name = measureClick)]
    pub fn measure_click(&self, x: f64, y: f64, width: f64, height: f64, edge: bool) -> String {
        self.with_cad(|c| {
            let m = c.measure_click(x, y, width, height, edge);
            c.measurement_json(&m)
        })
        .unwrap_or_else(|| "{\"kind\":\"none\"}".into())
    }

    /// Clears the measurement.
    #[wasm_bindgen(js_name = clearMeasure)]
    pub fn clear_measure(&self) {
        self.with_cad(CadView::clear_measure);
    }

    /// Pixel position of model point `(x, y, z)` in a `width × height` frame, as `[x, y]`
    /// (empty when there is no view yet). Used by tests and annotation overlays.
    #[wasm_bindgen(js_name = projectPoint)]
    pub fn project_point(&self, x: f64, y: f64, z: f64, width: f64, height: f64) -> Vec<f64> {
        let inner = self.inner.borrow();
        inner
            .cad
            .as_ref()
            .and_then(|c| c.project([x, y, z], width, height))
            .map(Vec::from)
            .unwrap_or_default()
    }

    fn with_cad<T>(&self, f: impl FnOnce(&mut CadView) -> T) -> Option<T> {
        let mut inner = self.inner.try_borrow_mut().ok()?;
        inner.cad.as_mut().map(f)
    }

    /// Renews the lease (call well before [`Viewer::lease_expires_at`]).
    pub fn renew(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let url = inner.borrow().urls.renew.clone();
            // No borrow across the await: the page keeps rendering meanwhile.
            let answer = WebTransport.renew(&url).await;
            let result = open::accept_renewal(&mut inner.borrow_mut().session, answer, now_secs());
            result
                .map(|at| JsValue::from_f64(at as f64))
                .map_err(|e| js_error(&e))
        })
    }

    /// Records a page view (`page` from 1) in the owner's audit log.
    pub fn report(&self, page: u32) -> Promise {
        let url = self.inner.borrow().urls.report.clone();
        future_to_promise(async move {
            WebTransport
                .report(&url, Report { page })
                .await
                .map(|()| JsValue::UNDEFINED)
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
            inner.cad = None;
            inner.gfx = None;
            inner.token.clear();
        }
        if let Some(c) = canvas {
            clear(&c);
        }
    }
}

/// Marks `frame` with the session's visible and forensic watermarks and paints it on `canvas`.
fn mark_and_show(
    marks: &mut MarkCache,
    session: &Session,
    frame: &mut Frame,
    canvas: &HtmlCanvasElement,
) -> Result<(), JsValue> {
    open::mark(session, marks, frame, now_secs()).map_err(|e| js_error(&e))?;
    show(frame, canvas)
}

/// Paints a marked frame on `canvas` (resized to fit).
fn show(frame: &Frame, canvas: &HtmlCanvasElement) -> Result<(), JsValue> {
    let ctx = context(canvas)?;
    let image = ImageData::new_with_u8_clamped_array_and_sh(
        Clamped(&frame.rgba[..]),
        frame.width,
        frame.height,
    )?;
    if canvas.width() != frame.width || canvas.height() != frame.height {
        canvas.set_width(frame.width);
        canvas.set_height(frame.height);
    }
    ctx.put_image_data(&image, 0.0, 0.0)?;
    Ok(())
}

/// One CAD frame: 3D on the GPU (the device is taken out of `inner` for the await, so the
/// page's controls stay usable meanwhile), drawings on the CPU; then marked and shown.
async fn draw_cad(
    inner: &Rc<RefCell<Inner>>,
    canvas: &HtmlCanvasElement,
    width: u32,
    height: u32,
) -> Result<(), ViewerError> {
    let pending = {
        let mut guard = inner
            .try_borrow_mut()
            .map_err(|_| ViewerError::Render("a frame is already being drawn".into()))?;
        guard.session.content_key(now_secs())?;
        let state = guard.cad.as_ref().and_then(CadView::model_state).cloned();
        match state {
            Some(state) => {
                let gfx = guard
                    .gfx
                    .take()
                    .ok_or_else(|| ViewerError::Render("a frame is already being drawn".into()))?;
                Err((gfx, state))
            }
            None => {
                let cad = guard.cad.as_mut().ok_or(ViewerError::Ended)?;
                Ok(cad.render_drawing(width, height)?)
            }
        }
    };
    let mut frame = match pending {
        Ok(frame) => frame,
        Err((mut gfx, state)) => {
            let result = gfx
                .renderer
                .render(&gfx.gpu, &gfx.scene, &state, width, height)
                .await;
            let mut guard = inner.borrow_mut();
            if guard.session.is_ended() {
                // Wiped while the GPU worked: drop the device and the meshes with it.
                return Err(ViewerError::Ended);
            }
            guard.gfx = Some(gfx);
            result.map_err(|e| ViewerError::Render(e.to_string()))?
        }
    };
    let mut guard = inner.borrow_mut();
    let Inner { marks, session, .. } = &mut *guard;
    mark_and_show(marks, session, &mut frame, canvas).map_err(|e| {
        ViewerError::Render(e.dyn_ref::<js_sys::Error>().map_or_else(
            || "cannot show the frame".into(),
            |e| String::from(e.message()),
        ))
    })
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
