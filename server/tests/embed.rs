//! Embedding in partner portals (`--embed-origin`): only the viewer page `/v/{token}` may be
//! framed, only by the configured origins, and only when some are configured; every other route
//! keeps `frame-ancestors 'none'` and `X-Frame-Options: DENY`. The embed script is loadable
//! cross-origin.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;
use veilmark_server::embed::EmbedOrigin;
use veilmark_server::http::{CSP, EMBED_ORIGINS_META, EMBED_SCRIPT, framed_csp};
use veilmark_server::{AppState, Config};

const VIEWER_HTML: &str =
    "<!doctype html><html><head><title>viewer</title></head><body></body></html>";
const LINK: &str = "/v/AAAAAAAAAAAAAAAAAAAAAA";

struct Fixture {
    app: axum::Router,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn fixture(origins: &[&str]) -> Fixture {
    let data = tempfile::tempdir().unwrap();
    let www = tempfile::tempdir().unwrap();
    for dir in ["viewer", "embed"] {
        std::fs::create_dir(www.path().join(dir)).unwrap();
    }
    std::fs::write(www.path().join("viewer/index.html"), VIEWER_HTML).unwrap();
    std::fs::write(www.path().join("viewer/viewer.js"), "export {};").unwrap();
    std::fs::write(
        www.path().join("embed/veilmark-viewer.js"),
        "customElements;",
    )
    .unwrap();
    std::fs::write(
        www.path().join("embed/example-portal.html"),
        "<title>portal</title>",
    )
    .unwrap();
    let mut config = Config::new(data.path());
    config.www_dir = Some(www.path().to_owned());
    config.embed_origins = origins
        .iter()
        .map(|o| EmbedOrigin::parse(o).unwrap())
        .collect();
    let app = veilmark_server::http::app(AppState::open(config).await.unwrap());
    Fixture {
        app,
        _dirs: (data, www),
    }
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, HeaderMap, String) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn csp(h: &HeaderMap) -> &str {
    h["content-security-policy"].to_str().unwrap()
}

fn assert_unframable(path: &str, h: &HeaderMap) {
    assert_eq!(csp(h), CSP, "{path}");
    assert!(csp(h).contains("frame-ancestors 'none'"), "{path}");
    assert_eq!(h["x-frame-options"], "DENY", "{path}");
}

#[tokio::test]
async fn without_embed_origins_nothing_can_be_framed() {
    let f = fixture(&[]).await;
    let (status, h, body) = get(&f.app, LINK).await;
    assert_eq!(status, StatusCode::OK);
    assert_unframable(LINK, &h);
    assert_eq!(body, VIEWER_HTML, "page served unchanged, no meta tag");
}

#[tokio::test]
async fn viewer_page_may_be_framed_by_the_configured_origins_only() {
    let f = fixture(&["https://portal.example/", "http://127.0.0.1:8081"]).await;
    let (status, h, body) = get(&f.app, LINK).await;
    assert_eq!(status, StatusCode::OK);
    let policy = csp(&h);
    assert!(
        policy.contains("frame-ancestors https://portal.example http://127.0.0.1:8081;"),
        "{policy}"
    );
    assert!(!policy.contains("'none'; base-uri") && !policy.contains("frame-ancestors 'none'"));
    assert!(
        h.get("x-frame-options").is_none(),
        "X-Frame-Options would override frame-ancestors in old browsers"
    );
    // Everything else in the policy is unchanged (no script, style or connect relaxation).
    assert_eq!(
        policy.replace(
            "frame-ancestors https://portal.example http://127.0.0.1:8081",
            "frame-ancestors 'none'"
        ),
        CSP
    );
    assert_eq!(h["cross-origin-resource-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    // The page's script learns the allowed origins from a meta tag in <head>.
    let meta = format!(
        "<meta name=\"{EMBED_ORIGINS_META}\" content=\"https://portal.example http://127.0.0.1:8081\">"
    );
    let at = body.find(&meta).expect("meta tag injected");
    assert!(at < body.find("</head>").unwrap());
    assert_eq!(body.replace(&format!("{meta}\n"), ""), VIEWER_HTML);
}

#[tokio::test]
async fn every_other_route_stays_unframable() {
    let f = fixture(&["https://portal.example"]).await;
    for path in [
        "/api/server-key",
        "/api/v/AAAAAAAAAAAAAAAAAAAAAA/envelope?session=x",
        "/viewer/viewer.js",
        "/viewer/missing.js",
        "/console/login",
        "/",
        "/v/AAAAAAAAAAAAAAAAAAAAAA/extra",
        "/embed/example-portal.html",
        EMBED_SCRIPT,
    ] {
        let (_, h, _) = get(&f.app, path).await;
        assert_unframable(path, &h);
    }
}

#[tokio::test]
async fn embed_script_is_public_and_nothing_else_of_www_embed_is_served() {
    let f = fixture(&[]).await;
    let (status, h, body) = get(&f.app, EMBED_SCRIPT).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "customElements;");
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"),
        "{:?}",
        h["content-type"]
    );
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let (status, h, _) = get(&f.app, "/embed/example-portal.html").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h.get("access-control-allow-origin").is_none());
    // Other routes are not readable cross-origin.
    let (_, h, _) = get(&f.app, "/api/server-key").await;
    assert!(h.get("access-control-allow-origin").is_none());
    assert_eq!(h["cross-origin-resource-policy"], "same-origin");
}

#[test]
fn framed_csp_changes_only_frame_ancestors() {
    assert_eq!(framed_csp(&[]), CSP);
    let o = [EmbedOrigin::parse("https://a.example:8443").unwrap()];
    assert_eq!(
        framed_csp(&o),
        CSP.replace(
            "frame-ancestors 'none'",
            "frame-ancestors https://a.example:8443"
        )
    );
}
