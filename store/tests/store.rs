//! The stores through their public traits: data directories made by earlier versions, hits
//! with their review state, the audit chain, and the evidence handle. Every `MetaStore` test
//! runs on both backends (SQLite and a real PostgreSQL, `tests/common`); tests that open a
//! SQLite file by hand are SQLite's own.

#[macro_use]
mod common;

use common::Backend;
use sha2::{Digest, Sha384};
use sqlx::AssertSqlSafe;
use veilmark_store::audit::{
    AuditEntry, AuditKind, ChainVerifier, NewAuditEntry, chain_hash, verify,
};
use veilmark_store::classification::SupplierStatus;
use veilmark_store::evidence::{HitRecord, NewReference, SeenTable};
use veilmark_store::meta::{
    CredentialCheck, CredentialKind, DocumentRecord, LinkRecord, LoginAttempt, NewCredential,
    PasscodeAttempt, SessionRecord, ViewRefusal,
};
use veilmark_store::tenancy::DEFAULT_ORG;
use veilmark_store::warc::HttpRecord;
use veilmark_store::{DataDir, Durability, Evidence, MetaStore, OrgId, Role, SqliteStore};

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
    for sql in [
        "INSERT INTO owners (email, password_hash, created_at) VALUES ('o@brand.example', 'h', 1)",
        "INSERT INTO owner_credentials (token_hash, owner_id, kind, created_at, expires_at)
         VALUES (x'0101010101010101010101010101010101010101010101010101010101010101', 1,
                 'api-token', 1, NULL)",
        "INSERT INTO documents (id, title, media_type, plaintext_len, envelope_len, blob,
         wrapped_key, created_at) VALUES ('00112233445566778899aabbccddeeff', 'Old drawing',
         'application/pdf', 10, 20, 'envelopes/x.vmk', x'00', 1)",
        "INSERT INTO links (id, token_hash, document_id, recipient, created_at, expires_at)
         VALUES ('lnk_old', x'02', '00112233445566778899aabbccddeeff', 's@supplier.example', 1,
                 4000000000)",
        "INSERT INTO catalog_reference (sku, source_path, sha256, width, height, pdq_quality,
         pdq, phash, pdq_windows, added_at) VALUES ('BRK-1', 'a.png', 'aa', 1, 1, 100, '', '',
         '', '2026-01-01T00:00:00Z')",
        "INSERT INTO crawl_run (profile, started_at, state) VALUES ('shop', 'x', 'finished')",
        "INSERT INTO crawl_hit (dedup_key, run_id, marketplace, page_url, image_url,
         image_sha256, fetched_at, http_status, http_headers, reference_id, warc_file,
         warc_image_offset, created_at) VALUES ('k', 1, 'shop', 'https://shop.example/1',
         'https://shop.example/1.png', 'bb', 'x', 200, '{}', 1, 'evidence/run-1.warc', 0, 'x')",
        "INSERT INTO crawl_image (url, sha256, fetched_at, catalog_gen) VALUES
         ('https://shop.example/1.png', 'bb', 'x', 2)",
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
    }
    // Three audit entries in the version 1 row format, chained as the old server did.
    let mut prev: Option<AuditEntry> = None;
    for seq in 1..=3 {
        let mut e = AuditEntry {
            seq,
            org_id: None,
            account_id: None,
            format: 1,
            at_ms: 1000 * seq,
            kind: "link-created".into(),
            link_id: Some("lnk_old".into()),
            session_id: None,
            document_id: None,
            actor: Some("o@brand.example".into()),
            ip: None,
            user_agent: None,
            detail: format!("entry {seq}"),
            prev_hash: prev.as_ref().map_or([0; 32], |p| p.hash),
            hash: [0; 32],
        };
        e.hash = chain_hash(&e.prev_hash, &e);
        sqlx::query(
            "INSERT INTO audit_log (seq, at_ms, kind, link_id, actor, detail, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.seq)
        .bind(e.at_ms)
        .bind(&e.kind)
        .bind(&e.link_id)
        .bind(&e.actor)
        .bind(&e.detail)
        .bind(&e.prev_hash[..])
        .bind(&e.hash[..])
        .execute(&pool)
        .await
        .unwrap();
        prev = Some(e);
    }
    pool.close().await;
}

async fn default_org(store: &dyn MetaStore) -> OrgId {
    store.org_by_name(DEFAULT_ORG).await.unwrap().unwrap().id
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

/// SQLite only: a data directory written by hand the way older versions wrote it.
#[tokio::test]
async fn a_data_directory_made_before_the_store_crate_opens_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    legacy_database(&data).await;
    let store = SqliteStore::open(&data, Durability::Full).await.unwrap();
    let org = default_org(&store).await;
    let owner = store.account_by_email("o@brand.example").await.unwrap();
    let owner = owner.expect("the old row is still there");
    assert_eq!((owner.org, owner.role), (org, Role::Admin));
    assert_eq!(owner.org_name, "default");
    // Its old API token still works, now with an end date.
    let (_, token) = store
        .account_by_credential(
            &[1; 32],
            CredentialCheck {
                kind: CredentialKind::ApiToken,
                now: 2,
                idle_secs: None,
            },
        )
        .await
        .unwrap()
        .expect("the old token still authenticates");
    assert!(token.expires_at > 2 && token.id.starts_with("tok_"));
    assert_eq!(store.list_documents(org).await.unwrap().len(), 1);
    assert!(store.link(org, "lnk_old").await.unwrap().is_some());
    let entries = store.audit_entries(Some(org)).await.unwrap();
    assert_eq!(
        verify(&entries).unwrap().0,
        3,
        "the old chain still verifies"
    );
    store
        .append_audit(&NewAuditEntry {
            org: Some(org),
            account_id: Some(owner.id),
            ..NewAuditEntry::new(AuditKind::Revoke, 5000, "after the upgrade")
        })
        .await
        .unwrap();
    let entries = store.audit_entries(Some(org)).await.unwrap();
    assert_eq!(verify(&entries).unwrap().0, 4, "and goes on in format 2");
    assert_eq!(entries[3].format, 2);
    let evidence = Evidence::new(std::sync::Arc::new(store.clone()), data.clone(), org);
    assert_eq!(evidence.references().await.unwrap().len(), 1);
    assert_eq!(evidence.reviewed_hits(10).await.unwrap().len(), 1);
    assert!(
        evidence
            .seen(SeenTable::Image, "https://shop.example/1.png")
            .await
            .unwrap()
            .is_some()
    );
    // Opening again (as a second process would) applies nothing twice.
    SqliteStore::open(&data, Durability::Normal).await.unwrap();
}

/// SQLite only: edits the migration table of a SQLite file by hand.
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

#[path = "common/evidence_backends.rs"]
mod evidence_backends;
use evidence_backends::{BACKENDS, EvidenceBackend};

#[tokio::test]
async fn hits_are_stored_once_and_carry_their_review_state() {
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        hits_once_with_review_state(&b.ev).await;
        assert!(
            b.other.reviewed_hits(10).await.unwrap().is_empty(),
            "{backend:?}: another organisation sees no hits"
        );
        let id = b.ev.reviewed_hits(1).await.unwrap()[0].id;
        assert!(b.other.reviewed_hit(id).await.unwrap().is_none());
        assert_eq!(
            b.other
                .set_review(&[id], Some("dismissed"), None, "x", 1)
                .await
                .unwrap(),
            0,
            "{backend:?}: another organisation cannot review it"
        );
    }
}

