//! A server with a sealed document, links and planted crawler hits (some carrying hostile
//! markup), for the console's browser test (`tests/e2e/console/`) and its screenshots.
//!
//! `cargo run -p veilmark-server --example console_fixture -- DATA_DIR PORT` prints
//! `READY http://127.0.0.1:PORT` once it listens. Log in as `owner@brand.example` (admin of
//! `default`) with the password `correct horse battery`; `reviewer@`, `auditor@` and
//! `editor@brand.example` (owner role) have the same password, and `admin@other.example` is
//! the admin of a second organisation, `Other Brand`.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, Result};
use image::{ImageFormat, Rgb, RgbImage};
use tokio::net::TcpListener;
use veilmark_server::http::console::review::set_review;
use veilmark_server::service::{Actor, ClientMeta, NewLink};
use veilmark_server::{AppState, Config};
use veilmark_store::evidence::{HitRecord, NewReference};
use veilmark_store::tenancy::{DEFAULT_ORG, Role};
use veilmark_store::warc::HttpRecord;

const OWNER: &str = "owner@brand.example";
const REVIEWER: &str = "reviewer@brand.example";
const AUDITOR: &str = "auditor@brand.example";
const EDITOR: &str = "editor@brand.example";
const OTHER_ORG: &str = "Other Brand";
const OTHER_ADMIN: &str = "admin@other.example";
const PASSWORD: &str = "correct horse battery";

/// A bracket-like drawing: an L shape with holes, in `ink` on `paper`, with an optional frame.
fn part_image(ink: [u8; 3], paper: [u8; 3], frame: bool) -> Result<Vec<u8>> {
    let mut img = RgbImage::from_pixel(240, 240, Rgb(paper));
    for (x, y, p) in img.enumerate_pixels_mut() {
        let l_shape = (40..90).contains(&x) && (30..210).contains(&y)
            || (40..200).contains(&x) && (160..210).contains(&y);
        let hole = |cx: i64, cy: i64| {
            let (dx, dy) = (i64::from(x) - cx, i64::from(y) - cy);
            dx * dx + dy * dy < 110
        };
        if l_shape && !hole(65, 70) && !hole(65, 120) && !hole(150, 185) {
            *p = Rgb(ink);
        }
        if frame && (x < 12 || y < 12 || x >= 228 || y >= 228) {
            *p = Rgb([30, 30, 30]);
        }
    }
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// Marketplace, title, seller, price, fetched at, distance, watermark session, image colour.
type Planted = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
    Option<&'static str>,
    [u8; 3],
);

