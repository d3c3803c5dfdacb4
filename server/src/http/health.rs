//! Health and readiness for load balancers in front of several `veilmark serve` replicas.
//!
//! - `GET /healthz`: the process answers HTTP (liveness: restart it when this fails).
//! - `GET /readyz`: the database answered a query and the object store was reachable, each
//!   within [`READY_TIMEOUT`] (readiness: send it traffic only while this is 200). Otherwise 503
//!   with a one-line reason naming the part that failed, never an address, a URL or an error's
//!   text (those go to the server's log).
//!
//! Both are public (a load balancer holds no credentials) and cheap: one readiness check runs at
//! a time and its answer is reused for [`READY_REUSE`], so a flood of probes costs the database
//! at most a query a second, whoever sends it.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use object_store::ObjectStoreExt as _;

use crate::AppState;

/// How long the database and the object store each get to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a readiness answer is reused before the next probe checks again.
pub const READY_REUSE: Duration = Duration::from_secs(1);

/// The object the store is asked about; it need not exist ("not found" is an answer).
const PROBE_OBJECT: &str = "envelopes/.readyz-probe";

/// `GET /healthz`.
pub async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// `GET /readyz`.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut last = state.readiness.lock().await;
    let verdict = match &*last {
        Some((at, verdict)) if at.elapsed() < READY_REUSE => *verdict,
        _ => {
            let verdict = check(&state).await;
            *last = Some((Instant::now(), verdict));
            verdict
        }
    };
    drop(last);
    match verdict {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

/// The outcome of one readiness check: `Err` holds the short, public reason.
pub type Readiness = Result<(), &'static str>;

async fn check(state: &AppState) -> Readiness {
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!("readiness: the database query failed: {e:#}");
            return Err("the database query failed");
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer within 2 s");
            return Err("the database did not answer within 2 s");
        }
    }
    let probe = object_store::path::Path::from(PROBE_OBJECT);
    match tokio::time::timeout(READY_TIMEOUT, state.blobs.head(&probe)).await {
        Ok(Ok(_) | Err(object_store::Error::NotFound { .. })) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!("readiness: the object store failed: {e}");
            Err("the object store is unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness: the object store did not answer within 2 s");
            Err("the object store did not answer within 2 s")
        }
    }
}
