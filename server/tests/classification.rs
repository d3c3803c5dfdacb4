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
                pages: None,
                parts: None,
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

/// Opens the session's event stream of a granted licence answer.
async fn events(s: &TestServer, granted: &Value) -> reqwest::Response {
    let r = s
        .client
        .get(format!(
            "{}{}",
            s.base,
            granted["urls"]["events"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r
}

/// Waits up to 2 s for `event: revoked` on a session's stream.
async fn revoked_within_2s(r: reqwest::Response) -> bool {
    use futures_util::StreamExt;
    let mut stream = r.bytes_stream();
    let mut seen = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: revoked") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

#[tokio::test]
async fn offboarding_revokes_every_link_of_the_supplier_at_once_and_reports_what_they_saw() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let op = s.operator();
    let cli = ClientMeta::cli();
    s.state
        .set_supplier(
            "acme.example",
            Some("Acme Machining"),
            veilmark_store::classification::SupplierStatus::Approved,
            &op,
            &cli,
        )
        .await
        .unwrap();
    let bob = s.link(|l| l.recipient = "bob@acme.example".into()).await;
    let carol = s.link(|l| l.recipient = "Carol@ACME.example".into()).await;
    let other = s
        .link(|l| l.recipient = "dan@acme.example.org".into())
        .await;
    let unopened = s.link(|l| l.recipient = "erin@acme.example".into()).await;

    // Bob and Carol have the document open; Bob turned to page 2.
    let mut open = Vec::new();
    for l in [&bob, &carol, &other] {
        let granted: Value = s
            .request_licence(&TestServer::token(l), &viewer(), None)
            .await
            .json()
            .await
            .unwrap();
        open.push((granted.clone(), events(&s, &granted).await));
    }
    let report = s
        .client
        .post(format!(
            "{}{}",
            s.base,
            open[0].0["urls"]["report"].as_str().unwrap()
        ))
        .json(&json!({ "page": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 204);

    // Off-boarding from another process (the CLI on the same data directory): only the
    // revocation feed can tell this server.
    let cli_state = veilmark_server::AppState::open(veilmark_server::Config::new(s.dir.path()))
        .await
        .unwrap();
    let (other_open, mut open) = (open.pop().unwrap(), open);
    let watchers: Vec<_> = open
        .drain(..)
        .map(|(_, r)| tokio::spawn(revoked_within_2s(r)))
        .collect();
    let done = cli_state
        .offboard_supplier("ACME.example", &op, &cli)
        .await
        .unwrap();
    let mut revoked = done.revoked.clone();
    revoked.sort();
    let mut expected = vec![
        bob.link.id.clone(),
        carol.link.id.clone(),
        unopened.link.id.clone(),
    ];
    expected.sort();
    assert_eq!(
        revoked, expected,
        "every live link of acme.example, nothing else"
    );
    for w in watchers {
        assert!(w.await.unwrap(), "an open viewer was not told within 2 s");
    }
    assert!(
        !tokio::time::timeout(
            std::time::Duration::from_millis(300),
            revoked_within_2s(other_open.1)
        )
        .await
        .unwrap_or(false),
        "acme.example.org is another company"
    );
    assert_eq!(
        s.request_licence(&TestServer::token(&bob), &viewer(), None)
            .await
            .status(),
        410
    );

    // The report: every link, what was opened, when and from where.
    let r = &done.report;
    assert_eq!(r.supplier.status.as_str(), "offboarded");
    assert_eq!(r.rows.len(), 3);
    let bob_row = r.rows.iter().find(|x| x.link_id == bob.link.id).unwrap();
    assert_eq!(bob_row.views, 1);
    assert_eq!(bob_row.pages, [2]);
    assert_eq!(bob_row.addresses, ["127.0.0.1"]);
    assert!(bob_row.first_view_ms.is_some() && bob_row.last_view_ms >= bob_row.first_view_ms);
    assert!(bob_row.revoked_at.is_some());
    let erin = r
        .rows
        .iter()
        .find(|x| x.link_id == unopened.link.id)
        .unwrap();
    assert_eq!((erin.views, erin.first_view_ms), (0, None));
    let csv = r.csv();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("bob@acme.example") && csv.contains("\"Internal\""));
    let pdf = r.pdf();
    assert!(pdf.starts_with(b"%PDF-"));

    // The same report through the API, in each format; the audit entry names the links.
    for (format, kind) in [
        ("csv", "text/csv"),
        ("pdf", "application/pdf"),
        ("json", "application/json"),
    ] {
        let resp = s
            .client
            .get(format!(
                "{}/api/owner/suppliers/acme.example/report/{format}",
                s.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{format}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{format}"
        );
    }
    let kinds = s.audit_kinds().await;
    assert!(
        kinds.iter().any(|(k, d)| k == "supplier"
            && d.starts_with(
                "Acme Machining (acme.example): off-boarded, was approved; 3 live link(s) revoked"
            )),
        "{kinds:?}"
    );
    // An off-boarded supplier gets no new link, and the API refuses an off-boarding without
    // a role that may.
    let (status, body) = post(
        &s,
        &token,
        "/api/owner/links",
        json!({ "document_id": s.doc.id, "recipient": "frank@acme.example" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "acme.example is off-boarded: no new links to its people"
    );
    let (status, body) = post(
        &s,
        &token,
        "/api/owner/suppliers/not a domain/offboard",
        json!({}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

/// A `n`-page PDF whose page `k` shows `PAGE-k-SECRET`, with an outline entry and a link on
/// page 1 both pointing at page 4 (what could keep a dropped page reachable).
fn drawing_set(n: usize) -> Vec<u8> {
    let page_obj = |k: usize| 6 + 2 * (k - 1); // page k: object 6+2(k-1), its content the next
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R /Outlines 3 0 R /PageMode /UseOutlines >>".into(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (1..=n)
                .map(|k| format!("{} 0 R", page_obj(k)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Outlines /First 4 0 R /Last 4 0 R /Count 1 >>".into(),
        format!(
            "<< /Title (Sheet 4) /Parent 3 0 R /Dest [{} 0 R /Fit] >>",
            page_obj(4)
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
    ];
    let link = 6 + 2 * n;
    for k in 1..=n {
        let annots = if k == 1 {
            format!(" /Annots [{link} 0 R]")
        } else {
            String::new()
        };
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Resources << /Font << /F1 5 0 R >> >> /Contents {} 0 R{annots} >>",
            page_obj(k) + 1
        ));
        let text = format!("BT /F1 18 Tf 30 100 Td (PAGE-{k}-SECRET) Tj ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{text}\nendstream",
            text.len()
        ));
    }
    objects.push(format!(
        "<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] /Dest [{} 0 R /Fit] >>",
        page_obj(4)
    ));
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Opens a link as the viewer does: licence, content key, whole envelope, decrypted.
async fn open_as_viewer(
    s: &TestServer,
    token: &str,
    passcode: Option<&str>,
) -> (Vec<u8>, Vec<u8>, Value) {
    use base64::Engine;
    use veilmark_shared::licence::Licence;
    let v = viewer();
    let resp = s.request_licence(token, &v, passcode).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let licence = base64::engine::general_purpose::STANDARD
        .decode(body["licence"].as_str().unwrap())
        .unwrap();
    let server_key: Value = s
        .client
        .get(format!("{}/api/server-key", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let server_key: [u8; 32] = hex::decode(server_key["ed25519"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let lic = Licence::verify(&licence, &server_key, u64::try_from(now_secs()).unwrap()).unwrap();
    let key = lic.open_content_key(&v).unwrap();
    let envelope = s
        .client
        .get(format!(
            "{}{}",
            s.base,
            body["urls"]["envelope"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let plain = veilmark_shared::envelope::open(&key, &envelope)
        .unwrap()
        .plaintext
        .to_vec();
    (plain, key.as_bytes().to_vec(), body)
}

#[tokio::test]
async fn a_link_for_pages_1_to_3_of_a_36_page_set_cannot_decrypt_page_4() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let set = drawing_set(36);
    let r = s
        .client
        .post(format!(
            "{}/api/owner/documents?title=Drawing%20set&level=Internal",
            s.base
        ))
        .bearer_auth(&token)
        .body(set.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().await.unwrap();
    let doc_id = doc["id"].as_str().unwrap().to_owned();

    // Bad page lists are refused with a reason, and nothing is shared.
    for (pages, why) in [
        ("4-2", "page numbers and ranges"),
        ("37", "beyond the document's 36 pages"),
        ("1-36", "whole document"),
    ] {
        let (status, body) = post(
            &s,
            &token,
            "/api/owner/links",
            json!({ "document_id": doc_id, "recipient": "bob@acme.example", "pages": pages }),
        )
        .await;
        assert_eq!(status, 400, "{pages}");
        assert!(message(&body).contains(why), "{pages}: {body}");
    }
    let (status, created) = post(
        &s,
        &token,
        "/api/owner/links",
        json!({ "document_id": doc_id, "recipient": "bob@acme.example", "pages": "1-3" }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let link_token = created["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (plain, key, body) = open_as_viewer(&s, &link_token, None).await;
    assert_eq!(body["document"]["title"], "Drawing set — pages 1-3");

    // What the recipient can decrypt holds pages 1-3 and nothing of the others, not even
    // through the outline or the link that pointed at page 4.
    let text = String::from_utf8_lossy(&plain);
    for k in 1..=3 {
        assert!(
            text.contains(&format!("PAGE-{k}-SECRET")),
            "page {k} missing"
        );
    }
    for k in 4..=36 {
        assert!(
            !text.contains(&format!("PAGE-{k}-SECRET")),
            "page {k} leaked"
        );
    }
    assert!(!text.contains("Sheet 4"), "the outline was kept");
    let reparsed = lopdf::Document::load_mem(&plain).unwrap();
    assert_eq!(reparsed.get_pages().len(), 3, "the viewer counts 3 pages");

    // The licence's key does not open the whole document's envelope.
    let whole = s
        .state
        .store
        .document(s.org, &doc_id)
        .await
        .unwrap()
        .unwrap();
    let whole_envelope = std::fs::read(s.dir.path().join("blobs").join(&whole.blob)).unwrap();
    let key = veilmark_shared::envelope::ContentKey::from_bytes(key.try_into().unwrap());
    assert!(veilmark_shared::envelope::open(&key, &whole_envelope).is_err());
    assert!(
        whole_envelope.len() > 5 * plain.len() / 2,
        "the subset is smaller"
    );

    // The subset follows its document's level, and the access report names the pages.
    s.state
        .set_supplier(
            "acme.example",
            None,
            veilmark_store::classification::SupplierStatus::Approved,
            &s.operator(),
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    let change = s
        .state
        .set_document_level(&doc_id, "Confidential", &s.operator(), &ClientMeta::cli())
        .await
        .unwrap();
    assert_eq!(
        change.revoked.len(),
        1,
        "no passcode: revoked with its document's raise"
    );
    let report = s
        .state
        .access_report("acme.example", &s.operator())
        .await
        .unwrap();
    assert_eq!(report.rows[0].shared, "pages 1-3");
    assert_eq!(report.rows[0].level, "Confidential");
    // A file that only starts like a PDF: refused, nothing stored.
    let (status, body) = post(
        &s,
        &token,
        "/api/owner/links",
        json!({ "document_id": s.doc.id, "recipient": "bob@acme.example", "pages": "1" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        message(&body).contains("could not be read as a PDF"),
        "{body}"
    );
}

#[tokio::test]
async fn terms_are_accepted_once_per_link_before_the_first_view_and_audited() {
    let s = start(relaxed()).await;
    let op = s.operator();
    let cli = ClientMeta::cli();
    let nda = "MUTUAL NON-DISCLOSURE\n<img src=x onerror=alert(1)> You keep this drawing secret.";
    s.state
        .set_terms(Some(nda), Some("Confidential"), &op, &cli)
        .await
        .unwrap();
    s.state
        .set_supplier(
            "acme.example",
            None,
            veilmark_store::classification::SupplierStatus::Approved,
            &op,
            &cli,
        )
        .await
        .unwrap();
    // The fixture's document is Internal: no terms.
    let internal = s.link(|_| {}).await;
    assert_eq!(
        s.request_licence(&TestServer::token(&internal), &viewer(), None)
            .await
            .status(),
        200
    );
    s.state
        .set_document_level(&s.doc.id, "Confidential", &op, &cli)
        .await
        .unwrap();
    let link = s.link(|l| l.recipient = "bob@acme.example".into()).await;
    let token = TestServer::token(&link);
    let passcode = link.passcode.clone().unwrap();

    // A wrong passcode is refused before the terms are shown.
    let r = s.request_licence(&token, &viewer(), Some("wrong")).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "passcode_wrong");
    assert!(!body.to_string().contains("NON-DISCLOSURE"));

    // The terms, as the message, until they are accepted.
    let r = s.request_licence(&token, &viewer(), Some(&passcode)).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "terms_required");
    assert_eq!(body["message"], nda);
    let digest = hex::encode(veilmark_shared::wire::terms_digest(nda));
    let with = |accept: &str| {
        let mut b = TestServer::licence_body(&viewer(), Some(&passcode));
        b.accept_terms = Some(accept.to_owned());
        b
    };
    let other = hex::encode(veilmark_shared::wire::terms_digest("something else"));
    let r = s.post_licence(&token, &with(&other)).await;
    assert_eq!(r.status(), 401, "other terms are not these");
    let r = s.post_licence(&token, &with(&digest)).await;
    assert_eq!(r.status(), 200);
    let granted: Value = r.json().await.unwrap();
    let session = granted["session_id"].as_str().unwrap().to_owned();

    // Once per link: the next opening is not asked.
    assert_eq!(
        s.request_licence(&token, &viewer(), Some(&passcode))
            .await
            .status(),
        200
    );
    let entries = s.state.audit_log(s.org).await.unwrap();
    let accepted: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "terms-accepted")
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].detail, format!("terms sha256 {digest}"));
    assert_eq!(accepted[0].session_id.as_deref(), Some(session.as_str()));
    assert_eq!(accepted[0].ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(accepted[0].actor.as_deref(), Some("bob@acme.example"));
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "deny" && e.detail == "terms not accepted yet")
    );

    // New terms: asked again.
    s.state
        .set_terms(Some("Revised terms."), None, &op, &cli)
        .await
        .unwrap();
    let r = s.request_licence(&token, &viewer(), Some(&passcode)).await;
    assert_eq!(r.status(), 401);
    // Terms that are not plain text are refused.
    assert!(
        s.state
            .set_terms(Some("a\u{7}b"), None, &op, &cli)
            .await
            .is_err()
    );
    s.state.set_terms(None, None, &op, &cli).await.unwrap();
    assert_eq!(
        s.request_licence(&token, &viewer(), Some(&passcode))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_link_for_two_parts_of_an_assembly_cannot_decrypt_the_others() {
    let s = start(relaxed()).await;
    let token = api_token(&s).await;
    let step = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/cad/assembly.step"
    ))
    .unwrap();
    let r = s
        .client
        .post(format!("{}/api/owner/documents?title=Fixture", s.base))
        .bearer_auth(&token)
        .body(step)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().await.unwrap();
    let doc_id = doc["id"].as_str().unwrap().to_owned();
    let link = |extra: Value| {
        let mut body = json!({ "document_id": doc_id, "recipient": "bob@acme.example" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, why) in [
        (
            json!({ "parts": "pump" }),
            "no part or assembly named \"pump\"; this model has: base-plate, bracket-left, bracket-right, shaft",
        ),
        (json!({ "parts": "fixture" }), "whole model"),
        (json!({ "parts": "shaft", "pages": "1" }), "not both"),
        (json!({ "pages": "1" }), "--pages shares pages of a PDF"),
    ] {
        let (status, body) = post(&s, &token, "/api/owner/links", link(extra.clone())).await;
        assert_eq!(status, 400, "{extra}");
        assert!(message(&body).contains(why), "{extra}: {body}");
    }
    let (status, created) = post(
        &s,
        &token,
        "/api/owner/links",
        link(json!({ "parts": "Bracket-Left, shaft" })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let link_token = created["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (plain, key, body) = open_as_viewer(&s, &link_token, None).await;
    assert_eq!(
        body["document"]["title"],
        "Fixture — parts bracket-left, shaft"
    );
    assert_eq!(body["document"]["media_type"], "model/gltf-binary");
    // What the recipient can decrypt is a model of those two parts and nothing else.
    let model = veilmark_cad::load_gltf(&plain, &veilmark_cad::Limits::default()).unwrap();
    let names: Vec<&str> = model.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["bracket-left", "shaft"]);
    assert_eq!(model.triangle_count(), 268 + 68);
    let text = String::from_utf8_lossy(&plain);
    assert!(!text.contains("base-plate") && !text.contains("bracket-right"));
    // The licence's key does not open the whole model's envelope.
    let whole = s
        .state
        .store
        .document(s.org, &doc_id)
        .await
        .unwrap()
        .unwrap();
    let whole_envelope = std::fs::read(s.dir.path().join("blobs").join(&whole.blob)).unwrap();
    let key = veilmark_shared::envelope::ContentKey::from_bytes(key.try_into().unwrap());
    assert!(veilmark_shared::envelope::open(&key, &whole_envelope).is_err());
    // --parts on a PDF is refused.
    let (status, body) = post(
        &s,
        &token,
        "/api/owner/links",
        json!({ "document_id": s.doc.id, "recipient": "bob@acme.example", "parts": "x" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        message(&body).contains("--parts shares parts of a 3D model"),
        "{body}"
    );
}
