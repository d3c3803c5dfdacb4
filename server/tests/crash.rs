//! `kill -9` of the server in the middle of a burst of licence requests loses no audit entry
//! that was acknowledged to a client. The server runs in a child process (this test binary,
//! re-executed into `child_server`), so it can be killed for real.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use veilmark_server::service::{ClientMeta, NewLink};
use veilmark_server::{AppState, Config, audit};
use veilmark_store::{DataDir, Durability, MetaStore, SqliteStore};

const CHILD_ENV: &str = "VEILMARK_CRASH_CHILD_DATA";

/// Not a test on its own: the server process the real test starts and kills.
#[test]
fn child_server() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::new(&dir);
        config.public_url = format!("http://{addr}");
        config.www_dir = None;
        config.limits = common::relaxed();
        let state = AppState::open(config).await.unwrap();
        let owner = veilmark_server::service::Actor::operator(
            state.org_named("default").await.unwrap().id,
            common::OWNER,
        );
        let doc = state
            .ingest_plaintext(
                common::PLAINTEXT,
                "Bracket",
                None,
                &owner,
                &ClientMeta::cli(),
            )
            .await
            .unwrap();
        let link = state
            .create_link(
                &NewLink {
                    document_id: doc.id,
                    recipient: "alice@supplier.example".into(),
                    expires_in_secs: None,
                    max_views: None,
                    passcode: None,
                    pages: None,
                    parts: None,
                },
                &owner,
                &ClientMeta::cli(),
            )
            .await
            .unwrap();
        let ready = std::path::Path::new(&dir).join("ready");
        std::fs::write(ready.with_extension("tmp"), &link.url).unwrap();
        std::fs::rename(ready.with_extension("tmp"), &ready).unwrap();
        veilmark_server::serve(state, listener).await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_burst_loses_no_acknowledged_grant() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::child_server",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = dir.path().join("ready");
    let started = Instant::now();
    while !ready.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "child never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = std::fs::read_to_string(&ready).unwrap();
    let (base, token) = url.split_once("/v/").unwrap();
    let endpoint = format!("{base}/api/v/{token}/licence");

    let client = common::http_client().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let client = client.clone();
        let endpoint = endpoint.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let body = common::TestServer::licence_body(&common::viewer(), None);
                match client.post(&endpoint).json(&body).send().await {
                    Ok(resp) if resp.status() == 200 => {
                        if let Ok(v) = resp.json::<Value>().await {
                            acknowledged.push(v["session_id"].as_str().unwrap().to_owned());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no graceful shutdown
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.unwrap());
    }
    assert!(
        acknowledged.len() > 10,
        "only {} grants before the kill",
        acknowledged.len()
    );

    let store = SqliteStore::open(&DataDir::new(dir.path()), Durability::Full)
        .await
        .unwrap();
    let org = store.org_by_name("default").await.unwrap().unwrap().id;
    let entries = store.audit_entries(Some(org)).await.unwrap();
    audit::verify(&entries).expect("chain intact after kill -9");
    let granted: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|e| e.kind == "grant")
        .filter_map(|e| e.session_id.as_deref())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|s| !granted.contains(s.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged grants missing from the audit log",
        lost.len(),
        acknowledged.len()
    );
    eprintln!(
        "kill -9: {} acknowledged grants, all {} in the audit log ({} grant entries in total)",
        acknowledged.len(),
        acknowledged.len(),
        granted.len()
    );
}

/// Kills per campaign: `VEILMARK_CRASH_KILLS` (`cargo xtask crashtest` sets 200), else 10.
const CAMPAIGN_KILLS: &str = "VEILMARK_CRASH_KILLS";

/// What the server acknowledged to a client during the campaign.
#[derive(Default, Clone)]
pub(crate) struct Acknowledged {
    /// Document id → plaintext length.
    pub(crate) docs: std::collections::HashMap<String, u64>,
    /// Link ids.
    pub(crate) links: Vec<String>,
    /// Revoked link ids.
    pub(crate) revoked: std::collections::HashSet<String>,
}

pub(crate) fn random_below(n: usize) -> usize {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    usize::from_le_bytes(b) % n.max(1)
}

