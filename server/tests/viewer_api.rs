//! The viewer's side of the server, driven over real HTTP: licences, leases, revocation push,
//! link limits, replay, ranged envelope, and the audit trail each leaves.

use crate::common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::{TestServer, relaxed, start, viewer};
use futures_util::StreamExt;
use hpke::{Deserializable, Kem, Serializable};
use serde_json::Value;
use veilmark_server::now_secs;
use veilmark_shared::envelope::{ContentKey, Header, Opener};
use veilmark_shared::licence::{Licence, ViewerKey};
use veilmark_shared::watermark::{Detector, Embedder, WatermarkKey};
use veilmark_shared::wire::{ErrorBody, ErrorCode, LicenceResponse};

fn licence_bytes(body: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(body["licence"].as_str().unwrap())
        .unwrap()
}

/// Checks a licence the way a third-party viewer would, from `docs/licence.md` alone: Ed25519
/// over the context and body, then HPKE open with the hpke crate directly.
fn verify_independently(bytes: &[u8], server_key: &[u8; 32], seed: &[u8; 32]) -> [u8; 32] {
    assert_eq!(&bytes[..4], b"VMLC");
    let n = usize::from(u16::from_be_bytes([bytes[98], bytes[99]]));
    assert_eq!(bytes.len(), 244 + n);
    let (body, sig) = bytes.split_at(180 + n);
    let mut msg = b"veilmark/licence/v1/signature".to_vec();
    msg.extend_from_slice(body);
    ed25519_dalek::VerifyingKey::from_bytes(server_key)
        .unwrap()
        .verify_strict(
            &msg,
            &ed25519_dalek::Signature::from_bytes(sig.try_into().unwrap()),
        )
        .expect("signature verifies under the server key");
    type K = hpke::kem::X25519HkdfSha256;
    let (sk, pk) = K::derive_keypair(seed);
    assert_eq!(&bytes[66..98], pk.to_bytes().as_slice(), "bound to our key");
    let enc = <K as Kem>::EncappedKey::from_bytes(&bytes[100 + n..132 + n]).unwrap();
    let key = hpke::single_shot_open::<hpke::aead::AesGcm256, hpke::kdf::HkdfSha256, K>(
        &hpke::OpModeR::Base,
        &sk,
        &enc,
        b"veilmark/licence/v1/content-key",
        &bytes[132 + n..180 + n],
        &bytes[..100 + n],
    )
    .expect("content key unwraps with the viewer's secret");
    key.try_into().unwrap()
}

