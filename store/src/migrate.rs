//! `veilmark migrate`: moves an embedded installation (the data directory's SQLite database and
//! its envelope folder) into a PostgreSQL database, for the scale-out deployment
//! (`docs/deploy.md#migrate`).
//!
//! The two schemas are the same in intent: the same tables and column names, PostgreSQL types.
//! So rows are copied by name, one table family at a time ([`FAMILIES`]), each value converted
//! to its target column's type, every id kept, and everything written inside one PostgreSQL
//! transaction: a failure leaves the target as empty as it was. The source is read inside one
//! SQLite read transaction (a consistent snapshot even if a server is still running, though it
//! should be stopped: later writes would not be moved). Nothing is guessed: a source table no
//! family names, or a column the target lacks, stops the move with its name, since copying the
//! rest would lose data silently.
//!
//! Afterwards every table's row count is compared, every audit chain is read back from
//! PostgreSQL through [`MetaStore::audit_range`] and verified ([`ChainVerifier`]) against the
//! source's head, and every envelope is read back through the target object store and its
//! SHA-256 compared with the source file's.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt as _};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row, SqliteConnection, TypeInfo, ValueRef};

use crate::audit::ChainVerifier;
use crate::tenancy::OrgId;
use crate::{DataDir, Durability, MetaStore, SqliteStore, Stores};

/// Every table that holds state, in families, each family in an order that satisfies the foreign
/// keys (organisations before accounts, documents before links, runs before hits).
pub const FAMILIES: &[(&str, &[&str])] = &[
    (
        "accounts",
        &["organisations", "owners", "credentials", "recovery_codes"],
    ),
    (
        "classification",
        &["classification_levels", "suppliers", "org_terms"],
    ),
    (
        "documents and links",
        &[
            "documents",
            "links",
            "revocations",
            "sessions",
            "terms_acceptances",
            "request_nonces",
        ],
    ),
    (
        "access reviews",
        &[
            "access_reviews",
            "access_review_items",
            "access_review_reminders",
        ],
    ),
    (
        "alerts",
        &[
            "recipient_networks",
            "alerts",
            "webhooks",
            "webhook_deliveries",
        ],
    ),
    ("audit log", &["audit_log"]),
    ("catalog", &["catalog_reference"]),
    (
        "crawls",
        &[
            "crawl_run",
            "crawl_frontier",
            "crawl_page",
            "crawl_image",
            "crawl_hit",
            "hit_review",
        ],
    ),
];

/// Source tables that are not state: sqlx's migration record (each backend has its own), and
/// the politeness slots, permits and robots.txt claims of crawls in progress (per run, minutes
/// long; a crawl resumed on the migrated installation takes them afresh).
const NOT_STATE: &[&str] = &["_sqlx_migrations", "crawl_host", "crawl_host_permit"];

/// Source columns that are not state: frontier leases of workers that are gone once the
/// installation moved (a resumed crawl re-leases its queued pages), and `crawl_hit.review_state`,
/// a column of the first SQLite schema nothing reads (reviews live in `hit_review`, which moves).
const TRANSIENT_COLUMNS: &[(&str, &str)] = &[
    ("crawl_frontier", "lease_owner"),
    ("crawl_frontier", "lease_until"),
    ("crawl_hit", "review_state"),
];

/// Rows read from SQLite per round trip.
const PAGE: i64 = 1000;

/// What a migration moved and checked, for the summary `veilmark migrate` prints.
#[derive(Debug, Clone, Default)]
pub struct MigrateReport {
    /// Rows copied per table, in copy order (equal in source and target, checked).
    pub tables: Vec<(String, u64)>,
    /// Each audit chain (`None`: the server's) with its entries, verified in the target.
    pub audit_chains: Vec<(Option<String>, usize)>,
    /// Envelopes whose SHA-256 was checked in the target object store.
    pub objects: u64,
    /// Their total size in bytes.
    pub object_bytes: u64,
    /// Whether envelopes were copied (`false`: the target installation reads them from the same
    /// envelope folder, so they were only checked).
    pub objects_copied: bool,
    /// WARC evidence files uploaded to the object store (and read back, SHA-256 checked and
    /// recorded beside them), with their SHA-256; empty without an object store (the files
    /// stay in the data directory). The local copies are kept.
    pub evidence: Vec<(String, String)>,
}

