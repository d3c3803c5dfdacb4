//! The review console: crawler hits beside their reference images, confirm / dismiss / note one
//! by one or in bulk, sellers grouped, a chart of confirmed hits, and evidence bundles.
//!
//! Hits, catalog references, review state and WARC evidence are read and written through
//! [`veilmark_store::Evidence`] (`state.evidence`); this module names no table and no path.
//! Everything a marketplace wrote (titles, sellers, prices, URLs) is untrusted: it is escaped
//! everywhere, and URLs become links only when they are `http(s)`. Images are served by hit id,
//! never by a path from the request, with a sniffed image Content-Type (anything else is
//! refused) and `nosniff`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path as FsPath;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use veilmark_store::evidence::ReviewedHit;

use super::html::{Tab, csrf_field, esc, page as frame, safe_http_url};
use super::{Form, Session, require, require_post};
use crate::{AppError, AppState, now_secs};

/// A hit as the console shows and exports it.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// `crawl_hit.id`.
    pub id: i64,
    /// Marketplace (profile name).
    pub marketplace: String,
    /// Listing page URL.
    pub page_url: String,
    /// Image URL.
    pub image_url: String,
    /// SHA-256 of the image bytes.
    pub image_sha256: String,
    /// When the image was fetched (RFC 3339).
    pub fetched_at: String,
    /// Listing title.
    pub title: Option<String>,
    /// Listing price as written.
    pub price: Option<String>,
    /// Seller.
    pub seller: Option<String>,
    /// Matched reference.
    pub reference_id: Option<i64>,
    /// Matched SKU.
    pub sku: Option<String>,
    /// Hash that matched.
    pub hash_kind: Option<String>,
    /// Hamming distance.
    pub distance: Option<i64>,
    /// Decoded watermark session, if any.
    pub watermark_session: Option<String>,
    /// Who leaked it: the recipient, link and session the watermark code maps to on this
    /// server (filled for watermark hits whose session this server issued).
    pub leaked_by: Option<LeakTrace>,
    /// WARC file (relative to the data directory).
    #[serde(skip)]
    pub warc_file: String,
    /// Offset of the page record.
    #[serde(skip)]
    pub warc_page_offset: Option<i64>,
    /// Offset of the image record.
    #[serde(skip)]
    pub warc_image_offset: i64,
    /// `new`, `confirmed` or `dismissed`.
    pub review_state: String,
    /// Reviewer's note.
    pub note: String,
}

impl Hit {
    /// Match confidence in percent from the Hamming distance (PDQ has 256 bits, pHash 64).
    #[must_use]
    pub fn confidence(&self) -> Option<i64> {
        let bits = if self.hash_kind.as_deref() == Some("phash") {
            64
        } else {
            256
        };
        self.distance.map(|d| (100 - d * 100 / bits).clamp(0, 100))
    }
}

/// Most hits the console loads at once.
const MAX_HITS: u32 = 5000;

fn hit_from(r: ReviewedHit) -> Hit {
    let h = r.hit;
    Hit {
        id: r.id,
        marketplace: h.marketplace,
        page_url: h.page_url,
        image_url: h.image_url,
        image_sha256: h.image_sha256,
        fetched_at: h.fetched_at,
        title: h.listing_title,
        price: h.listing_price,
        seller: h.listing_seller,
        reference_id: h.reference_id,
        sku: h.sku,
        hash_kind: h.hash_kind,
        distance: h.distance,
        watermark_session: h.watermark_session,
        leaked_by: None,
        warc_file: h.warc_file,
        warc_page_offset: h.warc_page_offset,
        warc_image_offset: h.warc_image_offset,
        review_state: r.review_state,
        note: r.note,
    }
}

/// The link and recipient behind a watermark session code.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeakTrace {
    /// Recipient of the link the session was opened through.
    pub recipient: String,
    /// The link (`lnk_…`).
    pub link_id: String,
    /// The viewing session (32 hex digits).
    pub session_id: String,
    /// When the session was opened (RFC 3339).
    pub opened_at: String,
}

