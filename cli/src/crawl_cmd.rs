//! `veilmark crawl`: scan a marketplace for copies of catalog images and watermarked leaks,
//! with one or more workers; further processes (on this or other machines) join a running
//! crawl with `--join` when the crawl state is in PostgreSQL (`--database`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use veilmark_crawler::crawl::{CrawlOptions, crawl};
use veilmark_crawler::profile::SiteProfile;
use veilmark_shared::text::escape_for_terminal;
use veilmark_store::{DataDir, Evidence as Store};

/// Arguments of `crawl`.
#[derive(Args)]
pub struct CrawlArgs {
    /// Site profile (TOML): seeds, scope, selectors, rate limits, budgets.
    #[arg(long)]
    profile: PathBuf,
    /// Data directory (shared with `veilmark serve`); hits go into its database.
    #[arg(long, default_value = "veilmark-data")]
    data: PathBuf,
    /// Organisation the catalog and hits belong to.
    #[arg(long, value_name = "NAME", default_value = veilmark_store::tenancy::DEFAULT_ORG)]
    org: String,
    /// Also write every hit of this marketplace as JSON Lines.
    #[arg(long)]
    export: Option<PathBuf>,
    /// Worker loops in this process, all taking pages from the run's one frontier.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// Join the profile's running crawl (started by `veilmark crawl` elsewhere) instead of
    /// starting or resuming one; fails when none is running.
    #[arg(long)]
    join: bool,
    // `--database`: crawl state in PostgreSQL (workers on several machines share it) instead
    // of the data directory's SQLite file.
    #[command(flatten)]
    database: crate::owner_cmd::DatabaseArg,
    /// Seconds a worker's claim on a page lasts without renewal: a killed worker's pages go
    /// to the others this long after it died.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    lease_seconds: u64,
    /// Where the run's WARC evidence goes once the run finishes: a folder or
    /// `s3://bucket/prefix` (endpoint and keys from the AWS_* variables); default: the data
    /// directory. Also read from VEILMARK_OBJECTS (store/README.md#objects).
    #[arg(long, value_name = "URL")]
    objects: Option<veilmark_store::objects::ObjectsUrl>,
    /// Start from this URL instead of the profile's seeds (repeatable); the allowed hosts
    /// become the seeds' hosts. For the ready profiles in crawler/profiles/.
    #[arg(long = "seed", value_name = "URL")]
    seeds: Vec<String>,
    /// Fetch this one page as the crawl would (robots.txt, scope, address policy) and show
    /// what the profile extracts from it; stores nothing.
    #[arg(long, value_name = "URL")]
    dry_run: Option<String>,
    /// With --dry-run: print JSON.
    #[arg(long, requires = "dry_run")]
    json: bool,
}

/// The profile with `--seed`s in place of its own seeds and their hosts as its scope.
fn with_seeds(mut profile: SiteProfile, seeds: &[String]) -> anyhow::Result<SiteProfile> {
    if seeds.is_empty() {
        return Ok(profile);
    }
    let mut hosts = Vec::new();
    for s in seeds {
        let u = url::Url::parse(s).with_context(|| format!("--seed {s:?} is not a URL"))?;
        if !matches!(u.scheme(), "http" | "https") {
            anyhow::bail!("--seed {s:?} is not an http:// or https:// URL");
        }
        let host = u
            .host_str()
            .with_context(|| format!("--seed {s:?} has no host"))?
            .to_ascii_lowercase();
        hosts.push(match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        });
    }
    profile.seeds = seeds.to_vec();
    profile.allowed_hosts = hosts;
    Ok(profile)
}

