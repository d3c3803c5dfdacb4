//! Two server replicas on one PostgreSQL database, each a real HTTP server on its own loopback
//! port with its own connection pool and revocation watcher, sharing the keys and the envelope
//! folder (as replicas share key files and a bucket): view limits and passcode lock-outs hold
//! across them, and a revocation anywhere reaches viewers on every replica within 2 s.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::net::TcpListener;
use veilmark_server::audit::AuditKind;
use veilmark_server::keys::ServerKeys;
use veilmark_server::service::{Actor, ClientMeta, CreatedLink, NewLink};
use veilmark_server::{AppState, Config, now_secs};
use veilmark_shared::wire::{ErrorBody, ErrorCode};
use veilmark_store::tenancy::DEFAULT_ORG;
use veilmark_store::{DataDir, Durability, MetaStore, OrgId, PostgresStore, SqliteStore};
use veilmark_testkit::PgTestDb;

use crate::common::{OWNER, PLAINTEXT, TestServer, http_client, relaxed, viewer};

/// Connections per replica: small, so that tests running side by side stay well inside the
/// test server's connection limit; a replica's requests queue for them as in production.
const POOL: u32 = 5;

/// A viewer's open event stream.
type Events = Pin<Box<dyn Stream<Item = reqwest::Result<Vec<u8>>> + Send>>;

struct Replica {
    base: String,
    state: AppState,
}

/// Two replicas, the organisation `default` and a sealed document in it.
struct Replicas {
    a: Replica,
    b: Replica,
    org: OrgId,
    document_id: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    /// Dropped last: the database.
    db: PgTestDb,
}

async fn replica(db: &PgTestDb, data: &DataDir) -> Replica {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::new(data.root());
    config.public_url = format!("http://{addr}");
    config.www_dir = None;
    config.limits = relaxed();
    config.limits.max_connections_per_addr = 10_000;
    let store = Arc::new(
        PostgresStore::connect_with_pool_size(db.url(), POOL)
            .await
            .unwrap(),
    );
    // The evidence store is not under test here (the crawl's concern): each replica's own.
    let evidence = Arc::new(SqliteStore::open(data, Durability::Normal).await.unwrap());
    let state = AppState::with_stores(
        config,
        ServerKeys::load_or_create(data).unwrap(),
        store,
        evidence,
        data.clone(),
        Arc::new(data.blob_store().unwrap()),
    );
    tokio::spawn(veilmark_server::serve(state.clone(), listener));
    Replica {
        base: format!("http://{addr}"),
        state,
    }
}

impl Replicas {
    async fn start() -> Self {
        let db = PgTestDb::create().await;
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        data.create().unwrap();
        let a = replica(&db, &data).await;
        let b = replica(&db, &data).await;
        let org = a.state.org_named(DEFAULT_ORG).await.unwrap().id;
        let doc = a
            .state
            .ingest_plaintext(
                PLAINTEXT,
                "Bracket",
                None,
                &Actor::operator(org, OWNER),
                &ClientMeta::cli(),
            )
            .await
            .unwrap();
        Self {
            a,
            b,
            org,
            document_id: doc.id,
            client: http_client().user_agent("veilmark-test").build().unwrap(),
            _dir: dir,
            db,
        }
    }

    /// A link made on replica A.
    async fn link(&self, f: impl FnOnce(&mut NewLink)) -> CreatedLink {
        let mut req = NewLink {
            document_id: self.document_id.clone(),
            recipient: "alice@supplier.example".into(),
            expires_in_secs: None,
            max_views: None,
            passcode: None,
            pages: None,
            parts: None,
        };
        f(&mut req);
        self.a
            .state
            .create_link(&req, &Actor::operator(self.org, OWNER), &ClientMeta::cli())
            .await
            .unwrap()
    }

    fn replica(&self, i: usize) -> &Replica {
        if i.is_multiple_of(2) {
            &self.a
        } else {
            &self.b
        }
    }

    /// `n` licence requests at once, alternating between the replicas: their statuses and
    /// error codes.
    async fn parallel_licences(
        &self,
        token: &str,
        n: usize,
        passcode: Option<&str>,
    ) -> Vec<(u16, Option<ErrorCode>)> {
        let requests = (0..n).map(|i| {
            let url = format!("{}/api/v/{token}/licence", self.replica(i).base);
            let body = TestServer::licence_body(&viewer(), passcode);
            let client = self.client.clone();
            tokio::spawn(async move {
                let resp = client.post(url).json(&body).send().await.unwrap();
                let status = resp.status().as_u16();
                let code = if status == 200 {
                    None
                } else {
                    Some(resp.json::<ErrorBody>().await.unwrap().code)
                };
                (status, code)
            })
        });
        let requests: Vec<_> = requests.collect();
        let mut out = Vec::new();
        for r in requests {
            out.push(r.await.unwrap());
        }
        out
    }

