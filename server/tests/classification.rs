//! Classification levels and approved suppliers through the owner API and the viewer API, as an
//! owner and a supplier meet them: ceilings named in refusals, defaults filled in, a raised level
//! re-applied to live links (shortened, or revoked and pushed), the level in the licence answer,
//! a suspended supplier refused new links and opens without losing its links.

use crate::common;

use common::{OWNER, TestServer, relaxed, start, viewer};
use serde_json::{Value, json};
use veilmark_server::now_secs;
use veilmark_server::service::{ClientMeta, NewLink};

const PASSWORD: &str = "correct horse battery";

async fn api_token(s: &TestServer) -> String {
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    s.state.create_api_token(OWNER).await.unwrap()
}

async fn upload(s: &TestServer, token: &str, title: &str, level: &str) -> Value {
    let r = s
        .client
        .post(format!(
            "{}/api/owner/documents?title={title}&level={level}",
            s.base
        ))
        .bearer_auth(token)
        .body(common::PLAINTEXT.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn post(s: &TestServer, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = s
        .client
        .post(format!("{}{path}", s.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn levels_set_ceilings_and_defaults_and_a_raised_level_reapplies_them() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let levels: Value = s
        .client
        .get(format!("{}/api/owner/levels", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = levels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Public", "Internal", "Confidential", "Restricted"]);

    let doc = upload(&s, &token, "Gearbox", "confidential").await;
    assert_eq!(doc["level"], "Confidential");
    let doc_id = doc["id"].as_str().unwrap().to_owned();
    let link = |to: &str, extra: Value| {
        let mut body = json!({ "document_id": doc_id, "recipient": to });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    // Not an approved supplier: refused, naming the ceiling.
    let (status, body) = post(
        &s,
        &token,
        "/api/owner/links",
        link("bob@acme.example", json!({})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "Confidential documents may only be shared with approved suppliers; acme.example is not a known supplier"
    );
    let (status, _) = post(
        &s,
        &token,
        "/api/owner/suppliers",
        json!({ "domain": "ACME.example", "name": "Acme Machining", "status": "approved" }),
    )
    .await;
    assert_eq!(status, 200);

    // Each ceiling is named when exceeded.
    let (status, body) = post(
        &s,
        &token,
        "/api/owner/links",
        link(
            "bob@acme.example",
            json!({ "expires_in_secs": 31 * 86_400 }),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "Confidential documents allow links of at most 30 days; asked for 31 days"
    );
    let (_, body) = post(
        &s,
        &token,
        "/api/owner/links",
        link("bob@acme.example", json!({ "max_views": 51 })),
    )
    .await;
    assert!(message(&body).contains("at most 50 views"), "{body}");
    let (_, body) = post(
        &s,
        &token,
        "/api/owner/links",
        link("bob@acme.example", json!({ "passcode": false })),
    )
    .await;
    assert_eq!(
        message(&body),
        "Confidential documents require a passcode on every link"
    );

    // Defaults: a passcode, the level's view ceiling, the shorter of 7 days and the ceiling.
    let (status, long) = post(
        &s,
        &token,
        "/api/owner/links",
        link(
            "bob@acme.example",
            json!({ "expires_in_secs": 20 * 86_400 }),
        ),
    )
    .await;
    assert_eq!(status, 201, "{long}");
    assert!(long["passcode"].as_str().is_some_and(|p| !p.is_empty()));
    assert_eq!(long["link"]["max_views"], 50);
    assert_eq!(long["link"]["level"], "Confidential");
    let long_id = long["link"]["id"].as_str().unwrap().to_owned();

    // An Internal document's link without a passcode, to a recipient who is no supplier.
    let internal = upload(&s, &token, "Bracket", "Internal").await;
    let (status, loose) = post(
        &s,
        &token,
        "/api/owner/links",
        json!({ "document_id": internal["id"], "recipient": "carol@elsewhere.example" }),
    )
    .await;
    assert_eq!(status, 201);
    assert!(loose["passcode"].is_null());
    let loose_token = loose["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.request_licence(&loose_token, &viewer(), None)
            .await
            .status(),
        200
    );

    // Raising to Restricted needs a second factor of the acting member...
    let (status, body) = post(
        &s,
        &token,
        &format!("/api/owner/documents/{doc_id}/level"),
        json!({ "level": "Restricted" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("second factor"), "{body}");
    // ... which the operator's command line is not asked for.
    let change = s
        .state
        .set_document_level(&doc_id, "Restricted", &s.operator(), &ClientMeta::cli())
        .await
        .unwrap();
    assert_eq!(change.shortened, std::slice::from_ref(&long_id));
    let links: Value = s
        .client
        .get(format!("{}/api/owner/links", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let long = links
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == long_id.as_str())
        .unwrap();
    assert_eq!(long["max_views"], 10);
    assert_eq!(long["level"], "Restricted");
    let created = long["created_at"].as_i64().unwrap();
    assert_eq!(long["expires_at"].as_i64().unwrap(), created + 7 * 86_400);

    // Raising the Internal document to Confidential revokes the link without a passcode, and
    // its recipient can no longer open it.
    let (status, change) = post(
        &s,
        &token,
        &format!(
            "/api/owner/documents/{}/level",
            internal["id"].as_str().unwrap()
        ),
        json!({ "level": "Confidential" }),
    )
    .await;
    assert_eq!(status, 200, "{change}");
    assert_eq!(change["revoked"].as_array().unwrap().len(), 1, "{change}");
    assert_eq!(
        s.request_licence(&loose_token, &viewer(), None)
            .await
            .status(),
        410
    );
    // Lowering never lengthens.
    let (status, change) = post(
        &s,
        &token,
        &format!(
            "/api/owner/documents/{}/level",
            internal["id"].as_str().unwrap()
        ),
        json!({ "level": "Public" }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(change["shortened"].as_array().unwrap().is_empty());

    let kinds = s.audit_kinds().await;
    assert!(
        kinds.iter().any(|(k, d)| k == "level"
            && d.starts_with(
                "level Confidential → Restricted: 1 live link(s) shortened, 0 revoked"
            )),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|(k, d)| k == "supplier" && d == "Acme Machining (acme.example): approved"),
        "{kinds:?}"
    );
    // An unknown level is refused with the list of levels.
    let (status, body) = post(
        &s,
        &token,
        &format!("/api/owner/documents/{doc_id}/level"),
        json!({ "level": "Top Secret" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        message(&body).contains("Public, Internal, Confidential, Restricted"),
        "{body}"
    );
}

#[tokio::test]
async fn the_licence_carries_the_level_and_a_suspended_supplier_cannot_open_or_get_links() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let op = s.operator();
    s.state
        .set_supplier(
            "acme.example",
            None,
            veilmark_store::classification::SupplierStatus::Approved,
            &op,
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    s.state
        .set_document_level(&s.doc.id, "Restricted", &op, &ClientMeta::cli())
        .await
        .unwrap();
    let created = s
        .state
        .create_link(
            &NewLink {
                document_id: s.doc.id.clone(),
                recipient: "bob@acme.example".into(),
                expires_in_secs: None,
                max_views: None,
                passcode: None,
            },
            &op,
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    assert_eq!(created.link.max_views, Some(10));
    assert!(created.link.expires_at <= now_secs() + 7 * 86_400);
    let passcode = created.passcode.clone().unwrap();
    let t = TestServer::token(&created);
    let r = s.request_licence(&t, &viewer(), Some(&passcode)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["document"]["classification"],
        json!({ "level": "Restricted", "rank": 3, "watermark": "dense" })
    );

    let (status, _) = post(
        &s,
        &token,
        "/api/owner/suppliers",
        json!({ "domain": "acme.example", "status": "suspended" }),
    )
    .await;
    assert_eq!(status, 200);
    let r = s.request_licence(&t, &viewer(), Some(&passcode)).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        message(&body),
        "access for acme.example is suspended; ask the document's owner"
    );
    let (status, body) = post(
        &s,
        &token,
        "/api/owner/links",
        json!({ "document_id": s.doc.id, "recipient": "eve@acme.example", "passcode": true }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "acme.example is suspended: no new links to its people"
    );
    // The link was kept: approving again lets the recipient back in.
    let (status, _) = post(
        &s,
        &token,
        "/api/owner/suppliers",
        json!({ "domain": "acme.example", "status": "approved" }),
    )
    .await;
    assert_eq!(status, 200);
    let r = s.request_licence(&t, &viewer(), Some(&passcode)).await;
    assert_eq!(r.status(), 200);
    // Off-boarding is not offered through this call.
    let (status, _) = post(
        &s,
        &token,
        "/api/owner/suppliers",
        json!({ "domain": "acme.example", "status": "offboarded" }),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_organisation_defines_its_own_levels_and_cannot_drop_one_in_use() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let put = |body: Value| {
        let s = &s;
        let token = token.clone();
        async move {
            let r = s
                .client
                .put(format!("{}/api/owner/levels", s.base))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // The fixture's document is Internal: a set without Internal is refused.
    let (status, body) = put(json!([
        { "name": "Open", "max_link_days": 30 },
        { "name": "Secret", "max_link_days": 3, "max_views": 5, "passcode_required": true, "watermark": "dense" }
    ]))
    .await;
    assert_eq!(status, 400);
    assert!(
        message(&body).contains("documents are classified Internal"),
        "{body}"
    );
    let (status, body) = put(json!([
        { "name": "Open", "max_link_days": 30 },
        { "name": "Internal", "max_link_days": 14 },
        { "name": "Secret", "max_link_days": 3, "max_views": 5, "passcode_required": true, "watermark": "dense" }
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[2]["rank"], 2);
    let (status, body) = put(json!([{ "name": "Bad/Name", "max_link_days": 3 }])).await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("Bad/Name"), "{body}");
    let (status, body) =
        put(json!([{ "name": "Internal", "max_link_days": 3, "watermark": "neon" }])).await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("neon"), "{body}");
    let doc = upload(&s, &token, "Spec", "secret").await;
    assert_eq!(doc["level"], "Secret");
}
