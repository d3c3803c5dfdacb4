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
            .ingest_plaintext(common::PLAINTEXT, "Bracket", &owner, &ClientMeta::cli())
            .await
            .unwrap();
        let link = state
            .create_link(
                &NewLink {
                    document_id: doc.id,
                    recipient: "alice@supplier.example".into(),
                    expires_in_secs: None,
                    max_views: None,
                    passcode: false,
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
