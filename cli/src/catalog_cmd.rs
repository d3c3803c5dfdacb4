//! `veilmark catalog`: the brand's reference images that the crawler looks for.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use veilmark_shared::text::escape_for_terminal;
use veilmark_store::{DataDir, Evidence as Store};

use crate::owner_cmd::DatabaseArg;

/// Manage the reference catalog.
#[derive(Subcommand)]
pub enum CatalogCommand {
    /// Add product images as references of one SKU.
    Add(AddArgs),
    /// List reference images.
    List(ListArgs),
}

/// Arguments of `catalog add`.
#[derive(Args)]
pub struct AddArgs {
    /// Image files (JPEG, PNG, GIF or WebP).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Product SKU the images show.
    #[arg(long)]
    product: String,
    /// Product title, for reviewers.
    #[arg(long)]
    title: Option<String>,
    /// Data directory (shared with `veilmark serve`).
    #[arg(long, default_value = "veilmark-data")]
    data: PathBuf,
    /// Organisation the catalog and hits belong to.
    #[arg(long, value_name = "NAME", default_value = veilmark_store::tenancy::DEFAULT_ORG)]
    org: String,
    #[command(flatten)]
    database: DatabaseArg,
}

/// Arguments of `catalog list`.
#[derive(Args)]
pub struct ListArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Data directory (shared with `veilmark serve`).
    #[arg(long, default_value = "veilmark-data")]
    data: PathBuf,
    /// Organisation the catalog and hits belong to.
    #[arg(long, value_name = "NAME", default_value = veilmark_store::tenancy::DEFAULT_ORG)]
    org: String,
    #[command(flatten)]
    database: DatabaseArg,
}

/// Runs a `catalog` subcommand.
pub fn run(cmd: CatalogCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async {
        match cmd {
            CatalogCommand::Add(a) => {
                let store = Store::open_on(&a.database.backend()?, &DataDir::new(&a.data), &a.org).await.context("cannot open the catalog")?;
                let added = veilmark_crawler::catalog::add_files(&store, &a.paths, &a.product, a.title.as_deref()).await?;
                for x in added {
                    let note = if x.quality < 50 { "  (low PDQ quality: flat or tiny image, weak reference)" } else { "" };
                    let state = if x.new { "added" } else { "already present" };
                    println!("{state}: #{} {} -> {}{note}", x.id, x.path, a.product);
                }
                Ok(())
            }
            CatalogCommand::List(l) => {
                let store = Store::open_on(&l.database.backend()?, &DataDir::new(&l.data), &l.org).await.context("cannot open the catalog")?;
                let refs = store.references().await?;
                let mut out = String::new();
                if l.json {
                    for r in &refs {
                        out.push_str(&serde_json::to_string(r)?);
                        out.push('\n');
                    }
                } else if refs.is_empty() {
                    out.push_str("The catalog is empty; add images with `veilmark catalog add PATH... --product SKU`.\n");
                } else {
                    out.push_str(&format!("{:>5}  {:<16} {:>9}  {:>3}  {:<20} source\n", "id", "sku", "size", "q", "title"));
                    for r in &refs {
                        out.push_str(&format!(
                            "{:>5}  {:<16} {:>9}  {:>3}  {:<20} {}\n",
                            r.id,
                            escape_for_terminal(&r.sku),
                            format!("{}x{}", r.width, r.height),
                            r.pdq_quality,
                            escape_for_terminal(r.title.as_deref().unwrap_or("-")),
                            escape_for_terminal(&r.source_path)
                        ));
                    }
                }
                // A reader that stops early (`| head`) is not an error.
                match std::io::stdout().lock().write_all(out.as_bytes()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                    _ => {}
                }
                Ok(())
            }
        }
    })
}
