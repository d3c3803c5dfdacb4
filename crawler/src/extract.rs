//! Listing extraction from HTML: schema.org `Product` JSON-LD first, then OpenGraph, then the
//! profile's CSS selectors, then plain `img`/`srcset`/lazy `data-src` attributes.
//!
//! Everything here is untrusted input: malformed JSON-LD is skipped, not fatal, the number
//! of links and images taken from one page is capped, and the listing's text fields are
//! bounded ([`MAX_TITLE_CHARS`], [`MAX_PRICE_CHARS`], [`MAX_SELLER_CHARS`]) and cleaned of
//! control and bidi characters ([`veilmark_shared::text::clean_field`]) before anyone stores
//! or shows them.

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use url::Url;

use veilmark_shared::text::clean_field;

use crate::canon::canonical_join;
use crate::profile::Selectors;

/// Most links taken from one page.
const MAX_LINKS: usize = 2_000;
/// Most images taken from one page.
const MAX_IMAGES: usize = 64;
/// Longest listing title kept, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest price kept, in characters.
pub const MAX_PRICE_CHARS: usize = 64;
/// Longest seller name kept, in characters.
pub const MAX_SELLER_CHARS: usize = 120;

/// What a page offers for sale, as far as the markup tells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// Product or listing title.
    pub title: Option<String>,
    /// Price as written, with currency when given (`"19.90 EUR"`).
    pub price: Option<String>,
    /// Seller or shop name.
    pub seller: Option<String>,
    /// Candidate product images, canonical, in page order, without duplicates.
    pub images: Vec<Url>,
}

/// The result of reading one page.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    /// The listing (possibly empty).
    pub listing: Listing,
    /// Canonical in-page links (`a[href]`, `link[rel=next]`).
    pub links: Vec<Url>,
    /// Where the data came from, for debugging: `"json-ld"`, `"microdata"`, `"opengraph"`,
    /// `"css"`, `"img"`.
    pub sources: Vec<&'static str>,
}

/// The item properties named `name` that belong to item `scope` itself (their nearest
/// enclosing `itemscope` is `scope`, not an item nested in it), in document order.
fn own_props<'a>(scope: ElementRef<'a>, name: &str) -> Vec<ElementRef<'a>> {
    scope
        .descendants()
        .filter_map(ElementRef::wrap)
        .filter(|e| {
            e.value()
                .attr("itemprop")
                .is_some_and(|p| p.split_ascii_whitespace().any(|t| t == name))
        })
        .filter(|e| {
            e.ancestors()
                .filter_map(ElementRef::wrap)
                .find(|a| a.value().attr("itemscope").is_some())
                .is_some_and(|a| a.id() == scope.id())
        })
        .collect()
}

