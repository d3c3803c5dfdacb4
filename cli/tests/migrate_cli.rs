//! `veilmark migrate` end to end: the demo builds a real embedded installation (documents, links,
//! a viewer session, a revocation, accounts and tokens in two organisations, audit chains, a
//! crawl's hits and a review); it is moved into a fresh PostgreSQL database, and everything read
//! through the PostgreSQL store equals what the SQLite store returns. A second move into the
//! same database is refused. With `--objects`, envelopes and evidence land in a real
//! S3-compatible server, byte for byte; a bucket that refuses the credentials stops the move
//! before any row moves.

use std::path::Path;
use std::process::{Command, Output};

use veilmark_store::{Backend, DataDir, Durability, open_stores};
use veilmark_testkit::{PgTestDb, S3TestServer};

fn veilmark(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veilmark"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("VEILMARK_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Everything a store answers for every organisation, as text, to compare two backends.
async fn everything(backend: &Backend, data: &DataDir) -> String {
    let s = open_stores(backend, data, Durability::Full).await.unwrap();
    let mut out = String::new();
    let orgs = s.meta.list_orgs().await.unwrap();
    out.push_str(&format!("{orgs:?}\n"));
    out.push_str(&format!(
        "{:?}\n",
        s.meta.audit_entries(None).await.unwrap()
    ));
    out.push_str(&format!(
        "{:?}\n",
        s.meta.revocations_after(0).await.unwrap()
    ));
    for org in orgs {
        let o = org.id;
        out.push_str(&format!("{:?}\n", s.meta.list_accounts(o).await.unwrap()));
        out.push_str(&format!("{:?}\n", s.meta.list_documents(o).await.unwrap()));
        out.push_str(&format!("{:?}\n", s.meta.suppliers(o).await.unwrap()));
        out.push_str(&format!("{:?}\n", s.meta.levels(o).await.unwrap()));
        let links = s.meta.list_links(o).await.unwrap();
        out.push_str(&format!("{links:?}\n"));
        out.push_str(&format!(
            "{:?}\n",
            s.meta.audit_entries(Some(o)).await.unwrap()
        ));
        for e in s.meta.audit_entries(Some(o)).await.unwrap() {
            // Sessions are reached through the audit entries that name them.
            if let Some(id) = e.session_id.as_deref() {
                out.push_str(&format!("{:?}\n", s.meta.session(id).await.unwrap()));
            }
        }
        out.push_str(&format!("{:?}\n", s.evidence.references(o).await.unwrap()));
        for h in s.evidence.reviewed_hits(o, 100_000).await.unwrap() {
            out.push_str(&format!(
                "{} {:?} {} {}\n",
                h.id, h.hit, h.review_state, h.note
            ));
        }
    }
    out
}

#[test]
fn an_installation_moves_into_postgresql_whole_and_verified() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let fixture = root.join("target/fixture-marketplace/migrate-test");
    veilmark_crawler_fixture::generate(root, &fixture, 60, 6).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let demo = veilmark(
        &[
            "demo",
            "--no-serve",
            "--dir",
            &dir.path().display().to_string(),
            "--marketplace",
            &fixture.display().to_string(),
        ],
        &[],
    );
    text(&demo);
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(PgTestDb::create());
    let moved = text(&veilmark(
        &["migrate", "--from", &data_arg, "--to", db.url()],
        &[],
    ));
    for expected in [
        "moved ",
        "audit chains verified in PostgreSQL",
        "crawls: crawl_run 1",
        "envelopes: ",
    ] {
        assert!(moved.contains(expected), "{expected:?} missing:\n{moved}");
    }

    // The same answers from both backends, for every organisation.
    let data_dir = DataDir::new(&data);
    let before = runtime.block_on(everything(&Backend::Embedded, &data_dir));
    let after = runtime.block_on(everything(&Backend::Postgres(db.url().into()), &data_dir));
    assert!(
        before.contains("lnk_")
            && before.contains("watermark")
            && before.contains("castings.example")
            && before.contains("derived_from: Some("),
        "{before}"
    );
    assert_eq!(before, after, "PostgreSQL answers differently from SQLite");

    // The CLI on the new installation: the audit chain verifies, and the leak in the fixture
    // is traced to its recipient through PostgreSQL.
    let env = [("VEILMARK_DATABASE_URL", db.url())];
    let verify = veilmark(&["audit", "--verify", "--data", &data_arg], &env);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let found = text(&veilmark(
        &[
            "identify",
            &fixture.join("site/leaks/drawing.jpg").display().to_string(),
            "--data",
            &data_arg,
        ],
        &env,
    ));
    assert!(
        found.contains("recipient alice@supplier.example via link lnk_"),
        "{found}"
    );

    // A second move into the now non-empty database is refused and changes nothing.
    let again = veilmark(&["migrate", "--from", &data_arg, "--to", db.url()], &[]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("not empty"), "{err}");
    let still = runtime.block_on(everything(&Backend::Postgres(db.url().into()), &data_dir));
    assert_eq!(before, still);

    // The same installation into another database with --objects: envelopes and evidence go
    // to a real S3-compatible server, each object equal to its local file, a SHA-256 recorded
    // beside each evidence file, the local files kept.
    let s3 = runtime.block_on(S3TestServer::start());
    let db2 = runtime.block_on(PgTestDb::create());
    let s3_env: Vec<(&str, String)> = s3.env();
    let s3_env: Vec<(&str, &str)> = s3_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let objects_url = s3.url("scale-out");
    let moved = text(&veilmark(
        &[
            "migrate",
            "--from",
            &data_arg,
            "--to",
            db2.url(),
            "--objects",
            &objects_url,
        ],
        &s3_env,
    ));
    assert!(moved.contains("checked after the copy"), "{moved}");
    assert!(
        moved.contains(&format!("--objects {objects_url}")),
        "{moved}"
    );
    let local_files = |folder: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(data.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect()
    };
    let envelopes = local_files("blobs/envelopes");
    let warcs: Vec<_> = local_files("evidence")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "warc"))
        .collect();
    assert!(envelopes.len() >= 2, "{envelopes:?}");
    assert!(!warcs.is_empty());
    assert!(
        moved.contains(&format!(
            "evidence files copied to {objects_url}, SHA-256 checked and recorded: {}",
            warcs.len()
        )),
        "{moved}"
    );
    let keys = s3.keys();
    for file in envelopes.iter().chain(&warcs) {
        let relative = file.strip_prefix(&data).unwrap().to_str().unwrap();
        let key = keys
            .iter()
            .find(|k| {
                k.starts_with("scale-out/")
                    && k.ends_with(file.file_name().unwrap().to_str().unwrap())
            })
            .unwrap_or_else(|| panic!("{relative} is not in the bucket: {keys:?}"));
        assert_eq!(
            std::fs::read(s3.object_file(key)).unwrap(),
            std::fs::read(file).unwrap(),
            "{key} differs from {relative}"
        );
    }
    for warc in &warcs {
        let name = warc.file_name().unwrap().to_str().unwrap();
        assert!(
            keys.iter().any(|k| k.ends_with(&format!("{name}.sha256"))),
            "no SHA-256 recorded for {name}: {keys:?}"
        );
    }
    let after_s3 = runtime.block_on(everything(&Backend::Postgres(db2.url().into()), &data_dir));
    assert_eq!(before, after_s3);

    // A bucket the credentials cannot reach stops the move before any row moves.
    let db3 = runtime.block_on(PgTestDb::create());
    let mut wrong = s3_env.clone();
    wrong.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    wrong.push(("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789"));
    let out = veilmark(
        &[
            "migrate",
            "--from",
            &data_arg,
            "--to",
            db3.url(),
            "--objects",
            &objects_url,
        ],
        &wrong,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("not-the-secret"), "{err}");
    let empty = text(&veilmark(
        &["migrate", "--from", &data_arg, "--to", db3.url()],
        &[],
    ));
    assert!(
        empty.contains("moved "),
        "the failed move left rows behind: {empty}"
    );
}

#[test]
fn migrate_needs_a_postgresql_target_and_an_installation() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().display().to_string();
    let out = veilmark(&["migrate", "--from", &from], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give --to postgres://"), "{err}");

    let out = veilmark(
        &[
            "migrate",
            "--from",
            &from,
            "--to",
            "mysql://root:hunter2@db/x",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("unsupported database URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(PgTestDb::create());
    let out = veilmark(&["migrate", "--from", &from, "--to", db.url()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("has no Veilmark database"), "{err}");
}
