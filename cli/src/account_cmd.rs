//! `veilmark org …` and `veilmark owner …`: organisations, their member accounts and API
//! tokens, managed by the operator directly on the data directory (as `seal` and `link` are).
//!
//! An e-mail address is one account on the server, in one organisation; `--org` on the owner
//! commands checks that the account is in the organisation named, so a script acting for one
//! tenant cannot touch another's account by mistake.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use veilmark_server::members::parse_role;
use veilmark_server::service::{Actor, ClientMeta, DEFAULT_TOKEN_SECS, MAX_TOKEN_SECS};
use veilmark_server::{AppState, rfc3339};
use veilmark_shared::text::escape_for_terminal;
use veilmark_store::meta::CredentialKind;
use veilmark_store::tenancy::{Account, DEFAULT_ORG};
use zeroize::Zeroize;

use crate::owner_cmd::{DataArgs, open, operator_name, parse_duration, runtime};

/// `veilmark org …`.
#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an organisation (a tenant: its documents, links, audit log, catalog and hits are
    /// its own).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Its name (unique, case-insensitive).
        name: String,
    },
    /// List the organisations with their member counts.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

/// The organisation an owner command acts in.
#[derive(Args, Clone)]
pub struct OrgArg {
    /// Organisation (default: `default`, where data from before organisations lives).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
}

/// `veilmark owner …`.
#[derive(Subcommand)]
pub enum OwnerCommand {
    /// Create an account (reads the password from the first line of standard input).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Login e-mail address.
        email: String,
        #[command(flatten)]
        org: OrgArg,
        /// Role in the organisation: admin, owner, reviewer or auditor.
        #[arg(long, default_value = "admin", value_parser = parse_role_arg)]
        role: String,
    },
    /// List the accounts of an organisation.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Issue an API token for the JSON API (printed once).
    Token {
        #[command(flatten)]
        data: DataArgs,
        /// The account's e-mail address.
        email: String,
        #[command(flatten)]
        org: OrgArg,
        /// Lifetime: a number with s, m, h, d or w (at most two years).
        #[arg(long, default_value = "90d", value_parser = parse_duration)]
        expires: i64,
        /// A label to recognise the token by in `owner tokens`.
        #[arg(long, value_name = "LABEL", default_value = "")]
        name: String,
    },
    /// List an account's live API tokens with their last use.
    Tokens {
        #[command(flatten)]
        data: DataArgs,
        /// The account's e-mail address.
        email: String,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Revoke an API token by its id (`tok_…`, from `owner tokens`).
    RevokeToken {
        #[command(flatten)]
        data: DataArgs,
        /// Token id.
        id: String,
    },
    /// Remove an account's second factor (a lost phone and lost recovery codes); it enrols
    /// again at its next login if the organisation requires one.
    ResetSecondFactor {
        #[command(flatten)]
        data: DataArgs,
        /// The account's e-mail address.
        email: String,
        #[command(flatten)]
        org: OrgArg,
    },
    /// Set an account's password (first line of standard input); ends all its sessions and
    /// tokens.
    Passwd {
        #[command(flatten)]
        data: DataArgs,
        /// The account's e-mail address.
        email: String,
        #[command(flatten)]
        org: OrgArg,
    },
}

fn parse_role_arg(s: &str) -> Result<String, String> {
    parse_role(s)
        .map(|r| r.as_str().to_owned())
        .map_err(|e| e.to_string())
}

