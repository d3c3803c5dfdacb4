//! `veilmark level …` and `veilmark supplier …`: classification levels and the supplier
//! companies links may go to (`docs/server.md#classification`), acting on the data directory
//! as the operator, like `seal` and `link`.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use veilmark_server::classification::LevelDefinition;
use veilmark_server::offboarding::AccessReport;
use veilmark_server::rfc3339;
use veilmark_server::service::ClientMeta;
use veilmark_shared::text::escape_for_terminal;
use veilmark_store::classification::{SupplierStatus, default_levels, duration};

use crate::account_cmd::OrgArg;
use crate::owner_cmd::{DataArgs, actor, open, runtime};

/// `veilmark level …`.
#[derive(Subcommand)]
pub enum LevelCommand {
    /// List the organisation's classification levels and their ceilings.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a document to another level; its live links are re-checked against the new
    /// ceilings (shortened, never lengthened; revoked where a passcode or an approved supplier
    /// is now required and missing).
    Set {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// Document id, as printed by `veilmark seal`.
        doc: String,
        /// Level name.
        level: String,
    },
    /// Replace the organisation's levels with those in a JSON file: a list, lowest first, of
    /// {"name", "max_link_days", "max_views", "passcode_required", "owner_second_factor",
    /// "watermark": "light"|"standard"|"dense", "approved_only"}. `level list --json` prints
    /// the current ones in a form close to it; `--defaults` restores the built-in four.
    Define {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// The JSON file.
        #[arg(required_unless_present = "defaults")]
        file: Option<std::path::PathBuf>,
        /// Restore Public, Internal, Confidential, Restricted.
        #[arg(long, conflicts_with = "file")]
        defaults: bool,
    },
}

/// `veilmark terms …`: the non-disclosure text recipients accept before their first view.
#[derive(Subcommand)]
pub enum TermsCommand {
    /// Require recipients to accept the text in FILE before their first view of a document
    /// (of level --from-level and above; default every document). Changing the text asks
    /// every recipient again.
    Set {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// A UTF-8 text file.
        file: std::path::PathBuf,
        /// Only documents of this level and above.
        #[arg(long, value_name = "LEVEL")]
        from_level: Option<String>,
    },
    /// Print the current terms, their SHA-256 and where they apply.
    Show {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Stop asking for terms.
    Clear {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
    },
}

/// Runs `veilmark terms …`.
pub fn terms(cmd: &TermsCommand) -> Result<()> {
    runtime()?.block_on(async {
        let (data, org) = match cmd {
            TermsCommand::Set { data, org, .. }
            | TermsCommand::Show { data, org }
            | TermsCommand::Clear { data, org } => (data, org),
        };
        let state = open(data, None).await?;
        let by = actor(&state, org).await?;
        let cli = ClientMeta::cli();
        match cmd {
            TermsCommand::Set {
                file, from_level, ..
            } => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {} as UTF-8 text", file.display()))?;
                let terms = state
                    .set_terms(Some(&text), from_level.as_deref(), &by, &cli)
                    .await?
                    .context("terms were not stored")?;
                eprintln!(
                    "terms set (sha256 {}), asked before the first view of {}",
                    hex::encode(veilmark_shared::wire::terms_digest(&terms.text)),
                    from_level.as_deref().map_or_else(
                        || "every document".to_owned(),
                        |l| format!("{l} documents and above")
                    )
                );
            }
            TermsCommand::Show { .. } => match state.store.terms(by.org).await? {
                None => eprintln!("no terms: recipients view without accepting any"),
                Some(t) => {
                    let levels = state.levels(&by).await?;
                    let from = levels
                        .iter()
                        .find(|l| l.rank == t.from_rank)
                        .map_or_else(|| format!("rank {}", t.from_rank), |l| l.name.clone());
                    eprintln!(
                        "sha256 {}, for {from} documents and above, set {}",
                        hex::encode(veilmark_shared::wire::terms_digest(&t.text)),
                        rfc3339(t.updated_at)
                    );
                    println!("{}", escape_for_terminal(&t.text));
                }
            },
            TermsCommand::Clear { .. } => {
                state.set_terms(None, None, &by, &cli).await?;
                eprintln!("terms removed");
            }
        }
        Ok(())
    })
}