async fn hits_once_with_review_state(ev: &Evidence) {
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
    for backend in BACKENDS {
        let b = EvidenceBackend::create(backend).await;
        catalog_frontier_and_seen(&b.ev, b.dir.path()).await;
        assert!(
            b.other.references().await.unwrap().is_empty(),
            "{backend:?}"
        );
        assert!(
            b.other
                .seen(SeenTable::Page, "http://s/")
                .await
                .unwrap()
                .is_none(),
            "{backend:?}: seen URLs are per organisation"
        );
        assert_eq!(b.other.running_run("shop").await.unwrap(), None);
    }
}

async fn catalog_frontier_and_seen(ev: &Evidence, dir: &std::path::Path) {
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
    std::fs::write(dir.join("ref.png"), b"png").unwrap();
    assert_eq!(
        ev.reference_image(id, 1 << 20).await.unwrap().unwrap(),
        b"png"
    );

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
    let ev = Evidence::open(&data, DEFAULT_ORG).await.unwrap();
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
    assert!(
        ev.open_warc_file(w.relative_path())
            .unwrap()
            .metadata()
            .unwrap()
            .len()
            > 6
    );
    let capped = ev
        .warc_record_within(w.relative_path(), i64::try_from(off).unwrap(), 4)
        .await;
    assert!(matches!(
        capped,
        Err(veilmark_store::warc::WarcReadError::TooLarge { .. })
    ));
    assert!(ev.warc_record("../veilmark.db", 0).is_err());
    assert!(ev.open_warc_file("evidence/../veilmark.db").is_err());
    assert!(ev.warc_record(w.relative_path(), -1).is_err());
}

/// SQLite only: the evidence half of the tenant test (the PostgreSQL evidence store is tested
/// with the evidence tests).
#[tokio::test]
async fn an_organisation_sees_and_changes_only_its_own_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let store = SqliteStore::open(&data, Durability::Normal).await.unwrap();
    let (a, b) = two_tenants(&store).await;
    // Catalogs and hits: the same SKU and image in both, each its own row.
    for org in [a, b] {
        let ev = Evidence::new(std::sync::Arc::new(store.clone()), data.clone(), org);
        let (_, new) = ev
            .add_reference(&NewReference {
                sku: "BRK-1",
                title: None,
                source_path: "x.png",
                sha256: "ff",
                width: 1,
                height: 1,
                pdq_quality: 100,
                pdq: vec![],
                phash: vec![],
                pdq_windows: vec![],
            })
            .await
            .unwrap();
        assert!(new);
        let (run, _) = ev.resume_or_start_run("shop").await.unwrap();
        assert!(
            ev.insert_hit(run, &hit("https://shop.example/1", None))
                .await
                .unwrap()
        );
    }
    let ev_a = Evidence::new(std::sync::Arc::new(store.clone()), data.clone(), a);
    let ev_b = Evidence::new(std::sync::Arc::new(store.clone()), data.clone(), b);
    let hit_b = ev_b.reviewed_hits(10).await.unwrap()[0].id;
    assert_eq!(ev_a.reviewed_hits(10).await.unwrap().len(), 1);
    assert!(ev_a.reviewed_hit(hit_b).await.unwrap().is_none());
    assert_eq!(
        ev_a.set_review(&[hit_b], Some("dismissed"), None, "alice", 5)
            .await
            .unwrap(),
        0,
        "A cannot review B's hit"
    );
    assert_eq!(
        ev_b.reviewed_hit(hit_b)
            .await
            .unwrap()
            .unwrap()
            .review_state,
        "new"
    );
    let (run_b, _) = ev_b.resume_or_start_run("shop").await.unwrap();
    assert!(!ev_a.enqueue(run_b, "https://x.example/", 0).await.unwrap());
    assert!(
        ev_a.insert_hit(run_b, &hit("https://shop.example/2", None))
            .await
            .is_ok()
    );
    assert_eq!(
        ev_b.reviewed_hits(10).await.unwrap().len(),
        1,
        "nothing planted in B's run"
    );
}

// ---------------------------------------------------------------------------------------------
// MetaStore: every test below runs on SQLite and on PostgreSQL (`NAME::sqlite`,
// `NAME::postgres`).

on_both_backends!(
    a_review_takes_the_live_links_records_decisions_once_and_revokes_the_undecided_at_its_due_date,
    offboarding_revokes_the_live_links_of_that_domain_only_into_the_feed,
    a_level_change_reapplies_ceilings_to_live_links_and_refuses_links_made_at_the_old_level,
    levels_and_suppliers_are_per_organisation,
    the_audit_chain_survives_reopening,
    an_organisation_sees_and_changes_only_its_own_rows,
    each_organisation_has_its_own_audit_chain,
    parallel_wrong_passcodes_are_each_counted_before_any_is_checked,
    parallel_wrong_logins_lock_the_account_after_the_limit,
    credentials_end_when_idle_expired_taken_or_the_password_changes,
    views_are_counted_to_the_limit_and_replays_change_nothing,
    a_revocation_is_fed_once_and_ends_renewals,
    members_second_factors_and_recovery_codes,
    audit_pages_cover_the_chain_once,
);

async fn the_audit_chain_survives_reopening(b: Backend) {
    for i in 0..3 {
        b.store()
            .append_audit(&NewAuditEntry::new(AuditKind::OwnerLogin, i, "login"))
            .await
            .unwrap();
    }
    let store = b.reopen().await;
    let entries = store.audit_entries(None).await.unwrap();
    assert_eq!(verify(&entries).unwrap().0, 3);
    store
        .append_audit(&NewAuditEntry::new(AuditKind::OwnerLogin, 9, "again"))
        .await
        .unwrap();
    assert_eq!(
        verify(&b.store().audit_entries(None).await.unwrap())
            .unwrap()
            .0,
        4
    );
}

/// Two organisations on one store, each with a document and a link.
async fn two_tenants(store: &dyn MetaStore) -> (OrgId, OrgId) {
    let a = store.create_org("Brand A", 1).await.unwrap();
    let b = store.create_org("Brand B", 1).await.unwrap();
    for (org, doc, link) in [(a, "a", "lnk_a"), (b, "b", "lnk_b")] {
        store.insert_document(&document(org, doc)).await.unwrap();
        store
            .insert_link(&link_record(org, link, &doc.repeat(32)))
            .await
            .unwrap();
    }
    (a, b)
}

fn document(org: OrgId, doc: &str) -> DocumentRecord {
    DocumentRecord {
        org,
        id: doc.repeat(32),
        title: format!("{doc} drawing"),
        media_type: "application/pdf".into(),
        plaintext_len: 1,
        envelope_len: 1,
        level: "Internal".into(),
        derived_from: None,
        shares: None,
        blob: format!("envelopes/{doc}.vmk"),
        wrapped_key: vec![0],
        created_at: 1,
    }
}

fn link_record(org: OrgId, id: &str, document_id: &str) -> LinkRecord {
    LinkRecord {
        org,
        id: id.into(),
        token_hash: id.as_bytes().to_vec(),
        document_id: document_id.into(),
        level: "Internal".into(),
        recipient: "s@supplier.example".into(),
        created_by: "o@brand.example".into(),
        created_at: 1,
        expires_at: i64::MAX,
        max_views: None,
        views: 0,
        passcode_hash: None,
        has_passcode: false,
        failed_passcodes: 0,
        locked_until: None,
        revoked_at: None,
    }
}