fn read_password(prompt: &str) -> Result<String> {
    eprintln!("{prompt}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    line.zeroize();
    Ok(pw)
}

/// The account `email`, checked to be in `--org` when one is given.
async fn account_in(state: &AppState, email: &str, org: &OrgArg) -> Result<Account> {
    let account = state.account_named(email).await?;
    if let Some(name) = &org.org {
        let wanted = state.org_named(name).await?;
        if wanted.id != account.org {
            bail!(
                "{email} is not a member of {:?} (it belongs to {:?})",
                wanted.name,
                account.org_name
            );
        }
    }
    Ok(account)
}

/// Runs `veilmark org …`.
pub fn org(cmd: &OrgCommand) -> Result<()> {
    runtime()?.block_on(async {
        match cmd {
            OrgCommand::Add { data, name } => {
                let state = open(data, None).await?;
                state.create_org(name).await?;
                eprintln!(
                    "organisation {name:?} created; add its first admin with \
                     `veilmark owner add EMAIL --org {name:?}`"
                );
            }
            OrgCommand::List { data } => {
                let state = open(data, None).await?;
                println!("{:<32} {:>8}  SECOND FACTOR", "ORGANISATION", "MEMBERS");
                for o in state.store.list_orgs().await? {
                    let n = state.store.list_accounts(o.id).await?.len();
                    let tf = if o.require_totp {
                        "required"
                    } else {
                        "optional"
                    };
                    println!("{:<32} {n:>8}  {tf}", escape_for_terminal(&o.name));
                }
            }
        }
        Ok(())
    })
}

/// Runs `veilmark owner …`.
pub fn owner(cmd: &OwnerCommand) -> Result<()> {
    runtime()?.block_on(async {
        match cmd {
            OwnerCommand::Add {
                data,
                email,
                org,
                role,
            } => {
                let state = open(data, None).await?;
                let org = state
                    .org_named(org.org.as_deref().unwrap_or(DEFAULT_ORG))
                    .await?;
                let role = parse_role(role)?;
                let pw = read_password(&format!(
                    "password for {email} (at least 12 characters), then Enter:"
                ))?;
                state.create_account(org.id, email, Some(&pw), role).await?;
                eprintln!(
                    "{email} added to {:?} as {role}; log in at the server's /console",
                    org.name
                );
            }
            OwnerCommand::List { data, org } => {
                let state = open(data, None).await?;
                let org = state
                    .org_named(org.org.as_deref().unwrap_or(DEFAULT_ORG))
                    .await?;
                println!("{:<40} {:<9} SECOND FACTOR", "ACCOUNT", "ROLE");
                for a in state.store.list_accounts(org.id).await? {
                    let tf = if a.has_totp() { "on" } else { "off" };
                    println!(
                        "{:<40} {:<9} {tf}",
                        escape_for_terminal(&a.email),
                        a.role.as_str()
                    );
                }
            }
            OwnerCommand::Token {
                data,
                email,
                org,
                expires,
                name,
            } => {
                let state = open(data, None).await?;
                let account = account_in(&state, email, org).await?;
                if *expires > MAX_TOKEN_SECS {
                    bail!("an API token lives at most two years (730d)");
                }
                let (id, token) = state.issue_api_token(&account, *expires, name).await?;
                let by = Actor::operator(account.org, operator_name());
                let entry = by.entry(
                    &ClientMeta::cli(),
                    veilmark_server::audit::AuditKind::Credentials,
                    format!("API token {id} issued to {email}"),
                );
                state.store.append_audit(&entry).await?;
                println!("{token}");
                eprintln!(
                    "token {id} for {email}, expires {}; send it as `Authorization: Bearer TOKEN`; \
                     it is not shown again",
                    rfc3339(veilmark_server::now_secs() + expires)
                );
                if *expires == DEFAULT_TOKEN_SECS && name.is_empty() {
                    eprintln!("(give it a --name to recognise it in `veilmark owner tokens`)");
                }
            }
            OwnerCommand::Tokens { data, email, org } => {
                let state = open(data, None).await?;
                let account = account_in(&state, email, org).await?;
                let list = state
                    .store
                    .list_credentials(
                        account.org,
                        account.id,
                        CredentialKind::ApiToken,
                        veilmark_server::now_secs(),
                    )
                    .await?;
                if list.is_empty() {
                    eprintln!("{email} has no live API tokens");
                }
                println!(
                    "{:<21} {:<24} {:<20} {:<20} LAST USED",
                    "ID", "LABEL", "CREATED", "EXPIRES"
                );
                for t in list {
                    println!(
                        "{:<21} {:<24} {:<20} {:<20} {}",
                        t.id,
                        escape_for_terminal(&t.label),
                        rfc3339(t.created_at),
                        rfc3339(t.expires_at),
                        t.last_used_at.map_or_else(|| "never".into(), rfc3339)
                    );
                }
            }
            OwnerCommand::RevokeToken { data, id } => {
                let state = open(data, None).await?;
                let holder = state.store.credential_account(id).await?.with_context(|| {
                    format!("no token {id}; `veilmark owner tokens EMAIL` lists them")
                })?;
                if !state.store.revoke_credential(holder.org, id).await? {
                    bail!("no token {id}");
                }
                let by = Actor::operator(holder.org, operator_name());
                let entry = by.entry(
                    &ClientMeta::cli(),
                    veilmark_server::audit::AuditKind::Credentials,
                    format!("API token {id} of {} revoked", holder.email),
                );
                state.store.append_audit(&entry).await?;
                eprintln!("revoked {id} of {}", holder.email);
            }
            OwnerCommand::ResetSecondFactor { data, email, org } => {
                let state = open(data, None).await?;
                let account = account_in(&state, email, org).await?;
                let by = Actor::operator(account.org, operator_name());
                state.remove_totp(&account, &by, &ClientMeta::cli()).await?;
                eprintln!("second factor of {email} removed");
            }
            OwnerCommand::Passwd { data, email, org } => {
                let state = open(data, None).await?;
                let account = account_in(&state, email, org).await?;
                let pw = read_password(&format!(
                    "new password for {email} (at least 12 characters), then Enter:"
                ))?;
                let by = Actor::operator(account.org, operator_name());
                state
                    .change_password(&account, &pw, &by, &ClientMeta::cli())
                    .await?;
                eprintln!("password of {email} changed; its sessions and tokens ended");
            }
        }
        Ok(())
    })
}
