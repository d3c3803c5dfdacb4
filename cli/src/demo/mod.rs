//! `veilmark demo`: a guided tour, in a scratch folder, of what this build can do.
//!
//! The demo is the product's front window (BRIEF §8) and grows with every capability:
//! 1. the sealed envelope by hand (seal, inspect, open, tampering caught);
//! 2. the server: documents sealed into the store, protected links, a viewer's licence request
//!    and decryption, revocation, the audit chain;
//! 3. the crawler: a reference catalog, a crawl of the local fixture marketplace, hits with
//!    evidence.
//!
//! It ends with the server still running on 127.0.0.1 (when run on a terminal) so the links it
//! printed can be opened.

mod crawl_tour;
mod envelope_tour;
mod portal;
mod server_tour;

use std::fs;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

/// Arguments of `veilmark demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Scratch folder for the demo's files (created; its data directory is started afresh).
    #[arg(long, default_value = "veilmark-demo")]
    dir: PathBuf,
    /// A real PDF to share (default: /usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf
    /// when present, else a generated drawing sheet).
    #[arg(long)]
    pdf: Option<PathBuf>,
    /// A real CAD model to share (default: tests/fixtures/cad/assembly.step, a build123d
    /// assembly, with the plate.dxf drawing beside it, when run from the repository).
    #[arg(long)]
    cad: Option<PathBuf>,
    /// A generated fixture marketplace to crawl (from tests/fixtures/marketplace/generate.py;
    /// `cargo xtask demo` makes one). Without it the crawl part is skipped, saying so.
    #[arg(long)]
    marketplace: Option<PathBuf>,
    /// Keep the server running until Ctrl-C (default: when standard input is a terminal).
    #[arg(long)]
    serve: bool,
    /// Stop at the end instead of serving (for scripted runs).
    #[arg(long, conflicts_with = "serve")]
    no_serve: bool,
    /// The address the demo's server listens on, for a browser on another machine
    /// (default 127.0.0.1; anything else is announced with a warning: the demo's accounts and
    /// links are then reachable from the network).
    #[arg(long, default_value = "127.0.0.1")]
    listen: std::net::IpAddr,
}

/// The PDF shipped by Debian's shared-mime-info package, present on a fresh machine of ours.
const DEBIAN_PDF: &str = "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf";

/// The CAD files the demo shares: `--cad` (and a drawing beside it) or the repository's
/// build123d assembly and ezdxf drawing.
fn cad_samples(cad: Option<&std::path::Path>) -> Vec<PathBuf> {
    let fixtures = std::path::Path::new("tests/fixtures/cad");
    let mut files: Vec<PathBuf> = match cad {
        Some(path) => vec![path.to_path_buf()],
        None => vec![fixtures.join("assembly.step")],
    };
    let drawing = fixtures.join("plate.dxf");
    if cad.is_none() || drawing.exists() {
        files.push(drawing);
    }
    files.retain(|f| f.exists());
    files
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<()> {
    let dir = &args.dir;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    println!("Veilmark demo — working in {}\n", dir.display());
    let pdf = args.pdf.clone().or_else(|| {
        std::path::Path::new(DEBIAN_PDF)
            .exists()
            .then(|| DEBIAN_PDF.into())
    });
    let samples = envelope_tour::write_samples(dir, pdf.as_deref())?;
    envelope_tour::run(dir, &samples)?;
    let cad = cad_samples(args.cad.as_deref());

    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async {
        if !args.listen.is_loopback() {
            eprintln!(
                "WARNING: listening on {}, not loopback: anyone who can reach this machine can \
                 open the demo's links and try its console logins. Use it on a network you trust.\n",
                args.listen
            );
        }
        let server = server_tour::run(dir, &samples, &cad, args.listen).await?;
        let data_dir = server.data_dir.clone();
        match &args.marketplace {
            Some(m) => {
                crawl_tour::run(&data_dir, m, dir, &server.alice_frame, &server.alice_code).await?;
            }
            None => println!(
                "\n10. Crawler: skipped (no --marketplace given; `cargo xtask demo` generates one)."
            ),
        }
        let serve = args.serve || (!args.no_serve && std::io::stdin().is_terminal());
        println!("\nWhat next:");
        println!("   veilmark --help                      every command");
        println!(
            "   veilmark links --data {0}   links; revoke with `veilmark revoke LINK --data {0}`",
            data_dir.display()
        );
        println!("   veilmark audit --verify --data {}", data_dir.display());
        if serve {
            print_what_to_open(&server, args.marketplace.is_some());
            tokio::signal::ctrl_c().await?;
            println!("stopped");
        }
        Ok(())
    })
}

/// The end of the tour: what to open in a browser, in order, while the server runs.
fn print_what_to_open(server: &server_tour::DemoServer, crawled: bool) {
    println!(
        "\nThe server is running at {}. Open, in order:",
        server.base
    );
    let mut n = 0;
    let mut item = |what: &str, url: &str| {
        n += 1;
        println!("  {n}. {what}\n       {url}");
    };
    for link in &server.links {
        item(&link.what, &link.url);
    }
    let (email, password) = &server.login;
    item(
        &format!("the owner console (log in as {email} / {password}): documents, links, audit"),
        &format!("{}/console/login", server.base),
    );
    item(
        if crawled {
            "the review console: the crawl's hits, with evidence and the leak traced to Alice"
        } else {
            "the review console (empty: this run crawled no marketplace; `cargo xtask demo` does)"
        },
        &format!("{}/console/review", server.base),
    );
    if let Some(portal) = &server.portal {
        item(
            "the partner portal, embedding the viewer with <veilmark-viewer>",
            portal,
        );
    }
    println!(
        "\nTry a revocation: keep the PDF (1.) open in one tab; in the owner console's Links page \
         revoke link {} (or run `veilmark revoke {} --data {}`): the open viewer goes blank \
         within a second and says \"Access revoked\".\nCtrl-C stops the server.",
        server.pdf_link_id,
        server.pdf_link_id,
        server.data_dir.display()
    );
}
