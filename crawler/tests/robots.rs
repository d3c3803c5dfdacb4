//! Issue 16 row 7: robots.txt that redirects, fails, starts with a byte-order mark or repeats a
//! group, against the fixture server; and our parser cross-checked with `texting_robots`.

use std::path::Path;

use veilmark_crawler::crawl::{CrawlOptions, CrawlReport, crawl};
use veilmark_crawler::profile::SiteProfile;
use veilmark_crawler::robots::Robots;
use veilmark_crawler_fixture::{RobotsRoute, ServeOptions, Server, serve_with};
use veilmark_shared::xorshift::XorShift64Star;

const UA: &str = "VeilmarkBot/0.1 (+test)";
const PRIVATE_RULES: &str = "User-agent: *\nDisallow: /private/\n";

/// A small site: `/` links to a public page and a private one.
fn site(dir: &Path, robots_file: &str, real_robots: &str) {
    let page = |links: &str| format!("<!DOCTYPE html><html><body><h1>p</h1>{links}</body></html>");
    std::fs::create_dir_all(dir.join("private")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        page(r#"<a href="/public.html">pub</a><a href="/private/secret.html">sec</a>"#),
    )
    .unwrap();
    std::fs::write(dir.join("public.html"), page("")).unwrap();
    std::fs::write(dir.join("a.html"), page("")).unwrap();
    std::fs::write(dir.join("b.html"), page("")).unwrap();
    std::fs::write(dir.join("private/secret.html"), page("")).unwrap();
    if !robots_file.is_empty() {
        std::fs::write(dir.join("robots.txt"), robots_file).unwrap();
    }
    std::fs::write(dir.join("real-robots.txt"), real_robots).unwrap();
}

fn profile(server: &Server, seeds: &[&str], extra_limits: &str) -> SiteProfile {
    let seeds: Vec<String> = seeds
        .iter()
        .map(|s| format!("\"{}{s}\"", server.base))
        .collect();
    SiteProfile::from_toml(&format!(
        "name = \"robots\"\nseeds = [{}]\nallowed_hosts = [\"{}\"]\nallow_private_addresses = true\nuser_agent = \"{UA}\"\n[limits]\nrequests_per_second = 200.0\nretries = 0\nmax_pages = 50\n{extra_limits}\n",
        seeds.join(", "),
        server.host_port
    ))
    .unwrap()
}

async fn run(server: &Server, seeds: &[&str], extra_limits: &str) -> CrawlReport {
    let (_data, store) = crate::common::evidence_store().await;
    crawl(
        profile(server, seeds, extra_limits),
        store,
        CrawlOptions::default(),
    )
    .await
    .unwrap()
}

async fn serve(
    robots_file: &str,
    real: &str,
    options: ServeOptions,
) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path(), robots_file, real);
    let server = serve_with(dir.path().to_path_buf(), options).await.unwrap();
    (dir, server)
}

fn fetched(server: &Server, path: &str) -> bool {
    server.requests().iter().any(|r| r == path)
}

#[tokio::test]
async fn redirected_robots_txt_is_followed() {
    let (_dir, server) = serve(
        "",
        PRIVATE_RULES,
        ServeOptions {
            robots: RobotsRoute::Redirect { hops: 5 },
            ..ServeOptions::default()
        },
    )
    .await;
    let report = run(&server, &["/"], "").await;
    assert!(
        fetched(&server, "/real-robots.txt"),
        "{:?}",
        server.requests()
    );
    assert!(fetched(&server, "/public.html"), "{:?}", server.requests());
    assert!(
        !fetched(&server, "/private/secret.html"),
        "a redirected robots.txt was ignored: {:?}",
        server.requests()
    );
    assert_eq!(report.progress.robots_blocked, 1);
}

#[tokio::test]
async fn robots_txt_past_five_redirects_disallows_everything() {
    let (_dir, server) = serve(
        "",
        PRIVATE_RULES,
        ServeOptions {
            robots: RobotsRoute::Redirect { hops: 6 },
            ..ServeOptions::default()
        },
    )
    .await;
    run(&server, &["/"], "").await;
    let pages: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| !r.contains("robots"))
        .collect();
    assert!(pages.is_empty(), "fetched despite no robots.txt: {pages:?}");
    assert!(!fetched(&server, "/real-robots.txt"));
}

#[tokio::test]
async fn robots_txt_5xx_disallows_everything() {
    let (_dir, server) = serve(
        PRIVATE_RULES,
        "",
        ServeOptions {
            robots: RobotsRoute::Status(500),
            ..ServeOptions::default()
        },
    )
    .await;
    let report = run(&server, &["/"], "").await;
    assert_eq!(server.requests(), ["/robots.txt"]);
    assert_eq!(report.progress.robots_blocked, 1);
}

#[tokio::test]
async fn robots_txt_is_asked_again_until_it_answers() {
    let (_dir, server) = serve(
        PRIVATE_RULES,
        "",
        ServeOptions {
            robots: RobotsRoute::FailFirst(1),
            ..ServeOptions::default()
        },
    )
    .await;
    let report = run(
        &server,
        &["/a.html", "/b.html"],
        "max_concurrency = 1\nrobots_retry_seconds = 0",
    )
    .await;
    let requests = server.requests();
    assert_eq!(
        requests.iter().filter(|r| *r == "/robots.txt").count(),
        2,
        "{requests:?}"
    );
    // The first page met the unreachable robots.txt and was not fetched; the second was.
    assert_eq!(report.progress.robots_blocked, 1, "{requests:?}");
    assert!(fetched(&server, "/b.html"), "{requests:?}");
    assert!(!fetched(&server, "/a.html"), "{requests:?}");
}