#[tokio::test]
async fn licence_verifies_independently_and_envelope_opens_by_range() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    let seed: [u8; 32] = veilmark_server::secrets::random().unwrap();
    let viewer = ViewerKey::from_seed(seed);

    let resp = s.request_licence(&token, &viewer, None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    // The answer is the shared wire message, whole.
    let typed: LicenceResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), body);
    let key_json: Value = s
        .client
        .get(format!("{}/api/server-key", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let server_key: [u8; 32] = hex::decode(key_json["ed25519"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let bytes = licence_bytes(&body);
    let content_key = verify_independently(&bytes, &server_key, &seed);

    // The shared verifier (what the wasm viewer runs) agrees.
    let lic = Licence::verify(&bytes, &server_key, now_secs() as u64).unwrap();
    assert_eq!(
        lic.open_content_key(&viewer).unwrap().as_bytes(),
        &content_key
    );
    assert_eq!(lic.terms.recipient, "alice@supplier.example");
    assert_eq!(lic.terms.document_id.to_string(), s.doc.id);
    assert_eq!(
        lic.terms.session_id.to_string(),
        body["session_id"].as_str().unwrap()
    );
    assert!(lic.terms.lease_expires_at <= now_secs() as u64 + 60);
    assert!(
        lic.terms.session_code.get() < 1 << 48,
        "fits the 48-bit watermark payload"
    );

    // The forensic watermark tile: the viewer marks frames with it, and a marked frame reads
    // back, under the server's watermark key, as this session's code.
    let tile = base64::engine::general_purpose::STANDARD
        .decode(
            body["watermark_tile"]
                .as_str()
                .expect("first licence carries the tile"),
        )
        .unwrap();
    let embedder = Embedder::from_bytes(&tile).unwrap();
    let (w, h) = (384u32, 256u32);
    let mut frame: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let v = u8::try_from(96 + (i % w) * 96 / w + (i / w) * 48 / h).unwrap();
            [v, v, v, 255]
        })
        .collect();
    embedder.embed(&mut frame, w, h).unwrap();
    let key = WatermarkKey::from_bytes(*s.state.keys.watermark());
    let found = Detector::new(&key).detect(&frame, w, h).unwrap().unwrap();
    assert_eq!(found.code, lic.terms.session_code);

    // Envelope by range: header first, then the last chunk alone.
    let url = format!("{}{}", s.base, body["urls"]["envelope"].as_str().unwrap());
    let get = |range: String| {
        let c = s.client.clone();
        let url = url.clone();
        async move { c.get(url).header("Range", range).send().await.unwrap() }
    };
    let head = get("bytes=0-1023".into()).await;
    assert_eq!(head.status(), 206);
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    let head = head.bytes().await.unwrap();
    let header = Header::parse(&head).unwrap();
    let opener = Opener::new(&ContentKey::from_bytes(content_key), &head).unwrap();
    let last = header.chunk_count() - 1;
    let r = header.chunk_range(last).unwrap();
    let chunk = get(format!("bytes={}-{}", r.start, r.end - 1)).await;
    assert_eq!(chunk.status(), 206);
    let mut buf = chunk.bytes().await.unwrap().to_vec();
    opener.open_chunk(last, &mut buf).unwrap();
    assert!(buf.iter().all(|b| *b == b'x'));
    let bad = get("bytes=99999999-".into()).await;
    assert_eq!(bad.status(), 416);

    // Renewal: same session, fresh signed lease; page-view reports are recorded.
    let renew = s
        .client
        .post(format!(
            "{}{}",
            s.base,
            body["urls"]["renew"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(renew.status(), 200);
    let renewed: Value = renew.json().await.unwrap();
    let renewed_typed: LicenceResponse = serde_json::from_value(renewed.clone()).unwrap();
    assert_eq!(renewed_typed.session_id, typed.session_id);
    let lic2 = Licence::verify(&licence_bytes(&renewed), &server_key, now_secs() as u64).unwrap();
    assert_eq!(lic2.terms.session_id, lic.terms.session_id);
    assert_eq!(lic2.terms.session_code, lic.terms.session_code);
    assert!(
        renewed.get("watermark_tile").is_none(),
        "the tile is sent once"
    );
    let report = s
        .client
        .post(format!(
            "{}{}",
            s.base,
            body["urls"]["report"].as_str().unwrap()
        ))
        .json(&serde_json::json!({ "page": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 204);
    let kinds = s.audit_kinds().await;
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "document-sealed",
            "link-created",
            "grant",
            "renew",
            "page-view"
        ]
    );
    let entries = s.state.audit_log(s.org).await.unwrap();
    assert_eq!(entries[2].user_agent.as_deref(), Some("veilmark-test"));
    assert_eq!(entries[2].ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn expired_link_is_gone_and_denial_recorded() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    sqlx::query("UPDATE links SET expires_at = ? WHERE id = ?")
        .bind(now_secs() - 1)
        .bind(&link.link.id)
        .execute(sqlx_pool(&s).await.as_ref())
        .await
        .unwrap();
    let resp = s
        .request_licence(&TestServer::token(&link), &viewer(), None)
        .await;
    assert_eq!(resp.status(), 410);
    let body: ErrorBody = resp.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::LinkExpired);
    assert!(body.message.contains("expired on"));
    assert!(
        s.audit_kinds()
            .await
            .contains(&("deny".into(), "link expired".into()))
    );
}

async fn sqlx_pool(s: &TestServer) -> Box<sqlx::SqlitePool> {
    Box::new(
        sqlx::SqlitePool::connect(&format!("sqlite://{}", s.db_path().display()))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn revoked_link_refuses_licences_and_renewals() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    let granted: Value = s
        .request_licence(&token, &viewer(), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        s.state
            .revoke(&link.link.id, &s.operator(), &Default::default())
            .await
            .unwrap()
    );
    let resp = s.request_licence(&token, &viewer(), None).await;
    assert_eq!(resp.status(), 410);
    let renew = s
        .client
        .post(format!(
            "{}{}",
            s.base,
            granted["urls"]["renew"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(renew.status(), 410);
    let envelope = s
        .client
        .get(format!(
            "{}{}",
            s.base,
            granted["urls"]["envelope"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope.status(), 410);
}

#[tokio::test]
async fn view_limit_is_enforced() {
    let s = start(relaxed()).await;
    let link = s.link(|l| l.max_views = Some(2)).await;
    let token = TestServer::token(&link);
    for _ in 0..2 {
        assert_eq!(
            s.request_licence(&token, &viewer(), None).await.status(),
            200
        );
    }
    let resp = s.request_licence(&token, &viewer(), None).await;
    assert_eq!(resp.status(), 403);
    assert!(
        s.audit_kinds()
            .await
            .contains(&("deny".into(), "view limit reached".into()))
    );
}

#[tokio::test]
async fn wrong_and_guessed_tokens_are_not_found_then_rate_limited() {
    let mut limits = relaxed();
    limits.per_ip.burst = 5;
    limits.per_ip.per_sec = 0.01;
    let s = start(limits).await;
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    // One character changed, a random well-formed token, and a malformed one.
    let mut near: Vec<char> = token.chars().collect();
    near[0] = if near[0] == 'A' { 'B' } else { 'A' };
    let near: String = near.into_iter().collect();
    let random = veilmark_server::secrets::new_link_token().unwrap();
    for guess in [near.as_str(), random.as_str(), "not-a-token"] {
        let resp = s.request_licence(guess, &viewer(), None).await;
        assert_eq!(resp.status(), 404, "{guess}");
        let body: ErrorBody = resp.json().await.unwrap();
        assert_eq!(body.error, "not-found");
        assert_eq!(body.code, ErrorCode::NotFound);
    }
    // Guessing through another endpoint is charged to the same per-IP budget.
    for _ in 0..2 {
        let resp = s
            .client
            .get(format!("{}/api/v/{random}/envelope?session=00", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
    }
    let resp = s.request_licence(&random, &viewer(), None).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    // A token that names no link belongs to no organisation: the server's own chain.
    let kinds: Vec<(String, String)> = s
        .state
        .store
        .audit_entries(None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.detail))
        .collect();
    assert!(kinds.contains(&("deny".into(), "unknown link token".into())));
    assert!(kinds.contains(&("deny".into(), "malformed link token".into())));
}

#[tokio::test]
async fn wrong_passcodes_lock_the_link() {
    let s = start(relaxed()).await;
    let link = s.link(|l| l.passcode = Some(true)).await;
    let token = TestServer::token(&link);
    let right = link.passcode.clone().unwrap();
    let resp = s.request_licence(&token, &viewer(), None).await;
    assert_eq!(resp.status(), 401);
    let body: ErrorBody = resp.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::PasscodeRequired);
    for attempt in 1..=4 {
        let resp = s.request_licence(&token, &viewer(), Some("wrong")).await;
        assert_eq!(resp.status(), 401, "attempt {attempt}");
        let body: ErrorBody = resp.json().await.unwrap();
        assert_eq!(body.code, ErrorCode::PasscodeWrong);
        assert!(body.message.contains("attempts left"));
    }
    assert_eq!(
        s.request_licence(&token, &viewer(), Some("wrong"))
            .await
            .status(),
        423
    );
    // Even the right passcode is refused while locked.
    let resp = s.request_licence(&token, &viewer(), Some(&right)).await;
    assert_eq!(resp.status(), 423);
    let body: ErrorBody = resp.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::Locked);
    assert!(body.message.contains("locked until"));
    // After the lock-out (forced here), the right passcode works.
    sqlx::query("UPDATE links SET locked_until = ? WHERE id = ?")
        .bind(now_secs() - 1)
        .bind(&link.link.id)
        .execute(sqlx_pool(&s).await.as_ref())
        .await
        .unwrap();
    assert_eq!(
        s.request_licence(&token, &viewer(), Some(&right))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn replayed_and_stale_requests_are_refused() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    let body = TestServer::licence_body(&viewer(), None);
    assert_eq!(s.post_licence(&token, &body).await.status(), 200);
    let replay = s.post_licence(&token, &body).await;
    assert_eq!(replay.status(), 409);
    let mut stale = TestServer::licence_body(&viewer(), None);
    stale.timestamp -= 3600;
    let refused = s.post_licence(&token, &stale).await;
    assert_eq!(refused.status(), 400);
    let refused: ErrorBody = refused.json().await.unwrap();
    assert_eq!(refused.code, ErrorCode::StaleTimestamp);
    let kinds = s.audit_kinds().await;
    assert!(kinds.contains(&("deny".into(), "replayed request".into())));
    assert!(kinds.contains(&("deny".into(), "stale request timestamp".into())));
    // One view was counted, not two.
    assert_eq!(
        s.state
            .store
            .link(s.org, &link.link.id)
            .await
            .unwrap()
            .unwrap()
            .views,
        1
    );
}

#[tokio::test]
async fn revocation_by_another_process_reaches_an_open_session_within_2s() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    let granted: Value = s
        .request_licence(&token, &viewer(), None)
        .await
        .json()
        .await
        .unwrap();
    let events = s
        .client
        .get(format!(
            "{}{}",
            s.base,
            granted["urls"]["events"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = events.bytes_stream();
    // Revoke through a second, independent connection to the database, as `veilmark revoke`
    // does from another process: only the revocation feed can tell the server.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other = veilmark_store::SqliteStore::open(
        &veilmark_store::DataDir::new(s.dir.path()),
        veilmark_store::Durability::Full,
    )
    .await
    .unwrap();
    let started = Instant::now();
    use veilmark_store::MetaStore;
    assert!(
        other
            .revoke_link(
                s.org,
                &link.link.id,
                now_secs(),
                &veilmark_server::service::ClientMeta::cli().entry(
                    s.org,
                    veilmark_server::audit::AuditKind::Revoke,
                    "from another process",
                )
            )
            .await
            .unwrap()
    );
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: revoked") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no revocation event within 2 s: {seen:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn revocation_through_the_owner_api_is_pushed_at_once() {
    let s = start(relaxed()).await;
    let link = s.link(|_| {}).await;
    let token = TestServer::token(&link);
    let granted: Value = s
        .request_licence(&token, &viewer(), None)
        .await
        .json()
        .await
        .unwrap();
    let mut stream = s
        .client
        .get(format!(
            "{}{}",
            s.base,
            granted["urls"]["events"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    s.state
        .create_owner(common::OWNER, "correct horse battery")
        .await
        .unwrap();
    let api = s.state.create_api_token(common::OWNER).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let resp = s
        .client
        .post(format!(
            "{}/api/owner/links/{}/revoke",
            s.base, link.link.id
        ))
        .bearer_auth(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    while !seen.contains("event: revoked") {
        let chunk = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("revocation within 2 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}
