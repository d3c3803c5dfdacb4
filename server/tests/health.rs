//! `/healthz` and `/readyz` for load balancers: public, short, no secrets; `/readyz` turns 503
//! when the database or the object store stops answering.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::net::TcpListener;
use veilmark_server::keys::ServerKeys;
use veilmark_server::{AppState, Config};
use veilmark_store::{DataDir, Durability, SqliteStore};

use crate::common::{http_client, relaxed};

/// A server on its own SQLite store and blob folder, both of which the test can take away.
async fn server(dir: &std::path::Path) -> (String, SqliteStore, std::path::PathBuf) {
    let data = DataDir::new(dir);
    data.create().unwrap();
    let store = SqliteStore::open(&data, Durability::Full).await.unwrap();
    let blobs_dir = dir.join("probe-blobs");
    std::fs::create_dir(&blobs_dir).unwrap();
    let blobs = object_store::local::LocalFileSystem::new_with_prefix(&blobs_dir).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config::new(dir);
    config.www_dir = None;
    config.limits = relaxed();
    let keys = ServerKeys::load_or_create(&data).unwrap();
    let state = AppState::with_stores(
        config,
        keys,
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        data,
        Arc::new(blobs),
    );
    tokio::spawn(veilmark_server::serve(state, listener));
    (base, store, blobs_dir)
}

async fn get(base: &str, path: &str) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let resp = http_client()
        .build()
        .unwrap()
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, resp.text().await.unwrap(), headers)
}

#[tokio::test]
async fn ready_until_the_database_is_gone_then_503_while_still_alive() {
    let dir = tempfile::tempdir().unwrap();
    let (base, store, _) = server(dir.path()).await;
    let (st, body, headers) = get(&base, "/healthz").await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, "ok\n"));
    assert_eq!(headers["cache-control"], "no-store");
    let (st, body, _) = get(&base, "/readyz").await;
    assert_eq!((st, body.as_str()), (StatusCode::OK, "ready\n"));

    store.close().await;
    // An answer is reused for up to a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, body, _) = get(&base, "/readyz").await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body, "not ready: the database query failed\n");
    let (st, _, _) = get(&base, "/healthz").await;
    assert_eq!(st, StatusCode::OK, "the process itself still answers");
}

#[tokio::test]
async fn not_ready_when_the_object_store_is_unreachable_and_the_reason_names_no_path() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _store, blobs) = server(dir.path()).await;
    let (st, ..) = get(&base, "/readyz").await;
    assert_eq!(st, StatusCode::OK);
    // The blob folder becomes a file: every object path under it fails (not "not found").
    std::fs::remove_dir_all(&blobs).unwrap();
    std::fs::write(&blobs, b"not a folder").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, body, _) = get(&base, "/readyz").await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body, "not ready: the object store is unreachable\n");
    assert!(!body.contains(&*dir.path().to_string_lossy()));
}