/// Maps each watermark hit's session code to the link and recipient that leaked it.
async fn trace_leaks(state: &AppState, hits: &mut [Hit]) -> Result<(), AppError> {
    for h in hits.iter_mut() {
        let Some(code) = h
            .watermark_session
            .as_deref()
            .and_then(|c| u64::from_str_radix(c, 16).ok())
        else {
            continue;
        };
        let Some(session) = state.store.session_by_code(code).await? else {
            continue;
        };
        if let Some(link) = state.store.link(&session.link_id).await? {
            h.leaked_by = Some(LeakTrace {
                recipient: link.recipient,
                link_id: link.id,
                session_id: session.id,
                opened_at: crate::rfc3339(session.created_at),
            });
        }
    }
    Ok(())
}

/// All hits (newest first), or none when no crawl has run against this database.
pub async fn all_hits(state: &AppState) -> Result<Vec<Hit>, AppError> {
    let rows = state.evidence.reviewed_hits(MAX_HITS).await?;
    let mut hits: Vec<Hit> = rows.into_iter().map(hit_from).collect();
    trace_leaks(state, &mut hits).await?;
    Ok(hits)
}

async fn hit(state: &AppState, id: i64) -> Result<Hit, AppError> {
    let row = state
        .evidence
        .reviewed_hit(id)
        .await?
        .ok_or(AppError::NotFound("hit"))?;
    let mut found = [hit_from(row)];
    trace_leaks(state, &mut found).await?;
    let [found] = found;
    Ok(found)
}

/// Sets the review state (and, if given, the note) of `ids`.
pub async fn set_review(
    state: &AppState,
    ids: &[i64],
    new_state: Option<&str>,
    note: Option<&str>,
    reviewer: &str,
) -> Result<u64, AppError> {
    Ok(state
        .evidence
        .set_review(ids, new_state, note, reviewer, now_secs())
        .await?)
}

/// Review filters and sort order.
#[derive(Deserialize, Default, Clone)]
pub struct ReviewQuery {
    state: Option<String>,
    marketplace: Option<String>,
    seller: Option<String>,
    q: Option<String>,
    sort: Option<String>,
}

fn set(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ReviewQuery {
    fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("state", &self.state),
            ("marketplace", &self.marketplace),
            ("seller", &self.seller),
            ("q", &self.q),
            ("sort", &self.sort),
        ]
        .into_iter()
        .filter_map(|(k, v)| set(v).map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    fn keep(&self, h: &Hit) -> bool {
        let st = set(&self.state).unwrap_or("open");
        let state_ok = match st {
            "all" => true,
            "open" => h.review_state == "new",
            s => h.review_state == s,
        };
        let lc = |s: &Option<String>| s.as_deref().unwrap_or_default().to_lowercase();
        state_ok
            && set(&self.marketplace).is_none_or(|m| h.marketplace == m)
            && set(&self.seller).is_none_or(|s| h.seller.as_deref() == Some(s))
            && set(&self.q).is_none_or(|q| {
                let q = q.to_lowercase();
                lc(&h.title).contains(&q)
                    || lc(&h.seller).contains(&q)
                    || h.page_url.to_lowercase().contains(&q)
                    || lc(&h.sku).contains(&q)
            })
    }

    fn sort(&self, hits: &mut [Hit]) {
        match set(&self.sort).unwrap_or("newest") {
            "distance" => hits.sort_by_key(|h| (h.distance.unwrap_or(i64::MAX), -h.id)),
            "seller" => hits.sort_by(|a, b| a.seller.cmp(&b.seller).then(b.id.cmp(&a.id))),
            "marketplace" => {
                hits.sort_by(|a, b| a.marketplace.cmp(&b.marketplace).then(b.id.cmp(&a.id)));
            }
            "oldest" => hits.sort_by_key(|h| h.id),
            _ => hits.sort_by_key(|h| -h.id),
        }
    }
}

/// `GET /console/review`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReviewQuery>,
) -> Result<Html<String>, Response> {
    let s = require(&state, &headers).await?;
    let html = render(&state, &s, &q)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Html(html))
}

fn opt(v: Option<&str>) -> String {
    v.map_or_else(|| "<span class=\"muted\">—</span>".to_owned(), esc)
}