/// Moves the installation in `from` into the empty PostgreSQL database of `to`, copying
/// envelopes and WARC evidence files into `objects` when given (otherwise the scale-out
/// installation keeps reading them from `from`'s folders), then verifies everything. Refuses a
/// target that holds any row. Objects are copied and checked before the rows: a failed copy
/// leaves the database empty, and a second try overwrites the objects.
pub async fn migrate(
    from: &DataDir,
    to: &Stores,
    objects: Option<Arc<dyn ObjectStore>>,
) -> Result<MigrateReport> {
    let Some(pg) = to.postgres() else {
        bail!("the target of a migration is a PostgreSQL database");
    };
    if !from.has_database() {
        bail!(
            "{} has no Veilmark database ({} is missing)",
            from.root().display(),
            from.database_display()
        );
    }
    let source = SqliteStore::open(from, Durability::Full)
        .await
        .with_context(|| format!("cannot open {}", from.database_display()))?;
    let mut src = source.pool().acquire().await?.detach();
    let mut dst = PgConnection::connect(pg.url())
        .await
        .with_context(|| format!("cannot connect to {}", crate::redact_database_url(pg.url())))?;

    check_known_tables(&mut src).await?;
    check_empty(&mut dst).await?;
    let mut report = MigrateReport::default();
    let (checked, bytes, copied) = move_objects(from, &source, objects.clone()).await?;
    report.objects = checked;
    report.object_bytes = bytes;
    report.objects_copied = copied;
    if let Some(objects) = &objects {
        for (_, file) in from.local_evidence_files() {
            let sha = crate::evidence_objects::upload(from, objects.as_ref(), &file)
                .await
                .with_context(|| format!("cannot upload the evidence file {file}"))?
                .with_context(|| format!("the evidence file {file} disappeared during the move"))?;
            report.evidence.push((file, sha));
        }
    }

    // One snapshot of the source, one transaction in the target.
    sqlx::query("BEGIN").execute(&mut src).await?;
    let mut tx = dst.begin().await?;
    // The schema seeds the organisation `default` (as a fresh SQLite data directory has it);
    // the source's own organisations replace it, ids kept.
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM organisations WHERE {SEEDED_ORG}"
    )))
    .execute(&mut *tx)
    .await?;
    for (family, tables) in FAMILIES {
        for table in *tables {
            let rows = copy_table(&mut src, &mut tx, table)
                .await
                .with_context(|| format!("copying {family}: table {table}"))?;
            report.tables.push(((*table).to_owned(), rows));
        }
    }
    for (_, tables) in FAMILIES {
        for table in *tables {
            reset_sequences(&mut tx, table).await?;
        }
    }
    tx.commit()
        .await
        .context("the PostgreSQL transaction did not commit; the target is unchanged")?;
    sqlx::query("COMMIT").execute(&mut src).await?;

    // Verification, reading the target back.
    for (table, rows) in &report.tables {
        let target: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            ident(table)?
        )))
        .fetch_one(&mut dst)
        .await?;
        if u64::try_from(target).ok() != Some(*rows) {
            bail!("table {table}: {rows} rows copied but {target} in the target");
        }
    }
    dst.close().await.ok();
    src.close().await.ok();
    report.audit_chains = verify_audit(&source, to.meta.as_ref()).await?;
    source.close().await;
    Ok(report)
}

/// Every source table must be one [`FAMILIES`] names: a table added later and forgotten here
/// would otherwise be left behind.
async fn check_known_tables(src: &mut SqliteConnection) -> Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut *src)
    .await?;
    for t in tables {
        let known = FAMILIES.iter().any(|(_, ts)| ts.contains(&t.as_str()));
        if !known && !NOT_STATE.contains(&t.as_str()) {
            bail!("table {t} of the source is not one `veilmark migrate` knows how to move");
        }
    }
    Ok(())
}

/// The organisation every new schema starts with (`0001_meta.sql`), which an empty target may
/// hold: not data of anyone's.
const SEEDED_ORG: &str = "id = 1 AND name = 'default' AND require_totp = FALSE";

/// Refuses a target that holds any row of any state table (or lacks one); the seeded
/// organisation `default` alone does not count.
async fn check_empty(dst: &mut PgConnection) -> Result<()> {
    for (_, tables) in FAMILIES {
        for table in *tables {
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1)",
            )
            .bind(table)
            .fetch_one(&mut *dst)
            .await?;
            if !exists {
                bail!(
                    "the target database has no table {table}: it is not a Veilmark schema of this version"
                );
            }
            let unseeded = if *table == "organisations" {
                format!(" WHERE NOT ({SEEDED_ORG})")
            } else {
                String::new()
            };
            let any: bool = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM {}{unseeded})",
                ident(table)?
            )))
            .fetch_one(&mut *dst)
            .await?;
            if any {
                bail!(
                    "the target database is not empty (table {table} has rows); migrate into a \
                     new, empty database"
                );
            }
        }
    }
    Ok(())
}

/// A table or column name from our own schema, checked to need no quoting.
fn ident(name: &str) -> Result<&str> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        Ok(name)
    } else {
        bail!("unexpected name {name:?} in the schema")
    }
}

