//! `veilmark review …`: access reviews of the organisation's live links
//! (`docs/server.md#reviews`), acting on the data directory as the operator. A running server
//! sends the e-mail reminders and closes reviews at their due date; `review tick` does one such
//! run from the command line (for a cron job where no server runs the review task).

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use veilmark_server::rfc3339;
use veilmark_server::service::ClientMeta;
use veilmark_shared::text::escape_for_terminal;
use veilmark_store::classification::duration;
use veilmark_store::review::{ReviewDecision, ReviewSchedule};

use crate::account_cmd::OrgArg;
use crate::owner_cmd::{DataArgs, actor, open, parse_duration, runtime};

/// `veilmark review …`.
#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Start a review now: every live link is put before the member who made it, to confirm or
    /// revoke by the due date; links not confirmed by then are revoked.
    Start {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// Time owners have (`14d`; default: the organisation's schedule).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        due_in: Option<i64>,
    },
    /// Show the open review (or the latest, or --review ID) with every link and its decision.
    Status {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// A review id (`rev_…`).
        #[arg(long, value_name = "ID")]
        review: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a review (default: the open one, else the latest) as CSV, to a file or stdout.
    Export {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// A review id (`rev_…`).
        #[arg(long, value_name = "ID")]
        review: Option<String>,
        /// Write here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Confirm or revoke one link of the open review.
    Decide {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// The link id (`lnk_…`).
        link: String,
        /// `confirm` or `revoke`.
        decision: String,
    },
    /// Do what a running server's review task does, once, for every organisation: start the
    /// reviews schedules call for, close due ones (revoking unconfirmed links) and send the
    /// reminders due (through --smtp or VEILMARK_SMTP_URL; without, they are only listed).
    Tick {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// SMTP server URL, as for `veilmark serve --smtp`.
        #[arg(long, value_name = "URL")]
        smtp: Option<String>,
        /// The sender of reminders.
        #[arg(long, value_name = "ADDRESS", default_value = "veilmark@localhost")]
        mail_from: String,
    },
    /// Show or set how often reviews start and how long owners have.
    Schedule {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// Start a review this often (`13w`; `0s`: only by hand).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "window")]
        every: Option<i64>,
        /// Owners have this long to decide (`14d`).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "every")]
        window: Option<i64>,
    },
}

fn data_and_org(cmd: &ReviewCommand) -> (&DataArgs, &OrgArg) {
    match cmd {
        ReviewCommand::Start { data, org, .. }
        | ReviewCommand::Status { data, org, .. }
        | ReviewCommand::Export { data, org, .. }
        | ReviewCommand::Decide { data, org, .. }
        | ReviewCommand::Tick { data, org, .. }
        | ReviewCommand::Schedule { data, org, .. } => (data, org),
    }
}

/// Runs `veilmark review …`.
pub fn review(cmd: &ReviewCommand) -> Result<()> {
    runtime()?.block_on(async {
        let (data, org) = data_and_org(cmd);
        let state = open(data, None).await?;
        let by = actor(&state, org).await?;
        let cli = ClientMeta::cli();
        match cmd {
            ReviewCommand::Start { due_in, .. } => {
                let r = state.start_review(*due_in, &by, &cli).await?;
                println!("{}", r.id);
                eprintln!(
                    "review {} started: {} live link(s) to confirm or revoke by {}",
                    r.id,
                    r.links,
                    rfc3339(r.due_at)
                );
            }
            ReviewCommand::Status { review, json, .. } => {
                let Some(st) = state.review_status(review.as_deref(), &by).await? else {
                    eprintln!("no access review yet; start one with `veilmark review start`");
                    return Ok(());
                };
                if *json {
                    println!("{}", serde_json::to_string_pretty(&st)?);
                    return Ok(());
                }
                let r = &st.review;
                println!(
                    "review {} started {} by {}, due {}{}",
                    r.id,
                    rfc3339(r.started_at),
                    escape_for_terminal(&r.started_by),
                    rfc3339(r.due_at),
                    r.closed_at
                        .map(|c| format!(", closed {}", rfc3339(c)))
                        .unwrap_or_default()
                );
                println!(
                    "{} link(s): {} to decide, {} confirmed, {} revoked, {} expired",
                    r.links, r.undecided, r.confirmed, r.revoked, r.expired
                );
                println!(
                    "{:<20} {:<28} {:<32} {:<12} {:<10} {:<20} DECISION",
                    "LINK", "OWNER", "RECIPIENT", "LEVEL", "VIEWS LEFT", "LAST VIEW"
                );
                for i in &st.items {
                    println!(
                        "{:<20} {:<28} {:<32} {:<12} {:<10} {:<20} {}",
                        i.link_id,
                        escape_for_terminal(&i.owner),
                        escape_for_terminal(&i.recipient),
                        escape_for_terminal(&i.level),
                        i.views_left
                            .map_or_else(|| "unlimited".into(), |v| v.to_string()),
                        i.last_view_at.map_or_else(|| "never".into(), rfc3339),
                        i.decision.map_or("to decide", ReviewDecision::as_str)
                    );
                }
            }
            ReviewCommand::Export { review, out, .. } => {
                let (id, csv) = state.review_export(review.as_deref(), &by).await?;
                match out {
                    Some(path) => {
                        std::fs::write(path, csv)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        eprintln!("review {id} written to {}", path.display());
                    }
                    None => print!("{csv}"),
                }
            }
            ReviewCommand::Decide { link, decision, .. } => {
                let Some(d) =
                    ReviewDecision::parse(decision).filter(|d| *d != ReviewDecision::Expired)
                else {
                    bail!("decide `confirm` or `revoke`, not {decision:?}");
                };
                let outcome = state.decide_review(None, link, d, &by, &cli).await?;
                eprintln!(
                    "link {link} {d}{}",
                    if matches!(
                        outcome,
                        veilmark_store::review::DecideOutcome::Decided { closed: true }
                    ) {
                        "; every link is decided, the review is closed"
                    } else {
                        ""
                    }
                );
            }
            ReviewCommand::Tick {
                smtp, mail_from, ..
            } => {
                let mailer = crate::owner_cmd::smtp_url(smtp.as_deref())
                    .map(|url| {
                        veilmark_server::mail::Mailer::new(&veilmark_server::mail::MailConfig {
                            url,
                            from: mail_from.clone(),
                        })
                    })
                    .transpose()?;
                let t = state.review_tick(mailer.as_ref()).await?;
                for id in &t.started {
                    eprintln!("review {id} started by the schedule");
                }
                for c in &t.closed {
                    eprintln!(
                        "review {} closed at its due date: {} link(s) revoked",
                        c.review_id,
                        c.expired.len()
                    );
                }
                for (to, id, kind) in &t.reminded {
                    eprintln!("reminder ({}) for review {id} sent to {to}", kind.as_str());
                }
            }
            ReviewCommand::Schedule { every, window, .. } => {
                if let (Some(every_secs), Some(window_secs)) = (every, window) {
                    state
                        .set_review_schedule(
                            ReviewSchedule {
                                every_secs: *every_secs,
                                window_secs: *window_secs,
                            },
                            &by,
                            &cli,
                        )
                        .await?;
                }
                let s = state.review_schedule(&by).await?;
                println!(
                    "{}; owners have {}",
                    if s.every_secs == 0 {
                        "reviews start by hand only".to_owned()
                    } else {
                        format!("a review starts every {}", duration(s.every_secs))
                    },
                    duration(s.window_secs)
                );
            }
        }
        Ok(())
    })
}