fn card(h: &Hit, csrf: &str, back: &str) -> String {
    let page_link = safe_http_url(&h.page_url).map_or_else(
        || format!("<span class=\"url\">{}</span>", esc(&h.page_url)),
        |href| {
            format!(
                "<a class=\"url\" href=\"{href}\" rel=\"noopener noreferrer nofollow\" \
                 target=\"_blank\">{}</a>",
                esc(&h.page_url)
            )
        },
    );
    let cause = match (&h.watermark_session, h.distance) {
        (Some(ws), _) => match &h.leaked_by {
            Some(t) => format!(
                "<span class=\"badge watermark\">Leaked by {} · link {} · session {} opened {}</span>",
                esc(&t.recipient),
                esc(&t.link_id),
                esc(&t.session_id),
                esc(&t.opened_at)
            ),
            None => format!(
                "<span class=\"badge watermark\">Watermark session {} (not issued by this server)</span>",
                esc(ws)
            ),
        },
        (None, Some(d)) => format!(
            "<span class=\"badge\">{} distance {d} · {}% match</span>",
            esc(h.hash_kind.as_deref().unwrap_or("hash")),
            h.confidence().unwrap_or_default()
        ),
        (None, None) => String::new(),
    };
    let reference = if h.reference_id.is_some() {
        format!(
            "<figure><img src=\"/console/review/image/{}/reference\" alt=\"Reference image {}\" \
             loading=\"lazy\" width=\"160\" height=\"160\"><figcaption>Reference {}</figcaption></figure>",
            h.id,
            esc(h.sku.as_deref().unwrap_or_default()),
            esc(h.sku.as_deref().unwrap_or_default())
        )
    } else {
        "<figure class=\"noref\"><figcaption>No reference (watermark hit)</figcaption></figure>"
            .to_owned()
    };
    format!(
        "<article class=\"hit state-{st}\" id=\"hit-{id}\" tabindex=\"-1\" data-id=\"{id}\">\
<div class=\"hit-head\"><input type=\"checkbox\" name=\"id\" value=\"{id}\" form=\"bulk\" id=\"sel-{id}\" class=\"pick\">\
<label for=\"sel-{id}\" class=\"title\">{title}</label><span class=\"badge st-{st}\">{st}</span></div>\
<div class=\"pair\"><figure><img src=\"/console/review/image/{id}/found\" alt=\"Image found on the listing\" \
loading=\"lazy\" width=\"160\" height=\"160\"><figcaption>Found</figcaption></figure>{reference}</div>\
<p>{cause}</p>\
<dl><dt>Marketplace</dt><dd>{mk}</dd><dt>Seller</dt><dd>{seller}</dd><dt>Price</dt><dd>{price}</dd>\
<dt>Found</dt><dd>{at}</dd><dt>Page</dt><dd>{page_link}</dd></dl>\
<form method=\"post\" action=\"/console/review\" class=\"hit-actions\">{csrf}\
<input type=\"hidden\" name=\"id\" value=\"{id}\"><input type=\"hidden\" name=\"back\" value=\"{back}\">\
<label for=\"note-{id}\" class=\"sr-only\">Note on hit {id}</label>\
<input id=\"note-{id}\" name=\"note\" type=\"text\" maxlength=\"2000\" value=\"{note}\" placeholder=\"Note\">\
{buttons}\
<button name=\"action\" value=\"note\" class=\"link small\">Save note</button>\
<a class=\"small\" href=\"/console/review/bundle?id={id}\" download>Evidence</a></form></article>",
        st = esc(&h.review_state),
        id = h.id,
        title = h
            .title
            .as_deref()
            .map_or_else(|| "Untitled listing".to_owned(), esc),
        mk = esc(&h.marketplace),
        seller = opt(h.seller.as_deref()),
        price = opt(h.price.as_deref()),
        at = esc(&h.fetched_at),
        note = esc(&h.note),
        csrf = csrf_field(csrf),
        back = esc(back),
        buttons = match h.review_state.as_str() {
            "confirmed" =>
                "<button name=\"action\" value=\"reopen\" class=\"small\">Reopen</button>\
                <button name=\"action\" value=\"dismiss\" class=\"small\">Dismiss</button>",
            "dismissed" =>
                "<button name=\"action\" value=\"confirm\" class=\"ok small\">Confirm</button>\
                <button name=\"action\" value=\"reopen\" class=\"small\">Reopen</button>",
            _ =>
                "<button name=\"action\" value=\"confirm\" class=\"ok small\">Confirm</button>\
                <button name=\"action\" value=\"dismiss\" class=\"small\">Dismiss</button>",
        },
    )
}

