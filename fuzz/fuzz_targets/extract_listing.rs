//! Listing extraction reads every crawled page (HTML, JSON-LD, OpenGraph, CSS selectors, image
//! attributes): it must not panic, and what it returns keeps to its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_crawler::extract::{MAX_PRICE_CHARS, MAX_SELLER_CHARS, MAX_TITLE_CHARS, extract};
use veilmark_crawler::profile::Selectors;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let base = url::Url::parse("http://market.example/shop/item/7").expect("static URL");
    let selectors = Selectors {
        title: Some(".t".into()),
        price: Some(".p".into()),
        seller: Some(".s".into()),
        images: None,
    };
    for sel in [&Selectors::default(), &selectors] {
        let out = extract(&html, &base, sel);
        let l = &out.listing;
        assert!(l.title.as_ref().is_none_or(|t| t.chars().count() <= MAX_TITLE_CHARS));
        assert!(l.price.as_ref().is_none_or(|t| t.chars().count() <= MAX_PRICE_CHARS));
        assert!(l.seller.as_ref().is_none_or(|t| t.chars().count() <= MAX_SELLER_CHARS));
        for text in [&l.title, &l.price, &l.seller].into_iter().flatten() {
            assert!(!text.chars().any(veilmark_shared::text::is_hidden_control));
        }
    }
});