/// How a target column takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `int2`, `int4`, `int8`.
    Int,
    /// `bool` (SQLite stores 0/1).
    Bool,
    /// `float4`, `float8`, `numeric`.
    Float,
    /// `bytea`.
    Bytes,
    /// `text`, `varchar`, and any other type that a text literal casts into (`jsonb`,
    /// `timestamptz`, …).
    Text,
}

impl Target {
    fn of(udt: &str) -> Self {
        match udt {
            "int2" | "int4" | "int8" => Self::Int,
            "bool" => Self::Bool,
            "float4" | "float8" | "numeric" => Self::Float,
            "bytea" => Self::Bytes,
            _ => Self::Text,
        }
    }
}

/// One SQLite value, as stored (SQLite types values, not columns).
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Copies every row of `table`, ids included; returns how many.
async fn copy_table(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    table: &str,
) -> Result<u64> {
    let t = ident(table)?;
    let src_cols: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(&mut *src)
            .await?;
    let src_cols: Vec<String> = src_cols
        .into_iter()
        .filter(|c| !TRANSIENT_COLUMNS.contains(&(table, c.as_str())))
        .collect();
    let dst_cols: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT column_name::text, udt_name::text, is_identity = 'YES' \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *dst)
    .await?;
    let mut targets = Vec::with_capacity(src_cols.len());
    for c in &src_cols {
        ident(c)?;
        let Some((_, udt, _)) = dst_cols.iter().find(|(name, ..)| name == c) else {
            bail!("column {table}.{c} has no counterpart in the PostgreSQL schema");
        };
        targets.push((Target::of(udt), udt.clone()));
    }
    let overriding = if dst_cols.iter().any(|(.., identity)| *identity) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let placeholders: Vec<String> = targets
        .iter()
        .enumerate()
        .map(|(i, (target, udt))| match target {
            Target::Text if udt != "text" && udt != "varchar" => format!("${}::{udt}", i + 1),
            _ => format!("${}", i + 1),
        })
        .collect();
    let insert = format!(
        "INSERT INTO {t} ({}){overriding} VALUES ({})",
        src_cols.join(", "),
        placeholders.join(", ")
    );
    let select = format!(
        "SELECT rowid, {} FROM {t} WHERE rowid > ? ORDER BY rowid LIMIT ?",
        src_cols.join(", ")
    );
    let mut after = i64::MIN;
    let mut copied = 0u64;
    loop {
        let rows = sqlx::query(AssertSqlSafe(select.clone()))
            .bind(after)
            .bind(PAGE)
            .fetch_all(&mut *src)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get::<i64, _>(0)?;
        for row in &rows {
            let mut q = sqlx::query(AssertSqlSafe(insert.clone()));
            for (i, (target, udt)) in targets.iter().enumerate() {
                let column = &src_cols[i];
                let value = read_value(row, i + 1)?;
                q = bind(q, *target, value)
                    .with_context(|| format!("column {table}.{column} into {udt}"))?;
            }
            q.execute(&mut *dst).await?;
            copied += 1;
        }
    }
    Ok(copied)
}

fn read_value(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Value> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" | "BOOLEAN" => Value::Int(row.try_get_unchecked(i)?),
        "REAL" => Value::Real(row.try_get_unchecked(i)?),
        "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
        _ => Value::Text(row.try_get_unchecked(i)?),
    })
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds `value` as `target` takes it; a value that does not fit is an error, never a guess.
fn bind(q: PgQuery<'_>, target: Target, value: Value) -> Result<PgQuery<'_>> {
    Ok(match (target, value) {
        (Target::Int, Value::Null) => q.bind(None::<i64>),
        (Target::Int, Value::Int(v)) => q.bind(v),
        (Target::Bool, Value::Null) => q.bind(None::<bool>),
        (Target::Bool, Value::Int(v @ (0 | 1))) => q.bind(v == 1),
        (Target::Float, Value::Null) => q.bind(None::<f64>),
        (Target::Float, Value::Real(v)) => q.bind(v),
        #[allow(clippy::cast_precision_loss)] // a REAL column that SQLite stored as an integer
        (Target::Float, Value::Int(v)) => q.bind(v as f64),
        (Target::Bytes, Value::Null) => q.bind(None::<Vec<u8>>),
        (Target::Bytes, Value::Blob(v)) => q.bind(v),
        (Target::Bytes, Value::Text(v)) => q.bind(v.into_bytes()),
        (Target::Text, Value::Null) => q.bind(None::<String>),
        (Target::Text, Value::Text(v)) => q.bind(v),
        (Target::Text, Value::Int(v)) => q.bind(v.to_string()),
        (Target::Text, Value::Real(v)) => q.bind(v.to_string()),
        (target, value) => bail!(
            "a {} value does not fit a {target:?} column",
            match value {
                Value::Null => "NULL",
                Value::Int(_) => "integer",
                Value::Real(_) => "real",
                Value::Text(_) => "text",
                Value::Blob(_) => "blob",
            }
        ),
    })
}

/// Moves each sequence behind `table`'s identity or serial columns past the copied ids, so the
/// next row PostgreSQL numbers does not collide with a copied one.
async fn reset_sequences(dst: &mut PgConnection, table: &str) -> Result<()> {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 \
         AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
    )
    .bind(table)
    .fetch_all(&mut *dst)
    .await?;
    for column in columns {
        let (t, c) = (ident(table)?, ident(&column)?);
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), \
             GREATEST(COALESCE(MAX({c}), 0), 1), MAX({c}) IS NOT NULL) FROM {t}"
        )))
        .execute(&mut *dst)
        .await
        .with_context(|| format!("cannot move the sequence of {t}.{c}"))?;
    }
    Ok(())
}

