//! `veilmark migrate --from DIR --to postgres://…`: moves an embedded installation into
//! PostgreSQL for the scale-out deployment, then verifies it and prints what it moved
//! (`docs/deploy.md#migrate`). The work is `veilmark_store::migrate`; this is the front door.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use veilmark_shared::text::escape_for_terminal;
use veilmark_store::migrate::{FAMILIES, MigrateReport};
use veilmark_store::{
    Backend, DATABASE_ENV, DataDir, Durability, open_stores, redact_database_url,
};

use crate::owner_cmd::runtime;

/// `veilmark migrate`.
#[derive(Args)]
#[command(
    after_help = "Stop the server first: rows written after the move starts are not moved. The target must be a new, empty database; the move is one transaction, so a failure leaves it empty. With --objects, envelopes and WARC evidence are copied into the bucket and checked (SHA-256) before the rows move; without it they stay in the data directory. Keys stay in the data directory either way: serve the new installation with the same --data (or copy its keys/ to each replica, or set the VEILMARK_*_KEY variables) and --database."
)]
pub struct MigrateArgs {
    /// The embedded installation's data directory (its SQLite database and envelopes).
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The new, empty PostgreSQL database (postgres://USER@HOST:PORT/DB); default: the
    /// VEILMARK_DATABASE_URL environment variable.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Copy envelopes and evidence into this object store (`s3://bucket/prefix`, credentials from
    /// the AWS_* variables; or a folder) and check each object's SHA-256 there; also read from
    /// VEILMARK_OBJECTS. Default: they stay in the data directory.
    #[arg(long, value_name = "URL")]
    objects: Option<veilmark_store::objects::ObjectsUrl>,
}

/// Runs `veilmark migrate`.
pub fn run(args: &MigrateArgs) -> Result<()> {
    let Backend::Postgres(url) = Backend::from_flag_or_env(args.to.as_deref())? else {
        bail!(
            "give --to postgres://USER@HOST:PORT/DB (or set {DATABASE_ENV}): the database to move into"
        );
    };
    let from = DataDir::new(&args.from);
    // Checked before the target is touched (connecting creates the schema there).
    if !from.has_database() {
        bail!(
            "{} has no Veilmark database ({} is missing)",
            escape_for_terminal(&args.from.display().to_string()),
            escape_for_terminal(&from.database_display())
        );
    }
    let shown = redact_database_url(&url);
    let objects = crate::owner_cmd::objects_location(args.objects.clone())?;
    let report = runtime()?.block_on(async {
        let objects = match &objects {
            Some(location) => Some(location.open_checked().await?),
            None => None,
        };
        let to = open_stores(&Backend::Postgres(url.clone()), &from, Durability::Full).await?;
        veilmark_store::migrate::migrate(&from, &to, objects)
            .await
            .with_context(|| {
                format!(
                    "cannot move {} into {shown}",
                    escape_for_terminal(&args.from.display().to_string())
                )
            })
    })?;
    let objects_shown = objects.map(|o| o.url.to_string());
    print!(
        "{}",
        summary(
            &args.from.display().to_string(),
            &shown,
            objects_shown.as_deref(),
            &report
        )
    );
    Ok(())
}

fn summary(from: &str, to: &str, objects: Option<&str>, r: &MigrateReport) -> String {
    let from = escape_for_terminal(from);
    let to = escape_for_terminal(to);
    let mut out = format!("moved {from} into {to}\n");
    for (family, tables) in FAMILIES {
        let counts: Vec<String> = tables
            .iter()
            .map(|t| {
                let n = r
                    .tables
                    .iter()
                    .find(|(name, _)| name == t)
                    .map_or(0, |(_, n)| *n);
                format!("{t} {n}")
            })
            .collect();
        out.push_str(&format!("  {family}: {}\n", counts.join(", ")));
    }
    let chains: Vec<String> = r
        .audit_chains
        .iter()
        .map(|(org, n)| match org {
            Some(name) => format!("{} ({n})", escape_for_terminal(name)),
            None => format!("server ({n})"),
        })
        .collect();
    out.push_str(&format!(
        "  audit chains verified in PostgreSQL: {}\n",
        chains.join(", ")
    ));
    out.push_str(&format!(
        "  envelopes: {} ({} bytes), SHA-256 {}\n",
        r.objects,
        r.object_bytes,
        if r.objects_copied {
            "checked after the copy"
        } else {
            "checked; they stay in the data directory's blobs/"
        }
    ));
    match objects {
        Some(objects) => {
            let objects = escape_for_terminal(objects);
            out.push_str(&format!(
                "  evidence files copied to {objects}, SHA-256 checked and recorded: {}\n",
                r.evidence.len()
            ));
            out.push_str(&format!(
                "next: veilmark serve --data {from} --database {to} --objects {objects}   (keys stay in {from}; docs/deploy.md)\n"
            ));
        }
        None => out.push_str(&format!(
            "next: veilmark serve --data {from} --database {to}   (keys and evidence files stay in {from}; docs/deploy.md)\n"
        )),
    }
    out
}
