//! The review page's HTML: filters, hit cards, sellers grouped and the chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::Session;
use super::super::html::{Tab, csrf_field, esc, page as frame, safe_http_url};
use super::chart::chart;
use super::data::all_hits;
use super::filter::{ReviewQuery, set};
use super::model::Hit;
use crate::{AppError, AppState};

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

pub(super) async fn render(
    state: &AppState,
    s: &Session,
    q: &ReviewQuery,
) -> Result<String, AppError> {
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
