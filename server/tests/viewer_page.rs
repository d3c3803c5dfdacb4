//! The viewer's pages: `/v/{token}` serves `www/viewer/index.html` and `/viewer/…` its assets,
//! with the CSP that allows wasm instantiation, even when `www/` has no `index.html`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use veilmark_server::{AppState, Config};

async fn get(app: axum::Router, path: &str) -> (StatusCode, String, String) {
    let resp = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, csp, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn link_path_serves_the_viewer_page_and_its_assets() {
    let data = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    std::fs::create_dir(www.path().join("viewer")).unwrap();
    std::fs::write(
        www.path().join("viewer/index.html"),
        "<title>viewer</title>",
    )
    .unwrap();
    std::fs::write(www.path().join("viewer/viewer.js"), "export {};").unwrap();
    let mut config = Config::new(data.path());
    config.www_dir = Some(www.path().to_owned());
    let app = veilmark_server::http::app(AppState::open(config).await.unwrap());

    let (status, csp, body) = get(app.clone(), "/v/AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "<title>viewer</title>");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    let (status, _, body) = get(app.clone(), "/viewer/viewer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "export {};");
    let (status, _, _) = get(app, "/viewer/missing.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn viewer_wasm_is_served_as_wasm_and_precompressed_when_accepted() {
    let data = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    let pkg = www.path().join("viewer/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("v_bg.wasm"), b"\0asm plain").unwrap();
    std::fs::write(pkg.join("v_bg.wasm.gz"), b"gzip bytes").unwrap();
    std::fs::write(pkg.join("v_bg.wasm.br"), b"brotli bytes").unwrap();
    let mut config = Config::new(data.path());
    config.www_dir = Some(www.path().to_owned());
    let app = veilmark_server::http::app(AppState::open(config).await.unwrap());
    let fetch = |encoding: Option<&'static str>| {
        let app = app.clone();
        async move {
            let mut req = Request::get("/viewer/pkg/v_bg.wasm");
            if let Some(e) = encoding {
                req = req.header("accept-encoding", e);
            }
            let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            let (kind, coding) = (header("content-type"), header("content-encoding"));
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (kind, coding, body)
        }
    };
    let (kind, coding, body) = fetch(None).await;
    assert_eq!(kind.as_deref(), Some("application/wasm"));
    assert_eq!(coding, None);
    assert_eq!(&body[..], b"\0asm plain");
    let (kind, coding, body) = fetch(Some("gzip")).await;
    assert_eq!(kind.as_deref(), Some("application/wasm"));
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert_eq!(&body[..], b"gzip bytes");
    let (kind, coding, body) = fetch(Some("gzip, deflate, br, zstd")).await;
    assert_eq!(kind.as_deref(), Some("application/wasm"));
    assert_eq!(coding.as_deref(), Some("br"));
    assert_eq!(&body[..], b"brotli bytes");
}