/// `veilmark supplier …`.
#[derive(Subcommand)]
pub enum SupplierCommand {
    /// List the organisation's supplier companies.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a supplier company as approved (or approve a suspended one again).
    Approve {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// The e-mail domain of its people (`supplier.example`).
        domain: String,
        /// Its name (default: the domain, or the name it already has).
        #[arg(long)]
        name: Option<String>,
    },
    /// Off-board a supplier: revoke every live link of its people at once (open viewers go
    /// blank) and write the access report for the termination file (CSV and PDF).
    Offboard {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// The e-mail domain of its people.
        domain: String,
        /// Folder for the report files (`supplier-access-DOMAIN.csv` and `.pdf`).
        #[arg(long, value_name = "DIR", default_value = ".")]
        report: std::path::PathBuf,
        /// Confirm: without it nothing is revoked.
        #[arg(long)]
        yes: bool,
    },
    /// Write a supplier's access report (CSV and PDF) without changing anything.
    Report {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// The e-mail domain of its people.
        domain: String,
        /// Folder for the report files.
        #[arg(long, value_name = "DIR", default_value = ".")]
        report: std::path::PathBuf,
    },
    /// Suspend a supplier: no new links to its people and no opens, links kept.
    Suspend {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
        /// The e-mail domain of its people.
        domain: String,
    },
}

/// Runs `veilmark level …`.
pub fn level(cmd: &LevelCommand) -> Result<()> {
    runtime()?.block_on(async {
        match cmd {
            LevelCommand::List { data, org, json } => {
                let state = open(data, None).await?;
                let by = actor(&state, org).await?;
                let levels = state.levels(&by).await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&levels)?);
                    return Ok(());
                }
                println!(
                    "{:<4} {:<14} {:<10} {:>6} {:<9} {:<10} {:<9} OWNER 2FA",
                    "RANK", "LEVEL", "LINKS", "VIEWS", "PASSCODE", "SUPPLIERS", "WATERMARK"
                );
                for l in levels {
                    let yes = |b: bool| if b { "required" } else { "-" };
                    println!(
                        "{:<4} {:<14} {:<10} {:>6} {:<9} {:<10} {:<9} {}",
                        l.rank,
                        escape_for_terminal(&l.name),
                        duration(l.max_link_secs),
                        l.max_views.map_or_else(|| "-".into(), |v| v.to_string()),
                        yes(l.passcode_required),
                        if l.approved_only { "approved" } else { "any" },
                        l.watermark.as_str(),
                        yes(l.owner_second_factor)
                    );
                }
                Ok(())
            }
            LevelCommand::Set {
                data,
                org,
                doc,
                level,
            } => {
                let state = open(data, None).await?;
                let by = actor(&state, org).await?;
                let change = state
                    .set_document_level(doc, level, &by, &ClientMeta::cli())
                    .await?;
                println!("{}", escape_for_terminal(&change.describe()));
                Ok(())
            }
            LevelCommand::Define {
                data,
                org,
                file,
                defaults,
            } => {
                let levels = if *defaults {
                    default_levels()
                } else {
                    let path = file.as_ref().context("name a JSON file or --defaults")?;
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    let defs: Vec<LevelDefinition> = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a list of levels", path.display()))?;
                    defs.iter()
                        .map(LevelDefinition::policy)
                        .collect::<Result<_, _>>()
                        .map_err(anyhow::Error::msg)?
                };
                let state = open(data, None).await?;
                let by = actor(&state, org).await?;
                let names: Vec<String> = levels.iter().map(|l| l.name.clone()).collect();
                state.define_levels(levels, &by, &ClientMeta::cli()).await?;
                eprintln!("levels now: {}", escape_for_terminal(&names.join(", ")));
                Ok(())
            }
        }
    })
}

