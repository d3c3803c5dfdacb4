//! A real server on 127.0.0.1:0 with a scratch data directory, and a viewer-side client.
#![allow(dead_code, missing_docs)]

pub mod child;

use std::path::PathBuf;

use tokio::net::TcpListener;
use veilmark_server::service::{Actor, ClientMeta, CreatedLink, NewLink};
use veilmark_server::store::DocumentRecord;
use veilmark_server::{AppState, Config, Limits, now_secs};
use veilmark_shared::licence::ViewerKey;
use veilmark_shared::wire::LicenceRequest;
use veilmark_store::OrgId;
use veilmark_store::tenancy::DEFAULT_ORG;

pub const OWNER: &str = "owner@brand.example";
pub const PLAINTEXT: &[u8] = b"%PDF-1.7\n% a drawing of a bracket, long enough to span chunks\n";

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    pub doc: DocumentRecord,
    /// The organisation `default`, where the document and links are.
    pub org: OrgId,
}

/// Generous limits so tests exercise one limit at a time.
pub fn relaxed() -> Limits {
    let mut l = Limits::default();
    l.per_ip.burst = 10_000;
    l.per_ip.per_sec = 10_000.0;
    l.per_link.burst = 10_000;
    l.per_link.per_sec = 10_000.0;
    l
}

pub async fn start(limits: Limits) -> TestServer {
    start_with(limits, |_| {}).await
}

/// [`start`], with `configure` changing the settings before the server opens.
pub async fn start_with(limits: Limits, configure: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::new(dir.path());
    config.public_url = format!("http://{addr}");
    config.www_dir = None;
    config.limits = limits;
    configure(&mut config);
    let state = AppState::open(config).await.unwrap();
    tokio::spawn(veilmark_server::serve(state.clone(), listener));
    // A multi-chunk document: 3 chunks of 64 KiB and a bit.
    let mut plaintext = PLAINTEXT.to_vec();
    plaintext.resize(200_000, b'x');
    let org = state.org_named(DEFAULT_ORG).await.unwrap().id;
    let doc = state
        .ingest_plaintext(
            &plaintext,
            "Bracket",
            None,
            &Actor::operator(org, OWNER),
            &ClientMeta::cli(),
        )
        .await
        .unwrap();
    TestServer {
        org,
        base: format!("http://{addr}"),
        state,
        dir,
        client: http_client().user_agent("veilmark-test").build().unwrap(),
        doc,
    }
}

impl TestServer {
    /// The operator's command line acting in the organisation `default`.
    pub fn operator(&self) -> Actor {
        Actor::operator(self.org, OWNER)
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("veilmark.db")
    }

    pub async fn link(&self, f: impl FnOnce(&mut NewLink)) -> CreatedLink {
        let mut req = NewLink {
            document_id: self.doc.id.clone(),
            recipient: "alice@supplier.example".into(),
            expires_in_secs: None,
            max_views: None,
            passcode: None,
            pages: None,
            parts: None,
        };
        f(&mut req);
        self.state
            .create_link(&req, &self.operator(), &ClientMeta::cli())
            .await
            .unwrap()
    }

    /// The token at the end of a link URL.
    pub fn token(link: &CreatedLink) -> String {
        link.url.rsplit('/').next().unwrap().to_owned()
    }

    pub fn licence_body(viewer: &ViewerKey, passcode: Option<&str>) -> LicenceRequest {
        let nonce: [u8; 16] = veilmark_server::secrets::random().unwrap();
        LicenceRequest {
            viewer_key: hex::encode(viewer.public_key()),
            nonce: hex::encode(nonce),
            timestamp: u64::try_from(now_secs()).unwrap(),
            passcode: passcode.map(str::to_owned),
            accept_terms: None,
        }
    }

    pub async fn post_licence(
        &self,
        token: &str,
        body: &impl serde::Serialize,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v/{token}/licence", self.base))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn request_licence(
        &self,
        token: &str,
        viewer: &ViewerKey,
        passcode: Option<&str>,
    ) -> reqwest::Response {
        self.post_licence(token, &Self::licence_body(viewer, passcode))
            .await
    }

    /// Kinds and details of the audit log, in order.
    pub async fn audit_kinds(&self) -> Vec<(String, String)> {
        self.state
            .audit_log(self.org)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect()
    }
}

pub fn viewer() -> ViewerKey {
    ViewerKey::from_seed(veilmark_server::secrets::random().unwrap())
}

/// A reqwest client builder with rustls on the ring provider (reqwest 0.13 with
/// `rustls-no-provider` needs a process default before a client is built).
pub fn http_client() -> reqwest::ClientBuilder {
    if tokio_rustls::rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
}
