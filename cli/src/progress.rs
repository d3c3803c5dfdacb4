//! Progress display for long operations: a bar on a terminal, nothing otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Files smaller than this finish too fast for a bar to help.
const MIN_BYTES_FOR_BAR: u64 = 16 * 1024 * 1024;

/// Whether and how to show progress.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Shows bars only when standard error is a terminal and `quiet` is off.
    pub fn auto(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// A byte-counting bar for `total` bytes (hidden when disabled or the job is small).
    pub fn bar(&self, total: u64, verb: &str) -> ProgressBar {
        if !self.enabled || total < MIN_BYTES_FOR_BAR {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>8} [{bar:40.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(verb.to_owned());
        bar
    }
}
