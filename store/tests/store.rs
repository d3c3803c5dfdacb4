//! The embedded store through its public traits: data directories made by earlier versions,
//! hits with their review state, the audit chain, and the evidence handle.

use sha2::{Digest, Sha384};
use veilmark_store::audit::{AuditKind, NewAuditEntry, verify};
use veilmark_store::evidence::{HitRecord, NewReference, SeenTable};
use veilmark_store::warc::HttpRecord;
use veilmark_store::{DataDir, Durability, Evidence, MetaStore, SqliteStore};

const MIGRATIONS: [(i64, &str, &str); 3] = [
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "hit review",
        include_str!("../migrations/0002_hit_review.sql"),
    ),
    (
        1001,
        "catalog and hits",
        include_str!("../migrations/1001_catalog_and_hits.sql"),
    ),
];

/// Writes a database the way the server (migrations 1, 2) and the crawler (1001) did before the
/// store crate owned them: each with its own migrator into the one file.
async fn legacy_database(data: &DataDir) {
    std::fs::create_dir_all(data.root()).unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.database_display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (version, description, sql) in MIGRATIONS {
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?, ?, 1, ?, 0)",
        )
        .bind(version)
        .bind(description)
        .bind(Sha384::digest(sql).to_vec())
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO owners (email, password_hash, created_at) VALUES ('o@brand.example', 'h', 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

fn hit(page: &str, session: Option<&str>) -> HitRecord {
    HitRecord {
        marketplace: "shop".into(),
        page_url: page.into(),
        image_url: format!("{page}/i.png"),
        image_sha256: "ab".into(),
        fetched_at: "2026-12-01T00:00:00Z".into(),
        http_status: 200,
        http_headers: serde_json::json!({"content-type": "image/png"}),
        listing_title: Some("Bracket".into()),
        listing_price: None,
        listing_seller: Some("Seller".into()),
        reference_id: None,
        sku: None,
        hash_kind: None,
        distance: None,
        transform: None,
        window: None,
        watermark_session: session.map(str::to_owned),
        warc_file: "evidence/run-1.warc".into(),
        warc_page_offset: None,
        warc_image_offset: 0,
    }
}

#[tokio::test]
async fn a_data_directory_made_before_the_store_crate_opens_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    legacy_database(&data).await;
    let store = SqliteStore::open(&data, Durability::Full).await.unwrap();
    let owner = store.owner_by_email("o@brand.example").await.unwrap();
    assert!(owner.is_some(), "the old row is still there");
    let evidence = Evidence::new(std::sync::Arc::new(store), data.clone());
    assert!(evidence.references().await.unwrap().is_empty());
    // Opening again (as a second process would) applies nothing twice.
    SqliteStore::open(&data, Durability::Normal).await.unwrap();
}

#[tokio::test]
async fn a_changed_migration_is_refused_rather_than_silently_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    legacy_database(&data).await;
    let url = format!("sqlite://{}", data.database_display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1001")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = SqliteStore::open(&data, Durability::Full)
        .await
        .err()
        .expect("a checksum mismatch must fail");
    assert!(format!("{err:#}").contains("migration"), "{err:#}");
}