/// One client of the campaign: seals (uploads of 1 B to `max_len`, most under 200 KiB), creates
/// links and revokes them at random until the server disappears, recording each
/// acknowledgement.
pub(crate) async fn campaign_worker(
    base: String,
    token: String,
    acked: Arc<std::sync::Mutex<Acknowledged>>,
    max_len: usize,
) -> usize {
    let client = common::http_client().build().unwrap();
    let mut ops = 0;
    loop {
        let pick = random_below(10);
        let (doc, link) = {
            let a = acked.lock().unwrap();
            let doc = (!a.docs.is_empty()).then(|| {
                let i = random_below(a.docs.len());
                a.docs.keys().nth(i).unwrap().clone()
            });
            let link = (!a.links.is_empty()).then(|| a.links[random_below(a.links.len())].clone());
            (doc, link)
        };
        let result = match (pick, doc, link) {
            (0..=3, _, _) | (_, None, _) => {
                let len = 1 + random_below(if random_below(4) == 0 {
                    max_len
                } else {
                    max_len.min(200 << 10)
                });
                let mut body = vec![b'x'; len];
                body[..len.min(8)].copy_from_slice(&b"%PDF-1.7"[..len.min(8)]);
                match client
                    .post(format!("{base}/api/owner/documents?title=c"))
                    .bearer_auth(&token)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 201 => match r.json::<Value>().await {
                        Ok(v) => {
                            let id = v["id"].as_str().unwrap().to_owned();
                            let _ = v["plaintext_len"].as_i64().unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .docs
                                .insert(id, u64::try_from(len).unwrap());
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                    Ok(r) => panic!("upload refused: {}", r.status()),
                    Err(e) => Err(e),
                }
            }
            (4..=7, Some(doc), _) | (_, Some(doc), None) => {
                match client
                    .post(format!("{base}/api/owner/links"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({
                        "document_id": doc,
                        "recipient": "bob@supplier.example",
                    }))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                        Ok(v) => {
                            let id = v["link"]["id"].as_str().unwrap().to_owned();
                            acked.lock().unwrap().links.push(id);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                    Ok(r) => panic!("link refused: {}", r.status()),
                    Err(e) => Err(e),
                }
            }
            (_, _, Some(link)) => {
                match client
                    .post(format!("{base}/api/owner/links/{link}/revoke"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        acked.lock().unwrap().revoked.insert(link);
                        Ok(())
                    }
                    Ok(r) => panic!("revocation refused: {}", r.status()),
                    Err(e) => Err(e),
                }
            }
        };
        if result.is_err() {
            return ops; // the server is gone
        }
        ops += 1;
    }
}

/// Files an interrupted write leaves (temporary names, envelopes no row names), and envelope
/// files whose row names them.
fn leftovers(data: &std::path::Path, rows: &std::collections::HashSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for sub in ["blobs/envelopes", "tmp", "evidence"] {
        let Ok(entries) = std::fs::read_dir(data.join(sub)) else {
            continue;
        };
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let orphan = veilmark_store::durable::is_temp_name(&name)
                || sub == "tmp"
                || (sub == "blobs/envelopes"
                    && name
                        .strip_suffix(".vmk")
                        .is_none_or(|id| !rows.contains(id)));
            if orphan {
                found.push(format!("{sub}/{name}"));
            }
        }
    }
    found
}

/// The crash campaign: the server process is killed with SIGKILL at random moments while
/// clients seal documents, create links and revoke them, and restarted on the same data
/// directory each time. Afterwards every acknowledged document has its row and its whole
/// envelope on disk, every acknowledged link and revocation is there, the audit chain
/// verifies, no restart reported a missing envelope and no orphan file is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_points_loses_no_acknowledged_write() {
    let kills: u32 = std::env::var(CAMPAIGN_KILLS)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let mut campaign = Campaign::new(dir.path().join("data"));
    for _ in 0..kills {
        let round = campaign.start_round(3 << 20, "a restart").await;
        tokio::time::sleep(Duration::from_millis(
            30 + u64::try_from(random_below(300)).unwrap(),
        ))
        .await;
        campaign.end_round(round).await;
    }
    campaign
        .finish(&format!("crash campaign: {kills} kills"))
        .await;
}

/// The write campaign the kill and power-loss tests share: a server on `data`, restarted each
/// round, with four [`campaign_worker`] clients recording what it acknowledged.
pub(crate) struct Campaign {
    data: std::path::PathBuf,
    opts: crate::common::child::ChildOptions,
    acked: Arc<std::sync::Mutex<Acknowledged>>,
    started: Instant,
    ops: usize,
    swept: usize,
}

/// One round's server and its clients.
pub(crate) struct Round {
    pub(crate) child: crate::common::child::ChildServer,
    workers: Vec<tokio::task::JoinHandle<usize>>,
}

