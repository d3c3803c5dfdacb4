//! Receiving an upload body: streamed into a private temporary file with the size limit
//! enforced while it streams, never held whole in memory.
//!
//! Handlers call [`receive`] only after the caller's credentials, role and CSRF token were
//! checked from the headers, so an anonymous or unauthorised client never makes the server read
//! a byte of its body.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use veilmark_store::durable::AtomicFile;

use crate::{AppError, AppState};

/// Streams `body` into a new private temporary file under the data directory. More than the
/// configured upload limit (declared in `Content-Length` or counted while streaming) is a 413
/// and an empty body a 400; either way the temporary file is gone.
pub async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<AtomicFile, AppError> {
    let limit = state.config.limits.max_upload as u64;
    let too_large = || {
        AppError::PayloadTooLarge(format!(
            "uploads are limited to {limit} bytes; seal larger files with `veilmark seal` on the server"
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut tmp = state.upload_file()?;
    let mut file = tokio::fs::File::from_std(
        tmp.file()
            .try_clone()
            .map_err(|e| AppError::Internal(e.into()))?,
    );
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("the upload broke off: {e}")))?;
        received += chunk.len() as u64;
        if received > limit {
            return Err(too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    file.flush()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    if received == 0 {
        return Err(AppError::BadRequest("the body is empty".into()));
    }
    Ok(tmp)
}