async fn an_organisation_sees_and_changes_only_its_own_rows(b: Backend) {
    let store = b.store();
    let (a, b) = two_tenants(store).await;
    assert!(
        store.create_org("brand a", 1).await.is_err(),
        "names are case-insensitive"
    );
    assert_eq!(store.org_by_name("BRAND A").await.unwrap().unwrap().id, a);
    let names: Vec<_> = store
        .list_orgs()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["Brand A", "Brand B", "default"]);

    let docs: Vec<_> = store.list_documents(a).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert!(store.document(a, &"b".repeat(32)).await.unwrap().is_none());
    assert_eq!(store.list_links(b).await.unwrap()[0].id, "lnk_b");
    assert!(store.link(a, "lnk_b").await.unwrap().is_none());
    assert!(
        !store
            .revoke_link(
                a,
                "lnk_b",
                5,
                &NewAuditEntry::new(AuditKind::Revoke, 5000, "x")
            )
            .await
            .unwrap(),
        "not A's link"
    );
    assert!(
        store
            .link(b, "lnk_b")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let revoke = NewAuditEntry {
        org: Some(b),
        ..NewAuditEntry::new(AuditKind::Revoke, 5000, "to b")
    };
    assert!(store.revoke_link(b, "lnk_b", 5, &revoke).await.unwrap());

    // A link cannot point at another organisation's document.
    let mut sneaky = store.link(a, "lnk_a").await.unwrap().unwrap();
    sneaky.id = "lnk_sneaky".into();
    sneaky.token_hash = b"sneaky".to_vec();
    sneaky.document_id = "b".repeat(32);
    assert!(store.insert_link(&sneaky).await.is_err());
    assert!(store.link(a, "lnk_sneaky").await.unwrap().is_none());

    // Accounts, roles and credentials stay inside their organisation.
    let alice = store
        .create_account(a, "alice@a.example", "h", Role::Owner, 1)
        .await
        .unwrap();
    assert!(store.account(b, alice).await.unwrap().is_none());
    assert!(!store.set_role(b, alice, Role::Admin).await.unwrap());
    assert!(!store.remove_account(b, alice).await.unwrap());
    assert!(store.set_password(b, alice, "h2").await.is_err());
    assert!(
        store
            .create_account(b, "alice@a.example", "h", Role::Owner, 1)
            .await
            .is_err(),
        "an e-mail address is one account on the server"
    );
    let tok = store
        .add_credential(&NewCredential {
            token_hash: &[7; 32],
            account_id: alice,
            kind: CredentialKind::ApiToken,
            label: "ci",
            now: 1,
            expires_at: 100,
        })
        .await
        .unwrap();
    assert!(!store.revoke_credential(b, &tok).await.unwrap());
    assert_eq!(store.end_all_sessions(b, alice).await.unwrap(), 0);
    assert!(
        store
            .list_credentials(b, alice, CredentialKind::ApiToken, 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_credentials(a, alice, CredentialKind::ApiToken, 2)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.credential_account(&tok).await.unwrap().unwrap().id,
        alice
    );
    assert!(store.revoke_credential(a, &tok).await.unwrap());
}

async fn each_organisation_has_its_own_audit_chain(backend: Backend) {
    let store = backend.store();
    let (a, b) = two_tenants(store).await;
    for i in 0..6 {
        let org = if i % 2 == 0 { Some(a) } else { Some(b) };
        store
            .append_audit(&NewAuditEntry {
                org,
                account_id: Some(i),
                ..NewAuditEntry::new(AuditKind::LinkCreated, i, format!("n{i}"))
            })
            .await
            .unwrap();
    }
    store
        .append_audit(&NewAuditEntry::new(
            AuditKind::OwnerLogin,
            9,
            "unknown account",
        ))
        .await
        .unwrap();
    for (org, n) in [(Some(a), 3), (Some(b), 3), (None, 1)] {
        let entries = store.audit_entries(org).await.unwrap();
        assert_eq!(verify(&entries).unwrap().0, n);
        assert!(entries.iter().all(|e| e.org_id == org.map(OrgId::get)));
    }
    // Moving an entry from A's chain to B's breaks both. (It must take a position B does not
    // have: PostgreSQL refuses two entries at one position of a chain outright.)
    backend
        .tamper(&format!(
            "UPDATE audit_log SET org_id = {}, org_seq = org_seq + 100
             WHERE org_id = {} AND org_seq = 2",
            b.get(),
            a.get()
        ))
        .await;
    assert!(verify(&store.audit_entries(Some(a)).await.unwrap()).is_err());
    assert!(verify(&store.audit_entries(Some(b)).await.unwrap()).is_err());
}

async fn parallel_wrong_passcodes_are_each_counted_before_any_is_checked(b: Backend) {
    two_tenants(b.store()).await;
    let tries = (0..20).map(|_| {
        let store = b.meta.clone();
        tokio::spawn(async move { store.passcode_attempt("lnk_a", 100, 5, 900).await.unwrap() })
    });
    let mut counted = 0;
    let mut locked = 0;
    for t in tries.collect::<Vec<_>>() {
        match t.await.unwrap() {
            PasscodeAttempt::Counted(_) => counted += 1,
            PasscodeAttempt::Locked(until) => {
                assert_eq!(until, 1000);
                locked += 1;
            }
        }
    }
    assert_eq!((counted, locked), (5, 15));
    let store = b.store();
    // Still locked a minute later, whatever the passcode would have been.
    assert_eq!(
        store.passcode_attempt("lnk_a", 160, 5, 900).await.unwrap(),
        PasscodeAttempt::Locked(1000)
    );
    // After the lock the count starts again.
    assert_eq!(
        store.passcode_attempt("lnk_a", 1000, 5, 900).await.unwrap(),
        PasscodeAttempt::Counted(1)
    );
    // A right passcode clears the count; the fifth attempt's own lock is lifted when right.
    store.passcode_succeeded("lnk_a", 1, 5).await.unwrap();
    for n in 1..=5 {
        assert_eq!(
            store.passcode_attempt("lnk_a", 1001, 5, 900).await.unwrap(),
            PasscodeAttempt::Counted(n)
        );
    }
    store.passcode_succeeded("lnk_a", 5, 5).await.unwrap();
    assert_eq!(
        store.passcode_attempt("lnk_a", 1002, 5, 900).await.unwrap(),
        PasscodeAttempt::Counted(1)
    );
}

async fn parallel_wrong_logins_lock_the_account_after_the_limit(b: Backend) {
    let org = default_org(b.store()).await;
    let id = b
        .store()
        .create_account(org, "o@brand.example", "h", Role::Owner, 1)
        .await
        .unwrap();
    let tries = (0..12).map(|_| {
        let store = b.meta.clone();
        tokio::spawn(async move { store.login_attempt(id, 100, 5, 900).await.unwrap() })
    });
    let mut counted = 0;
    for t in tries.collect::<Vec<_>>() {
        match t.await.unwrap() {
            LoginAttempt::Counted(_) => counted += 1,
            LoginAttempt::Locked(until) => assert_eq!(until, 1000),
        }
    }
    assert_eq!(counted, 5);
    b.store().login_succeeded(id).await.unwrap();
    assert_eq!(
        b.store().login_attempt(id, 101, 5, 900).await.unwrap(),
        LoginAttempt::Counted(1)
    );
}

async fn credentials_end_when_idle_expired_taken_or_the_password_changes(b: Backend) {
    let store = b.store();
    let org = default_org(store).await;
    let id = store
        .create_account(org, "o@brand.example", "h", Role::Owner, 1)
        .await
        .unwrap();
    let add = |hash: [u8; 32], kind, expires_at| async move {
        store
            .add_credential(&NewCredential {
                token_hash: &hash,
                account_id: id,
                kind,
                label: "",
                now: 100,
                expires_at,
            })
            .await
            .unwrap()
    };
    add([1; 32], CredentialKind::Cookie, 10_000).await;
    add([2; 32], CredentialKind::SetPassword, 500).await;
    add([3; 32], CredentialKind::ApiToken, 10_000).await;
    let check = |kind, now, idle_secs| CredentialCheck {
        kind,
        now,
        idle_secs,
    };
    let live = |hash: [u8; 32], c: CredentialCheck| async move {
        store
            .account_by_credential(&hash, c)
            .await
            .unwrap()
            .is_some()
    };
    assert!(live([1; 32], check(CredentialKind::Cookie, 1000, Some(1800))).await);
    assert!(
        !live([1; 32], check(CredentialKind::ApiToken, 1000, None)).await,
        "kind matters"
    );
    // Used at 1000, so idle until 2800.
    assert!(live([1; 32], check(CredentialKind::Cookie, 2700, Some(1800))).await);
    assert!(!live([1; 32], check(CredentialKind::Cookie, 4600, Some(1800))).await);
    assert!(
        !live([3; 32], check(CredentialKind::ApiToken, 10_000, None)).await,
        "expired"
    );
    // One-time: taken once.
    assert!(
        store
            .take_credential(&[2; 32], CredentialKind::SetPassword, 200)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .take_credential(&[2; 32], CredentialKind::SetPassword, 200)
            .await
            .unwrap()
            .is_none()
    );
    // A new password ends every session and token.
    store.set_password(org, id, "h2").await.unwrap();
    assert!(!live([3; 32], check(CredentialKind::ApiToken, 300, None)).await);
    assert!(!live([1; 32], check(CredentialKind::Cookie, 300, Some(1800))).await);
}

fn session(id: u8, link: &str) -> SessionRecord {
    SessionRecord {
        id: hex::encode([id; 16]),
        link_id: link.into(),
        session_code: (u64::from(id) << 40) | 0xabc,
        viewer_key: [id; 32],
        created_at: 10,
        lease_expires_at: 100,
    }
}

async fn views_are_counted_to_the_limit_and_replays_change_nothing(b: Backend) {
    let store = b.store();
    let (a, other) = two_tenants(store).await;
    let mut limited = link_record(a, "lnk_3", &"a".repeat(32));
    limited.max_views = Some(3);
    limited.expires_at = 1000;
    store.insert_link(&limited).await.unwrap();
    let grant = |n: u8, nonce: &'static [u8], now: i64| async move {
        let audit = NewAuditEntry {
            org: Some(a),
            session_id: Some(hex::encode([n; 16])),
            ..NewAuditEntry::new(AuditKind::Grant, now * 1000, "granted")
        };
        store
            .grant_view(&session(n, "lnk_3"), nonce, now + 300, now, &audit)
            .await
            .unwrap()
    };
    let first = grant(1, b"n1", 10).await.unwrap();
    assert_eq!((first.seq, first.kind.as_str()), (1, "grant"));
    assert_eq!(grant(2, b"n1", 10).await, Err(ViewRefusal::Replayed));
    assert!(
        store
            .session(&hex::encode([2; 16]))
            .await
            .unwrap()
            .is_none()
    );
    assert!(grant(2, b"n2", 10).await.is_ok());
    assert!(grant(3, b"n3", 10).await.is_ok());
    assert_eq!(grant(4, b"n4", 10).await, Err(ViewRefusal::LimitReached));
    let link = store.link(a, "lnk_3").await.unwrap().unwrap();
    assert_eq!(link.views, 3);
    // A refused request leaves no nonce: the same nonce is refused for the limit, not replay.
    assert_eq!(grant(4, b"n4", 10).await, Err(ViewRefusal::LimitReached));
    let s = store.session(&hex::encode([1; 16])).await.unwrap().unwrap();
    assert_eq!((s.link_id.as_str(), s.viewer_key), ("lnk_3", [1; 32]));
    assert_eq!(
        store
            .session_by_code(a, s.session_code)
            .await
            .unwrap()
            .unwrap()
            .id,
        s.id
    );
    assert!(
        store
            .session_by_code(other, s.session_code)
            .await
            .unwrap()
            .is_none(),
        "a session code is traced only within its organisation"
    );
    // Expiry, then revocation, win over the limit.
    let mut unlimited = link_record(a, "lnk_x", &"a".repeat(32));
    unlimited.expires_at = 1000;
    store.insert_link(&unlimited).await.unwrap();
    let audit = NewAuditEntry::new(AuditKind::Grant, 1, "x");
    assert_eq!(
        store
            .grant_view(&session(9, "lnk_x"), b"e", 2000, 1000, &audit)
            .await
            .unwrap(),
        Err(ViewRefusal::Expired)
    );
    let revoke = NewAuditEntry {
        org: Some(a),
        ..NewAuditEntry::new(AuditKind::Revoke, 20_000, "revoked")
    };
    assert!(store.revoke_link(a, "lnk_x", 20, &revoke).await.unwrap());
    assert_eq!(
        store
            .grant_view(&session(9, "lnk_x"), b"r", 2000, 30, &audit)
            .await
            .unwrap(),
        Err(ViewRefusal::Revoked)
    );
    // The grants and the revocation, one unbroken chain; nonces past their window go.
    let chain = store.audit_entries(Some(a)).await.unwrap();
    assert_eq!(verify(&chain).unwrap().0, 4);
    assert_eq!(store.purge_nonces(400).await.unwrap(), 3);
    assert_eq!(store.purge_nonces(400).await.unwrap(), 0);
}

