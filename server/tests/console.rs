//! The owner and review consoles over real HTTP: login, CSRF, every page, links, uploads, audit
//! export, review actions, images, evidence bundles, and hostile crawled text rendered inert.

use crate::common;

use std::io::Read as _;

use common::{OWNER, TestServer, relaxed, start};
use reqwest::redirect::Policy;
use sha2::{Digest, Sha256};
use veilmark_store::evidence::{HitRecord, NewReference};
use veilmark_store::warc::HttpRecord;

const PASSWORD: &str = "correct horse battery";

struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

fn client() -> reqwest::Client {
    common::http_client()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn log_in(s: &TestServer) -> Browser {
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    let client = client();
    let resp = client
        .post(format!("{}/console/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("email", OWNER), ("password", PASSWORD)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/console");
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    Browser {
        client,
        base: s.base.clone(),
        cookie: set.split(';').next().unwrap().to_owned(),
    }
}

impl Browser {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        r.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap()
    }

    async fn csrf(&self) -> String {
        let html = self.page("/console/links").await;
        let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        html[at..at + 32].to_owned()
    }
}

#[tokio::test]
async fn pages_need_a_session_and_login_sets_a_strict_cookie() {
    let s = start(relaxed()).await;
    let anon = client();
    for path in [
        "/console/documents",
        "/console/links",
        "/console/audit",
        "/console/review",
    ] {
        let r = anon.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/console/login");
    }
    let login = anon
        .get(format!("{}/console/login", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.text().await.unwrap().contains("type=\"password\""));
    s.state.create_owner(OWNER, PASSWORD).await.unwrap();
    let wrong = anon
        .post(format!("{}/console/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("email", OWNER), ("password", "nope")]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Wrong e-mail or password")
    );
    let cross = anon
        .post(format!("{}/console/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(serde_urlencoded::to_string([("email", OWNER), ("password", PASSWORD)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
}

#[tokio::test]
async fn pages_render_and_static_assets_are_served() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let docs = b.page("/console/documents").await;
    assert!(docs.contains("Bracket") && docs.contains(&s.doc.id));
    assert!(!docs.contains("<script>") && !docs.contains(" style="));
    assert!(b.page("/console/links").await.contains("Share a document"));
    assert!(b.page("/console/audit").await.contains("Chain verified"));
    assert!(b.page("/console/review").await.contains("No hits yet"));
    let css = b.get("/console/static/console.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let js = b.get("/console/static/console.js").await;
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}

#[tokio::test]
async fn form_posts_without_the_session_csrf_token_are_refused() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let link = s.link(|_| {}).await;
    let form = [
        ("document", s.doc.id.as_str()),
        ("recipient", "bob@supplier.example"),
        ("expires_days", "3"),
    ];
    assert_eq!(b.post("/console/links", &form).await.status(), 403);
    let mut forged = form.to_vec();
    forged.push(("csrf", "00000000000000000000000000000000"));
    assert_eq!(b.post("/console/links", &forged).await.status(), 403);
    let revoke = format!("/console/links/{}/revoke", link.link.id);
    assert_eq!(b.post(&revoke, &[]).await.status(), 403);
    assert!(
        s.state
            .store
            .link(s.org, &link.link.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let upload = b
        .client
        .post(format!("{}/console/documents/upload?title=x", s.base))
        .header("cookie", &b.cookie)
        .body("%PDF-1.7 hello")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403);
    // Another session's token does not work either.
    let other = {
        let r = client()
            .post(format!("{}/console/login", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string([("email", OWNER), ("password", PASSWORD)]).unwrap())
            .send()
            .await
            .unwrap();
        let c = r.headers()["set-cookie"].to_str().unwrap();
        Browser {
            client: client(),
            base: s.base.clone(),
            cookie: c.split(';').next().unwrap().to_owned(),
        }
    };
    let other_token = other.csrf().await;
    assert_ne!(other_token, b.csrf().await);
    assert_eq!(
        b.post(&revoke, &[("csrf", &other_token)]).await.status(),
        403
    );
}

#[tokio::test]
async fn links_are_created_shown_once_and_revoked_with_one_click() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let csrf = b.csrf().await;
    let r = b
        .post(
            "/console/links",
            &[
                ("csrf", &csrf),
                ("document", &s.doc.id),
                ("recipient", "bob@supplier.example"),
                ("expires_days", "3"),
                ("max_views", "5"),
                ("passcode", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("{}/v/", s.base)),
        "the link is shown"
    );
    assert!(html.contains("new-pass"), "the passcode is shown");
    let links = s.state.store.list_links(s.org).await.unwrap();
    let l = &links[0];
    assert_eq!(l.recipient, "bob@supplier.example");
    assert_eq!(l.max_views, Some(5));
    assert!(l.has_passcode);
    // Bad input comes back as a message on the page.
    let bad = b
        .post(
            "/console/links",
            &[
                ("csrf", &csrf),
                ("document", &s.doc.id),
                ("recipient", "not-an-address"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("class=\"alert error\""));
    let r = b
        .post(
            &format!("/console/links/{}/revoke", l.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        s.state
            .store
            .link(s.org, &l.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(b.page("/console/links").await.contains("Revoked"));
}

#[tokio::test]
async fn uploads_are_sealed_and_listed() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let csrf = b.csrf().await;
    let r = b
        .client
        .post(format!(
            "{}/console/documents/upload?title=Hinge%20%3Cv2%3E",
            s.base
        ))
        .header("cookie", &b.cookie)
        .header("x-csrf-token", &csrf)
        .body(b"%PDF-1.7\n% a hinge\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let docs = b.page("/console/documents").await;
    assert!(docs.contains("Hinge &lt;v2&gt;"), "titles are escaped");
}

#[tokio::test]
async fn audit_filters_export_and_show_chain_status() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let link = s
        .link(|l| l.recipient = "carol@supplier.example".into())
        .await;
    s.state
        .revoke(
            &link.link.id,
            &s.operator(),
            &veilmark_server::service::ClientMeta::cli(),
        )
        .await
        .unwrap();
    let html = b.page("/console/audit?event=revoke").await;
    assert!(html.contains("1 matching entries"), "{html}");
    let csv = b
        .get("/console/audit/export?format=csv&recipient=carol")
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(
        csv.contains("link-created") && csv.contains("revoke"),
        "{csv}"
    );
    assert!(!csv.contains("owner-login"), "filtered by recipient");
    let json: serde_json::Value = b
        .get("/console/audit/export?format=json&event=owner-login")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    let future = b.page("/console/audit?from=2999-01-01").await;
    assert!(future.contains("0 matching entries"));
}

// ---- Review console -------------------------------------------------------------------------

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR found-image-bytes";
const REF_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR reference-image-bytes";

/// One planted hit: its listing text and where its evidence is.
#[derive(Default)]
struct Planted<'a> {
    title: &'a str,
    seller: &'a str,
    page_url: &'a str,
    marketplace: &'a str,
    fetched_at: &'a str,
    distance: i64,
    reference_id: i64,
    watermark_session: Option<String>,
    /// Stored instead of the real evidence file (a tampered row).
    warc_file: Option<&'a str>,
}

/// Plants hits through the evidence store the crawler writes to (catalog reference, run, WARC
/// records, hits) and returns their ids in order.
async fn plant(s: &TestServer, planted: &[Planted<'_>]) -> Vec<i64> {
    let ev = &s.state.evidence(s.org);
    let (run, _) = ev.resume_or_start_run("shop").await.unwrap();
    let mut warc = ev.warc_writer(run).unwrap();
    let page_headers = vec![("Content-Type".to_owned(), "text/html".to_owned())];
    let image_headers = vec![("Content-Type".to_owned(), "image/png".to_owned())];
    let mut ids = Vec::new();
    for p in planted {
        let page_off = warc
            .write_response(&HttpRecord {
                url: p.page_url,
                fetched_at: p.fetched_at,
                status: 200,
                headers: &page_headers,
                body: b"<html>listing</html>",
            })
            .unwrap();
        let img_off = warc
            .write_response(&HttpRecord {
                url: "http://shop.example/i/1.png",
                fetched_at: p.fetched_at,
                status: 200,
                headers: &image_headers,
                body: PNG,
            })
            .unwrap();
        let hit = HitRecord {
            marketplace: p.marketplace.to_owned(),
            page_url: p.page_url.to_owned(),
            image_url: "http://shop.example/i/1.png".to_owned(),
            image_sha256: "ab".to_owned(),
            fetched_at: p.fetched_at.to_owned(),
            http_status: 200,
            http_headers: serde_json::json!({}),
            listing_title: Some(p.title.to_owned()),
            listing_price: Some("<i>9.99</i>".to_owned()),
            listing_seller: Some(p.seller.to_owned()),
            reference_id: Some(p.reference_id),
            sku: Some("BRK-100".to_owned()),
            hash_kind: Some("pdq".to_owned()),
            distance: Some(p.distance),
            transform: None,
            window: None,
            watermark_session: p.watermark_session.clone(),
            warc_file: p.warc_file.unwrap_or(warc.relative_path()).to_owned(),
            warc_page_offset: Some(i64::try_from(page_off).unwrap()),
            warc_image_offset: i64::try_from(img_off).unwrap(),
        };
        assert!(ev.insert_hit(run, &hit).await.unwrap());
        let newest = ev.reviewed_hits(1).await.unwrap();
        ids.push(newest[0].id);
    }
    ids
}

/// Adds the catalog reference hits point at: the image at `source_path` (as `catalog add`
/// stores what it was given); returns its id.
async fn add_reference(s: &TestServer, source_path: &str) -> i64 {
    let (id, _) = s
        .state
        .evidence(s.org)
        .add_reference(&NewReference {
            sku: "BRK-100",
            title: Some("Bracket"),
            source_path,
            sha256: source_path,
            width: 10,
            height: 10,
            pdq_quality: 100,
            pdq: Vec::new(),
            phash: Vec::new(),
            pdq_windows: Vec::new(),
        })
        .await
        .unwrap();
    id
}

/// Plants three hits with hostile text; returns their ids.
async fn plant_hits(s: &TestServer) -> Vec<i64> {
    let ref_path = s.dir.path().join("reference.png");
    std::fs::write(&ref_path, REF_PNG).unwrap();
    let reference = add_reference(s, ref_path.to_str().unwrap()).await;
    let hostile = [
        (
            "<script>alert('title')</script>",
            "\"><img src=x onerror=alert(1)>",
            "javascript:alert(document.cookie)",
            "shop-a",
            "2026-11-20T10:00:00Z",
        ),
        (
            "Bracket BRK-100 \"original\"",
            "<b>Seller & Co</b>",
            "https://shop.example/p/1?a=1&b=\"2\"",
            "shop-b",
            "2026-11-21T10:00:00Z",
        ),
        (
            "Plain listing",
            "Honest Seller",
            "https://shop.example/p/3",
            "shop-a",
            "2026-11-22T10:00:00Z",
        ),
    ];
    let planted: Vec<Planted<'_>> = hostile
        .iter()
        .zip(0i64..)
        .map(
            |(&(title, seller, page_url, marketplace, fetched_at), i)| Planted {
                title,
                seller,
                page_url,
                marketplace,
                fetched_at,
                distance: i * 10 + 8,
                reference_id: reference,
                ..Planted::default()
            },
        )
        .collect();
    plant(s, &planted).await
}

#[tokio::test]
async fn crawled_text_renders_as_text_never_as_markup() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    plant_hits(&s).await;
    let html = b.page("/console/review?state=all").await;
    // Planted markup appears only escaped.
    assert!(html.contains("&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("&lt;b&gt;Seller &amp; Co&lt;/b&gt;"));
    assert!(html.contains("&lt;i&gt;9.99&lt;/i&gt;"));
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<b>Seller"));
    // The page's only script is the external console.js.
    assert_eq!(html.matches("<script").count(), 1);
    // A `javascript:` page URL is shown as text, never as a link.
    assert!(!html.contains("href=\"javascript:"));
    assert!(html.contains("<span class=\"url\">javascript:alert(document.cookie)</span>"));
    // Real page URLs are links that leak nothing and carry no ranking.
    assert!(html.contains(
        "href=\"https://shop.example/p/1?a=1&amp;b=&quot;2&quot;\" rel=\"noopener noreferrer nofollow\""
    ));
    // Filters and sorting.
    let one = b.page("/console/review?state=all&marketplace=shop-b").await;
    assert!(one.contains("1 hits") && one.contains("Bracket BRK-100"));
    let q = b.page("/console/review?state=all&q=honest").await;
    assert!(q.contains("1 hits") && q.contains("Honest Seller"));
    let sorted = b.page("/console/review?state=all&sort=distance").await;
    let first = sorted.find("hit-1\"").unwrap();
    let last = sorted.find("hit-3\"").unwrap();
    assert!(first < last, "closest match first");
}

#[tokio::test]
async fn hits_are_confirmed_dismissed_and_noted_one_by_one_and_in_bulk() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let ids = plant_hits(&s).await;
    let csrf = b.csrf().await;
    let (a, c, d) = (ids[0].to_string(), ids[1].to_string(), ids[2].to_string());
    // Without the token: refused, nothing changes.
    let r = b
        .post("/console/review", &[("action", "confirm"), ("id", &a)])
        .await;
    assert_eq!(r.status(), 403);
    let r = b
        .post(
            "/console/review",
            &[
                ("csrf", &csrf),
                ("action", "confirm"),
                ("id", &a),
                ("id", &c),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = b
        .post(
            "/console/review",
            &[
                ("csrf", &csrf),
                ("action", "dismiss"),
                ("id", &d),
                ("note", "genuine reseller"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = b
        .post(
            "/console/review",
            &[
                ("csrf", &csrf),
                ("action", "note"),
                ("id", &a),
                ("note", "<takedown sent>"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let hits = veilmark_server::http::console::review::all_hits(&s.state, s.org)
        .await
        .unwrap();
    let by_id = |id: i64| hits.iter().find(|h| h.id == id).unwrap();
    assert_eq!(by_id(ids[0]).review_state, "confirmed");
    assert_eq!(by_id(ids[0]).note, "<takedown sent>");
    assert_eq!(by_id(ids[1]).review_state, "confirmed");
    assert_eq!(by_id(ids[2]).review_state, "dismissed");
    assert_eq!(by_id(ids[2]).note, "genuine reseller");
    // The open queue is empty; the confirmed view charts them and groups sellers.
    assert!(b.page("/console/review").await.contains("No hits match"));
    let confirmed = b.page("/console/review?state=confirmed").await;
    assert!(confirmed.contains("2 hits"));
    assert!(confirmed.contains("<svg class=\"chart\""));
    assert!(confirmed.contains("value=\"&lt;takedown sent&gt;\""));
    assert!(confirmed.contains("shop-a · 2026-11-20") || confirmed.contains("2026-11-20 · shop-a"));
}

#[tokio::test]
async fn images_are_served_by_hit_id_with_an_image_type() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let ids = plant_hits(&s).await;
    let found = b
        .get(&format!("/console/review/image/{}/found", ids[0]))
        .await;
    assert_eq!(found.status(), 200);
    assert_eq!(found.headers()["content-type"], "image/png");
    assert_eq!(found.headers()["x-content-type-options"], "nosniff");
    assert_eq!(found.bytes().await.unwrap().as_ref(), PNG);
    let reference = b
        .get(&format!("/console/review/image/{}/reference", ids[0]))
        .await;
    assert_eq!(reference.bytes().await.unwrap().as_ref(), REF_PNG);
    // A catalog path stored relative (as `catalog add` was given it) is found in the data dir.
    let relative = add_reference(&s, "reference.png").await;
    let relative_hit = plant(
        &s,
        &[Planted {
            title: "Relative",
            seller: "Seller",
            page_url: "https://shop.example/p/9",
            marketplace: "shop-a",
            fetched_at: "2026-11-23T10:00:00Z",
            distance: 4,
            reference_id: relative,
            ..Planted::default()
        }],
    )
    .await[0];
    let reference = b
        .get(&format!("/console/review/image/{relative_hit}/reference"))
        .await;
    assert_eq!(reference.bytes().await.unwrap().as_ref(), REF_PNG);
    assert_eq!(b.get("/console/review/image/999/found").await.status(), 404);
    assert_eq!(
        b.get(&format!("/console/review/image/{}/..%2f..%2fetc", ids[0]))
            .await
            .status(),
        404
    );
    // A hit whose WARC path points outside the evidence folder is refused.
    let outside = plant(
        &s,
        &[Planted {
            title: "Tampered",
            page_url: "https://shop.example/p/10",
            marketplace: "shop-a",
            fetched_at: "2026-11-23T10:00:00Z",
            reference_id: relative,
            warc_file: Some("../veilmark.db"),
            ..Planted::default()
        }],
    )
    .await[0];
    assert_eq!(
        b.get(&format!("/console/review/image/{outside}/found"))
            .await
            .status(),
        404
    );
    // Without a session: no image.
    let anon = client()
        .get(format!("{}/console/review/image/{}/found", s.base, ids[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 303);
}

#[tokio::test]
async fn evidence_bundles_carry_a_manifest_that_verifies() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let ids = plant_hits(&s).await;
    let r = b
        .get(&format!(
            "/console/review/bundle?id={}&id={}",
            ids[0], ids[1]
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        files.insert(f.name().unwrap().into_owned(), buf);
    }
    let manifest = String::from_utf8(files["MANIFEST.sha256"].clone()).unwrap();
    let mut listed = 0;
    for line in manifest.lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        assert_eq!(hex::encode(Sha256::digest(&files[name])), sum, "{name}");
        listed += 1;
    }
    assert_eq!(listed, files.len() - 1, "every file is in the manifest");
    let dir = format!("hit-{}", ids[0]);
    assert_eq!(files[&format!("{dir}/image.png")], PNG);
    assert_eq!(files[&format!("{dir}/reference.png")], REF_PNG);
    assert!(String::from_utf8_lossy(&files[&format!("{dir}/page.http")]).contains("listing"));
    assert!(files.contains_key("warc/run-1.warc"));
    let record: serde_json::Value =
        serde_json::from_slice(&files[&format!("{dir}/hit.json")]).unwrap();
    assert_eq!(record["marketplace"], "shop-a");
    assert_eq!(record["listing_title"], serde_json::Value::Null);
    assert_eq!(record["title"], "<script>alert('title')</script>");
    // The bulk form's export action gives the same kind of bundle.
    let csrf = b.csrf().await;
    let r = b
        .post(
            "/console/review",
            &[
                ("csrf", &csrf),
                ("action", "bundle"),
                ("id", &ids[2].to_string()),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
}

#[tokio::test]
async fn a_watermark_hit_names_the_recipient_link_and_session_that_leaked_it() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    plant_hits(&s).await;
    // Alice opens a link: the licence's session code is what her frames carry.
    let link = s.link(|_| {}).await;
    let resp = s
        .request_licence(&TestServer::token(&link), &common::viewer(), None)
        .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let session = s
        .state
        .store
        .session(body["session_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    // The crawler found her session code in one listing image, and a code this server never
    // issued in another.
    let marked = |page_url, code: String| Planted {
        title: "Drawing PDF",
        seller: "drawings4less",
        page_url,
        marketplace: "shop-c",
        fetched_at: "2026-11-23T10:00:00Z",
        reference_id: 1,
        watermark_session: Some(code),
        ..Planted::default()
    };
    plant(
        &s,
        &[
            marked(
                "https://shop.example/p/20",
                format!("{:012x}", session.session_code),
            ),
            marked("https://shop.example/p/21", "ffffffffffff".to_owned()),
        ],
    )
    .await;
    let html = b.page("/console/review?state=all").await;
    assert!(
        html.contains(&format!(
            "Leaked by alice@supplier.example · link {} · session {}",
            link.link.id, session.id
        )),
        "{html}"
    );
    assert!(html.contains("Watermark session ffffffffffff (not issued by this server)"));
}

#[tokio::test]
async fn a_hostile_title_seller_and_marketplace_render_escaped_everywhere_on_the_page() {
    let s = start(relaxed()).await;
    let b = log_in(&s).await;
    let reference = add_reference(&s, "reference.png").await;
    let ids = plant(
        &s,
        &[Planted {
            title: "<script>alert(1)</script>\"onmouseover=alert(2)",
            seller: "\"onmouseover=alert(3) x=\"<script>alert(1)</script>",
            page_url: "https://shop.example/p/30",
            marketplace: "<svg onload=alert(4)>",
            fetched_at: "2026-11-23T10:00:00Z",
            reference_id: reference,
            ..Planted::default()
        }],
    )
    .await;
    // Confirmed, so the marketplace also lands in the chart and its legend.
    let csrf = b.csrf().await;
    let r = b
        .post(
            "/console/review",
            &[
                ("csrf", &csrf),
                ("action", "confirm"),
                ("id", &ids[0].to_string()),
                ("note", "\"onmouseover=alert(5)"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = b.page("/console/review?state=all").await;
    // Title (label), seller (cell and sellers table), marketplace (cell, filter, chart), note.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=alert(2)</label>")
    );
    assert!(html.contains(
        "<dd>&quot;onmouseover=alert(3) x=&quot;&lt;script&gt;alert(1)&lt;/script&gt;</dd>"
    ));
    assert!(html.contains("<dd>&lt;svg onload=alert(4)&gt;</dd>"));
    assert!(html.contains("<option value=\"&lt;svg onload=alert(4)&gt;\">"));
    assert!(html.contains("<svg class=\"chart\""));
    assert!(html.contains("· &lt;svg onload=alert(4)&gt;: 1</title>"));
    assert!(html.contains("value=\"&quot;onmouseover=alert(5)\""));
    // Nothing of it is markup or an attribute.
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("\"onmouseover="));
    assert!(!html.contains("<svg onload"));
    assert_eq!(html.matches("<script").count(), 1);
}