/// Confirmed hits per day and marketplace as an inline SVG stacked bar chart.
#[must_use]
pub fn chart(hits: &[Hit]) -> String {
    let mut days: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut markets: Vec<String> = Vec::new();
    for h in hits.iter().filter(|h| h.review_state == "confirmed") {
        let day = h.fetched_at.get(..10).unwrap_or(&h.fetched_at).to_owned();
        *days
            .entry(day)
            .or_default()
            .entry(h.marketplace.clone())
            .or_default() += 1;
        if !markets.contains(&h.marketplace) {
            markets.push(h.marketplace.clone());
        }
    }
    if days.is_empty() {
        return "<p class=\"empty\">No confirmed hits yet.</p>".to_owned();
    }
    markets.sort();
    const PALETTE: [&str; 6] = [
        "#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#4a5568",
    ];
    let days: Vec<_> = days.into_iter().rev().take(30).rev().collect();
    let max = days
        .iter()
        .map(|(_, m)| m.values().sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, h, left, bottom) = (320u32, 150u32, 24u32, 22u32);
    let n = u32::try_from(days.len()).unwrap_or(1);
    let slot = (w - left) / n.max(1);
    let bar = (slot * 7 / 10).max(2);
    let plot_h = h - bottom - 8;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"chart-t\">\
<title id=\"chart-t\">Confirmed hits per day by marketplace</title>\
<line x1=\"{left}\" y1=\"{y0}\" x2=\"{w}\" y2=\"{y0}\" stroke=\"#a0aec0\"/>\
<text x=\"{tx}\" y=\"14\" font-size=\"11\" text-anchor=\"end\" fill=\"#4a5568\">{max}</text>",
        y0 = h - bottom,
        tx = left - 4
    );
    for (i, (day, per)) in days.iter().enumerate() {
        let x = left + u32::try_from(i).unwrap_or(0) * slot + (slot - bar) / 2;
        let mut y = h - bottom;
        for (mi, m) in markets.iter().enumerate() {
            let c = per.get(m).copied().unwrap_or(0);
            if c == 0 {
                continue;
            }
            let bh = (c * plot_h / max).max(1);
            y -= bh;
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{bh}\" fill=\"{}\"><title>{} · {}: {c}</title></rect>",
                PALETTE[mi % PALETTE.len()],
                esc(day),
                esc(m)
            );
        }
        if days.len() <= 10 || i % (days.len() / 6).max(1) == 0 {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#4a5568\">{}</text>",
                x + bar / 2,
                h - bottom + 14,
                esc(day.get(5..).unwrap_or(day))
            );
        }
    }
    svg.push_str("</svg><ul class=\"legend\">");
    for (mi, m) in markets.iter().enumerate() {
        let _ = write!(
            svg,
            "<li><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"{}\"/></svg> {}</li>",
            PALETTE[mi % PALETTE.len()],
            esc(m)
        );
    }
    svg.push_str("</ul>");
    svg
}