    /// Takes a licence for `link` on replica A and opens its event stream on `on`.
    async fn open_viewer(&self, link: &CreatedLink, on: &Replica) -> Events {
        let token = TestServer::token(link);
        let granted: Value = self
            .client
            .post(format!("{}/api/v/{token}/licence", self.a.base))
            .json(&TestServer::licence_body(&viewer(), None))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = self
            .client
            .get(format!(
                "{}{}",
                on.base,
                granted["urls"]["events"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        Box::pin(events.bytes_stream().map(|c| c.map(|b| b.to_vec())))
    }
}

/// Reads `stream` until a `revoked` event, at most 2 s after `started`: how long it took.
async fn revoked_within_2s(stream: &mut Events, started: Instant, what: &str) -> Duration {
    let mut seen = String::new();
    let found = tokio::time::timeout_at((started + Duration::from_secs(2)).into(), async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: revoked") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "{what}: no revocation event within 2 s: {seen:?}"
    );
    let delay = started.elapsed();
    println!("{what}: revocation reached the viewer in {delay:?}");
    delay
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_requests_across_two_replicas_get_exactly_ten_views() {
    let r = Replicas::start().await;
    let link = r.link(|l| l.max_views = Some(10)).await;
    let token = TestServer::token(&link);
    let results = r.parallel_licences(&token, 200, None).await;
    let granted = results.iter().filter(|(s, _)| *s == 200).count();
    let limited = results
        .iter()
        .filter(|(s, c)| *s == 403 && *c == Some(ErrorCode::ViewLimitReached))
        .count();
    assert_eq!(
        (granted, limited),
        (10, 190),
        "every request is a grant or a limit refusal: {results:?}"
    );
    // The requests alternated between the replicas; the count lives in the one database.
    let on_a = results.iter().step_by(2).filter(|(s, _)| *s == 200).count();
    println!(
        "grants: {on_a} through replica A, {} through B",
        granted - on_a
    );
    let stored =
        r.a.state
            .store
            .link(r.org, &link.link.id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.views, 10);
    let log = r.b.state.audit_log(r.org).await.unwrap();
    assert_eq!(log.iter().filter(|e| e.kind == "grant").count(), 10);
    assert_eq!(
        veilmark_store::audit::verify(&log).unwrap().0,
        log.len(),
        "one unforked chain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_wrong_passcodes_across_two_replicas_lock_the_link_after_five() {
    let r = Replicas::start().await;
    let link = r.link(|l| l.passcode = Some(true)).await;
    let token = TestServer::token(&link);
    let results = r.parallel_licences(&token, 20, Some("wrong")).await;
    let wrong = results
        .iter()
        .filter(|(s, c)| *s == 401 && *c == Some(ErrorCode::PasscodeWrong))
        .count();
    let locked = results
        .iter()
        .filter(|(s, c)| *s == 423 && *c == Some(ErrorCode::Locked))
        .count();
    // Attempts 1..4 are told how many are left; the fifth locks the link; the rest are
    // refused unchecked.
    assert_eq!((wrong, locked), (4, 16), "{results:?}");
    let stored =
        r.b.state
            .store
            .link(r.org, &link.link.id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.failed_passcodes, 5);
    assert!(stored.locked_until.unwrap() > now_secs());
    let log = r.a.state.audit_log(r.org).await.unwrap();
    let checked = log
        .iter()
        .filter(|e| e.kind == "deny" && e.detail == "wrong passcode")
        .count();
    assert_eq!(checked, 5, "exactly five passcodes were checked");
    // Even the right passcode is refused now, on either replica.
    let right = link.passcode.clone().unwrap();
    for (status, code) in r.parallel_licences(&token, 2, Some(&right)).await {
        assert_eq!((status, code), (423, Some(ErrorCode::Locked)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_on_one_replica_reaches_a_viewer_on_the_other_within_2s() {
    let r = Replicas::start().await;
    let link = r.link(|_| {}).await;
    let mut on_b = r.open_viewer(&link, &r.b).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert!(
        r.a.state
            .revoke(
                &link.link.id,
                &Actor::operator(r.org, OWNER),
                &ClientMeta::cli()
            )
            .await
            .unwrap()
    );
    revoked_within_2s(&mut on_b, started, "revoked on replica A, viewer on B").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_by_the_cli_reaches_viewers_on_both_replicas_within_2s() {
    let r = Replicas::start().await;
    let link = r.link(|_| {}).await;
    let mut on_a = r.open_viewer(&link, &r.a).await;
    let mut on_b = r.open_viewer(&link, &r.b).await;
    // The owner CLI: its own connection to the database, no server involved.
    let cli = PostgresStore::connect_with_pool_size(r.db.url(), 1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert!(
        cli.revoke_link(
            r.org,
            &link.link.id,
            now_secs(),
            &ClientMeta::cli().entry(r.org, AuditKind::Revoke, "from the command line"),
        )
        .await
        .unwrap()
    );
    // Well inside 2 s, and so far below the watchers' 5 s safety poll: the notification
    // woke both.
    tokio::join!(
        revoked_within_2s(&mut on_a, started, "revoked by the CLI, viewer on A"),
        revoked_within_2s(&mut on_b, started, "revoked by the CLI, viewer on B"),
    );
}
