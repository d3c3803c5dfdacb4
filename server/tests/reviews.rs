//! Access reviews through the owner API, as an organisation meets them: a review of every live
//! link, reminders e-mailed to each owner through a real SMTP server (aiosmtpd on loopback),
//! each owner deciding only their own links, a revocation reaching the open viewer, links
//! nobody confirmed revoked at the due date, everything in the audit log and the CSV export.

use std::time::Duration;

use crate::common;

use common::{OWNER, TestServer, relaxed, start_with, viewer};
use serde_json::{Value, json};
use veilmark_server::mail::MailConfig;
use veilmark_store::Role;
use veilmark_testkit::SmtpTestServer;

const PASSWORD: &str = "correct horse battery";
const MAKER: &str = "maker@brand.example";

async fn token_for(s: &TestServer, email: &str) -> String {
    s.state.create_api_token(email).await.unwrap()
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

async fn get(s: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = s
        .client
        .get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn make_link(s: &TestServer, token: &str, recipient: &str) -> String {
    let (st, v) = post(
        s,
        token,
        "/api/owner/links",
        json!({ "document_id": s.doc.id, "recipient": recipient }),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    v["link"]["id"].as_str().unwrap().to_owned()
}

/// Opens a viewer on `link_token` and returns its event stream.
async fn open_viewer(s: &TestServer, token: &str) -> reqwest::Response {
    let v = viewer();
    let r = s
        .post_licence(token, &TestServer::licence_body(&v, None))
        .await;
    assert_eq!(r.status(), 200);
    let granted: Value = r.json().await.unwrap();
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

async fn revoked_within_2s(r: reqwest::Response) -> bool {
    use futures_util::StreamExt;
    let mut stream = r.bytes_stream();
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(2), async {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_asks_each_owner_by_mail_and_revokes_what_nobody_confirmed() {
    let smtp = SmtpTestServer::start();
    let url = smtp.url();
    let s = start_with(relaxed(), move |c| {
        c.mail = Some(MailConfig {
            url,
            from: "veilmark@brand.example".into(),
        });
        c.review_tick = Duration::from_millis(200);
    })
    .await;
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    s.state
        .create_account(s.org, MAKER, Some(PASSWORD), Role::Owner)
        .await
        .unwrap();
    let admin = token_for(&s, OWNER).await;
    let maker = token_for(&s, MAKER).await;

    let kept = make_link(&s, &maker, "alice@supplier.example").await;
    let dropped = make_link(&s, &maker, "bob@supplier.example").await;
    let forgotten = make_link(&s, &admin, "carol@other.example").await;
    let gone = make_link(&s, &admin, "dave@other.example").await;
    let (st, _) = post(
        &s,
        &admin,
        &format!("/api/owner/links/{gone}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200);
    // Links remember who made them: that member is asked to review them.
    let link = s.state.store.link(s.org, &dropped).await.unwrap().unwrap();
    assert_eq!(link.created_by, MAKER);

    // Only an admin starts a review; an owner cannot.
    let (st, _) = post(
        &s,
        &maker,
        "/api/owner/reviews",
        json!({ "due_in_secs": 8 }),
    )
    .await;
    assert_eq!(st, 403);
    let (st, review) = post(
        &s,
        &admin,
        "/api/owner/reviews",
        json!({ "due_in_secs": 8 }),
    )
    .await;
    assert_eq!(st, 200, "{review}");
    assert_eq!(
        review["links"], 3,
        "the revoked link is not reviewed: {review}"
    );
    let id = review["id"].as_str().unwrap().to_owned();
    let (st, again) = post(&s, &admin, "/api/owner/reviews", json!({})).await;
    assert_eq!(st, 409, "{again}");
    assert_eq!(again["code"], "conflict");

    // Each owner gets one e-mail naming how many links wait and where to decide them.
    let mails = smtp.wait_for(2, Duration::from_secs(10)).unwrap();
    let to_maker: Vec<_> = mails.iter().filter(|m| m.to.contains(MAKER)).collect();
    let to_admin: Vec<_> = mails.iter().filter(|m| m.to.contains(OWNER)).collect();
    assert_eq!((to_maker.len(), to_admin.len()), (1, 1), "{mails:?}");
    assert!(
        to_maker[0].subject.contains("2 link(s) to confirm"),
        "{:?}",
        to_maker[0]
    );
    assert!(
        to_admin[0].subject.contains("1 link(s) to confirm"),
        "{:?}",
        to_admin[0]
    );
    assert!(
        to_maker[0]
            .body
            .contains(&format!("{}/console/reviews", s.base)),
        "{:?}",
        to_maker[0]
    );
    assert!(to_maker[0].from.contains("veilmark@brand.example"));
    for m in &mails {
        assert!(
            !m.body.contains("/v/"),
            "no link token in a reminder: {m:?}"
        );
    }

    // An owner decides their own links only; an unknown link is 404; a decision is final.
    let decide = |link: &str, d: &str| json!({ "link": link, "decision": d });
    let path = format!("/api/owner/reviews/{id}/decisions");
    let (st, v) = post(&s, &maker, &path, decide(&forgotten, "confirm")).await;
    assert_eq!(st, 403, "{v}");
    assert!(v["message"].as_str().unwrap().contains(OWNER), "{v}");
    let (st, _) = post(&s, &maker, &path, decide("lnk_0000000000000000", "confirm")).await;
    assert_eq!(st, 404);
    let (st, v) = post(&s, &maker, &path, decide(&kept, "keep")).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = post(&s, &maker, &path, decide(&kept, "confirm")).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = post(&s, &maker, &path, decide(&kept, "revoke")).await;
    assert_eq!(st, 409, "{v}");

    // Revoking in the review revokes the link (the open viewer is told: next test).
    let (st, v) = post(&s, &maker, &path, decide(&dropped, "revoke")).await;
    assert_eq!(st, 200, "{v}");
    assert!(
        s.state
            .store
            .link(s.org, &dropped)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    // The admin's link nobody confirmed is revoked at the due date and the review closes.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        let (st, v) = get(&s, &admin, &format!("/api/owner/reviews/{id}")).await;
        assert_eq!(st, 200, "{v}");
        if !v["review"]["closed_at"].is_null() {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "not closed: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let r = &status["review"];
    assert_eq!(
        (
            &r["confirmed"],
            &r["revoked"],
            &r["expired"],
            &r["undecided"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(0)),
        "{status}"
    );
    let f = s
        .state
        .store
        .link(s.org, &forgotten)
        .await
        .unwrap()
        .unwrap();
    assert!(f.revoked_at.is_some(), "the unconfirmed link is revoked");
    let k = s.state.store.link(s.org, &kept).await.unwrap().unwrap();
    assert!(k.revoked_at.is_none(), "the confirmed link lives on");

    // The admin, who left a link undecided, was reminded again before the due date; the
    // maker, who decided everything, was not.
    let mails = smtp.messages().unwrap();
    let due_soon: Vec<_> = mails
        .iter()
        .filter(|m| m.subject.contains("still undecided"))
        .collect();
    assert_eq!(due_soon.len(), 1, "{mails:?}");
    assert!(due_soon[0].to.contains(OWNER));

    // The audit log has the start, each decision and the close.
    let audit: Value = get(&s, &admin, "/api/owner/audit").await.1;
    let details: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "review")
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(details.len(), 4, "{details:?}");
    assert!(
        details[0].contains("review started: 3 live link(s)"),
        "{details:?}"
    );
    assert!(details[1].contains("confirmed link to alice@supplier.example"));
    assert!(details[2].contains("revoked link to bob@supplier.example"));
    assert!(details[3].contains(&format!(
        "closed at its due date; 1 unconfirmed link(s) revoked: {forgotten}"
    )));

    // The export names every decision.
    let csv = s
        .client
        .get(format!("{}/api/owner/reviews/{id}/export.csv", s.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    for (link, decision, by) in [
        (&kept, "confirmed", MAKER),
        (&dropped, "revoked", MAKER),
        (&forgotten, "expired", "due date"),
    ] {
        let line = csv.lines().find(|l| l.contains(link.as_str())).unwrap();
        assert!(line.contains(&format!("\"{decision}\"")), "{line}");
        assert!(line.contains(by), "{line}");
    }
}

#[tokio::test]
async fn a_revocation_in_a_review_blanks_the_open_viewer_and_another_organisation_sees_nothing() {
    let s = common::start(relaxed()).await;
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    let admin = token_for(&s, OWNER).await;
    let link = s.link(|_| {}).await;
    let events = open_viewer(&s, &TestServer::token(&link)).await;
    let (st, review) = post(&s, &admin, "/api/owner/reviews", json!({})).await;
    assert_eq!(st, 200, "{review}");
    let id = review["id"].as_str().unwrap().to_owned();
    // The link was made by the operator's command line as OWNER: an admin decides it.
    let other = s.state.create_org("Other Brand").await.unwrap();
    s.state
        .create_account(other, "admin@other.example", Some(PASSWORD), Role::Admin)
        .await
        .unwrap();
    let foreign = token_for(&s, "admin@other.example").await;
    let path = format!("/api/owner/reviews/{id}/decisions");
    let body = json!({ "link": link.link.id, "decision": "revoke" });
    let (st, _) = post(&s, &foreign, &path, body.clone()).await;
    assert_eq!(st, 404);
    let (st, _) = get(&s, &foreign, &format!("/api/owner/reviews/{id}")).await;
    assert_eq!(st, 404);
    let (st, list) = get(&s, &foreign, "/api/owner/reviews").await;
    assert_eq!((st, list), (200, json!([])));
    let (st, v) = post(&s, &admin, &path, body).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["review_closed"], true, "its only link is decided: {v}");
    assert!(revoked_within_2s(events).await, "the open viewer was told");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_the_mail_server_did_not_take_is_sent_on_the_next_run() {
    use veilmark_server::mail::Mailer;
    let s = start_with(relaxed(), |c| c.review_tick = Duration::from_secs(3600)).await;
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    let admin = token_for(&s, OWNER).await;
    make_link(&s, &admin, "alice@supplier.example").await;
    let (st, _) = post(&s, &admin, "/api/owner/reviews", json!({})).await;
    assert_eq!(st, 200);
    // Nothing listens on port 1: the send fails and the reminder is given back.
    let down = Mailer::new(&MailConfig {
        url: "smtp://127.0.0.1:1".into(),
        from: "veilmark@brand.example".into(),
    })
    .unwrap();
    let t = s.state.review_tick(Some(&down)).await.unwrap();
    assert!(t.reminded.is_empty());
    let smtp = SmtpTestServer::start();
    let up = Mailer::new(&MailConfig {
        url: smtp.url(),
        from: "veilmark@brand.example".into(),
    })
    .unwrap();
    let t = s.state.review_tick(Some(&up)).await.unwrap();
    assert_eq!(t.reminded.len(), 1, "{:?}", t.reminded);
    let t = s.state.review_tick(Some(&up)).await.unwrap();
    assert!(t.reminded.is_empty(), "sent once");
    let mails = smtp.wait_for(1, Duration::from_secs(5)).unwrap();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].to.contains(OWNER));
}