/// Plants a catalog reference, a crawl run with WARC evidence and hits, through the same
/// evidence store the crawler writes to.
async fn plant(state: &AppState, dir: &Path) -> Result<()> {
    let org = state.org_named(DEFAULT_ORG).await?.id;
    let ev = &state.evidence(org);
    let ref_path = dir.join("reference-brk-100.png");
    std::fs::write(
        &ref_path,
        part_image([31, 78, 140], [245, 247, 250], false)?,
    )?;
    let (reference, _) = ev
        .add_reference(&NewReference {
            sku: "BRK-100",
            title: Some("Mounting bracket"),
            source_path: &ref_path.to_string_lossy(),
            sha256: "-",
            width: 240,
            height: 240,
            pdq_quality: 100,
            pdq: Vec::new(),
            phash: Vec::new(),
            pdq_windows: Vec::new(),
        })
        .await?;
    let (run, _) = ev.resume_or_start_run("fixture").await?;
    let mut warc = ev.warc_writer(run)?;
    let mut ids = Vec::new();
    let hits: [Planted; 7] = [
        (
            "partsbazaar",
            "BRK-100 mounting bracket, CNC steel",
            "Metalworks Outlet",
            "$18.90",
            "2026-11-18T09:12:00Z",
            Some(6),
            None,
            [31, 78, 140],
        ),
        (
            "partsbazaar",
            "Bracket L-type 3 holes (copy)",
            "Metalworks Outlet",
            "$14.00",
            "2026-11-19T11:40:00Z",
            Some(18),
            None,
            [60, 90, 150],
        ),
        (
            "shopmarket",
            "<script>window.__pwned=1</script>Heavy bracket",
            "\"><img src=x onerror=\"window.__pwned=2\">",
            "€12",
            "2026-11-19T15:05:00Z",
            Some(22),
            None,
            [31, 78, 140],
        ),
        (
            "shopmarket",
            "Engineering drawing PDF – bracket rev C",
            "drawings4less",
            "$5",
            "2026-11-20T08:30:00Z",
            None,
            Some("5f3a9c21"),
            [120, 120, 120],
        ),
        (
            "tradehub",
            "Steel bracket set",
            "javascript:window.__pwned=3",
            "£9.50",
            "2026-11-21T10:00:00Z",
            Some(31),
            None,
            [140, 60, 40],
        ),
        (
            "tradehub",
            "Wall bracket black",
            "Hardware & Sons <b>",
            "£7.10",
            "2026-11-22T10:00:00Z",
            Some(9),
            None,
            [20, 20, 20],
        ),
        (
            "partsbazaar",
            "Mounting bracket BRK100",
            "Cheap Parts Co",
            "$11.00",
            "2026-11-22T16:20:00Z",
            Some(12),
            None,
            [31, 78, 140],
        ),
    ];
    for (i, (market, title, seller, price, at, distance, session, ink)) in hits.iter().enumerate() {
        let page_url = if i == 4 {
            "javascript:window.__pwned=4".to_owned()
        } else {
            format!("https://{market}.example/listing/{}", 1000 + i)
        };
        let page_off = warc.write_response(&HttpRecord {
            url: &page_url,
            fetched_at: at,
            status: 200,
            headers: &[("Content-Type".to_owned(), "text/html".to_owned())],
            body: format!("<html><h1>{title}</h1></html>").as_bytes(),
        })?;
        let image_url = format!("{page_url}/image.png");
        let img_off = warc.write_response(&HttpRecord {
            url: &image_url,
            fetched_at: at,
            status: 200,
            headers: &[("Content-Type".to_owned(), "image/png".to_owned())],
            body: &part_image(*ink, [255, 255, 255], i % 2 == 1)?,
        })?;
        let hit = HitRecord {
            marketplace: (*market).to_owned(),
            page_url: page_url.clone(),
            image_url,
            image_sha256: format!("fixture-{i}"),
            fetched_at: (*at).to_owned(),
            http_status: 200,
            http_headers: serde_json::json!({}),
            listing_title: Some((*title).to_owned()),
            listing_price: Some((*price).to_owned()),
            listing_seller: Some((*seller).to_owned()),
            reference_id: distance.map(|_| reference),
            sku: distance.map(|_| "BRK-100".to_owned()),
            hash_kind: distance.map(|_| "pdq".to_owned()),
            distance: *distance,
            transform: None,
            window: None,
            watermark_session: session.map(str::to_owned),
            warc_file: warc.relative_path().to_owned(),
            warc_page_offset: Some(i64::try_from(page_off)?),
            warc_image_offset: i64::try_from(img_off)?,
        };
        ev.insert_hit(run, &hit).await?;
        ids.push(ev.reviewed_hits(1).await?[0].id);
    }
    // Two confirmed already, so the chart has something to show.
    set_review(state, org, &ids[..2], Some("confirmed"), None, OWNER)
        .await
        .map_err(|_| anyhow::anyhow!("review"))?;
    set_review(
        state,
        org,
        &ids[5..6],
        Some("confirmed"),
        Some("takedown sent"),
        OWNER,
    )
    .await
    .map_err(|_| anyhow::anyhow!("review"))?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().context("usage: DATA_DIR PORT")?);
    let port: u16 = args.next().context("usage: DATA_DIR PORT")?.parse()?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let mut config = Config::new(&dir);
    config.public_url = format!("http://{addr}");
    config.www_dir = None;
    let state = AppState::open(config).await?;
    if state.store.account_by_email(OWNER).await?.is_none() {
        state.create_owner(OWNER, PASSWORD).await?;
        let owner = Actor::account(&state.account_named(OWNER).await?);
        let mut pdf = b"%PDF-1.7\n% bracket drawing rev C\n".to_vec();
        pdf.resize(48_000, b' ');
        let doc = state
            .ingest_plaintext(
                &pdf,
                "Bracket BRK-100 drawing rev C",
                None,
                &owner,
                &ClientMeta::cli(),
            )
            .await?;
        let mut bob = None;
        for (who, views, pass) in [
            ("alice@supplier.example", Some(20), false),
            ("bob@machining.example", None, true),
        ] {
            let req = NewLink {
                document_id: doc.id.clone(),
                recipient: who.into(),
                expires_in_secs: Some(7 * 86_400),
                max_views: views,
                passcode: Some(pass),
                pages: None,
                parts: None,
            };
            bob = Some(
                state
                    .create_link(&req, &owner, &ClientMeta::cli())
                    .await?
                    .link,
            );
        }
        plant(&state, &dir).await?;
        // An unusual-access alert on bob's link, its text hostile (it carries what a client
        // sent): the Alerts page must show it as text.
        let bob = bob.expect("bob's link");
        let alert = veilmark_store::alerts::AlertRecord {
            id: "alr_00000000000000a1".into(),
            org: owner.org,
            kind: veilmark_store::alerts::AlertKind::NewNetwork,
            link_id: bob.id.clone(),
            recipient: bob.recipient.clone(),
            detail: "first opening from 198.51.100.0/24 <img src=x onerror=window.__pwned=1>"
                .into(),
            ip: Some("198.51.100.7".into()),
            created_at: veilmark_server::now_secs(),
            acknowledged_at: None,
            acknowledged_by: None,
        };
        let entry = veilmark_store::audit::NewAuditEntry {
            org: Some(owner.org),
            link_id: Some(bob.id.clone()),
            ..veilmark_store::audit::NewAuditEntry::new(
                veilmark_store::audit::AuditKind::Alert,
                veilmark_server::now_ms(),
                "planted by the console fixture",
            )
        };
        state.store.raise_alert(&alert, 0, &entry).await?;
        // The other roles of the same organisation, and a second organisation with a
        // document and a link of its own, for the tenancy and role checks.
        let org = owner.org;
        for (email, role) in [
            (REVIEWER, Role::Reviewer),
            (AUDITOR, Role::Auditor),
            (EDITOR, Role::Owner),
        ] {
            state
                .create_account(org, email, Some(PASSWORD), role)
                .await?;
        }
        let other = state.create_org(OTHER_ORG).await?;
        state
            .create_account(other, OTHER_ADMIN, Some(PASSWORD), Role::Admin)
            .await?;
        let them = Actor::account(&state.account_named(OTHER_ADMIN).await?);
        let doc = state
            .ingest_plaintext(
                b"%PDF-1.7\n% other brand's secret\n",
                "Other brand gearbox",
                None,
                &them,
                &ClientMeta::cli(),
            )
            .await?;
        let req = NewLink {
            document_id: doc.id.clone(),
            recipient: "carol@supplier.example".into(),
            expires_in_secs: Some(7 * 86_400),
            max_views: None,
            passcode: None,
            pages: None,
            parts: None,
        };
        state.create_link(&req, &them, &ClientMeta::cli()).await?;
    }
    println!("READY http://{addr}");
    veilmark_server::serve(state, listener).await
}