#[tokio::test]
async fn hits_are_stored_once_and_carry_their_review_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let ev = Evidence::open(&data).await.unwrap();
    let (run, resumed) = ev.resume_or_start_run("shop").await.unwrap();
    assert!(!resumed);
    assert_eq!(ev.resume_or_start_run("shop").await.unwrap(), (run, true));
    assert!(
        ev.insert_hit(run, &hit("http://s/p/1", None))
            .await
            .unwrap()
    );
    assert!(
        !ev.insert_hit(run, &hit("http://s/p/1", None))
            .await
            .unwrap(),
        "same page, bytes and cause: one hit"
    );
    assert!(
        ev.insert_hit(run, &hit("http://s/p/1", Some("0123456789ab")))
            .await
            .unwrap(),
        "a watermark on the same image is another cause"
    );
    let hits = ev.reviewed_hits(10).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits[0].id > hits[1].id, "newest first");
    assert!(
        hits.iter()
            .all(|h| h.review_state == "new" && h.note.is_empty())
    );
    assert_eq!(hits[1].hit, hit("http://s/p/1", None));
    let n = ev
        .set_review(
            &[hits[0].id, 9999],
            Some("confirmed"),
            Some("sent"),
            "r@b",
            5,
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "a missing hit is not reviewed");
    let one = ev.reviewed_hit(hits[0].id).await.unwrap().unwrap();
    assert_eq!(
        (one.review_state.as_str(), one.note.as_str()),
        ("confirmed", "sent")
    );
    // A note alone keeps the state.
    ev.set_review(&[hits[0].id], None, Some("again"), "r@b", 6)
        .await
        .unwrap();
    let one = ev.reviewed_hit(hits[0].id).await.unwrap().unwrap();
    assert_eq!(
        (one.review_state.as_str(), one.note.as_str()),
        ("confirmed", "again")
    );
    assert!(ev.reviewed_hit(9999).await.unwrap().is_none());
    assert_eq!(ev.hits("shop").await.unwrap().len(), 2);
    assert!(ev.hits("other").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_catalog_frontier_and_seen_urls_persist() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let ev = Evidence::open(&data).await.unwrap();
    let reference = NewReference {
        sku: "BRK-100",
        title: None,
        source_path: "ref.png",
        sha256: "cd",
        width: 10,
        height: 20,
        pdq_quality: 90,
        pdq: vec!["aa".into(), "bb".into()],
        phash: vec!["cc".into()],
        pdq_windows: vec!["full:dd".into()],
    };
    let g0 = ev.catalog_generation().await.unwrap();
    let (id, new) = ev.add_reference(&reference).await.unwrap();
    assert!(new);
    assert_eq!(ev.add_reference(&reference).await.unwrap(), (id, false));
    assert!(ev.catalog_generation().await.unwrap() > g0);
    let rows = ev.references().await.unwrap();
    assert_eq!(rows[0].pdq, ["aa", "bb"]);
    assert_eq!(rows[0].pdq_windows, ["full:dd"]);
    assert_eq!(
        ev.reference_source(id).await.unwrap().as_deref(),
        Some("ref.png")
    );
    std::fs::write(dir.path().join("ref.png"), b"png").unwrap();
    assert_eq!(ev.reference_image(id).await.unwrap().unwrap(), b"png");

    let (run, _) = ev.resume_or_start_run("shop").await.unwrap();
    assert!(ev.enqueue(run, "http://s/", 0).await.unwrap());
    assert!(!ev.enqueue(run, "http://s/", 1).await.unwrap());
    ev.set_frontier_state(run, "http://s/", "done")
        .await
        .unwrap();
    assert_eq!(
        ev.frontier(run).await.unwrap(),
        [("http://s/".to_owned(), 0, "done".to_owned())]
    );
    ev.finish_run(run, 1, 0).await.unwrap();
    assert!(
        !ev.resume_or_start_run("shop").await.unwrap().1,
        "finished runs are not resumed"
    );

    assert!(
        ev.seen(SeenTable::Page, "http://s/")
            .await
            .unwrap()
            .is_none()
    );
    let seen = veilmark_store::evidence::Seen {
        sha256: "ee".into(),
        etag: Some("\"1\"".into()),
        catalog_gen: 3,
        hit: true,
    };
    ev.record_seen(SeenTable::Page, "http://s/", &seen)
        .await
        .unwrap();
    let back = ev
        .seen(SeenTable::Page, "http://s/")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (back.sha256, back.catalog_gen, back.hit),
        ("ee".into(), 3, true)
    );
    assert!(
        ev.seen(SeenTable::Image, "http://s/")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn evidence_records_are_read_back_by_the_path_a_hit_stores() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let ev = Evidence::open(&data).await.unwrap();
    let mut w = ev.warc_writer(3).unwrap();
    let off = w
        .write_response(&HttpRecord {
            url: "http://s/i.png",
            fetched_at: "2026-12-01T00:00:00Z",
            status: 200,
            headers: &[("Content-Type".into(), "image/png".into())],
            body: b"pixels",
        })
        .unwrap();
    let rec = ev
        .warc_record(w.relative_path(), i64::try_from(off).unwrap())
        .unwrap();
    assert_eq!(rec.http_body(), b"pixels");
    assert!(ev.warc_file(w.relative_path()).await.unwrap().len() > 6);
    assert!(ev.warc_record("../veilmark.db", 0).is_err());
    assert!(ev.warc_file("evidence/../veilmark.db").await.is_err());
    assert!(ev.warc_record(w.relative_path(), -1).is_err());
}

#[tokio::test]
async fn the_audit_chain_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    {
        let store = SqliteStore::open(&data, Durability::Full).await.unwrap();
        for i in 0..3 {
            store
                .append_audit(&NewAuditEntry::new(AuditKind::OwnerLogin, i, "login"))
                .await
                .unwrap();
        }
    }
    let store = SqliteStore::open(&data, Durability::Full).await.unwrap();
    let entries = store.audit_entries().await.unwrap();
    assert_eq!(verify(&entries).unwrap().0, 3);
}