/// `crawl --dry-run URL`: one page through the profile, printed; nothing stored.
fn dry_run(profile: &SiteProfile, url: &str, json: bool) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let d = rt.block_on(veilmark_crawler::dry_run::dry_run(profile, url))?;
    let l = &d.extracted.listing;
    if json {
        let v = serde_json::json!({
            "url": d.url.as_str(),
            "status": d.status,
            "redirect": d.redirect.as_ref().map(url::Url::as_str),
            "listing": d.is_listing,
            "follows_links": d.follows_links,
            "title": l.title,
            "price": l.price,
            "seller": l.seller,
            "images": l.images.iter().map(url::Url::as_str).collect::<Vec<_>>(),
            "sources": d.extracted.sources,
            "links_queued": d.links_queued.iter().map(url::Url::as_str).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let show = |v: Option<&str>| escape_for_terminal(v.unwrap_or("-")).into_owned();
    println!("url       {}", escape_for_terminal(d.url.as_str()));
    println!(
        "status    {}{}",
        d.status,
        d.redirect
            .as_ref()
            .map(|r| format!(
                " -> {} (queued by a crawl, not followed here)",
                escape_for_terminal(r.as_str())
            ))
            .unwrap_or_default()
    );
    println!(
        "listing   {}",
        if d.is_listing {
            "yes: its images are matched against the catalog"
        } else {
            "no (listing_patterns)"
        }
    );
    println!("title     {}", show(l.title.as_deref()));
    println!("price     {}", show(l.price.as_deref()));
    println!("seller    {}", show(l.seller.as_deref()));
    println!("sources   {}", d.extracted.sources.join(", "));
    println!("images    {}", l.images.len());
    for i in &l.images {
        println!("          {}", escape_for_terminal(i.as_str()));
    }
    if d.follows_links {
        println!(
            "links     {} queued (in scope, not denied)",
            d.links_queued.len()
        );
        for u in &d.links_queued {
            println!("          {}", escape_for_terminal(u.as_str()));
        }
    } else {
        println!("links     not followed (follow_patterns)");
    }
    eprintln!("dry run: nothing was stored");
    Ok(())
}

/// Runs `crawl`.
pub fn run(args: &CrawlArgs) -> anyhow::Result<()> {
    let profile = with_seeds(SiteProfile::load(&args.profile)?, &args.seeds)?;
    if let Some(url) = &args.dry_run {
        return dry_run(&profile, url, args.json);
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async {
        let data = DataDir::new(&args.data);
        let backend = args.database.backend()?;
        let store = Store::open_on(&backend, &data, &args.org)
            .await
            .with_context(|| format!("cannot open the crawl store {}", backend.describe(&data)))?;
        let store = match crate::owner_cmd::objects_location(args.objects.clone())? {
            Some(objects) => store.with_objects(objects.open_checked().await?),
            None => store,
        };
        // A crawl that stopped between finishing its run and uploading its evidence (killed,
        // or the bucket unreachable) left files here: upload them before anything else.
        let left = store
            .publish_left_behind()
            .await
            .context("cannot upload the evidence an earlier crawl left in the data directory")?;
        if !left.is_empty() {
            eprintln!(
                "uploaded {} evidence file(s) an earlier crawl left in {}: {}",
                left.len(),
                args.data.display(),
                left.join(", ")
            );
        }
        let refs = store.references().await?.len();
        if refs == 0 {
            eprintln!("note: the catalog is empty, so only watermark hits can be found (`veilmark catalog add`).");
        }
        let bar = if std::io::stderr().is_terminal() {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template"));
            b.enable_steady_tick(Duration::from_millis(200));
            b
        } else {
            ProgressBar::hidden()
        };
        let b2 = bar.clone();
        let decoder: std::sync::Arc<dyn veilmark_crawler::watermark::WatermarkDecoder> =
            match veilmark_crawler::watermark::ForensicDecoder::from_data_dir(&data)? {
                Some(d) => std::sync::Arc::new(d),
                None => {
                    eprintln!("note: {} has no server watermark key yet (`veilmark serve` creates it), so leaked viewer screenshots cannot be traced.", args.data.display());
                    std::sync::Arc::new(veilmark_crawler::watermark::NoDecoder)
                }
            };
        let options = CrawlOptions {
            decoder,
            on_progress: Some(Box::new(move |p| {
                b2.set_message(format!(
                    "pages {}  images {}  hits {}  queued {}  errors {}  robots-blocked {}  unchanged {}",
                    p.pages, p.images, p.hits, p.queued, p.errors, p.robots_blocked, p.unchanged
                ));
            })),
            workers: usize::from(args.workers),
            join: args.join,
            lease: Duration::from_secs(args.lease_seconds),
            ..CrawlOptions::default()
        };
        let name = profile.name.clone();
        let report = crawl(profile, store.clone(), options).await?;
        bar.finish_and_clear();
        let p = &report.progress;
        println!(
            "{} run #{}{}: {} pages, {} images, {} new hits, {} errors, {} blocked by robots.txt, {} unchanged, {:.1}s",
            escape_for_terminal(&name),
            report.run_id,
            if args.join { " (joined)" } else if report.resumed { " (resumed)" } else { "" },
            p.pages,
            p.images,
            p.hits,
            p.errors,
            p.robots_blocked,
            p.unchanged,
            report.elapsed_ms as f64 / 1000.0
        );
        if let Some(b) = &report.budget_exhausted {
            println!("stopped early: the {b} budget of the profile was spent");
        }
        let mut errors: Vec<_> = report.errors.iter().collect();
        errors.sort();
        for (kind, n) in errors {
            println!("  {n:>5} x {}", escape_for_terminal(kind));
        }
        println!("hits are in {}", backend.describe(&data));
        if let Some(out) = &args.export {
            let n = veilmark_crawler::catalog::export_hits(&store, &name, out).await?;
            println!("exported {n} hits to {}", out.display());
        }
        Ok(())
    })
}
