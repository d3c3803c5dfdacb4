//! The owner's side over real HTTP (login cookie, API token, links, audit export and
//! verification, including after a hand edit of the SQLite file), and hostile requests.

use crate::common;

use common::{OWNER, TestServer, relaxed, start, viewer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn api_token(s: &TestServer) -> String {
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    s.state.create_api_token(OWNER).await.unwrap()
}

#[tokio::test]
async fn login_sets_a_strict_httponly_cookie_that_authenticates() {
    let s = start(relaxed()).await;
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    let url = format!("{}/api/owner/login", s.base);
    let wrong = s
        .client
        .post(&url)
        .json(&json!({ "email": OWNER, "password": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = s
        .client
        .post(&url)
        .json(&json!({ "email": OWNER, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    let links = s
        .client
        .get(format!("{}/api/owner/links", s.base))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(links.status(), 200);
    let anonymous = s
        .client
        .get(format!("{}/api/owner/links", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    // A cookie value is not accepted as an API token and vice versa.
    let as_bearer = s
        .client
        .get(format!("{}/api/owner/links", s.base))
        .bearer_auth(pair.trim_start_matches("vm_session="))
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), 401);
    let kinds = s.audit_kinds().await;
    assert!(kinds.contains(&("owner-login".into(), "ok".into())));
    assert!(kinds.contains(&(
        "owner-login".into(),
        "refused: wrong e-mail or password".into()
    )));
}

#[tokio::test]
async fn api_token_creates_links_and_exports_audit() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let created = s
        .client
        .post(format!("{}/api/owner/links", s.base))
        .bearer_auth(&token)
        .json(&json!({
            "document_id": s.doc.id,
            "recipient": "bob@supplier.example",
            "expires_in_secs": 3600,
            "max_views": 3,
            "passcode": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert!(created["url"].as_str().unwrap().starts_with(&s.base));
    assert_eq!(created["passcode"].as_str().unwrap().len(), 10);
    assert!(created["link"].get("token_hash").is_none());
    let list: Value = s
        .client
        .get(format!("{}/api/owner/links", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let csv = s
        .client
        .get(format!("{}/api/owner/audit?format=csv", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("seq,at_ms,kind,"));
    assert!(csv.contains("link-created"));
    let upload = s
        .client
        .post(format!("{}/api/owner/documents?title=Spec", s.base))
        .bearer_auth(&token)
        .body(b"%PDF-1.7 tiny".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let doc: Value = upload.json().await.unwrap();
    assert_eq!(doc["media_type"], "application/pdf");
}

#[tokio::test]
async fn audit_chain_verifies_then_fails_after_hand_edits() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let link = s.link(|_| {}).await;
    for _ in 0..3 {
        let resp = s
            .request_licence(&TestServer::token(&link), &viewer(), None)
            .await;
        assert_eq!(resp.status(), 200);
    }
    let verify = || async {
        s.client
            .get(format!("{}/api/owner/audit/verify", s.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let ok = verify().await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["entries"], 5);

    // Edit a row by hand, the way someone with the database file would.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", s.db_path().display()))
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET ip = '10.0.0.9' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let edited = verify().await;
    assert_eq!(edited["ok"], false);
    assert!(
        edited["error"]
            .as_str()
            .unwrap()
            .contains("entry 3 was edited"),
        "{edited}"
    );
    sqlx::query("UPDATE audit_log SET ip = '127.0.0.1' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(verify().await["ok"], true);
    // Delete one in the middle.
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(&pool)
        .await
        .unwrap();
    let deleted = verify().await;
    assert_eq!(deleted["ok"], false);
    assert!(
        deleted["error"].as_str().unwrap().contains("deleted"),
        "{deleted}"
    );
}

#[tokio::test]
async fn oversized_and_malformed_requests_get_json_errors_without_internals() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let url = format!("{}/api/v/{}/licence", s.base, TestServer::token(&link));
    let huge = "a".repeat(64 * 1024);
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (
            s.client
                .post(&url)
                .header("content-type", "application/json")
                .body(format!("{{\"nonce\":\"{huge}\"}}")),
            413,
        ),
        (
            s.client
                .post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
        ),
        (s.client.post(&url).body("{}"), 400),
        (
            s.client.post(&url).json(&json!({
                "viewer_key": "zz", "nonce": "00", "timestamp": 0
            })),
            400,
        ),
        (
            s.client.post(&url).json(&json!({
                "viewer_key": hex::encode([1u8; 32]),
                "nonce": hex::encode([2u8; 16]),
                "timestamp": veilmark_server::now_secs(),
                "extra": true
            })),
            400,
        ),
        (
            s.client.post(&url).json(&json!({
                "viewer_key": hex::encode([0u8; 32]),
                "nonce": hex::encode([2u8; 4]),
                "timestamp": veilmark_server::now_secs(),
            })),
            400,
        ),
    ];
    for (i, (req, status)) in cases.into_iter().enumerate() {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "case {i}");
        assert!(resp.headers().contains_key("content-security-policy"));
        let body: Value = resp.json().await.unwrap();
        let msg = body["message"].as_str().unwrap();
        assert!(!msg.contains("panicked") && !msg.contains(".rs:"), "{msg}");
    }
}

#[tokio::test]
async fn envelope_without_a_session_is_a_json_400() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let resp = s
        .client
        .get(format!(
            "{}/api/v/{}/envelope",
            s.base,
            TestServer::token(&link)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("?session="));
}

/// `app(state)` also works without a listener (no client address), via `oneshot`.
#[tokio::test]
async fn router_answers_in_process() {
    use tower::ServiceExt;
    let s = start(relaxed()).await;
    let resp = veilmark_server::app(s.state.clone())
        .oneshot(
            axum::http::Request::get("/api/server-key")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("content-security-policy"));
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let s = start(relaxed()).await;
    for path in [
        "/",
        "/v/abc",
        "/nowhere",
        "/api/server-key",
        "/api/owner/links",
    ] {
        let resp = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}
