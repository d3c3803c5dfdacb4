//! `veilmark crawl --dry-run` and the ready profiles in `crawler/profiles/`: one page through a
//! profile, shown and not stored, with robots.txt, scope and the address policy obeyed.

#[test]
fn every_ready_profile_loads_and_takes_a_seed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crawler/profiles");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let p = veilmark_crawler::profile::SiteProfile::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!p.listing_patterns.is_empty(), "{}", path.display());
            assert!(!p.deny_patterns.is_empty(), "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 4, "{n} ready profiles");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_shows_what_a_profile_extracts_from_one_page_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("product")).unwrap();
    std::fs::create_dir_all(site.join("private")).unwrap();
    std::fs::write(
        site.join("robots.txt"),
        "User-agent: *\nDisallow: /private/\n",
    )
    .unwrap();
    std::fs::write(site.join("private/x.html"), "<h1>hidden</h1>").unwrap();
    // Microdata as Magento-style themes write it, a review item nested inside with a name of
    // its own, and a hostile seller name with a terminal escape.
    std::fs::write(
        site.join("product/brk-100.html"),
        r#"<html><body><div itemscope itemtype="https://schema.org/Product">
          <h1 itemprop="name">Bracket BRK-100 (compatible)</h1>
          <img itemprop="image" src="/img/brk-100.jpg">
          <div itemprop="review" itemscope itemtype="https://schema.org/Review">
            <span itemprop="name">Great value</span></div>
          <div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
            <span itemprop="price" content="19.90">19,90 €</span>
            <meta itemprop="priceCurrency" content="EUR">
            <div itemprop="seller" itemscope itemtype="https://schema.org/Organization">
              <span itemprop="name">Cheap Parts&#27;[31m Ltd</span></div></div>
          </div>
          <a href="/product/brk-200.html">next</a><a href="/cart">cart</a>
          <a href="https://elsewhere.example/x">away</a></body></html>"#,
    )
    .unwrap();
    let server = veilmark_crawler_fixture::serve(site).await.unwrap();
    let profile = dir.path().join("shop.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"shop\"\nseeds = [\"{}/\"]\nlisting_patterns = [\"/product/*\"]\ndeny_patterns = [\"/cart*\"]\nallow_private_addresses = true\n",
            server.base
        ),
    )
    .unwrap();
    let run = |args: Vec<String>| {
        let cwd = dir.path().to_owned();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_veilmark"))
                    .args(&args)
                    .current_dir(cwd)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let p = profile.to_str().unwrap().to_owned();
    let out = run(vec![
        "crawl".into(),
        "--profile".into(),
        p.clone(),
        "--dry-run".into(),
        format!("{}/product/brk-100.html", server.base),
        "--json".into(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["listing"], true);
    assert_eq!(v["title"], "Bracket BRK-100 (compatible)");
    assert_eq!(v["price"], "19.90 EUR");
    assert_eq!(v["sources"], serde_json::json!(["microdata"]));
    assert_eq!(v["images"][0], format!("{}/img/brk-100.jpg", server.base));
    let queued: Vec<&str> = v["links_queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        queued,
        [format!("{}/product/brk-200.html", server.base)],
        "in scope, not denied"
    );
    // The table escapes what the page said before it reaches the terminal.
    let out = run(vec![
        "crawl".into(),
        "--profile".into(),
        p.clone(),
        "--dry-run".into(),
        format!("{}/product/brk-100.html", server.base),
    ])
    .await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("seller") && table.contains("Cheap Parts"),
        "{table}"
    );
    assert!(!table.contains('\u{1b}'), "{table:?}");
    // Nothing was stored: no data directory appeared.
    assert!(!dir.path().join("veilmark-data").exists());
    // robots.txt is obeyed, and what is out of scope is refused before any request.
    let before = server.requests().len();
    for (url, says) in [
        (
            format!("{}/private/x.html", server.base),
            "disallows /private/x.html",
        ),
        (format!("{}/cart", server.base), "deny_patterns"),
        ("https://elsewhere.example/x".to_owned(), "allowed_hosts"),
    ] {
        let out = run(vec![
            "crawl".into(),
            "--profile".into(),
            p.clone(),
            "--dry-run".into(),
            url.clone(),
        ])
        .await;
        assert!(!out.status.success(), "{url}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(says), "{url}: {e}");
    }
    let fetched: Vec<String> = server.requests()[before..].to_vec();
    assert!(
        !fetched
            .iter()
            .any(|r| r.starts_with("/private") || r.starts_with("/cart")),
        "{fetched:?}"
    );
    // Without allow_private_addresses a loopback address is refused.
    std::fs::write(
        &profile,
        format!("name = \"shop\"\nseeds = [\"{}/\"]\n", server.base),
    )
    .unwrap();
    let out = run(vec![
        "crawl".into(),
        "--profile".into(),
        p,
        "--dry-run".into(),
        format!("{}/product/brk-100.html", server.base),
    ])
    .await;
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("non-public address"), "{e}");
}