async fn a_revocation_is_fed_once_and_ends_renewals(b: Backend) {
    let store = b.store();
    let (a, other) = two_tenants(store).await;
    let audit = |kind, detail: &str| NewAuditEntry {
        org: Some(a),
        ..NewAuditEntry::new(kind, 1, detail)
    };
    store
        .grant_view(
            &session(1, "lnk_a"),
            b"n",
            300,
            10,
            &audit(AuditKind::Grant, "g"),
        )
        .await
        .unwrap()
        .unwrap();
    let id = hex::encode([1; 16]);
    let renewed = store
        .renew_session(&id, 200, 20, &audit(AuditKind::Renew, "r"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renewed.seq, 2);
    assert_eq!(
        store.session(&id).await.unwrap().unwrap().lease_expires_at,
        200
    );
    assert!(store.revocations_after(0).await.unwrap().is_empty());
    assert!(
        store
            .revoke_link(a, "lnk_a", 30, &audit(AuditKind::Revoke, "v"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_link(a, "lnk_a", 31, &audit(AuditKind::Revoke, "again"))
            .await
            .unwrap(),
        "already revoked: nothing written"
    );
    let revoke_b = NewAuditEntry {
        org: Some(other),
        ..NewAuditEntry::new(AuditKind::Revoke, 1, "b")
    };
    assert!(
        store
            .revoke_link(other, "lnk_b", 32, &revoke_b)
            .await
            .unwrap()
    );
    let feed = store.revocations_after(0).await.unwrap();
    let links: Vec<_> = feed.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(links, ["lnk_a", "lnk_b"]);
    assert!(feed[0].0 < feed[1].0);
    assert_eq!(
        store.revocations_after(feed[0].0).await.unwrap(),
        feed[1..].to_vec()
    );
    assert!(store.revocations_after(feed[1].0).await.unwrap().is_empty());
    assert_eq!(
        store
            .renew_session(&id, 300, 40, &audit(AuditKind::Renew, "late"))
            .await
            .unwrap(),
        Err(ViewRefusal::Revoked)
    );
    assert_eq!(
        store.session(&id).await.unwrap().unwrap().lease_expires_at,
        200,
        "a refused renewal changes nothing"
    );
    assert!(
        store
            .renew_session("nope", 1, 1, &audit(AuditKind::Renew, "x"))
            .await
            .is_err()
    );
    let chain = store.audit_entries(Some(a)).await.unwrap();
    let kinds: Vec<_> = chain.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["grant", "renew", "revoke"]);
    assert_eq!(verify(&chain).unwrap().0, 3);
}

async fn members_second_factors_and_recovery_codes(b: Backend) {
    let store = b.store();
    let org = default_org(store).await;
    assert!(!store.org(org).await.unwrap().require_totp);
    store.set_org_require_totp(org, true).await.unwrap();
    assert!(store.org(org).await.unwrap().require_totp);
    let zed = store
        .create_account(org, "zed@brand.example", "h", Role::Auditor, 5)
        .await
        .unwrap();
    let amy = store
        .create_account(org, "amy@brand.example", "h", Role::Owner, 5)
        .await
        .unwrap();
    let emails: Vec<_> = store
        .list_accounts(org)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.email)
        .collect();
    assert_eq!(emails, ["amy@brand.example", "zed@brand.example"]);
    assert!(store.set_role(org, zed, Role::Reviewer).await.unwrap());
    let z = store
        .account_by_email("zed@brand.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (z.role, z.org_name.as_str(), z.org_requires_totp),
        (Role::Reviewer, "default", true)
    );

    assert!(
        store.enable_totp(org, amy, 1, &[], 6).await.is_err(),
        "no enrolment in progress"
    );
    store
        .set_totp_secret(org, amy, Some(b"wrapped"))
        .await
        .unwrap();
    store
        .enable_totp(org, amy, 100, &[[1; 32], [2; 32], [3; 32]], 7)
        .await
        .unwrap();
    let a = store.account(org, amy).await.unwrap().unwrap();
    assert!(a.has_totp());
    assert_eq!(a.totp_secret.as_deref(), Some(&b"wrapped"[..]));
    assert!(
        !store.use_totp_step(amy, 100).await.unwrap(),
        "the enrolment code's step"
    );
    assert!(store.use_totp_step(amy, 101).await.unwrap());
    assert!(
        !store.use_totp_step(amy, 101).await.unwrap(),
        "a step is used once"
    );
    assert_eq!(store.recovery_codes_left(amy).await.unwrap(), 3);
    assert!(store.use_recovery_code(amy, &[2; 32], 8).await.unwrap());
    assert!(!store.use_recovery_code(amy, &[2; 32], 8).await.unwrap());
    assert!(!store.use_recovery_code(amy, &[9; 32], 8).await.unwrap());
    assert!(
        !store.use_recovery_code(zed, &[1; 32], 8).await.unwrap(),
        "not zed's code"
    );
    assert_eq!(store.recovery_codes_left(amy).await.unwrap(), 2);
    store.set_totp_secret(org, amy, None).await.unwrap();
    assert!(!store.account(org, amy).await.unwrap().unwrap().has_totp());
    assert_eq!(store.recovery_codes_left(amy).await.unwrap(), 0);

    // Removing a member removes what it holds.
    store
        .add_credential(&NewCredential {
            token_hash: &[5; 32],
            account_id: zed,
            kind: CredentialKind::Cookie,
            label: "",
            now: 1,
            expires_at: 100,
        })
        .await
        .unwrap();
    assert!(store.remove_account(org, zed).await.unwrap());
    assert!(!store.remove_account(org, zed).await.unwrap());
    assert!(store.account(org, zed).await.unwrap().is_none());
    let check = CredentialCheck {
        kind: CredentialKind::Cookie,
        now: 2,
        idle_secs: None,
    };
    assert!(
        store
            .account_by_credential(&[5; 32], check)
            .await
            .unwrap()
            .is_none()
    );
    // The address is free again.
    store
        .create_account(org, "zed@brand.example", "h", Role::Auditor, 9)
        .await
        .unwrap();
}

async fn audit_pages_cover_the_chain_once(b: Backend) {
    let store = b.store();
    let (a, other) = two_tenants(store).await;
    for i in 0..25 {
        let org = if i % 3 == 0 { Some(other) } else { Some(a) };
        store
            .append_audit(&NewAuditEntry {
                org,
                ..NewAuditEntry::new(AuditKind::PageView, i, format!("p{i}"))
            })
            .await
            .unwrap();
    }
    let whole = store.audit_entries(Some(a)).await.unwrap();
    assert_eq!(whole.len(), 16);
    let mut verifier = ChainVerifier::new();
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let (page, next) = store.audit_range(Some(a), after, 5).await.unwrap();
        if page.is_empty() {
            assert_eq!(next, after);
            break;
        }
        assert!(next > after);
        for e in &page {
            verifier.push(e).unwrap();
        }
        paged.extend(page);
        after = next;
    }
    assert_eq!(paged, whole);
    assert_eq!(verifier.finish().0, 16);
    assert!(store.audit_range(None, 0, 5).await.unwrap().0.is_empty());
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only: several stores (pools) on one database stand for several processes
// (replicas, the CLI) writing at once; SQLite serialises writers on its file instead.

/// `n` independent stores on the backend's database.
async fn processes(b: &Backend, n: usize) -> Vec<veilmark_store::PostgresStore> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(b.open_postgres().await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_200_parallel_grants_from_4_processes_on_a_10_view_link_grant_exactly_10() {
    let b = Backend::postgres().await;
    let (a, _) = two_tenants(b.store()).await;
    let mut link = link_record(a, "lnk_10", &"a".repeat(32));
    link.max_views = Some(10);
    b.store().insert_link(&link).await.unwrap();
    let stores = processes(&b, 4).await;
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let store = stores[i as usize % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut s = session(0, "lnk_10");
            s.id = format!("{i:032x}");
            s.session_code = u64::from(i) + 1;
            let audit = NewAuditEntry {
                org: Some(a),
                session_id: Some(s.id.clone()),
                ..NewAuditEntry::new(AuditKind::Grant, 1, "granted")
            };
            store
                .grant_view(&s, &i.to_be_bytes(), 1000, 10, &audit)
                .await
                .unwrap()
        }));
    }
    let (mut granted, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => granted += 1,
            Err(ViewRefusal::LimitReached) => refused += 1,
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!((granted, refused), (10, 190));
    assert_eq!(
        b.store().link(a, "lnk_10").await.unwrap().unwrap().views,
        10
    );
    let chain = b.store().audit_entries(Some(a)).await.unwrap();
    assert_eq!(
        verify(&chain).unwrap().0,
        10,
        "one grant entry per view, unforked"
    );
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(b.postgres.as_ref().unwrap().pool())
        .await
        .unwrap();
    assert_eq!(sessions, 10);

    // One nonce sent to every process at once: one grant, the rest replays.
    let mut tasks = Vec::new();
    for (i, store) in stores.iter().cycle().take(12).enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = session(1, "lnk_a");
            s.id = format!("{:032x}", 1000 + i);
            s.session_code = 1000 + i as u64;
            store
                .grant_view(&s, b"same nonce", 1000, 10, &NewAuditEntry::default())
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().err());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_none()).count(), 1);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Some(ViewRefusal::Replayed))
            .count(),
        11
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_20_parallel_wrong_passcodes_from_4_processes_lock_at_5() {
    let b = Backend::postgres().await;
    let (a, _) = two_tenants(b.store()).await;
    let stores = processes(&b, 4).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = stores[i % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            store.passcode_attempt("lnk_a", 100, 5, 900).await.unwrap()
        }));
    }
    let mut counted = Vec::new();
    let mut locked = 0;
    for t in tasks {
        match t.await.unwrap() {
            PasscodeAttempt::Counted(n) => counted.push(n),
            PasscodeAttempt::Locked(until) => {
                assert_eq!(until, 1000);
                locked += 1;
            }
        }
    }
    counted.sort_unstable();
    assert_eq!(counted, [1, 2, 3, 4, 5], "each attempt counted once");
    assert_eq!(locked, 15);
    let link = b.store().link(a, "lnk_a").await.unwrap().unwrap();
    assert_eq!((link.failed_passcodes, link.locked_until), (5, Some(1000)));

    // Logins the same way.
    let org = default_org(b.store()).await;
    let id = b
        .store()
        .create_account(org, "o@brand.example", "h", Role::Owner, 1)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = stores[i % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            store.login_attempt(id, 100, 5, 900).await.unwrap()
        }));
    }
    let mut counted = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), LoginAttempt::Counted(_)) {
            counted += 1;
        }
    }
    assert_eq!(counted, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_audit_appends_from_4_processes_make_one_unforked_chain() {
    let b = Backend::postgres().await;
    let (a, other) = two_tenants(b.store()).await;
    let stores = processes(&b, 4).await;
    let mut tasks = Vec::new();
    for (p, store) in stores.iter().enumerate() {
        for i in 0..50 {
            let store = store.clone();
            // Three chains interleaved: A's (most), B's and the server's.
            let org = match i % 5 {
                0 => Some(other),
                1 => None,
                _ => Some(a),
            };
            tasks.push(tokio::spawn(async move {
                store
                    .append_audit(&NewAuditEntry {
                        org,
                        ..NewAuditEntry::new(AuditKind::PageView, i, format!("p{p}-{i}"))
                    })
                    .await
                    .unwrap()
            }));
        }
    }
    let mut returned = Vec::new();
    for t in tasks {
        returned.push(t.await.unwrap());
    }
    for (org, n) in [(Some(a), 120), (Some(other), 40), (None, 40)] {
        let chain = b.store().audit_entries(org).await.unwrap();
        assert_eq!(verify(&chain).unwrap().0, n, "chain {org:?}");
        // What each append returned is what is stored.
        for e in &chain {
            assert!(returned.contains(e));
        }
        // Page by page, in storage order, the same chain.
        let mut verifier = ChainVerifier::new();
        let mut after = 0;
        loop {
            let (page, next) = b.store().audit_range(org, after, 7).await.unwrap();
            if page.is_empty() {
                break;
            }
            for e in &page {
                verifier.push(e).unwrap();
            }
            after = next;
        }
        assert_eq!(verifier.finish().0, n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_revocation_wakeups_come_at_once_and_after_the_listener_reconnects() {
    use std::time::Duration;
    use veilmark_store::meta::Wakeup;
    let b = Backend::postgres().await;
    let (a, _) = two_tenants(b.store()).await;
    let mut extra = link_record(a, "lnk_c", &"a".repeat(32));
    extra.token_hash = b"lnk_c".to_vec();
    b.store().insert_link(&extra).await.unwrap();
    let mut wakeups = b.store().revocation_wakeups().await.unwrap();
    assert!(wakeups.is_notified());
    // The first wake-up: the listener is connected (read the feed once).
    let first = tokio::time::timeout(Duration::from_secs(2), wakeups.wait()).await;
    assert_eq!(first, Ok(Wakeup::Notified));
    let cli = b.open_postgres().await;
    let revoke = |id: &'static str| {
        let cli = cli.clone();
        async move {
            let audit = NewAuditEntry {
                org: Some(a),
                ..NewAuditEntry::new(AuditKind::Revoke, 1, "cli")
            };
            assert!(cli.revoke_link(a, id, 5, &audit).await.unwrap());
        }
    };
    revoke("lnk_a").await;
    let woke = tokio::time::timeout(Duration::from_secs(2), wakeups.wait()).await;
    assert_eq!(
        woke,
        Ok(Wakeup::Notified),
        "a NOTIFY wakes the watcher at once"
    );

    // The listening connection dies (a PostgreSQL restart, a proxy): what is revoked while
    // it is gone still wakes the watcher, from the reconnection, well before the 5 s poll.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(b.postgres.as_ref().unwrap().pool())
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listening connection");
    revoke("lnk_c").await;
    let woke = tokio::time::timeout(Duration::from_secs(2), wakeups.wait()).await;
    assert_eq!(woke, Ok(Wakeup::Notified));
    let feed = b.store().revocations_after(0).await.unwrap();
    assert_eq!(feed.len(), 2);
    assert_eq!(feed[1].1, "lnk_c");
}

async fn a_level_change_reapplies_ceilings_to_live_links_and_refuses_links_made_at_the_old_level(
    b: Backend,
) {
    use veilmark_store::classification::{LinkAdjustment, default_levels};
    let store = b.store();
    let (org, other) = two_tenants(store).await;
    store.insert_document(&document(org, "c")).await.unwrap();
    let doc = "c".repeat(32);
    let day = 86_400;
    // Three live links: long without passcode, long with passcode, short with passcode.
    let mut no_passcode = link_record(org, "lnk_c1", &doc);
    no_passcode.expires_at = 1 + 60 * day;
    store.insert_link(&no_passcode).await.unwrap();
    let mut long = link_record(org, "lnk_c2", &doc);
    long.expires_at = 1 + 60 * day;
    long.passcode_hash = Some("$argon2id$x".into());
    store.insert_link(&long).await.unwrap();
    let mut short = link_record(org, "lnk_c3", &doc);
    short.expires_at = 1 + day;
    short.max_views = Some(3);
    short.passcode_hash = Some("$argon2id$x".into());
    store.insert_link(&short).await.unwrap();

    let restricted = default_levels().remove(3);
    let change = store
        .set_document_level(
            org,
            &doc,
            "Restricted",
            100,
            &|l| restricted.adjust_live_link(l, Some(SupplierStatus::Approved)),
            &|c| NewAuditEntry {
                org: Some(org),
                ..NewAuditEntry::new(AuditKind::Level, 100, c.describe())
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.from, "Internal");
    assert_eq!(change.shortened, ["lnk_c2"]);
    assert_eq!(change.revoked.len(), 1);
    assert_eq!(change.revoked[0].0, "lnk_c1");
    let long = store.link(org, "lnk_c2").await.unwrap().unwrap();
    assert_eq!((long.expires_at, long.max_views), (1 + 7 * day, Some(10)));
    assert_eq!(long.level, "Restricted");
    let short = store.link(org, "lnk_c3").await.unwrap().unwrap();
    assert_eq!((short.expires_at, short.max_views), (1 + day, Some(3)));
    assert!(
        store
            .link(org, "lnk_c1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let fed: Vec<String> = store
        .revocations_after(0)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert!(fed.contains(&"lnk_c1".to_owned()), "{fed:?}");
    let audit = store.audit_entries(Some(org)).await.unwrap();
    assert!(
        audit
            .last()
            .unwrap()
            .detail
            .starts_with("level Internal → Restricted: 1 live link(s) shortened, 1 revoked"),
        "{:?}",
        audit.last()
    );

    // A link checked against the old level is refused once the level changed.
    let stale = link_record(org, "lnk_c4", &doc);
    let e = store.insert_link(&stale).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("level may have just changed"),
        "{e:#}"
    );

    // Another organisation cannot change it, and sees no document.
    let none = store
        .set_document_level(
            other,
            &doc,
            "Public",
            100,
            &|_| LinkAdjustment::Keep,
            &|c| NewAuditEntry::new(AuditKind::Revoke, 100, c.describe()),
        )
        .await
        .unwrap();
    assert!(none.is_none());
    assert_eq!(
        store.document(org, &doc).await.unwrap().unwrap().level,
        "Restricted"
    );
}

async fn levels_and_suppliers_are_per_organisation(b: Backend) {
    use veilmark_store::classification::{SupplierRecord, default_levels};
    let store = b.store();
    let (org, other) = two_tenants(store).await;
    store.insert_document(&document(org, "c")).await.unwrap();
    assert_eq!(store.levels(org).await.unwrap(), default_levels());
    assert!(store.stored_levels(org).await.unwrap().is_empty());
    let mut mine = default_levels();
    mine.truncate(2);
    mine[1].name = "INTERNAL".into();
    let audit = NewAuditEntry::new(AuditKind::Member, 1, "levels");
    store.set_levels(org, &mine, &audit).await.unwrap();
    assert_eq!(store.levels(org).await.unwrap(), mine);
    assert_eq!(store.levels(other).await.unwrap(), default_levels());
    // Documents follow the new spelling; a set without their level is refused.
    assert_eq!(
        store
            .document(org, &"c".repeat(32))
            .await
            .unwrap()
            .unwrap()
            .level,
        "INTERNAL"
    );
    let e = store.set_levels(org, &mine[..1], &audit).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("documents are classified INTERNAL"),
        "{e:#}"
    );
    assert_eq!(store.levels(org).await.unwrap(), mine);

    let s = SupplierRecord {
        domain: "acme.example".into(),
        name: "Acme".into(),
        status: SupplierStatus::Approved,
        changed_at: 5,
    };
    store.set_supplier(org, &s, &audit).await.unwrap();
    let suspended = SupplierRecord {
        status: SupplierStatus::Suspended,
        changed_at: 6,
        ..s.clone()
    };
    store.set_supplier(org, &suspended, &audit).await.unwrap();
    assert_eq!(
        store.suppliers(org).await.unwrap(),
        std::slice::from_ref(&suspended)
    );
    assert_eq!(
        store.supplier(org, "acme.example").await.unwrap(),
        Some(suspended)
    );
    assert!(store.suppliers(other).await.unwrap().is_empty());
    assert!(
        store
            .supplier(other, "acme.example")
            .await
            .unwrap()
            .is_none()
    );
}

async fn offboarding_revokes_the_live_links_of_that_domain_only_into_the_feed(b: Backend) {
    use veilmark_store::classification::SupplierRecord;
    let store = b.store();
    let (org, other) = two_tenants(store).await;
    let doc = "a".repeat(32);
    for (id, to) in [
        ("lnk_o1", "bob@acme.example"),
        ("lnk_o2", "Carol@ACME.Example"),
        ("lnk_o3", "dan@acme.example.org"),
        ("lnk_o4", "eve@notacme.example"),
    ] {
        let mut l = link_record(org, id, &doc);
        l.recipient = to.into();
        store.insert_link(&l).await.unwrap();
    }
    // Another organisation's link to the same domain is not touched.
    let mut theirs = link_record(other, "lnk_o5", &"b".repeat(32));
    theirs.recipient = "bob@acme.example".into();
    store.insert_link(&theirs).await.unwrap();
    let before = store.revocations_after(0).await.unwrap().len();
    let record = SupplierRecord {
        domain: "acme.example".into(),
        name: "Acme".into(),
        status: SupplierStatus::Offboarded,
        changed_at: 50,
    };
    let ids = store
        .offboard_supplier(org, &record, 50, &|ids| NewAuditEntry {
            org: Some(org),
            ..NewAuditEntry::new(AuditKind::Supplier, 50, ids.join(","))
        })
        .await
        .unwrap();
    assert_eq!(ids, ["lnk_o1", "lnk_o2"]);
    let fed: Vec<String> = store.revocations_after(0).await.unwrap()[before..]
        .iter()
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(fed, ["lnk_o1", "lnk_o2"]);
    for (id, revoked) in [("lnk_o1", true), ("lnk_o3", false), ("lnk_o4", false)] {
        assert_eq!(
            store
                .link(org, id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some(),
            revoked,
            "{id}"
        );
    }
    assert!(
        store
            .link(other, "lnk_o5")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_eq!(
        store.supplier(org, "acme.example").await.unwrap(),
        Some(record)
    );
    assert_eq!(
        store
            .audit_entries(Some(org))
            .await
            .unwrap()
            .last()
            .unwrap()
            .detail,
        "lnk_o1,lnk_o2"
    );
    // Again: nothing left to revoke.
    let again = store
        .offboard_supplier(
            org,
            &store.supplier(org, "acme.example").await.unwrap().unwrap(),
            60,
            &|_| NewAuditEntry {
                org: Some(org),
                ..NewAuditEntry::new(AuditKind::Supplier, 60, "again")
            },
        )
        .await
        .unwrap();
    assert!(again.is_empty());
}

async fn a_review_takes_the_live_links_records_decisions_once_and_revokes_the_undecided_at_its_due_date(
    b: Backend,
) {
    use veilmark_store::review::{DecideOutcome, NewReview, ReminderKind, ReviewDecision};
    let store = b.store();
    let (org, other) = two_tenants(store).await;
    let doc = "a".repeat(32);
    let now = 1_000;
    for (id, owner, revoked, expires, views) in [
        ("lnk_r1", "ann@brand.example", None, i64::MAX, None),
        ("lnk_r2", "ann@brand.example", None, i64::MAX, Some((1, 0))),
        ("lnk_r3", "ben@brand.example", None, i64::MAX, None),
        ("lnk_r4", "ben@brand.example", Some(10), i64::MAX, None),
        ("lnk_r5", "ben@brand.example", None, now - 1, None),
    ] {
        let mut l = link_record(org, id, &doc);
        l.created_by = owner.into();
        l.expires_at = expires;
        if let Some((max, used)) = views {
            l.max_views = Some(max);
            l.views = used;
        }
        store.insert_link(&l).await.unwrap();
        if let Some(at) = revoked {
            store
                .revoke_link(org, id, at, &NewAuditEntry::new(AuditKind::Revoke, at, "x"))
                .await
                .unwrap();
        }
    }
    let entry = |d: &str| NewAuditEntry {
        org: Some(org),
        ..NewAuditEntry::new(AuditKind::Review, now * 1000, d)
    };
    let review = NewReview {
        id: "rev_1".into(),
        started_at: now,
        due_at: now + 100,
        started_by: "admin@brand.example".into(),
    };
    let n = store
        .start_review(org, &review, &|n| entry(&format!("started {n}")))
        .await
        .unwrap();
    // r1, r2, r3 and two_tenants' lnk_a: not the revoked or the expired one.
    assert_eq!(n, Some(4));
    let second = NewReview {
        id: "rev_2".into(),
        ..review.clone()
    };
    assert_eq!(
        store
            .start_review(org, &second, &|n| entry(&format!("started {n}")))
            .await
            .unwrap(),
        None,
        "one open review per organisation"
    );
    let items = store.review_items(org, "rev_1").await.unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i.link_id.as_str()).collect();
    assert_eq!(
        ids,
        ["lnk_r1", "lnk_r2", "lnk_r3", "lnk_a"],
        "by owner, then age"
    );
    assert_eq!(items[1].views_left, Some(1));
    assert_eq!(items[0].supplier, "supplier.example");
    // Another organisation sees none of it and cannot decide in it.
    assert!(store.reviews(other).await.unwrap().is_empty());
    assert!(store.review_items(other, "rev_1").await.unwrap().is_empty());
    assert_eq!(
        store
            .decide_review(
                other,
                "rev_1",
                "lnk_r1",
                ReviewDecision::Revoked,
                "x",
                now,
                &entry("x")
            )
            .await
            .unwrap(),
        DecideOutcome::NotInReview
    );
    // Reminders: each owner once, however often asked.
    let first = store.claim_reminders(now + 1).await.unwrap();
    let mut owners: Vec<(&str, i64)> = first
        .iter()
        .map(|r| (r.owner.as_str(), r.undecided))
        .collect();
    owners.sort_unstable();
    assert_eq!(
        owners,
        [
            ("ann@brand.example", 2),
            ("ben@brand.example", 1),
            ("o@brand.example", 1)
        ]
    );
    assert!(first.iter().all(|r| r.kind == ReminderKind::Started));
    assert!(store.claim_reminders(now + 2).await.unwrap().is_empty());
    // Decisions: recorded once; a revocation goes into the feed.
    let before = store.revocations_after(0).await.unwrap().len();
    let decide = |link: &'static str, d| {
        let e = entry(&format!("{link} {d:?}"));
        async move {
            store
                .decide_review(org, "rev_1", link, d, "ann@brand.example", now + 5, &e)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        decide("lnk_r1", ReviewDecision::Confirmed).await,
        DecideOutcome::Decided { closed: false }
    );
    assert_eq!(
        decide("lnk_r1", ReviewDecision::Revoked).await,
        DecideOutcome::AlreadyDecided(ReviewDecision::Confirmed)
    );
    assert_eq!(
        decide("lnk_r2", ReviewDecision::Revoked).await,
        DecideOutcome::Decided { closed: false }
    );
    assert_eq!(
        decide("lnk_r4", ReviewDecision::Confirmed).await,
        DecideOutcome::NotInReview
    );
    let fed: Vec<String> = store.revocations_after(0).await.unwrap()[before..]
        .iter()
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(fed, ["lnk_r2"]);
    // Near the due date only those with undecided links are reminded again.
    let soon = store.claim_reminders(now + 90).await.unwrap();
    let mut owners: Vec<&str> = soon.iter().map(|r| r.owner.as_str()).collect();
    owners.sort_unstable();
    assert_eq!(owners, ["ben@brand.example", "o@brand.example"]);
    assert!(soon.iter().all(|r| r.kind == ReminderKind::DueSoon));
    // Not due yet: nothing closes.
    let close = |c: &veilmark_store::review::ClosedReview| {
        entry(&format!("closed {}", c.expired.join(",")))
    };
    assert!(
        store
            .close_due_reviews(now + 99, &close)
            .await
            .unwrap()
            .is_empty()
    );
    let closed = store.close_due_reviews(now + 100, &close).await.unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].expired, ["lnk_a", "lnk_r3"]);
    assert!(
        store
            .close_due_reviews(now + 200, &close)
            .await
            .unwrap()
            .is_empty()
    );
    let r = store.review(org, "rev_1").await.unwrap().unwrap();
    assert_eq!(
        (
            r.links,
            r.undecided,
            r.confirmed,
            r.revoked,
            r.expired,
            r.closed_at
        ),
        (4, 0, 1, 1, 2, Some(now + 100))
    );
    for (id, revoked) in [
        ("lnk_r1", false),
        ("lnk_r2", true),
        ("lnk_r3", true),
        ("lnk_a", true),
    ] {
        let l = store.link(org, id).await.unwrap().unwrap();
        assert_eq!(l.revoked_at.is_some(), revoked, "{id}");
    }
    assert_eq!(
        store
            .decide_review(
                org,
                "rev_1",
                "lnk_r3",
                ReviewDecision::Confirmed,
                "x",
                now + 300,
                &entry("late")
            )
            .await
            .unwrap(),
        DecideOutcome::Closed
    );
    let details: Vec<String> = store
        .audit_entries(Some(org))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "review")
        .map(|e| e.detail)
        .collect();
    assert_eq!(
        details,
        [
            "started 4",
            "lnk_r1 Confirmed",
            "lnk_r2 Revoked",
            "closed lnk_a,lnk_r3"
        ]
    );
    // A new review may start now; the schedule says when one is due by itself.
    let schedule = store.review_schedule(org).await.unwrap();
    assert_eq!(schedule, veilmark_store::review::ReviewSchedule::default());
    assert!(
        store
            .orgs_due_for_review(now + 300)
            .await
            .unwrap()
            .is_empty(),
        "a review started 300 s ago"
    );
    let due = store
        .orgs_due_for_review(now + schedule.every_secs)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        [org, other],
        "both organisations have live links and no review for a quarter (Brand B never had one)"
    );
    // An organisation that existed before reviews counts its first period from the upgrade
    // (migration 1008 / 0007 sets `reviews_since`), not from its creation: an upgrade starts
    // no review at once (whose due date would revoke what nobody confirmed).
    let upgraded_at = 50_000_000;
    b.tamper(&format!(
        "UPDATE organisations SET reviews_since = {upgraded_at} WHERE id = {}",
        other.get()
    ))
    .await;
    let due = store
        .orgs_due_for_review(now + schedule.every_secs)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|(o, _)| *o).collect::<Vec<_>>(), [org]);
    let due = store
        .orgs_due_for_review(upgraded_at + schedule.every_secs)
        .await
        .unwrap();
    assert!(
        due.iter().any(|(o, _)| *o == other),
        "due a period after the upgrade"
    );
}