async fn render(state: &AppState, s: &Session, q: &ReviewQuery) -> Result<String, AppError> {
    let all = all_hits(state).await?;
    let mut hits: Vec<Hit> = all.iter().filter(|h| q.keep(h)).cloned().collect();
    q.sort(&mut hits);
    let shown: Vec<&Hit> = hits.iter().take(200).collect();

    let mut markets: Vec<&str> = all.iter().map(|h| h.marketplace.as_str()).collect();
    markets.sort_unstable();
    markets.dedup();
    let sel = |v: Option<&str>, x: &str| if v == Some(x) { " selected" } else { "" };
    let mut mk_opts = String::from("<option value=\"\">All marketplaces</option>");
    for m in &markets {
        let _ = write!(
            mk_opts,
            "<option value=\"{}\"{}>{}</option>",
            esc(m),
            sel(set(&q.marketplace), m),
            esc(m)
        );
    }
    let st = set(&q.state).unwrap_or("open");
    let mut st_opts = String::new();
    for (v, label) in [
        ("open", "To review"),
        ("confirmed", "Confirmed"),
        ("dismissed", "Dismissed"),
        ("all", "All"),
    ] {
        let _ = write!(
            st_opts,
            "<option value=\"{v}\"{}>{label}</option>",
            sel(Some(st), v)
        );
    }
    let sort = set(&q.sort).unwrap_or("newest");
    let mut sort_opts = String::new();
    for (v, label) in [
        ("newest", "Newest first"),
        ("oldest", "Oldest first"),
        ("distance", "Closest match first"),
        ("seller", "Seller"),
        ("marketplace", "Marketplace"),
    ] {
        let _ = write!(
            sort_opts,
            "<option value=\"{v}\"{}>{label}</option>",
            sel(Some(sort), v)
        );
    }

    // Sellers grouped (over the filtered set).
    let mut sellers: BTreeMap<(&str, &str), (u32, u32)> = BTreeMap::new();
    for h in &hits {
        let e = sellers
            .entry((
                h.marketplace.as_str(),
                h.seller.as_deref().unwrap_or("(unknown)"),
            ))
            .or_default();
        e.0 += 1;
        if h.review_state == "confirmed" {
            e.1 += 1;
        }
    }
    let mut seller_rows: Vec<_> = sellers.into_iter().collect();
    seller_rows.sort_by_key(|b| std::cmp::Reverse(b.1.0));
    let mut seller_html = String::new();
    for ((m, sname), (n, c)) in seller_rows.iter().take(20) {
        let qs =
            serde_urlencoded::to_string([("seller", *sname), ("marketplace", *m), ("state", st)])
                .unwrap_or_default();
        let _ = write!(
            seller_html,
            "<tr><td><a href=\"/console/review?{}\">{}</a><br><span class=\"muted\">{}</span></td><td class=\"num\">{n}</td><td class=\"num\">{c}</td></tr>",
            esc(&qs),
            esc(sname),
            esc(m)
        );
    }

    // Where review actions return to (the Referer is not sent: `Referrer-Policy: no-referrer`).
    let back = format!("/console/review?{}", q.query_string());
    let mut cards = String::new();
    for h in &shown {
        cards.push_str(&card(h, &s.csrf, &back));
    }
    let grid = if shown.is_empty() {
        if all.is_empty() {
            "<p class=\"empty\">No hits yet. Run <code>veilmark crawl</code> to look for leaks.</p>"
                .to_owned()
        } else {
            "<p class=\"empty\">No hits match these filters.</p>".to_owned()
        }
    } else {
        format!("<div class=\"hits\" id=\"hits\">{cards}</div>")
    };
    let body = format!(
        "<h1>Review hits</h1>\
<form method=\"get\" action=\"/console/review\" class=\"filters\" role=\"search\" aria-label=\"Filter hits\">\
<div><label for=\"r-st\">State</label><select id=\"r-st\" name=\"state\">{st_opts}</select></div>\
<div><label for=\"r-mk\">Marketplace</label><select id=\"r-mk\" name=\"marketplace\">{mk_opts}</select></div>\
<div><label for=\"r-q\">Search</label><input id=\"r-q\" name=\"q\" type=\"search\" value=\"{qv}\" placeholder=\"Title, seller, URL, SKU\"></div>\
<div><label for=\"r-sort\">Sort</label><select id=\"r-sort\" name=\"sort\">{sort_opts}</select></div>\
<div class=\"actions\"><button type=\"submit\" class=\"primary\">Apply</button> <a href=\"/console/review\">Clear</a></div></form>\
<div class=\"review-layout\"><section aria-labelledby=\"hits-h\"><div class=\"toolbar\">\
<h2 id=\"hits-h\">{n} hits{more}</h2>\
<form method=\"post\" action=\"/console/review\" id=\"bulk\" class=\"bulk\">{csrf}\
<input type=\"hidden\" name=\"back\" value=\"{back_attr}\">\
<input type=\"checkbox\" id=\"select-all\" class=\"pick-all\"><label for=\"select-all\">Select all</label>\
<label for=\"bulk-note\" class=\"sr-only\">Note for selected hits</label>\
<input id=\"bulk-note\" name=\"note\" type=\"text\" placeholder=\"Note for selected\">\
<button name=\"action\" value=\"confirm\" class=\"ok small\">Confirm selected</button>\
<button name=\"action\" value=\"dismiss\" class=\"small\">Dismiss selected</button>\
<button name=\"action\" value=\"bundle\" class=\"small\">Export evidence</button></form></div>\
<p class=\"muted keys\">Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>x</kbd> select, <kbd>c</kbd> confirm, <kbd>d</kbd> dismiss.</p>\
{grid}</section><aside><section class=\"card\"><h2>Confirmed over time</h2>{chart}</section>\
<section class=\"card\"><h2>Sellers</h2><table class=\"sellers\"><thead><tr><th scope=\"col\">Seller</th>\
<th scope=\"col\" class=\"num\">Hits</th><th scope=\"col\" class=\"num\">Confirmed</th></tr></thead><tbody>{seller_html}</tbody></table></section></aside></div>",
        qv = esc(set(&q.q).unwrap_or_default()),
        n = hits.len(),
        more = if shown.len() < hits.len() {
            format!(", the first {} shown", shown.len())
        } else {
            String::new()
        },
        csrf = csrf_field(&s.csrf),
        back_attr = esc(&back),
        chart = chart(&all),
    );
    Ok(frame("Review hits", Tab::Review, s.who(), &body))
}