/// Writes `supplier-access-DOMAIN.csv` and `.pdf` into `dir` and prints their paths.
fn write_report(report: &AccessReport, dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Not `with_extension`: the domain's own dots would be taken for one.
    let name = format!("supplier-access-{}", report.supplier.domain);
    let csv = dir.join(format!("{name}.csv"));
    let pdf = dir.join(format!("{name}.pdf"));
    std::fs::write(&csv, report.csv())
        .with_context(|| format!("cannot write {}", csv.display()))?;
    std::fs::write(&pdf, report.pdf())
        .with_context(|| format!("cannot write {}", pdf.display()))?;
    println!("{}", csv.display());
    println!("{}", pdf.display());
    eprintln!(
        "access report: {} link(s) of {}'s people",
        report.rows.len(),
        report.supplier.domain
    );
    Ok(())
}

/// Runs `veilmark supplier …`.
pub fn supplier(cmd: &SupplierCommand) -> Result<()> {
    runtime()?.block_on(async {
        let (data, org) = match cmd {
            SupplierCommand::List { data, org, .. }
            | SupplierCommand::Approve { data, org, .. }
            | SupplierCommand::Offboard { data, org, .. }
            | SupplierCommand::Report { data, org, .. }
            | SupplierCommand::Suspend { data, org, .. } => (data, org),
        };
        if let SupplierCommand::Offboard { domain, yes: false, .. } = cmd {
            bail!(
                "off-boarding revokes every live link of {domain}'s people at once; run again with --yes to do it"
            );
        }
        let state = open(data, None).await?;
        let by = actor(&state, org).await?;
        let cli = ClientMeta::cli();
        match cmd {
            SupplierCommand::Offboard { domain, report, .. } => {
                let done = state.offboard_supplier(domain, &by, &cli).await?;
                eprintln!(
                    "{} ({}) off-boarded: {} live link(s) revoked{}",
                    escape_for_terminal(&done.report.supplier.name),
                    done.report.supplier.domain,
                    done.revoked.len(),
                    if done.revoked.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", done.revoked.join(", "))
                    }
                );
                write_report(&done.report, report)?;
            }
            SupplierCommand::Report { domain, report, .. } => {
                let r = state.access_report(domain, &by).await?;
                write_report(&r, report)?;
            }
            SupplierCommand::List { json, .. } => {
                let suppliers = state.store.suppliers(by.org).await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&suppliers)?);
                } else if suppliers.is_empty() {
                    eprintln!("no suppliers yet; add one with `veilmark supplier approve DOMAIN`");
                } else {
                    println!("{:<32} {:<32} {:<10} SINCE", "DOMAIN", "NAME", "STATUS");
                    for s in suppliers {
                        println!(
                            "{:<32} {:<32} {:<10} {}",
                            escape_for_terminal(&s.domain),
                            escape_for_terminal(&s.name),
                            s.status.as_str(),
                            rfc3339(s.changed_at)
                        );
                    }
                }
            }
            SupplierCommand::Approve { domain, name, .. } => {
                let s = state
                    .set_supplier(domain, name.as_deref(), SupplierStatus::Approved, &by, &cli)
                    .await?;
                eprintln!("{} ({}) approved", escape_for_terminal(&s.name), s.domain);
            }
            SupplierCommand::Suspend { domain, .. } => {
                let s = state
                    .set_supplier(domain, None, SupplierStatus::Suspended, &by, &cli)
                    .await?;
                eprintln!(
                    "{} ({}) suspended: no new links and no opens until approved again",
                    escape_for_terminal(&s.name),
                    s.domain
                );
            }
        }
        Ok(())
    })
}