impl Campaign {
    /// A campaign on the data directory `data`.
    pub(crate) fn new(data: std::path::PathBuf) -> Self {
        Self {
            data,
            opts: crate::common::child::ChildOptions {
                // The previous server is gone: nothing is in progress.
                orphan_grace_secs: Some(0),
                ..Default::default()
            },
            acked: Arc::default(),
            started: Instant::now(),
            ops: 0,
            swept: 0,
        }
    }

    /// Starts the server (its startup must find no acknowledged envelope missing; `after`
    /// says what came before, for the message) and four clients sealing up to `max_len`.
    pub(crate) async fn start_round(&mut self, max_len: usize, after: &str) -> Round {
        let child = crate::common::child::ChildServer::start(
            "durability::child_server",
            &self.data,
            &self.opts,
        )
        .await;
        assert_eq!(
            child.startup["missing"],
            serde_json::json!([]),
            "{after} found an acknowledged envelope missing"
        );
        self.swept += child.startup["removed"].as_array().unwrap().len();
        let workers = (0..4)
            .map(|_| {
                tokio::spawn(campaign_worker(
                    child.base.clone(),
                    child.token.clone(),
                    self.acked.clone(),
                    max_len,
                ))
            })
            .collect();
        Round { child, workers }
    }

    /// Kills the round's server (SIGKILL) and collects its clients' counts.
    pub(crate) async fn end_round(&mut self, mut round: Round) {
        round.child.kill();
        for w in round.workers {
            self.ops += w.await.unwrap();
        }
    }

    /// One last start sweeps what the last round left; then the data directory is checked
    /// cold against everything acknowledged, and `what` is reported with the figures.
    pub(crate) async fn finish(self, what: &str) {
        let mut last = crate::common::child::ChildServer::start(
            "durability::child_server",
            &self.data,
            &self.opts,
        )
        .await;
        assert_eq!(last.startup["missing"], serde_json::json!([]));
        let swept = self.swept + last.startup["removed"].as_array().unwrap().len();
        last.kill();
        let elapsed = self.started.elapsed();
        let acked = self.acked.lock().unwrap().clone();
        assert_nothing_acknowledged_lost(&self.data, &acked).await;
        eprintln!(
            "{what} in {:.1} s, {} acknowledged operations ({} documents, {} links, {} revocations), {swept} orphan files swept at restarts, 0 lost",
            elapsed.as_secs_f64(),
            self.ops,
            acked.docs.len(),
            acked.links.len(),
            acked.revoked.len()
        );
    }
}

/// Checks the data directory `data` (no server running on it) against what was acknowledged:
/// every document has its row and its whole envelope, every link and revocation is there, the
/// audit chain verifies, and no orphan file is left.
pub(crate) async fn assert_nothing_acknowledged_lost(data: &std::path::Path, acked: &Acknowledged) {
    let store = SqliteStore::open(&DataDir::new(data), Durability::Full)
        .await
        .unwrap();
    let org = store.org_by_name("default").await.unwrap().unwrap().id;
    let entries = store.audit_entries(Some(org)).await.unwrap();
    audit::verify(&entries).expect("audit chain intact after the campaign");
    let docs = store.list_documents(org).await.unwrap();
    let rows: std::collections::HashSet<String> = docs.iter().map(|d| d.id.clone()).collect();
    let links = store.list_links(org).await.unwrap();
    let dd = DataDir::new(data);
    for (id, plain_len) in &acked.docs {
        let doc = docs
            .iter()
            .find(|d| &d.id == id)
            .unwrap_or_else(|| panic!("acknowledged document {id} has no row"));
        assert_eq!(u64::try_from(doc.plaintext_len).unwrap(), *plain_len);
        let envelope = std::fs::read(dd.envelope_file(id))
            .unwrap_or_else(|e| panic!("acknowledged document {id}: envelope unreadable: {e}"));
        assert_eq!(
            envelope.len() as u64,
            u64::try_from(doc.envelope_len).unwrap(),
            "{id}: envelope truncated"
        );
        let header = veilmark_shared::envelope::Header::parse(&envelope).unwrap();
        assert_eq!(header.document_id().to_string(), *id);
    }
    for id in &acked.links {
        let link = links
            .iter()
            .find(|l| &l.id == id)
            .unwrap_or_else(|| panic!("acknowledged link {id} missing"));
        if acked.revoked.contains(id) {
            assert!(
                link.revoked_at.is_some(),
                "acknowledged revocation of {id} lost"
            );
        }
    }
    let left = leftovers(data, &rows);
    assert!(left.is_empty(), "orphans left: {left:?}");
}
