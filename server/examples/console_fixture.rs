//! A server with a sealed document, links and planted crawler hits (some carrying hostile
//! markup), for the console's browser test (`tests/e2e/console/`) and its screenshots.
//!
//! `cargo run -p veilmark-server --example console_fixture -- DATA_DIR PORT` prints
//! `READY http://127.0.0.1:PORT` once it listens. Log in as `owner@brand.example` with the
//! password `correct horse battery`.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, Result};
use image::{ImageFormat, Rgb, RgbImage};
use tokio::net::TcpListener;
use veilmark_server::http::console::review::set_review;
use veilmark_server::service::{ClientMeta, NewLink};
use veilmark_server::{AppState, Config};

const OWNER: &str = "owner@brand.example";
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

fn warc_record(url: &str, block: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n\
         Content-Type: application/http;msgtype=response\r\nContent-Length: {}\r\n\r\n",
        block.len()
    )
    .into_bytes();
    r.extend_from_slice(block);
    r.extend_from_slice(b"\r\n\r\n");
    r
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

async fn plant(state: &AppState, dir: &Path) -> Result<()> {
    let pool = state.store.sqlite_pool().context("embedded store")?;
    sqlx::raw_sql(include_str!(
        "../../crawler/migrations/1001_catalog_and_hits.sql"
    ))
    .execute(&pool)
    .await?;
    let ref_path = dir.join("reference-brk-100.png");
    std::fs::write(
        &ref_path,
        part_image([31, 78, 140], [245, 247, 250], false)?,
    )?;
    sqlx::query(
        "INSERT OR IGNORE INTO catalog_reference (id, sku, title, source_path, sha256, width, \
         height, pdq_quality, pdq, phash, pdq_windows, added_at) VALUES (1, 'BRK-100', \
         'Mounting bracket', ?, '-', 240, 240, 100, '', '', '', '2026-11-01T00:00:00Z')",
    )
    .bind(ref_path.to_string_lossy().as_ref())
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT OR IGNORE INTO crawl_run (id, profile, started_at, state) \
         VALUES (1, 'fixture', '2026-11-18T00:00:00Z', 'finished')",
    )
    .execute(&pool)
    .await?;
    std::fs::create_dir_all(dir.join("evidence"))?;
    let mut warc = Vec::new();
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
        let page_off = warc.len();
        warc.extend(warc_record(
            &page_url,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><h1>{title}</h1></html>"
            )
            .as_bytes(),
        ));
        let img_off = warc.len();
        let mut block = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n".to_vec();
        block.extend(part_image(*ink, [255, 255, 255], i % 2 == 1)?);
        warc.extend(warc_record(&format!("{page_url}/image.png"), &block));
        sqlx::query(
            "INSERT OR IGNORE INTO crawl_hit (dedup_key, run_id, marketplace, page_url, image_url, \
             image_sha256, fetched_at, http_status, http_headers, listing_title, listing_price, \
             listing_seller, reference_id, sku, hash_kind, distance, watermark_session, warc_file, \
             warc_page_offset, warc_image_offset, created_at) VALUES (?, 1, ?, ?, ?, '-', ?, 200, \
             '{}', ?, ?, ?, ?, ?, ?, ?, ?, 'evidence/run-1.warc', ?, ?, ?)",
        )
        .bind(format!("fixture-{i}"))
        .bind(market)
        .bind(&page_url)
        .bind(format!("{page_url}/image.png"))
        .bind(at)
        .bind(title)
        .bind(price)
        .bind(seller)
        .bind(distance.map(|_| 1i64))
        .bind(distance.map(|_| "BRK-100"))
        .bind(distance.map(|_| "pdq"))
        .bind(distance)
        .bind(session)
        .bind(i64::try_from(page_off)?)
        .bind(i64::try_from(img_off)?)
        .bind(at)
        .execute(&pool)
        .await?;
    }
    std::fs::write(dir.join("evidence/run-1.warc"), warc)?;
    // Two confirmed already, so the chart has something to show.
    set_review(state, &[1, 2], Some("confirmed"), None, OWNER)
        .await
        .map_err(|_| anyhow::anyhow!("review"))?;
    set_review(state, &[6], Some("confirmed"), Some("takedown sent"), OWNER)
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
    if state.store.owner_by_email(OWNER).await?.is_none() {
        state.create_owner(OWNER, PASSWORD).await?;
        let mut pdf = b"%PDF-1.7\n% bracket drawing rev C\n".to_vec();
        pdf.resize(48_000, b' ');
        let doc = state
            .ingest_plaintext(
                &pdf,
                "Bracket BRK-100 drawing rev C",
                OWNER,
                &ClientMeta::cli(),
            )
            .await?;
        for (who, views, pass) in [
            ("alice@supplier.example", Some(20), false),
            ("bob@machining.example", None, true),
        ] {
            let req = NewLink {
                document_id: doc.id.clone(),
                recipient: who.into(),
                expires_in_secs: Some(7 * 86_400),
                max_views: views,
                passcode: pass,
            };
            state.create_link(&req, OWNER, &ClientMeta::cli()).await?;
        }
        plant(&state, &dir).await?;
    }
    println!("READY http://{addr}");
    veilmark_server::serve(state, listener).await
}
