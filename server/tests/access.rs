//! The tenancy boundary and the roles, through the public interface.
//!
//! `every_route_answers_each_caller_by_its_rule` walks the server's own route table (the
//! router is built from it, so a route cannot exist without a rule) and calls every owner-API
//! and console route with no credentials, with an expired token, with each role of the
//! organisation, and with the admin of another organisation aimed at this organisation's ids,
//! and checks each answer against the route's rule.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use veilmark_server::http::route_table;
use veilmark_server::http::routes::{Access, RouteRule};
use veilmark_server::now_secs;
use veilmark_server::service::{Actor, ClientMeta};
use veilmark_server::store::{CredentialKind, NewCredential};
use veilmark_store::audit::NewAuditEntry;
use veilmark_store::evidence::HitRecord;
use veilmark_store::tenancy::{Account, Role};

use crate::common::{self, TestServer, start};

const PASSWORD: &str = "correct horse battery";
const ROLES: [(&str, Role); 4] = [
    ("admin@brand.example", Role::Admin),
    ("owner@brand.example", Role::Owner),
    ("reviewer@brand.example", Role::Reviewer),
    ("auditor@brand.example", Role::Auditor),
];
const VICTIM: &str = "victim@brand.example";
const FOREIGN: &str = "admin@other.example";

/// How one caller presents itself.
#[derive(Clone)]
struct Creds {
    name: String,
    token: Option<String>,
    cookie: Option<String>,
    csrf: String,
    role: Option<Role>,
    foreign: bool,
}

/// The organisation's things the routes' `{id}`s are filled with.
struct Targets {
    link_id: String,
    link_token: String,
    victim_id: i64,
    spare_token_id: String,
    hit_id: i64,
    doc_id: String,
    review_id: String,
    alert_id: String,
    webhook_id: String,
}

