//! `veilmark`: the one command a Veilmark user types.
//!
//! This binary is a thin front door: argument parsing, terminal output and exit codes. The work is
//! done by the library crates (`veilmark-shared` for formats; the server and crawler crates as
//! they arrive). Each subcommand group lives in its own module.

mod demo;
mod envelope_cmd;
mod envelope_file;
mod identify;
mod keyfile;
mod progress;

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
    /// Find Veilmark's invisible watermark in images and print the session code that leaked them.
    Identify(identify::IdentifyArgs),
    /// Run a guided tour of what Veilmark does, in a scratch folder.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Envelope(cmd) => envelope_cmd::run(cmd),
        Command::Demo(args) => demo::run(&args),
        Command::Identify(args) => identify::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
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
