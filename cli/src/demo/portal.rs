//! The demo's partner portal: `www/embed/example-portal/` served from a second loopback origin,
//! embedding the demo's protected links with `<veilmark-viewer>` (`docs/embedding.md`).
//!
//! A partner's page lives on the partner's origin, never on the Veilmark server, so the demo
//! serves it from its own port, exactly as `tests/e2e/portal-server.mjs` does for the browser
//! test: the `https://veilmark.example` placeholders become the demo server's address and the
//! `REPLACE-WITH-TOKEN-n` links the demo's links. The portal is sent with a strict CSP of its
//! own that allows scripts and frames from the Veilmark origin only.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

/// What the portal server needs to render its pages.
#[derive(Clone)]
struct Portal {
    /// `www/embed/example-portal`.
    dir: PathBuf,
    /// The Veilmark server's origin, e.g. `http://127.0.0.1:40123`.
    veilmark: String,
    /// Protected links replacing `https://veilmark.example/v/REPLACE-WITH-TOKEN-1`, `-2`, ….
    links: Vec<String>,
}

/// Serves the example portal on `listener` in the background.
///
/// # Errors
/// When `www_dir` holds no `embed/example-portal/index.html`.
pub fn spawn(
    listener: TcpListener,
    www_dir: &Path,
    veilmark: &str,
    links: Vec<String>,
) -> Result<()> {
    let dir = www_dir.join("embed").join("example-portal");
    std::fs::metadata(dir.join("index.html"))
        .with_context(|| format!("no example portal in {}", dir.display()))?;
    let portal = Portal {
        dir,
        veilmark: veilmark.trim_end_matches('/').to_owned(),
        links,
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/portal.css", get(|s| asset(s, "portal.css", "text/css")))
        .route(
            "/portal.js",
            get(|s| asset(s, "portal.js", "text/javascript")),
        )
        .with_state(portal);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(())
}

/// The portal page with the placeholders filled in.
async fn index(State(p): State<Portal>) -> Response {
    let Ok(mut html) = tokio::fs::read_to_string(p.dir.join("index.html")).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    for (i, link) in p.links.iter().enumerate() {
        html = html.replace(
            &format!("https://veilmark.example/v/REPLACE-WITH-TOKEN-{}\"", i + 1),
            &format!("{link}\""),
        );
    }
    html = html.replace("https://veilmark.example", &p.veilmark);
    with_headers(html.into_bytes(), "text/html; charset=utf-8", &p.veilmark)
}

/// A static file of the portal.
async fn asset(State(p): State<Portal>, name: &str, mime: &'static str) -> Response {
    match tokio::fs::read(p.dir.join(name)).await {
        Ok(body) => with_headers(body, mime, &p.veilmark),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The body with its type and the portal's own CSP: scripts and frames from itself and the
/// Veilmark origin only, nothing inline.
fn with_headers(body: Vec<u8>, mime: &'static str, veilmark: &str) -> Response {
    let csp = format!(
        "default-src 'self'; script-src 'self' {veilmark}; frame-src {veilmark}; \
         style-src 'self'; img-src 'self' data:; base-uri 'none'; object-src 'none'; \
         frame-ancestors 'none'"
    );
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}