fn client() -> reqwest::Client {
    common::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn console_login(s: &TestServer, email: &str) -> (String, String) {
    let resp = client()
        .post(format!("{}/console/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("email", email), ("password", PASSWORD)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "console login {email}"
    );
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vm_session=") && !v.starts_with("vm_session=;"))
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = client()
        .get(format!("{}/console/account", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a CSRF token on the account page")
        .to_owned();
    (cookie, csrf)
}

async fn account(s: &TestServer, email: &str) -> Account {
    s.state.account_named(email).await.unwrap()
}

async fn setup() -> (TestServer, Vec<Creds>, Creds, Targets) {
    let mut limits = common::relaxed();
    limits.login.burst = 10_000;
    limits.login.per_sec = 10_000.0;
    let s = start(limits).await;
    let org = s.org;
    let mut callers = Vec::new();
    for (email, role) in ROLES {
        s.state
            .create_account(org, email, Some(PASSWORD), role)
            .await
            .unwrap();
        let a = account(&s, email).await;
        let (_, token) = s.state.issue_api_token(&a, 3600, "test").await.unwrap();
        let (cookie, csrf) = console_login(&s, email).await;
        callers.push(Creds {
            name: role.as_str().into(),
            token: Some(token),
            cookie: Some(cookie),
            csrf,
            role: Some(role),
            foreign: false,
        });
    }
    let victim = s
        .state
        .create_account(org, VICTIM, Some(PASSWORD), Role::Reviewer)
        .await
        .unwrap();
    let other = s.state.create_org("Other Brand").await.unwrap();
    s.state
        .create_account(other, FOREIGN, Some(PASSWORD), Role::Admin)
        .await
        .unwrap();
    let f = account(&s, FOREIGN).await;
    let (_, token) = s.state.issue_api_token(&f, 3600, "test").await.unwrap();
    let (cookie, csrf) = console_login(&s, FOREIGN).await;
    callers.push(Creds {
        name: "foreign admin".into(),
        token: Some(token),
        cookie: Some(cookie),
        csrf,
        role: Some(Role::Admin),
        foreign: true,
    });
    // An expired token: stored as the server stores tokens, with its end in the past.
    let owner = account(&s, "owner@brand.example").await;
    let expired = "expired-token-0123456789abcdef0123456789abcdef";
    s.state
        .store
        .add_credential(&NewCredential {
            token_hash: &veilmark_server::secrets::owner_secret_hash(expired),
            account_id: owner.id,
            kind: CredentialKind::ApiToken,
            label: "old",
            now: now_secs() - 7200,
            expires_at: now_secs() - 1,
        })
        .await
        .unwrap();
    let expired = Creds {
        name: "expired token".into(),
        token: Some(expired.into()),
        cookie: None,
        csrf: String::new(),
        role: None,
        foreign: false,
    };
    let (spare_token_id, _) = s
        .state
        .issue_api_token(&owner, 3600, "spare")
        .await
        .unwrap();
    let link = s.link(|_| {}).await;
    let ev = s.state.evidence(org);
    let (run, _) = ev.resume_or_start_run("shop").await.unwrap();
    let mut w = ev.warc_writer(run).unwrap();
    let off = w
        .write_response(&veilmark_store::warc::HttpRecord {
            url: "https://shop.example/1.png",
            fetched_at: "2026-12-01T00:00:00Z",
            status: 200,
            headers: &[],
            body: b"png",
        })
        .unwrap();
    ev.insert_hit(
        run,
        &HitRecord {
            marketplace: "shop".into(),
            page_url: "https://shop.example/1".into(),
            image_url: "https://shop.example/1.png".into(),
            image_sha256: "ab".into(),
            fetched_at: "2026-12-01T00:00:00Z".into(),
            http_status: 200,
            http_headers: json!({}),
            listing_title: Some("Secret bracket listing".into()),
            listing_price: None,
            listing_seller: None,
            reference_id: None,
            sku: None,
            hash_kind: None,
            distance: None,
            transform: None,
            window: None,
            watermark_session: None,
            warc_file: w.relative_path().into(),
            warc_page_offset: None,
            warc_image_offset: i64::try_from(off).unwrap(),
        },
    )
    .await
    .unwrap();
    let hit_id = ev.reviewed_hits(1).await.unwrap()[0].id;
    let review = s
        .state
        .start_review(
            None,
            &s.operator(),
            &veilmark_server::service::ClientMeta::cli(),
        )
        .await
        .unwrap();
    let (webhook, _) = s
        .state
        .add_webhook(
            "https://siem.brand.example/hook",
            &s.operator(),
            &veilmark_server::service::ClientMeta::cli(),
        )
        .await
        .unwrap();
    let alert = veilmark_store::alerts::AlertRecord {
        id: "alr_0123456789abcdef".into(),
        org,
        kind: veilmark_store::alerts::AlertKind::ManySessions,
        link_id: link.link.id.clone(),
        recipient: link.link.recipient.clone(),
        detail: "3 sessions open at once".into(),
        ip: None,
        created_at: now_secs(),
        acknowledged_at: None,
        acknowledged_by: None,
    };
    let entry = NewAuditEntry {
        org: Some(org),
        ..NewAuditEntry::new(
            veilmark_store::audit::AuditKind::Alert,
            now_secs() * 1000,
            "test",
        )
    };
    assert!(s.state.store.raise_alert(&alert, 0, &entry).await.unwrap());
    let targets = Targets {
        link_token: TestServer::token(&link),
        link_id: link.link.id,
        victim_id: victim,
        spare_token_id,
        hit_id,
        doc_id: s.doc.id.clone(),
        review_id: review.id,
        alert_id: alert.id,
        webhook_id: webhook.id,
    };
    (s, callers, expired, targets)
}

/// The path of `rule` with its parameters filled with this organisation's ids.
fn fill(rule: &RouteRule, t: &Targets) -> String {
    let id = if rule.path.contains("/webhooks/") {
        t.webhook_id.clone()
    } else if rule.path.contains("/alerts/") {
        t.alert_id.clone()
    } else if rule.path.contains("/reviews/") {
        t.review_id.clone()
    } else if rule.path.contains("/links/") {
        t.link_id.clone()
    } else if rule.path.contains("/members/") {
        t.victim_id.to_string()
    } else if rule.path.contains("/tokens/") {
        t.spare_token_id.clone()
    } else if rule.path.contains("/documents/") {
        t.doc_id.clone()
    } else {
        t.hit_id.to_string()
    };
    let mut p = rule
        .path
        .replace("{id}", &id)
        .replace("{which}", "found")
        .replace("{token}", &t.link_token)
        .replace("{session}", &"0".repeat(32))
        .replace("{secret}", "not-a-secret")
        .replace("{domain}", "matrix.example")
        .replace("{format}", "csv")
        .replace("{link}", &t.link_id);
    if p.ends_with("/review/bundle") {
        p.push_str(&format!("?id={}", t.hit_id));
    }
    p
}

/// Whether the route names one of the organisation's things.
fn names_a_thing(rule: &RouteRule) -> bool {
    rule.path.contains("{id}") || rule.path.ends_with("/review/bundle")
}

/// A body that gets a request past authentication to the handler, for each route.
fn body(rule: &RouteRule, t: &Targets, n: usize) -> Option<Value> {
    if rule.method != Method::POST {
        return None;
    }
    let p = rule.path;
    Some(if p == "/api/owner/links" || p == "/console/links" {
        json!({ "document_id": t.doc_id, "document": t.doc_id, "recipient": "x@supplier.example" })
    } else if p.ends_with("/members") {
        json!({ "email": format!("new{n}@brand.example"), "role": "reviewer" })
    } else if p.ends_with("/role") {
        json!({ "role": "reviewer" })
    } else if p.ends_with("/level") {
        json!({ "level": "Internal" })
    } else if p.ends_with("/suppliers") {
        json!({ "domain": "matrix.example", "status": "approved" })
    } else if p == "/api/owner/tokens" || p == "/console/account/tokens" {
        json!({ "label": "matrix", "days": "1" })
    } else if p.ends_with("/totp") {
        json!({ "action": "begin" })
    } else if p.ends_with("/password") {
        json!({ "current": "wrong password!", "password": "a new password 1", "again": "a new password 1" })
    } else if p == "/console/reviews/schedule" {
        json!({ "every_days": "91", "window_days": "14" })
    } else if p == "/console/review" {
        json!({ "id": t.hit_id.to_string(), "action": "confirm" })
    } else {
        json!({})
    })
}

async fn call(
    s: &TestServer,
    rule: &RouteRule,
    who: Option<&Creds>,
    t: &Targets,
    n: usize,
) -> (StatusCode, String, String) {
    let url = format!("{}{}", s.base, fill(rule, t));
    let console = rule.path.starts_with("/console");
    let mut req = client().request(rule.method.clone(), &url);
    if let Some(c) = who {
        if console {
            if let Some(cookie) = &c.cookie {
                req = req.header("cookie", cookie);
            }
        } else if let Some(tok) = &c.token {
            req = req.bearer_auth(tok);
        }
    }
    if let Some(mut b) = body(rule, t, n) {
        if console {
            let mut form: BTreeMap<String, String> = b
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            form.insert(
                "csrf".into(),
                who.map(|c| c.csrf.clone()).unwrap_or_default(),
            );
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&form).unwrap());
            if rule.path.ends_with("/upload") {
                req = req.header("x-csrf-token", who.map_or("", |c| c.csrf.as_str()));
            }
        } else {
            if let Some(o) = b.as_object_mut()
                && rule.path == "/api/owner/links"
            {
                o.remove("document");
            }
            req = req.json(&b);
        }
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, resp.text().await.unwrap_or_default())
}

/// Whether calling the route ends the caller's own sessions.
fn ends_sessions(rule: &RouteRule) -> bool {
    rule.path.contains("sign-out-everywhere") || rule.path.ends_with("/logout")
}

/// Fresh credentials for the same account.
async fn relogin(s: &TestServer, c: &Creds) -> Creds {
    let email = ROLES
        .iter()
        .find(|(_, r)| Some(*r) == c.role)
        .map(|(e, _)| *e)
        .unwrap();
    let a = account(s, email).await;
    let (_, token) = s.state.issue_api_token(&a, 3600, "fresh").await.unwrap();
    let (cookie, csrf) = console_login(s, email).await;
    Creds {
        token: Some(token),
        cookie: Some(cookie),
        csrf,
        ..c.clone()
    }
}

fn member_rule(rule: &RouteRule) -> Option<Option<veilmark_store::Permission>> {
    match rule.access {
        Access::Member(p) => Some(p),
        _ => None,
    }
}

#[tokio::test]
async fn every_route_answers_each_caller_by_its_rule() {
    let (s, callers, expired, t) = setup().await;
    let table: Vec<RouteRule> = route_table(1 << 16, 1 << 20)
        .into_iter()
        .map(|r| r.rule)
        .collect();
    assert!(
        table.len() > 40,
        "the whole API and console are in the table"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut n = 0;
    // Secrets of this organisation that no other organisation may see in any answer.
    let secrets = [
        t.link_id.as_str(),
        "Bracket",
        "owner@brand.example",
        "Secret bracket listing",
    ];

    // Everything that must be refused comes first: it changes nothing.
    for rule in &table {
        let Some(need) = member_rule(rule) else {
            continue;
        };
        let console = rule.path.starts_with("/console");
        let what = format!("{} {}", rule.method, rule.path);
        n += 1;
        // No credentials.
        let (st, loc, _) = call(&s, rule, None, &t, n).await;
        let ok = if console && rule.method == Method::GET {
            st == StatusCode::SEE_OTHER && loc == "/console/login"
        } else {
            st == StatusCode::UNAUTHORIZED
        };
        if !ok {
            failures.push(format!("{what} without credentials: {st} {loc}"));
        }
        // An expired token (the API takes tokens; the console only cookies).
        if !console {
            let (st, ..) = call(&s, rule, Some(&expired), &t, n).await;
            if st != StatusCode::UNAUTHORIZED {
                failures.push(format!("{what} with an expired token: {st}"));
            }
        }
        for c in &callers {
            n += 1;
            let allowed = need.is_none_or(|p| c.role.is_some_and(|r| r.permits(p)));
            if c.foreign {
                // Self-service routes act on the caller's own account; skip the ones that end
                // its sessions (they run last, below).
                if rule.path.contains("sign-out-everywhere") || rule.path.ends_with("/logout") {
                    continue;
                }
                let (st, _, body) = call(&s, rule, Some(c), &t, n).await;
                if names_a_thing(rule) && need.is_some() {
                    if st != StatusCode::NOT_FOUND {
                        failures.push(format!("{what} by {}: {st}, not 404", c.name));
                    }
                } else if st == StatusCode::UNAUTHORIZED || st == StatusCode::FORBIDDEN {
                    failures.push(format!("{what} by {}: {st}", c.name));
                }
                if let Some(leak) = secrets.iter().find(|x| body.contains(**x)) {
                    failures.push(format!("{what} by {} shows {leak:?}", c.name));
                }
                checked += 1;
            } else if !allowed {
                let (st, ..) = call(&s, rule, Some(c), &t, n).await;
                if st != StatusCode::FORBIDDEN {
                    failures.push(format!("{what} by {}: {st}, not 403", c.name));
                }
                checked += 1;
            }
        }
    }

    // Then every allowed call, the ones that end the caller's own sessions last.
    let mut allowed_rules: Vec<&RouteRule> =
        table.iter().filter(|r| member_rule(r).is_some()).collect();
    allowed_rules.sort_by_key(|r| ends_sessions(r));
    for rule in allowed_rules {
        let need = member_rule(rule).unwrap();
        for c in callers.iter().filter(|c| !c.foreign) {
            if need.is_some_and(|p| !c.role.is_some_and(|r| r.permits(p))) {
                continue;
            }
            n += 1;
            // Signing out ends every credential of the caller: give it fresh ones first.
            let fresh;
            let c = if ends_sessions(rule) {
                fresh = relogin(&s, c).await;
                &fresh
            } else {
                c
            };
            let (st, loc, _) = call(&s, rule, Some(c), &t, n).await;
            if st == StatusCode::UNAUTHORIZED
                || st == StatusCode::FORBIDDEN
                || loc == "/console/login"
                    && !rule.path.contains("sign-out")
                    && !rule.path.ends_with("/logout")
            {
                failures.push(format!(
                    "{} {} by {}: {st} {loc}",
                    rule.method, rule.path, c.name
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 150, "only {checked} checks");
}

#[tokio::test]
async fn another_organisation_can_neither_list_nor_revoke_a_link() {
    let (s, callers, _, t) = setup().await;
    let foreign = callers.iter().find(|c| c.foreign).unwrap();
    let c = client();
    let links: Value = c
        .get(format!("{}/api/owner/links", s.base))
        .bearer_auth(foreign.token.as_ref().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(links, json!([]));
    let revoke = c
        .post(format!("{}/api/owner/links/{}/revoke", s.base, t.link_id))
        .bearer_auth(foreign.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 404);
    let link = s
        .state
        .store
        .link(s.org, &t.link_id)
        .await
        .unwrap()
        .unwrap();
    assert!(link.revoked_at.is_none(), "the link is still live");
    // The other organisation's audit export holds none of this organisation's entries.
    let audit: Value = c
        .get(format!("{}/api/owner/audit", s.base))
        .bearer_auth(foreign.token.as_ref().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    assert!(
        !text.contains(&t.link_id) && !text.contains("owner@brand.example"),
        "{text}"
    );
    let verify: Value = c
        .get(format!("{}/api/owner/audit/verify", s.base))
        .bearer_auth(foreign.token.as_ref().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
}

#[tokio::test]
async fn twenty_parallel_wrong_passcodes_lock_after_five_and_then_the_right_one_is_refused() {
    let s = start(common::relaxed()).await;
    let link = s.link(|l| l.passcode = Some(true)).await;
    let token = TestServer::token(&link);
    let right = link.passcode.clone().unwrap();
    let tries = (0..20).map(|i| {
        let client = s.client.clone();
        let url = format!("{}/api/v/{token}/licence", s.base);
        let body = TestServer::licence_body(&common::viewer(), Some(&format!("wrong-{i}")));
        tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() })
    });
    let mut wrong = 0;
    let mut locked = 0;
    for t in tries {
        match t.await.unwrap().as_u16() {
            423 => locked += 1,
            401 | 403 => wrong += 1,
            other => panic!("unexpected {other}"),
        }
    }
    // Four answered "wrong passcode", and the fifth wrong one locked the link (it answers 423
    // itself); the other fifteen were refused without being checked.
    assert_eq!(wrong + locked, 20);
    assert_eq!(wrong, 4, "only the attempts before the lock were checked");
    let status = s
        .request_licence(&token, &common::viewer(), Some(&right))
        .await
        .status();
    assert_eq!(status, 423, "a right passcode during the lock is refused");
    let denials = s
        .audit_kinds()
        .await
        .into_iter()
        .filter(|(k, d)| k == "deny" && d == "wrong passcode")
        .count();
    assert_eq!(denials, 5, "five passcodes were checked in all");
}

async fn api_login(
    s: &TestServer,
    email: &str,
    password: &str,
    code: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({ "email": email, "password": password });
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    client()
        .post(format!("{}/api/owner/login", s.base))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_account_locks_after_five_failed_logins_even_in_parallel() {
    let mut limits = common::relaxed();
    limits.login.burst = 10_000;
    limits.login.per_sec = 10_000.0;
    let s = start(limits).await;
    s.state
        .create_account(s.org, "o@brand.example", Some(PASSWORD), Role::Owner)
        .await
        .unwrap();
    let tries = (0..12).map(|_| {
        let base = s.base.clone();
        tokio::spawn(async move {
            client()
                .post(format!("{base}/api/owner/login"))
                .json(&json!({ "email": "o@brand.example", "password": "not the password" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        api_login(&s, "o@brand.example", PASSWORD, None)
            .await
            .status(),
        423
    );
}

#[tokio::test]
async fn a_second_factor_is_required_checked_once_and_recoverable() {
    let s = start(common::relaxed()).await;
    s.state
        .create_account(s.org, "o@brand.example", Some(PASSWORD), Role::Owner)
        .await
        .unwrap();
    let a = account(&s, "o@brand.example").await;
    let enrol = s.state.begin_totp(&a).await.unwrap();
    let secret = veilmark_shared::totp::TotpSecret::from_base32(&enrol.secret_base32).unwrap();
    let code = |at: i64| format!("{:06}", veilmark_shared::totp::totp_at(&secret, at));
    let a = account(&s, "o@brand.example").await;
    // Confirm with the code of the previous step, so the current one is still unused.
    let recovery = s
        .state
        .confirm_totp(&a, &code(now_secs() - 30), &ClientMeta::cli())
        .await
        .unwrap();
    assert_eq!(recovery.len(), 10);
    let without = api_login(&s, "o@brand.example", PASSWORD, None).await;
    assert_eq!(without.status(), 401);
    let now_code = code(now_secs());
    let with = api_login(&s, "o@brand.example", PASSWORD, Some(&now_code)).await;
    assert_eq!(with.status(), 200);
    let replay = api_login(&s, "o@brand.example", PASSWORD, Some(&now_code)).await;
    assert_eq!(replay.status(), 401, "a code is accepted once");
    let rec = api_login(&s, "o@brand.example", PASSWORD, Some(&recovery[0])).await;
    assert_eq!(rec.status(), 200);
    let again = api_login(&s, "o@brand.example", PASSWORD, Some(&recovery[0])).await;
    assert_eq!(again.status(), 401, "a recovery code works once");
}

#[tokio::test]
async fn an_organisation_that_requires_a_second_factor_stops_tokens_until_enrolment() {
    let s = start(common::relaxed()).await;
    s.state
        .create_account(s.org, "o@brand.example", Some(PASSWORD), Role::Owner)
        .await
        .unwrap();
    let a = account(&s, "o@brand.example").await;
    let (_, token) = s.state.issue_api_token(&a, 3600, "ci").await.unwrap();
    let links = |token: String| {
        let base = s.base.clone();
        async move {
            client()
                .get(format!("{base}/api/owner/links"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(links(token.clone()).await, 200);
    s.state
        .store
        .set_org_require_totp(s.org, true)
        .await
        .unwrap();
    assert_eq!(links(token.clone()).await, 401);
    let login = api_login(&s, "o@brand.example", PASSWORD, None).await;
    assert_eq!(
        login.status(),
        401,
        "a login without a second factor is refused"
    );
}

#[tokio::test]
async fn a_new_password_and_sign_out_everywhere_end_every_session_and_token() {
    let s = start(common::relaxed()).await;
    s.state
        .create_account(s.org, "o@brand.example", Some(PASSWORD), Role::Owner)
        .await
        .unwrap();
    let a = account(&s, "o@brand.example").await;
    let (_, token) = s.state.issue_api_token(&a, 3600, "ci").await.unwrap();
    let (cookie, _) = console_login(&s, "o@brand.example").await;
    let me = |token: String| {
        let base = s.base.clone();
        async move {
            client()
                .get(format!("{base}/api/owner/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(token.clone()).await, 200);
    s.state
        .change_password(
            &a,
            "another long password",
            &Actor::account(&a),
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    assert_eq!(me(token).await, 401, "the token ended with the password");
    let page = client()
        .get(format!("{}/console/links", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "the console session ended too");
    let (_, token) = s.state.issue_api_token(&a, 3600, "ci").await.unwrap();
    let out = client()
        .post(format!("{}/api/owner/sign-out-everywhere", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(me(token).await, 401);
}

#[tokio::test]
async fn an_idle_console_session_ends() {
    let mut limits = common::relaxed();
    limits.console_idle_secs = 1;
    let s = start(limits).await;
    s.state
        .create_account(s.org, "o@brand.example", Some(PASSWORD), Role::Owner)
        .await
        .unwrap();
    let (cookie, _) = console_login(&s, "o@brand.example").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let page = client()
        .get(format!("{}/console/links", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/console/login");
}

#[tokio::test]
async fn a_cross_site_post_with_the_session_cookie_is_refused() {
    let (s, callers, _, t) = setup().await;
    let admin = &callers[0];
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
    ] {
        let resp = client()
            .post(format!("{}/console/links/{}/revoke", s.base, t.link_id))
            .header("cookie", admin.cookie.as_ref().unwrap())
            .header(header, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string([("csrf", admin.csrf.as_str())]).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{header}: {value}");
    }
    let link = s
        .state
        .store
        .link(s.org, &t.link_id)
        .await
        .unwrap()
        .unwrap();
    assert!(link.revoked_at.is_none());
    // The same post from the console's own origin goes through.
    let ok = client()
        .post(format!("{}/console/links/{}/revoke", s.base, t.link_id))
        .header("cookie", admin.cookie.as_ref().unwrap())
        .header("origin", &s.base)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("csrf", admin.csrf.as_str())]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
}

#[tokio::test]
async fn members_are_added_with_a_one_time_link_and_removal_ends_their_access() {
    let (s, callers, _, _) = setup().await;
    let admin = &callers[0];
    let c = client();
    let added: Value = c
        .post(format!("{}/api/owner/members", s.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .json(&json!({ "email": "new@brand.example", "role": "auditor" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = added["set_password_url"].as_str().unwrap().to_owned();
    let id = added["id"].as_i64().unwrap();
    // No password yet: nothing logs in.
    assert_eq!(
        api_login(&s, "new@brand.example", "", None).await.status(),
        401
    );
    let set = c
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("password", "auditor password 1"),
                ("again", "auditor password 1"),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let reuse = c
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("password", "someone else's pw"),
                ("again", "someone else's pw"),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), 404, "the link works once");
    let login = api_login(&s, "new@brand.example", "auditor password 1", None).await;
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let audit = c
        .get(format!("{}/api/owner/audit", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), 200, "auditors read the audit log");
    let create = c
        .post(format!("{}/api/owner/links", s.base))
        .header("cookie", &cookie)
        .json(&json!({ "document_id": s.doc.id, "recipient": "x@supplier.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 403, "auditors create no links");
    // The last admin cannot be demoted or removed.
    let me = account(&s, "admin@brand.example").await;
    let demote = c
        .post(format!("{}/api/owner/members/{}/role", s.base, me.id))
        .bearer_auth(admin.token.as_ref().unwrap())
        .json(&json!({ "role": "owner" }))
        .send()
        .await
        .unwrap();
    assert_eq!(demote.status(), 400);
    let removed = c
        .post(format!("{}/api/owner/members/{id}/remove", s.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let after = c
        .get(format!("{}/api/owner/audit", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "a removed member's session is gone");
    let kinds: Vec<String> = s
        .state
        .audit_log(s.org)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "member")
        .map(|e| e.detail)
        .collect();
    assert!(
        kinds
            .iter()
            .any(|d| d.starts_with("added new@brand.example as auditor")),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|d| d.starts_with("removed new@brand.example")),
        "{kinds:?}"
    );
}

/// An upload without a session is refused from its headers: the server answers before the
/// client has sent the body, rather than reading (and buffering) it first.
#[tokio::test]
async fn an_anonymous_upload_is_refused_before_its_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start(common::relaxed()).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    for path in [
        "/console/documents/upload?title=x",
        "/api/owner/documents?title=x",
    ] {
        let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/pdf\r\n\
             Content-Length: 200000000\r\n\r\n%PDF-1.7"
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer while the body is still owed"))
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
    }
}
