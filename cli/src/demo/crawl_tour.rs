//! Part 3 of the demo: brand protection. Loads the brand's reference photos into the catalog,
//! serves the generated fixture marketplace on 127.0.0.1, crawls it politely, and scores the
//! hits against the marketplace's ground truth, per knock-off variant.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;
use veilmark_crawler::crawl::{CrawlOptions, crawl};
use veilmark_crawler::profile::SiteProfile;
use veilmark_store::{DataDir, Evidence as Store};

/// Runs the crawl part of the demo against the fixture in `marketplace`, storing hits in
/// `data_dir` (the server's database) and exporting them to `out_dir/hits.jsonl`. Alice's
/// screenshot (`leak`) is first posted to the marketplace as a listing of its own.
pub async fn run(
    data_dir: &Path,
    marketplace: &Path,
    out_dir: &Path,
    leak: &image::RgbaImage,
    leak_code: &str,
) -> Result<()> {
    let gt: Value = serde_json::from_str(
        &std::fs::read_to_string(marketplace.join("ground_truth.json")).with_context(|| {
            format!(
                "{} is not a generated fixture marketplace",
                marketplace.display()
            )
        })?,
    )?;
    let data = DataDir::new(data_dir);
    let store = Store::open(&data, veilmark_store::tenancy::DEFAULT_ORG).await?;

    let references = gt["references"]
        .as_array()
        .context("ground truth lacks references")?;
    println!(
        "\n10. Brand protection: {} reference photos of {} products go into the catalog (PDQ + pHash, flips and rotations):",
        references.len(),
        references
            .iter()
            .filter_map(|r| r["sku"].as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    for r in references {
        let file = marketplace.join(r["file"].as_str().unwrap_or_default());
        let sku = r["sku"].as_str().unwrap_or("unknown");
        veilmark_crawler::catalog::add_files(&store, &[file], sku, None).await?;
    }
    println!(
        "   (by hand: veilmark catalog add PHOTO... --product SKU --data {})",
        data_dir.display()
    );

    post_leak(&marketplace.join("site"), leak)?;
    println!(
        "   meanwhile someone screenshots Alice's screen at 75 %, saves it as JPEG and lists it for sale"
    );
    let server = veilmark_crawler_fixture::serve(marketplace.join("site")).await?;
    let text = std::fs::read_to_string(marketplace.join("profile.toml.in"))?
        .replace(
            "seeds = [\"@BASE@/\"]",
            "seeds = [\"@BASE@/\", \"@BASE@/leaks/drawing.html\"]",
        )
        .replace("listing_patterns = [", "listing_patterns = [\"/leaks/*\", ")
        .replace("@BASE@", &server.base)
        .replace("@HOSTPORT@", &server.host_port)
        .replace("@MAX_PAGES@", "3000")
        .replace("@MAX_IMAGES@", "12000");
    let profile = SiteProfile::from_toml(&text)?;
    let listings = gt["listings"].as_array().map_or(0, Vec::len);
    println!(
        "\n11. The fixture marketplace ({listings} listings in 4 shops, with robots.txt rules, traps, broken and hostile pages) is served at {}; crawling it:",
        server.base
    );
    // Writing a profile (docs/crawler.md#profiles): one page through it first, nothing stored.
    let page = format!("{}/leaks/drawing.html", server.base);
    match veilmark_crawler::dry_run::dry_run(&profile, &page).await {
        Ok(d) => println!(
            "   first one page through the profile (`veilmark crawl --profile P --dry-run {page}`, nothing stored): HTTP {}, listing {}, title {:?}, {} image(s), from {}",
            d.status,
            if d.is_listing { "yes" } else { "no" },
            d.extracted.listing.title.as_deref().unwrap_or("-"),
            d.extracted.listing.images.len(),
            if d.extracted.sources.is_empty() {
                "nothing structured".to_owned()
            } else {
                d.extracted.sources.join(", ")
            }
        ),
        Err(e) => println!("   (dry run of {page} failed: {e:#})"),
    }
    let name = profile.name.clone();
    let decoder = veilmark_crawler::watermark::ForensicDecoder::from_data_dir(&data)?
        .context("the demo server has no watermark key")?;
    let options = CrawlOptions {
        decoder: std::sync::Arc::new(decoder),
        ..CrawlOptions::default()
    };
    let report = crawl(profile, store.clone(), options).await?;
    let p = &report.progress;
    println!(
        "   {} pages, {} images, {} hits, {} errors survived, {} URLs left alone for robots.txt, {:.1} s",
        p.pages,
        p.images,
        p.hits,
        p.errors,
        p.robots_blocked,
        report.elapsed_ms as f64 / 1000.0
    );

    // Score against the ground truth: planted knock-off images the crawler may fetch.
    let mut planted: HashMap<String, String> = HashMap::new();
    for l in gt["listings"].as_array().into_iter().flatten() {
        if l["robots_forbidden"].as_bool().unwrap_or(false) {
            continue;
        }
        for i in l["images"].as_array().into_iter().flatten() {
            if let (Some(_), Some(url), Some(variant)) =
                (i["sku"].as_str(), i["url"].as_str(), i["variant"].as_str())
            {
                planted.insert(url.to_owned(), variant.to_owned());
            }
        }
    }
    let hits = store.hits(&name).await?;
    let mut per_variant: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for variant in planted.values() {
        per_variant.entry(variant.clone()).or_default().1 += 1;
    }
    let mut false_positives = 0;
    let mut seen = std::collections::HashSet::new();
    for h in hits.iter().filter(|h| h.sku.is_some()) {
        let path = h
            .image_url
            .strip_prefix(&server.base)
            .unwrap_or(&h.image_url);
        match planted.get(path) {
            Some(v) if seen.insert(path.to_owned()) => {
                per_variant.entry(v.clone()).or_default().0 += 1
            }
            Some(_) => {}
            None => false_positives += 1,
        }
    }
    println!("   recall per knock-off variant (found / planted):");
    let row: Vec<String> = per_variant
        .iter()
        .map(|(v, (found, total))| format!("{v} {found}/{total}"))
        .collect();
    for line in row.chunks(5) {
        println!("      {}", line.join("   "));
    }
    println!("   catalog hits not planted (false positives): {false_positives}");
    let leaks: Vec<_> = hits
        .iter()
        .filter(|h| h.watermark_session.is_some())
        .collect();
    for h in &leaks {
        let code = h.watermark_session.as_deref().unwrap_or_default();
        println!(
            "   forensic watermark in {}: session code {}{}",
            veilmark_shared::text::escape_for_terminal(&h.image_url),
            veilmark_shared::text::escape_for_terminal(code),
            if code == leak_code {
                " = Alice's session (traced: `veilmark identify IMAGE --data DIR`)"
            } else {
                ""
            }
        );
    }
    if !leaks
        .iter()
        .any(|h| h.watermark_session.as_deref() == Some(leak_code))
    {
        println!("   Alice's leaked screenshot was NOT traced");
    }
    let export = out_dir.join("hits.jsonl");
    let n = veilmark_crawler::catalog::export_hits(&store, &name, &export).await?;
    println!(
        "   every hit is stored with evidence (WARC, SHA-256, headers, listing) in {}; {n} exported to {}",
        data.database_display(),
        export.display()
    );
    println!(
        "   (by hand: veilmark crawl --profile P --data {})",
        data_dir.display()
    );
    Ok(())
}

/// Writes the leaked screenshot — Alice's frame at 75 %, JPEG quality 80 — and a listing page
/// offering it, under `site/leaks/`.
fn post_leak(site: &Path, frame: &image::RgbaImage) -> Result<()> {
    let dir = site.join("leaks");
    std::fs::create_dir_all(&dir)?;
    let (w, h) = frame.dimensions();
    let small = image::imageops::resize(
        frame,
        w * 3 / 4,
        h * 3 / 4,
        image::imageops::FilterType::Triangle,
    );
    let rgb = image::DynamicImage::ImageRgba8(small).to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode_image(&rgb)?;
    std::fs::write(dir.join("drawing.jpg"), jpeg)?;
    std::fs::write(
        dir.join("drawing.html"),
        "<!DOCTYPE html><html><head><title>CAD drawing bracket BR-2040 full set</title></head><body>\
         <h1 class=\"product-title\">CAD drawing bracket BR-2040 full set</h1>\
         <p class=\"price\">$19.00</p><p class=\"seller\">drawings4less</p>\
         <img src=\"/leaks/drawing.jpg\" alt=\"drawing\"></body></html>",
    )?;
    Ok(())
}