/// A microdata property's value (HTML § 5.3.4): `content` when given, else the URL of media and
/// link elements, the machine value of `data`/`meter`/`time`, else the text.
fn prop_value(e: ElementRef<'_>) -> Option<String> {
    let v = e.value();
    let value = v
        .attr("content")
        .map(str::to_owned)
        .or_else(|| match v.name() {
            "img" | "audio" | "video" | "source" | "embed" | "iframe" | "track" => {
                v.attr("src").map(str::to_owned)
            }
            "a" | "area" | "link" => v.attr("href").map(str::to_owned),
            "object" => v.attr("data").map(str::to_owned),
            "data" | "meter" => v.attr("value").map(str::to_owned),
            "time" => v.attr("datetime").map(str::to_owned),
            _ => Some(element_text(e)),
        })?;
    let value = value.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

/// schema.org `Product` items in microdata: title, price (with currency), seller, images.
fn microdata_products(doc: &Html, listing: &mut Listing, images: &mut Vec<String>) -> bool {
    let mut found = false;
    for product in doc.select(&sel("[itemscope][itemtype]")) {
        let is_product = product.value().attr("itemtype").is_some_and(|t| {
            t.split_ascii_whitespace()
                .any(|t| t.trim_end_matches('/').ends_with("schema.org/Product"))
        });
        if !is_product {
            continue;
        }
        found = true;
        let first = |scope, name| own_props(scope, name).into_iter().find_map(prop_value);
        listing.title = listing.title.take().or_else(|| first(product, "name"));
        for img in own_props(product, "image") {
            if let Some(src) = prop_value(img) {
                images.push(src);
            }
        }
        for offer in own_props(product, "offers")
            .into_iter()
            .filter(|o| o.value().attr("itemscope").is_some())
        {
            if listing.price.is_none() {
                let amount = first(offer, "price").or_else(|| first(offer, "lowPrice"));
                let currency = first(offer, "priceCurrency");
                listing.price = amount.map(|a| match currency {
                    Some(c) => format!("{a} {c}"),
                    None => a,
                });
            }
            if listing.seller.is_none() {
                listing.seller = own_props(offer, "seller").into_iter().find_map(|s| {
                    if s.value().attr("itemscope").is_some() {
                        first(s, "name")
                    } else {
                        prop_value(s)
                    }
                });
            }
        }
    }
    found
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

/// Extracts listing data and links from `html` served at `base`.
pub fn extract(html: &str, base: &Url, selectors: &Selectors) -> Extracted {
    let doc = Html::parse_document(html);
    let mut out = Extracted::default();
    let mut images: Vec<String> = Vec::new();

    // 1. schema.org Product in JSON-LD.
    for script in doc.select(&sel(r#"script[type="application/ld+json"]"#)) {
        let text: String = script.text().collect();
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let mut products = Vec::new();
        find_products(&value, &mut products, 0);
        for p in products {
            out.sources.push("json-ld");
            let l = &mut out.listing;
            l.title = l.title.take().or_else(|| str_field(p, "name"));
            collect_images(p.get("image"), &mut images);
            if let Some(offer) = first(p.get("offers")) {
                let amount = str_field(offer, "price").or_else(|| str_field(offer, "lowPrice"));
                let currency = str_field(offer, "priceCurrency");
                if l.price.is_none() {
                    l.price = amount.map(|a| match currency {
                        Some(c) => format!("{a} {c}"),
                        None => a,
                    });
                }
                if l.seller.is_none() {
                    l.seller = offer.get("seller").and_then(|s| match s {
                        Value::String(s) => Some(s.clone()),
                        other => str_field(other, "name"),
                    });
                }
            }
        }
    }

    // 1b. schema.org Product in microdata.
    if microdata_products(&doc, &mut out.listing, &mut images) {
        out.sources.push("microdata");
    }

    // 2. OpenGraph.
    let meta = |prop: &str| -> Vec<String> {
        doc.select(&sel("meta"))
            .filter(|m| {
                m.value()
                    .attr("property")
                    .or_else(|| m.value().attr("name"))
                    == Some(prop)
            })
            .filter_map(|m| m.value().attr("content").map(|c| c.trim().to_string()))
            .filter(|c| !c.is_empty())
            .collect()
    };
    let og_images = meta("og:image");
    if !og_images.is_empty() || !meta("og:title").is_empty() {
        out.sources.push("opengraph");
    }
    images.extend(og_images);
    let l = &mut out.listing;
    l.title = l
        .title
        .take()
        .or_else(|| meta("og:title").into_iter().next());
    if l.price.is_none() {
        l.price = meta("product:price:amount").into_iter().next().map(|a| {
            match meta("product:price:currency").into_iter().next() {
                Some(c) => format!("{a} {c}"),
                None => a,
            }
        });
    }

    // 3. Profile selectors.
    let text_of = |s: &Option<String>| -> Option<String> {
        let s = Selector::parse(s.as_deref()?).ok()?;
        doc.select(&s).map(element_text).find(|t| !t.is_empty())
    };
    let css_title = text_of(&selectors.title);
    let css_price = text_of(&selectors.price);
    let css_seller = text_of(&selectors.seller);
    if css_title.is_some() || css_price.is_some() || css_seller.is_some() {
        out.sources.push("css");
    }
    l.title = l.title.take().or(css_title);
    l.price = l.price.take().or(css_price);
    l.seller = l.seller.take().or(css_seller);
    let structured_images = !images.is_empty();
    if let Some(img_sel) = selectors
        .images
        .as_deref()
        .and_then(|s| Selector::parse(s).ok())
    {
        for el in doc.select(&img_sel) {
            image_attrs(el, &mut images);
        }
    } else if !structured_images {
        // 4. No structured data and no selector: every image on the page is a candidate.
        let before = images.len();
        for el in doc.select(&sel("img, picture source")) {
            image_attrs(el, &mut images);
        }
        if images.len() > before {
            out.sources.push("img");
        }
    }
    if l.title.is_none() {
        l.title = doc
            .select(&sel("h1"))
            .map(element_text)
            .find(|t| !t.is_empty());
    }

    let bound = |field: Option<String>, max: usize| {
        field
            .map(|t| clean_field(&t, max))
            .filter(|t| !t.is_empty())
    };
    l.title = bound(l.title.take(), MAX_TITLE_CHARS);
    l.price = bound(l.price.take(), MAX_PRICE_CHARS);
    l.seller = bound(l.seller.take(), MAX_SELLER_CHARS);

    for raw in images {
        if raw.starts_with("data:") {
            continue;
        }
        if let Ok(u) = canonical_join(base, &raw)
            && !l.images.contains(&u)
            && l.images.len() < MAX_IMAGES
        {
            l.images.push(u);
        }
    }

    for a in doc.select(&sel("a[href], link[rel=next][href]")) {
        if out.links.len() >= MAX_LINKS {
            break;
        }
        if let Some(href) = a.value().attr("href")
            && let Ok(u) = canonical_join(base, href)
        {
            out.links.push(u);
        }
    }
    out.sources.dedup();
    out
}

fn element_text(el: ElementRef<'_>) -> String {
    el.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `src`, lazy `data-src`/`data-lazy-src`/`data-original`, and the largest `srcset` candidate.
fn image_attrs(el: ElementRef<'_>, out: &mut Vec<String>) {
    let v = el.value();
    for srcset in [v.attr("srcset"), v.attr("data-srcset")]
        .into_iter()
        .flatten()
    {
        if let Some(best) = largest_in_srcset(srcset) {
            out.push(best);
        }
    }
    for attr in ["data-src", "data-lazy-src", "data-original", "src"] {
        if let Some(src) = v.attr(attr).map(str::trim).filter(|s| !s.is_empty()) {
            out.push(src.to_string());
            break;
        }
    }
}

/// The candidate with the largest `w` (or `x`) descriptor; the last one if none has one.
fn largest_in_srcset(srcset: &str) -> Option<String> {
    srcset
        .split(',')
        .filter_map(|c| {
            let mut parts = c.split_whitespace();
            let url = parts.next()?;
            let size = parts
                .next()
                .and_then(|d| d.trim_end_matches(['w', 'x']).parse::<f64>().ok())
                .unwrap_or(0.0);
            Some((size, url.to_string()))
        })
        .fold(None, |best: Option<(f64, String)>, (s, u)| match best {
            Some((bs, bu)) if bs > s => Some((bs, bu)),
            _ => Some((s, u)),
        })
        .map(|(_, u)| u)
}

/// Depth-first search for nodes typed `Product` (also inside `@graph` and arrays).
fn find_products<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Array(items) => items.iter().for_each(|i| find_products(i, out, depth + 1)),
        Value::Object(map) => {
            let is_product = match map.get("@type") {
                Some(Value::String(t)) => t == "Product",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "Product"),
                _ => false,
            };
            if is_product {
                out.push(v);
            } else if let Some(graph) = map.get("@graph") {
                find_products(graph, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn first(v: Option<&Value>) -> Option<&Value> {
    match v? {
        Value::Array(items) => items.first(),
        other => Some(other),
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn collect_images(v: Option<&Value>, out: &mut Vec<String>) {
    match v {
        Some(Value::String(s)) => out.push(s.clone()),
        Some(Value::Array(items)) => items.iter().for_each(|i| collect_images(Some(i), out)),
        Some(Value::Object(map)) => {
            if let Some(Value::String(u)) = map.get("url").or_else(|| map.get("contentUrl")) {
                out.push(u.clone());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://shop.example/item/7").unwrap()
    }

    #[test]
    fn microdata_takes_the_products_own_properties_not_a_nested_items() {
        let html = r#"<div itemscope itemtype="http://schema.org/Product">
          <div itemprop="review" itemscope itemtype="http://schema.org/Review">
            <span itemprop="name">Five stars</span><img itemprop="image" src="/avatar.png"></div>
          <span itemprop="name">Hinge H-20</span>
          <link itemprop="image" href="/img/h20.jpg">
          <div itemprop="offers" itemscope itemtype="http://schema.org/Offer">
            <meta itemprop="price" content="4.50"><meta itemprop="priceCurrency" content="USD">
            <span itemprop="seller">Budget Hardware</span></div></div>"#;
        let base = Url::parse("https://shop.example/p/1").unwrap();
        let e = extract(html, &base, &Selectors::default());
        assert_eq!(e.listing.title.as_deref(), Some("Hinge H-20"));
        assert_eq!(e.listing.price.as_deref(), Some("4.50 USD"));
        assert_eq!(e.listing.seller.as_deref(), Some("Budget Hardware"));
        let imgs: Vec<&str> = e.listing.images.iter().map(Url::as_str).collect();
        assert_eq!(imgs, ["https://shop.example/img/h20.jpg"]);
        assert_eq!(e.sources, ["microdata"]);
    }

    #[test]
    fn json_ld_product_wins() {
        let html = r#"<html><head>
          <script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebPage"},
            {"@type":["Product"],"name":"Bracket X","image":["/img/a.jpg",{"url":"/img/b.webp"}],
             "offers":{"@type":"Offer","price":19.9,"priceCurrency":"EUR","seller":{"@type":"Organization","name":"Knock Co"}}}]}</script>
          <script type="application/ld+json">{ not json</script>
          <meta property="og:title" content="OG title"><meta property="og:image" content="/img/og.jpg">
        </head><body><h1>H1</h1><img src="/logo.png"><a href="/item/8#top">next</a><a href="mailto:x@y">m</a></body></html>"#;
        let e = extract(html, &base(), &Selectors::default());
        assert_eq!(e.listing.title.as_deref(), Some("Bracket X"));
        assert_eq!(e.listing.price.as_deref(), Some("19.9 EUR"));
        assert_eq!(e.listing.seller.as_deref(), Some("Knock Co"));
        let imgs: Vec<&str> = e.listing.images.iter().map(Url::as_str).collect();
        assert_eq!(
            imgs,
            [
                "http://shop.example/img/a.jpg",
                "http://shop.example/img/b.webp",
                "http://shop.example/img/og.jpg"
            ]
        );
        assert_eq!(
            e.links.iter().map(Url::as_str).collect::<Vec<_>>(),
            ["http://shop.example/item/8"]
        );
    }

    #[test]
    fn css_selectors_and_lazy_images() {
        let html = r#"<div class="t"> Cheap   part </div><span class="p">9 $</span><a class="s">Bob</a>
          <div class="gal"><img data-src="/lazy.jpg" src="/placeholder.gif">
          <img srcset="/s.jpg 200w, /l.jpg 800w, /m.jpg 400w"></div><img src="/unrelated.png">"#;
        let s = Selectors {
            title: Some(".t".into()),
            price: Some(".p".into()),
            seller: Some("a.s".into()),
            images: Some(".gal img".into()),
        };
        let e = extract(html, &base(), &s);
        assert_eq!(e.listing.title.as_deref(), Some("Cheap part"));
        assert_eq!(e.listing.price.as_deref(), Some("9 $"));
        assert_eq!(e.listing.seller.as_deref(), Some("Bob"));
        let imgs: Vec<&str> = e.listing.images.iter().map(|u| u.path()).collect();
        assert_eq!(imgs, ["/lazy.jpg", "/l.jpg"]);
    }

    /// Issue 16 row 8: a 5 MB title, a seller name with terminal escapes and bidi overrides,
    /// a price that is a spreadsheet formula: bounded and cleaned at extraction.
    #[test]
    fn hostile_listing_fields_are_bounded_and_cleaned() {
        let title = "A".repeat(5 << 20);
        let html = format!(
            "<h1>{title}</h1><span class=\"p\">=HYPERLINK(\"http://x\")</span><b class=\"s\">Evil\u{1b}]52;c;cm0gLXJm\u{7}\u{1b}[2J Shop\u{202e}gpj.exe</b><img src=\"/a.jpg\">"
        );
        let s = Selectors {
            price: Some(".p".into()),
            seller: Some("b.s".into()),
            ..Selectors::default()
        };
        let e = extract(&html, &base(), &s);
        let t = e.listing.title.unwrap();
        assert_eq!(t.chars().count(), MAX_TITLE_CHARS);
        let seller = e.listing.seller.unwrap();
        assert!(
            !seller.chars().any(veilmark_shared::text::is_hidden_control),
            "{seller:?}"
        );
        assert_eq!(seller, "Evil]52;c;cm0gLXJm[2J Shopgpj.exe");
        let price = e.listing.price.unwrap();
        assert!(price.chars().count() <= MAX_PRICE_CHARS);
        let long_price = format!("<span class=\"p\">{}</span>", "9".repeat(1000));
        let e = extract(&long_price, &base(), &s);
        assert_eq!(e.listing.price.unwrap().chars().count(), MAX_PRICE_CHARS);
    }

    #[test]
    fn plain_images_without_structure() {
        let html = r#"<h1>T</h1><picture><source srcset="/a.webp"><img src="/a.jpg"></picture><img src="data:image/png;base64,xx">"#;
        let e = extract(html, &base(), &Selectors::default());
        assert_eq!(e.listing.title.as_deref(), Some("T"));
        assert_eq!(e.listing.images.len(), 2);
        assert_eq!(e.sources, ["img"]);
    }
}
