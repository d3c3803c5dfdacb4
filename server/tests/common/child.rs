//! A real server in a child process (this test binary re-executed into a `child_server` test),
//! so that tests can measure its memory and kill it with SIGKILL.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use veilmark_server::{AppState, Config};
use veilmark_store::Role;

const DATA: &str = "VEILMARK_TEST_CHILD_DATA";
const READY: &str = "VEILMARK_TEST_CHILD_READY";
const MAX_UPLOAD: &str = "VEILMARK_TEST_CHILD_MAX_UPLOAD";
const GRACE: &str = "VEILMARK_TEST_CHILD_GRACE_SECS";

pub const AUDITOR: &str = "auditor@brand.example";
pub const PASSWORD: &str = "correct horse battery staple";

/// How a child server is started.
#[derive(Debug, Clone, Default)]
pub struct ChildOptions {
    /// `Limits::max_upload`, when not the default.
    pub max_upload: Option<usize>,
    /// `Config::orphan_grace` in seconds, when not the default.
    pub orphan_grace_secs: Option<u64>,
}

/// A running child server.
pub struct ChildServer {
    pub process: std::process::Child,
    pub base: String,
    /// An owner API token.
    pub token: String,
    /// An auditor's API token (may read, may not seal).
    pub auditor: String,
    /// What the child's startup sweep reported: `{"removed": [...], "missing": [...]}`.
    pub startup: Value,
}

impl ChildServer {
    /// Starts a server on `data` from the test `child_test` (its full name, e.g.
    /// `durability::child_server`), waiting until it listens.
    pub async fn start(child_test: &str, data: &Path, opts: &ChildOptions) -> Self {
        let ready = data.with_extension(format!("ready-{}", rand_suffix()));
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([child_test, "--exact", "--nocapture", "--test-threads=1"])
            .env(DATA, data)
            .env(READY, &ready)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = opts.max_upload {
            cmd.env(MAX_UPLOAD, n.to_string());
        }
        if let Some(s) = opts.orphan_grace_secs {
            cmd.env(GRACE, s.to_string());
        }
        let mut process = cmd.spawn().unwrap();
        let started = Instant::now();
        while !ready.exists() {
            if let Some(status) = process.try_wait().unwrap() {
                panic!("child server exited before it was ready: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "child never started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let info: Value = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
        std::fs::remove_file(&ready).unwrap();
        Self {
            process,
            base: info["base"].as_str().unwrap().to_owned(),
            token: info["token"].as_str().unwrap().to_owned(),
            auditor: info["auditor"].as_str().unwrap().to_owned(),
            startup: info["startup"].clone(),
        }
    }

    /// Peak resident memory of the child so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.process.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// SIGKILL: no destructor, no flush, no graceful shutdown.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn rand_suffix() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    hex::encode(b)
}

/// The body of a `child_server` test: does nothing unless started by [`ChildServer::start`].
pub fn serve_if_child() {
    let Ok(dir) = std::env::var(DATA) else {
        return;
    };
    let ready = PathBuf::from(std::env::var(READY).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::new(&dir);
        config.public_url = format!("http://{addr}");
        config.www_dir = None;
        config.limits = super::relaxed();
        if let Ok(n) = std::env::var(MAX_UPLOAD) {
            config.limits.max_upload = n.parse().unwrap();
        }
        if let Ok(s) = std::env::var(GRACE) {
            config.orphan_grace = Duration::from_secs(s.parse().unwrap());
        }
        let state = AppState::open(config).await.unwrap();
        if state.account_named(super::OWNER).await.is_err() {
            state.create_owner(super::OWNER, PASSWORD).await.unwrap();
            let org = state.org_named("default").await.unwrap().id;
            state
                .create_account(org, AUDITOR, Some(PASSWORD), Role::Auditor)
                .await
                .unwrap();
        }
        let token = state.create_api_token(super::OWNER).await.unwrap();
        let auditor = state.create_api_token(AUDITOR).await.unwrap();
        let info = json!({
            "base": format!("http://{addr}"),
            "token": token,
            "auditor": auditor,
            "startup": {
                "removed": state.startup.removed,
                "missing": state.startup.missing_envelopes,
            },
        });
        let tmp = ready.with_extension("tmp");
        std::fs::write(&tmp, info.to_string()).unwrap();
        std::fs::rename(&tmp, &ready).unwrap();
        veilmark_server::serve(state, listener).await.unwrap();
    });
}