#[tokio::test]
async fn robots_txt_4xx_allows_everything() {
    let (_dir, server) = serve(
        PRIVATE_RULES,
        "",
        ServeOptions {
            robots: RobotsRoute::Status(404),
            ..ServeOptions::default()
        },
    )
    .await;
    run(&server, &["/"], "").await;
    assert!(fetched(&server, "/private/secret.html"));
}

#[tokio::test]
async fn bom_and_repeated_groups_over_the_wire() {
    let body = "\u{feff}User-agent: *\nDisallow: /private/\n\nUser-agent: other\nDisallow: /\n\nUser-agent: *\nDisallow: /public\n";
    let (_dir, server) = serve(body, "", ServeOptions::default()).await;
    let report = run(&server, &["/"], "").await;
    assert!(
        !fetched(&server, "/private/secret.html"),
        "the BOM hid the first group: {:?}",
        server.requests()
    );
    assert!(
        !fetched(&server, "/public.html"),
        "the second * group was not merged: {:?}",
        server.requests()
    );
    assert_eq!(report.progress.robots_blocked, 2);
}

// --- Cross-check with the maintained `texting_robots` crate ---------------------------------

/// The paths both parsers are asked about.
const PATHS: &[&str] = &[
    "/",
    "/a",
    "/a/",
    "/a/b",
    "/a/b.pdf",
    "/a/b.pdf?x=1",
    "/ab",
    "/b",
    "/b/a",
    "/b/c.html",
    "/c",
    "/c/d/e",
    "/x.pdf",
    "/x.PDF",
    "/a?q=1",
    "/a/b/c/d",
    "/shop/item/7",
    "/private/x",
    "/search?q=a&p=2",
    "/a$",
    "/a*b",
];

/// A random robots.txt in the shapes both parsers read the same (every rule inside a group,
/// plain user-agent tokens, no empty `Disallow`), with BOMs, CRLF, comments, repeated and
/// merged groups.
fn generated(rng: &mut XorShift64Star) -> String {
    let mut pick = |n: usize| usize::try_from(rng.next_u64() % n as u64).unwrap();
    let agents = ["*", "veilmarkbot", "VeilmarkBot", "otherbot", "googlebot"];
    let segs = [
        "/a", "/b", "/c", "/a/b", "/shop", "/private", "/x", "/", "/*", "/*.pdf", "/a*",
    ];
    let ends = ["", "", "", "$", "/", "*", ".pdf$", "?", "/d"];
    let eol = if pick(4) == 0 { "\r\n" } else { "\n" };
    let mut out = String::new();
    if pick(5) == 0 {
        out.push('\u{feff}');
    }
    for _ in 0..1 + pick(4) {
        for _ in 0..1 + pick(2) {
            out.push_str(&format!("User-agent: {}{eol}", agents[pick(agents.len())]));
        }
        for _ in 0..pick(5) {
            let kind = if pick(2) == 0 { "Allow" } else { "Disallow" };
            let mut pattern = format!("{}{}", segs[pick(segs.len())], ends[pick(ends.len())]);
            if pick(8) == 0 && kind == "Allow" {
                pattern.clear(); // empty Allow (an empty Disallow is a documented difference)
            }
            if pick(6) == 0 {
                out.push_str(&format!("# a comment line{eol}"));
            }
            out.push_str(&format!("{kind}: {pattern}{eol}"));
        }
        if pick(3) == 0 {
            out.push_str(eol);
        }
    }
    out
}

fn compare(body: &str, what: &str) -> usize {
    let ours = Robots::parse(body, UA);
    let theirs = texting_robots::Robot::new("veilmarkbot", body.as_bytes()).unwrap();
    let mut checked = 0;
    for path in PATHS {
        assert_eq!(
            ours.allowed(path),
            theirs.allowed(path),
            "{what}: {path:?} disagrees on\n{body}"
        );
        checked += 1;
    }
    checked
}

#[test]
fn agrees_with_texting_robots_on_generated_files() {
    let mut rng = XorShift64Star::seeded(16);
    let mut checked = 0;
    for i in 0..3_000 {
        checked += compare(&generated(&mut rng), &format!("generated #{i}"));
    }
    assert!(checked > 50_000);
}

#[test]
fn agrees_with_texting_robots_on_collected_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/robots");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let body = std::fs::read_to_string(&path).unwrap();
        compare(&body, &path.display().to_string());
        files += 1;
    }
    assert!(files >= 4, "collected files missing in {}", dir.display());
}

#[test]
fn documented_differences_from_texting_robots() {
    // Rules outside any group: RFC 9309 has none; texting_robots applies them to everyone.
    let body = "Disallow: /a\n";
    assert!(Robots::parse(body, UA).allowed("/a"));
    assert!(
        !texting_robots::Robot::new("veilmarkbot", body.as_bytes())
            .unwrap()
            .allowed("/a")
    );
    // An empty `Disallow:` is no rule (as in Google's parser); texting_robots reads it as
    // `Allow: /`, which then outweighs an equally long `Disallow: /` in the same group.
    let body = "User-agent: *\nDisallow: /\nDisallow:\n";
    assert!(!Robots::parse(body, UA).allowed("/"));
    assert!(
        texting_robots::Robot::new("veilmarkbot", body.as_bytes())
            .unwrap()
            .allowed("/")
    );
    // A versioned user-agent line names our product token.
    let body = "User-agent: VeilmarkBot/1.0\nDisallow: /a\n";
    assert!(!Robots::parse(body, UA).allowed("/a"));
    assert!(
        texting_robots::Robot::new("veilmarkbot", body.as_bytes())
            .unwrap()
            .allowed("/a")
    );
}
