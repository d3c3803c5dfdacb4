//! `veilmark`: the one command a Veilmark user types.
//!
//! This binary is a thin front door: argument parsing, terminal output and exit codes. The work is
//! done by the library crates (`veilmark-shared` for formats; the server and crawler crates as
//! they arrive). Each subcommand group lives in its own module.

mod account_cmd;
mod catalog_cmd;
mod crawl_cmd;
mod demo;
mod envelope_cmd;
mod envelope_file;
mod identify;
mod keyfile;
mod level_cmd;
mod migrate_cmd;
mod owner_cmd;
mod progress;
mod render_cmd;
mod review_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status for an envelope that is damaged, forged or sealed under another key.
const EXIT_REJECTED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "veilmark",
    version,
    about = "Share drawings and CAD models with partners without letting them go, and find what leaks anyway.",
    long_about = None,
    after_help = "Exit status: 0 success, 1 error, 2 bad usage, 3 envelope rejected (tampered, truncated or wrong key).\n\nStart with `veilmark demo` for a tour."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seal, open and inspect envelope files directly (interoperability and debugging).
    #[command(subcommand)]
    Envelope(envelope_cmd::EnvelopeCommand),
    /// Manage the reference catalog of product images the crawler looks for.
    #[command(subcommand)]
    Catalog(catalog_cmd::CatalogCommand),
    /// Crawl a marketplace for copies of catalog images and watermarked leaks.
    Crawl(crawl_cmd::CrawlArgs),
    /// Find Veilmark's invisible watermark in images and print the session code that leaked them.
    Identify(identify::IdentifyArgs),
    /// Render a CAD model or drawing from standard views to PNG files (reference images).
    Render(render_cmd::RenderArgs),
    /// Run a guided tour of what Veilmark does, in a scratch folder.
    Demo(demo::DemoArgs),
    /// Run the link and licence server (viewer API, owner API, revocation push, audit).
    Serve(owner_cmd::ServeArgs),
    /// Seal a file into the server's store and print its document id.
    Seal(owner_cmd::SealArgs),
    /// Create a protected link to a sealed document and print its URL.
    Link(owner_cmd::LinkArgs),
    /// List protected links with their views and status.
    Links(owner_cmd::LinksArgs),
    /// Revoke a link: no new licence or renewal, open viewers are told at once.
    Revoke(owner_cmd::RevokeArgs),
    /// Show, export (--json, --csv) or verify (--verify) the hash-chained audit log.
    Audit(owner_cmd::AuditArgs),
    /// Manage member accounts (roles, passwords) and their API tokens.
    #[command(subcommand)]
    Owner(account_cmd::OwnerCommand),
    /// Manage organisations (tenants).
    #[command(subcommand)]
    Org(account_cmd::OrgCommand),
    /// Classification levels: list them, set a document's, define the organisation's own.
    #[command(subcommand)]
    Level(level_cmd::LevelCommand),
    /// Terms (a non-disclosure text) recipients accept before their first view.
    #[command(subcommand)]
    Terms(level_cmd::TermsCommand),
    /// Supplier companies (by e-mail domain): approve or suspend them.
    #[command(subcommand)]
    Supplier(level_cmd::SupplierCommand),
    /// Access reviews: start one, see where it stands, confirm or revoke links, export it.
    #[command(subcommand)]
    Review(review_cmd::ReviewCommand),
    /// Move an embedded installation (SQLite and local envelopes) into PostgreSQL and verify it.
    Migrate(migrate_cmd::MigrateArgs),
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Demo(_) | Command::Render(_)) {
        give_vulkan_a_runtime_dir();
    }
    let result = match cli.command {
        Command::Envelope(cmd) => envelope_cmd::run(cmd),
        Command::Catalog(cmd) => catalog_cmd::run(cmd),
        Command::Crawl(args) => crawl_cmd::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Serve(args) => owner_cmd::serve(&args),
        Command::Seal(args) => owner_cmd::seal(&args),
        Command::Link(args) => owner_cmd::link(&args),
        Command::Links(args) => owner_cmd::links(&args),
        Command::Revoke(args) => owner_cmd::revoke(&args),
        Command::Audit(args) => owner_cmd::audit(&args),
        Command::Owner(cmd) => account_cmd::owner(&cmd),
        Command::Org(cmd) => account_cmd::org(&cmd),
        Command::Level(cmd) => level_cmd::level(&cmd),
        Command::Supplier(cmd) => level_cmd::supplier(&cmd),
        Command::Terms(cmd) => level_cmd::terms(&cmd),
        Command::Review(cmd) => review_cmd::review(&cmd),
        Command::Migrate(args) => migrate_cmd::run(&args),
        Command::Identify(args) => identify::run(&args),
        Command::Render(args) => render_cmd::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "error: {}",
                veilmark_shared::text::escape_for_terminal(&format!("{err:#}"))
            );
            let rejected = err.chain().any(|cause| {
                cause
                    .downcast_ref::<veilmark_shared::envelope::EnvelopeError>()
                    .is_some_and(veilmark_shared::envelope::EnvelopeError::is_integrity_failure)
            });
            if rejected {
                ExitCode::from(EXIT_REJECTED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `veilmark … | head` should end quietly, as Unix tools do, rather than panic on a closed pipe:
/// Rust ignores SIGPIPE by default, so restore the default action (terminate) at start-up.
#[cfg(unix)]
#[allow(unsafe_code)]
fn restore_default_sigpipe() {
    // SAFETY: called first thing in `main`, before any thread exists; `signal` with `SIG_DFL`
    // has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}

/// Native rendering (`render`, and the demo's reference views) loads Mesa's Vulkan driver, whose
/// window-system code prints `error: XDG_RUNTIME_DIR is invalid or not set` twice when the
/// variable is unset, as in containers, CI and `ssh` sessions: stray error lines in a run that
/// succeeds. Point it at a private folder of our own instead.
#[allow(unsafe_code)]
fn give_vulkan_a_runtime_dir() {
    use std::os::unix::fs::DirBuilderExt as _;
    let current = std::env::var_os("XDG_RUNTIME_DIR");
    if current.is_some_and(|d| std::path::Path::new(&d).is_dir()) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("veilmark-runtime-{}", std::process::id()));
    let made = std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&dir);
    if made.is_ok() {
        // SAFETY: called from `main` right after argument parsing, before any thread (the
        // async runtime, rayon, wgpu) exists, so nothing reads the environment concurrently.
        unsafe {
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}