/// `POST /console/review`: `action` = confirm | dismiss | reopen | note | bundle, `id` repeated.
pub async fn act(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let s = match require_post(&state, &headers, form.get("csrf")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ids: Vec<i64> = form.all("id").filter_map(|v| v.parse().ok()).collect();
    if ids.is_empty() {
        return AppError::BadRequest("select at least one hit".into()).into_response();
    }
    let note = form
        .get("note")
        .map(|n| n.chars().take(2000).collect::<String>());
    let note = note.as_deref().filter(|n| !n.trim().is_empty());
    let new_state = match form.get("action") {
        Some("confirm") => Some("confirmed"),
        Some("dismiss") => Some("dismissed"),
        Some("reopen") => Some("new"),
        Some("note") => None,
        Some("bundle") => return bundle_response(&state, &ids).await,
        _ => return AppError::BadRequest("unknown action".into()).into_response(),
    };
    if let Err(e) = set_review(&state, &ids, new_state, note, &s.owner.email).await {
        return e.into_response();
    }
    let back = form
        .get("back")
        .filter(|b| {
            b.starts_with("/console/review")
                && !b.contains("//")
                && !b.contains('\\')
                && !b.chars().any(char::is_control)
        })
        .unwrap_or("/console/review")
        .to_owned();
    Redirect::to(&back).into_response()
}

/// The HTTP response block of the WARC record at `offset` of the hit's evidence file.
fn warc_block(state: &AppState, warc_file: &str, offset: i64) -> Result<Vec<u8>, AppError> {
    state
        .evidence
        .warc_record(warc_file, offset)
        .map(|r| r.block)
        .map_err(|_| AppError::NotFound("evidence"))
}

/// An image Content-Type from the bytes' signature; `None` for anything that is not an image
/// we show (SVG included: it can carry script).
#[must_use]
pub fn sniff_image(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.len() > 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

async fn found_image(state: &AppState, h: &Hit) -> Result<Vec<u8>, AppError> {
    let record = state
        .evidence
        .warc_record(&h.warc_file, h.warc_image_offset)
        .map_err(|_| AppError::NotFound("evidence"))?;
    Ok(record.http_body().to_vec())
}

async fn reference_image(state: &AppState, h: &Hit) -> Result<Vec<u8>, AppError> {
    let Some(rid) = h.reference_id else {
        return Err(AppError::NotFound("reference image"));
    };
    state
        .evidence
        .reference_image(rid)
        .await?
        .ok_or(AppError::NotFound("reference image"))
}

/// `GET /console/review/image/{id}/{found|reference}`.
pub async fn image(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, which)): Path<(i64, String)>,
) -> Response {
    if let Err(r) = require(&state, &headers).await {
        return r;
    }
    let result = async {
        let h = hit(&state, id).await?;
        let bytes = match which.as_str() {
            "found" => found_image(&state, &h).await?,
            "reference" => reference_image(&state, &h).await?,
            _ => return Err(AppError::NotFound("image")),
        };
        let ct = sniff_image(&bytes).ok_or(AppError::NotFound("image"))?;
        Ok((
            [
                (header::CONTENT_TYPE, ct),
                (header::CACHE_CONTROL, "private, max-age=3600"),
                (header::CONTENT_DISPOSITION, "inline"),
            ],
            bytes,
        )
            .into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Bundle query: `id` repeated.
pub async fn bundle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::extract::RawQuery,
) -> Response {
    if let Err(r) = require(&state, &headers).await {
        return r;
    }
    let form = match Form::parse(body.0.unwrap_or_default().as_bytes()) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let ids: Vec<i64> = form.all("id").filter_map(|v| v.parse().ok()).collect();
    if ids.is_empty() {
        return AppError::BadRequest("name at least one hit".into()).into_response();
    }
    bundle_response(&state, &ids).await
}

async fn bundle_response(state: &AppState, ids: &[i64]) -> Response {
    match evidence_zip(state, ids).await {
        Ok(zip) => (
            [
                (header::CONTENT_TYPE, "application/zip"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"veilmark-evidence.zip\"",
                ),
            ],
            zip,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The evidence bundle for `ids`: per hit `hit-N/hit.json`, `hit-N/image.*`,
/// `hit-N/page.http` (the saved page response), `hit-N/reference.*` and the run's WARC file
/// once under `warc/`; plus `MANIFEST.sha256` (`sha256sum -c` format) over every file.
pub async fn evidence_zip(state: &AppState, ids: &[i64]) -> Result<Vec<u8>, AppError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut warcs: Vec<String> = Vec::new();
    for &id in ids.iter().take(500) {
        let h = hit(state, id).await?;
        let dir = format!("hit-{id}");
        let mut record = serde_json::to_value(&h).map_err(anyhow::Error::from)?;
        record["warc_file"] =
            serde_json::Value::String(format!("warc/{}", warc_name(&h.warc_file)));
        record["warc_image_offset"] = h.warc_image_offset.into();
        record["warc_page_offset"] = h.warc_page_offset.into();
        files.push((
            format!("{dir}/hit.json"),
            serde_json::to_vec_pretty(&record).map_err(anyhow::Error::from)?,
        ));
        if let Ok(img) = found_image(state, &h).await {
            let ext = sniff_image(&img).map_or("bin", |ct| ct.trim_start_matches("image/"));
            files.push((format!("{dir}/image.{ext}"), img));
        }
        if let Some(off) = h.warc_page_offset
            && let Ok(block) = warc_block(state, &h.warc_file, off)
        {
            files.push((format!("{dir}/page.http"), block));
        }
        if let Ok(img) = reference_image(state, &h).await {
            let ext = sniff_image(&img).map_or("bin", |ct| ct.trim_start_matches("image/"));
            files.push((format!("{dir}/reference.{ext}"), img));
        }
        if !warcs.contains(&h.warc_file) {
            warcs.push(h.warc_file.clone());
        }
    }
    for w in &warcs {
        if let Ok(bytes) = state.evidence.warc_file(w).await {
            files.push((format!("warc/{}", warc_name(w)), bytes));
        }
    }
    let mut manifest = String::new();
    for (name, bytes) in &files {
        let _ = writeln!(manifest, "{}  {name}", hex::encode(Sha256::digest(bytes)));
    }
    files.push(("MANIFEST.sha256".into(), manifest.into_bytes()));

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in &files {
        zip.start_file(name.as_str(), opts)
            .map_err(anyhow::Error::from)?;
        zip.write_all(bytes).map_err(anyhow::Error::from)?;
    }
    Ok(zip.finish().map_err(anyhow::Error::from)?.into_inner())
}

fn warc_name(rel: &str) -> String {
    FsPath::new(rel).file_name().map_or_else(
        || "evidence.warc".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}
