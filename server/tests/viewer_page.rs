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