/// Verifies every audit chain in the target and checks it ends where the source's does.
async fn verify_audit(
    source: &SqliteStore,
    target: &dyn MetaStore,
) -> Result<Vec<(Option<String>, usize)>> {
    let mut chains: Vec<(Option<OrgId>, Option<String>)> = vec![(None, None)];
    for org in MetaStore::list_orgs(source).await? {
        chains.push((Some(org.id), Some(org.name)));
    }
    let mut out = Vec::new();
    for (org, name) in chains {
        let shown = name.as_deref().unwrap_or("the server's");
        let (src_count, src_head) = chain_head(source, org)
            .await
            .with_context(|| format!("the source's audit chain of {shown} does not verify"))?;
        let (count, head) = chain_head(target, org)
            .await
            .with_context(|| format!("the migrated audit chain of {shown} does not verify"))?;
        if (count, head) != (src_count, src_head) {
            bail!(
                "the migrated audit chain of {shown} has {count} entries ending {}, the source \
                 {src_count} ending {}",
                hex::encode(head),
                hex::encode(src_head)
            );
        }
        out.push((name, count));
    }
    Ok(out)
}

/// Reads one chain a page at a time and verifies it: (entries, head hash).
async fn chain_head(store: &dyn MetaStore, org: Option<OrgId>) -> Result<(usize, [u8; 32])> {
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    loop {
        let (page, next) = store.audit_range(org, after, 500).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            verifier.push(e)?;
        }
        after = next;
    }
    Ok(verifier.finish())
}

/// Reads every envelope the source's documents name, copies it into `objects` when given, and
/// checks the SHA-256 of what the target store returns against the source file's.
async fn move_objects(
    from: &DataDir,
    source: &SqliteStore,
    objects: Option<Arc<dyn ObjectStore>>,
) -> Result<(u64, u64, bool)> {
    let local: Arc<dyn ObjectStore> = Arc::new(from.blob_store()?);
    let copied = objects.is_some();
    let target = objects.unwrap_or_else(|| local.clone());
    let docs: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, blob, envelope_len FROM documents ORDER BY rowid")
            .fetch_all(source.pool())
            .await?;
    let (mut count, mut bytes) = (0u64, 0u64);
    for (id, blob, len) in docs {
        let path = object_store::path::Path::from(blob.as_str());
        let (src_sha, src_len) = sha256_of(local.as_ref(), &path)
            .await
            .with_context(|| format!("cannot read the envelope of document {id}"))?;
        if copied {
            copy_object(local.as_ref(), target.as_ref(), &path)
                .await
                .with_context(|| format!("cannot copy the envelope of document {id}"))?;
        }
        let (dst_sha, dst_len) = sha256_of(target.as_ref(), &path)
            .await
            .with_context(|| format!("cannot read back the envelope of document {id}"))?;
        if src_sha != dst_sha || src_len != dst_len {
            bail!("the envelope of document {id} differs after the move (SHA-256 mismatch)");
        }
        if i64::try_from(src_len).ok() != Some(len) {
            bail!("the envelope of document {id} is {src_len} bytes, its row says {len}");
        }
        count += 1;
        bytes += src_len;
    }
    Ok((count, bytes, copied))
}

async fn sha256_of(
    store: &dyn ObjectStore,
    path: &object_store::path::Path,
) -> Result<([u8; 32], u64)> {
    let mut stream = store.get(path).await?.into_stream();
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = stream.next().await.transpose()? {
        hasher.update(&chunk);
        len += chunk.len() as u64;
    }
    Ok((hasher.finalize().into(), len))
}

async fn copy_object(
    from: &dyn ObjectStore,
    to: &dyn ObjectStore,
    path: &object_store::path::Path,
) -> Result<()> {
    let mut stream = from.get(path).await?.into_stream();
    let mut upload = object_store::WriteMultipart::new(to.put_multipart(path).await?);
    while let Some(chunk) = stream.next().await.transpose()? {
        upload.write(&chunk);
    }
    upload.finish().await?;
    Ok(())
}
