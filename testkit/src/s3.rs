//! A real S3-compatible server on loopback, one per test, with its own bucket.
//!
//! The object-store code under test (envelopes, WARC evidence) talks to this server over HTTP
//! exactly as it talks to a cloud bucket: `s3s` parses and answers the S3 protocol and checks
//! every request's AWS Signature V4 against a random key pair made for the test, and `s3s-fs`
//! keeps the objects as files in a temporary folder. Nothing is mocked: a wrong key is refused
//! by the server's signature check, a missing bucket by its `NoSuchBucket`.
//!
//! The server also counts what it sends in answer to `GET` requests ([`S3Stats`]), so a test can
//! prove that a ranged read fetched only the bytes it needed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The region the test server's clients sign for (the server accepts any).
pub const REGION: &str = "us-east-1";

/// What the server has answered, counted as it is sent.
#[derive(Debug, Default)]
pub struct S3Stats {
    requests: AtomicU64,
    get_requests: AtomicU64,
    get_body_bytes: AtomicU64,
    put_requests: AtomicU64,
    post_requests: AtomicU64,
}

impl S3Stats {
    /// Every request received (any method, answered or refused).
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// `GET` requests received.
    #[must_use]
    pub fn get_requests(&self) -> u64 {
        self.get_requests.load(Ordering::SeqCst)
    }

    /// `PUT` requests received (whole objects and multipart parts).
    #[must_use]
    pub fn put_requests(&self) -> u64 {
        self.put_requests.load(Ordering::SeqCst)
    }

    /// `POST` requests received (starting and completing multipart uploads, bulk deletes).
    #[must_use]
    pub fn post_requests(&self) -> u64 {
        self.post_requests.load(Ordering::SeqCst)
    }

    /// Body bytes sent in answer to `GET` requests (object bytes, listings, error documents).
    #[must_use]
    pub fn get_body_bytes(&self) -> u64 {
        self.get_body_bytes.load(Ordering::SeqCst)
    }
}

/// An S3-compatible server (`s3s-fs`) on `127.0.0.1`, signature checking on, one fresh bucket;
/// stopped and its files removed when dropped.
pub struct S3TestServer {
    endpoint: String,
    access_key: String,
    secret_key: String,
    bucket: String,
    root: tempfile::TempDir,
    stats: Arc<S3Stats>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for S3TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret key stays out of test output.
        f.debug_struct("S3TestServer")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl S3TestServer {
    /// Starts a server on a free loopback port with a random access key and secret, and creates
    /// one empty bucket.
    ///
    /// # Panics
    /// When the server cannot start (no free port, no temporary folder), with the reason: a
    /// test that needs S3 fails rather than passing without it.
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(s) => s,
            Err(e) => panic!("cannot start the S3 test server (s3s-fs on 127.0.0.1): {e:#}"),
        }
    }

    /// [`S3TestServer::start`], returning the error instead of panicking.
    pub async fn try_start() -> Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("veilmark-s3-")
            .tempdir()
            .context("cannot create the S3 server's folder")?;
        let bucket = format!("veilmark-test-{}", random_hex(6)?);
        std::fs::create_dir(root.path().join(&bucket)).context("cannot create the bucket")?;
        let access_key = format!("AK{}", random_hex(9)?.to_uppercase());
        let secret_key = random_hex(20)?;
        let fs = s3s_fs::FileSystem::new(root.path())
            .map_err(|e| anyhow::anyhow!("s3s-fs cannot open its folder: {e:?}"))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(
            access_key.clone(),
            secret_key.clone(),
        ));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(S3Stats::default());
        let task = tokio::spawn(accept_loop(listener, service, stats.clone()));
        Ok(Self {
            endpoint: endpoint_of(addr),
            access_key,
            secret_key,
            bucket,
            root,
            stats,
            task,
        })
    }

    /// The server's URL (`http://127.0.0.1:PORT`), for `AWS_ENDPOINT_URL`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The access key id the server accepts.
    #[must_use]
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key the server checks signatures with.
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The test's bucket (empty at start).
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://BUCKET/PREFIX` (or `s3://BUCKET` for an empty prefix).
    #[must_use]
    pub fn url(&self, prefix: &str) -> String {
        if prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{prefix}", self.bucket)
        }
    }

    /// The environment a `veilmark` process needs to reach this server (the usual AWS
    /// variables), for `Command::envs`.
    #[must_use]
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// The file `s3s-fs` keeps object `key` of the bucket in: to check that an object exists
    /// without going through the code under test, or to tamper with it the way an attacker with
    /// access to the bucket would.
    #[must_use]
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.root.path().join(&self.bucket).join(key)
    }

    /// Every object key in the bucket, sorted (read from the server's folder).
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if let Ok(rel) = path.strip_prefix(base) {
                    let rel = rel.to_string_lossy().into_owned();
                    // s3s-fs keeps its own bookkeeping beside the objects.
                    if !rel.split('/').any(|p| p.starts_with('.')) {
                        out.push(rel);
                    }
                }
            }
        }
        let base = self.root.path().join(&self.bucket);
        let mut keys = Vec::new();
        walk(&base, &base, &mut keys);
        keys.sort();
        keys
    }

    /// What the server has answered so far.
    #[must_use]
    pub fn stats(&self) -> &S3Stats {
        &self.stats
    }
}

impl Drop for S3TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn endpoint_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).context("no randomness")?;
    Ok(hex::encode(buf))
}

async fn accept_loop(listener: TcpListener, service: S3Service, stats: Arc<S3Stats>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let service = service.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let service = service.clone();
                    let stats = stats.clone();
                    async move {
                        stats.requests.fetch_add(1, Ordering::SeqCst);
                        let is_get = req.method() == hyper::Method::GET;
                        let counter = match *req.method() {
                            hyper::Method::GET => Some(&stats.get_requests),
                            hyper::Method::PUT => Some(&stats.put_requests),
                            hyper::Method::POST => Some(&stats.post_requests),
                            _ => None,
                        };
                        if let Some(c) = counter {
                            c.fetch_add(1, Ordering::SeqCst);
                        }
                        let response = match hyper::service::Service::call(&service, req).await {
                            Ok(r) => r,
                            Err(e) => {
                                let mut r = hyper::Response::new(s3s::Body::from(format!(
                                    "s3s failed: {e:?}"
                                )));
                                *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                                r
                            }
                        };
                        Ok::<_, Infallible>(response.map(|body| Counted {
                            inner: Box::pin(body),
                            stats: is_get.then_some(stats),
                        }))
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), svc)
                .await;
        });
    }
}

/// A response body that adds the bytes it yields to [`S3Stats::get_body_bytes`].
struct Counted {
    inner: Pin<Box<s3s::Body>>,
    stats: Option<Arc<S3Stats>>,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(stats)) = (&polled, &self.stats)
            && let Some(data) = frame.data_ref()
        {
            stats
                .get_body_bytes
                .fetch_add(data.len() as u64, Ordering::SeqCst);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
