//! The review page: the view structs that `templates/review/page.html` (with `card.html` and
//! `chart.html`) draws: filters, hit cards, sellers grouped and the chart. Everything a
//! marketplace wrote is handed to the templates as it is; they escape it.

use std::collections::BTreeMap;

use askama::Template;

use super::super::Session;
use super::super::html::{Frame, Tab, render as render_page, safe_http_url};
use super::chart::Chart;
use super::data::all_hits;
use super::filter::{ReviewQuery, set};
use super::model::Hit;
use crate::{AppError, AppState};

/// An `<option>`.
struct Opt<'a> {
    value: &'a str,
    label: &'a str,
    selected: bool,
}

/// One hit as its card shows it.
struct Card<'a> {
    hit: &'a Hit,
    title: &'a str,
    sku: &'a str,
    hash_kind: &'a str,
    confidence: i64,
    /// The page URL when it may be a link (`http(s)` only).
    page_href: Option<&'a str>,
}

impl<'a> Card<'a> {
    fn of(hit: &'a Hit) -> Self {
        Self {
            hit,
            title: hit.title.as_deref().unwrap_or("Untitled listing"),
            sku: hit.sku.as_deref().unwrap_or_default(),
            hash_kind: hit.hash_kind.as_deref().unwrap_or("hash"),
            confidence: hit.confidence().unwrap_or_default(),
            page_href: safe_http_url(&hit.page_url),
        }
    }
}

/// A row of the sellers table.
struct SellerRow<'a> {
    query: String,
    seller: &'a str,
    marketplace: &'a str,
    hits: u32,
    confirmed: u32,
}

#[derive(Template)]
#[template(path = "review/page.html")]
struct ReviewPage<'a> {
    frame: Frame<'a>,
    csrf: &'a str,
    /// Where review actions return to.
    back: &'a str,
    states: Vec<Opt<'a>>,
    marketplaces: Vec<Opt<'a>>,
    sorts: Vec<Opt<'a>>,
    search: &'a str,
    /// Hits that match the filters (at most 200 are shown as cards).
    matching: usize,
    cards: Vec<Card<'a>>,
    /// Whether there are any hits at all.
    any_hits: bool,
    chart: Option<Chart>,
    sellers: Vec<SellerRow<'a>>,
}

fn options<'a>(pairs: &[(&'a str, &'a str)], current: Option<&str>) -> Vec<Opt<'a>> {
    pairs
        .iter()
        .map(|&(value, label)| Opt {
            value,
            label,
            selected: current == Some(value),
        })
        .collect()
}

pub(super) async fn render(
    state: &AppState,
    s: &Session,
    q: &ReviewQuery,
) -> Result<String, AppError> {
    let all = all_hits(state, s.account.org).await?;
    let mut hits: Vec<Hit> = all.iter().filter(|h| q.keep(h)).cloned().collect();
    q.sort(&mut hits);

    let mut markets: Vec<&str> = all.iter().map(|h| h.marketplace.as_str()).collect();
    markets.sort_unstable();
    markets.dedup();
    let mk_pairs: Vec<(&str, &str)> = markets.iter().map(|m| (*m, *m)).collect();
    let st = set(&q.state).unwrap_or("open");
    let states = options(
        &[
            ("open", "To review"),
            ("confirmed", "Confirmed"),
            ("dismissed", "Dismissed"),
            ("all", "All"),
        ],
        Some(st),
    );
    let sorts = options(
        &[
            ("newest", "Newest first"),
            ("oldest", "Oldest first"),
            ("distance", "Closest match first"),
            ("seller", "Seller"),
            ("marketplace", "Marketplace"),
        ],
        Some(set(&q.sort).unwrap_or("newest")),
    );

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
    let sellers = seller_rows
        .into_iter()
        .take(20)
        .map(|((m, sname), (n, c))| SellerRow {
            query: serde_urlencoded::to_string([
                ("seller", sname),
                ("marketplace", m),
                ("state", st),
            ])
            .unwrap_or_default(),
            seller: sname,
            marketplace: m,
            hits: n,
            confirmed: c,
        })
        .collect();

    // Where review actions return to (the Referer is not sent: `Referrer-Policy: no-referrer`).
    let back = format!("/console/review?{}", q.query_string());
    let page = ReviewPage {
        frame: Frame::new("Review hits", Tab::Review, s.who()),
        csrf: &s.csrf,
        back: &back,
        states,
        marketplaces: options(&mk_pairs, set(&q.marketplace)),
        sorts,
        search: set(&q.q).unwrap_or_default(),
        matching: hits.len(),
        cards: hits.iter().take(200).map(Card::of).collect(),
        any_hits: !all.is_empty(),
        chart: Chart::of(&all),
        sellers,
    };
    render_page(&page)
}
