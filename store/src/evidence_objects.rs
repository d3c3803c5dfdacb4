//! Finished WARC evidence files in an object store: uploaded with a streamed multipart upload,
//! checked by reading the object back, their SHA-256 recorded beside them
//! (`evidence/<name>.sha256`), and checked again whenever a whole file is read back (evidence
//! bundles). Single records are read by range (`crate::warc::read_record_remote`).
//!
//! The recorded SHA-256 lets a reviewer show that the evidence handed over is the evidence the
//! crawler captured: an object changed in the bucket afterwards is reported as
//! [`WarcReadError::Tampered`], never served as if it were intact. (Whoever can write the
//! bucket can also rewrite the `.sha256` object; bucket versioning or object lock is what
//! keeps history, see `store/README.md#objects`.)

use anyhow::{Context, anyhow};
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::warc::{WarcReadError, remote_io, remote_key};
use crate::{DataDir, StoreResult, durable};

/// Size of each upload part and of each read from the local file.
const PART: usize = 8 << 20;

/// The object holding the SHA-256 of evidence object `key`.
fn digest_key(key: &ObjectPath) -> ObjectPath {
    ObjectPath::from(format!("{key}.sha256"))
}

/// See [`crate::Evidence::publish_warc`].
pub(crate) async fn publish(
    data: &DataDir,
    objects: &dyn ObjectStore,
    relative: &str,
) -> StoreResult<Option<String>> {
    let Some(sha) = upload(data, objects, relative).await? else {
        return Ok(None);
    };
    let path = data
        .evidence_file(relative)
        .ok_or_else(|| WarcReadError::OutsideEvidence(relative.to_owned()))?;
    tokio::fs::remove_file(&path)
        .await
        .with_context(|| format!("cannot remove the uploaded {relative}"))?;
    if let Some(dir) = path.parent() {
        durable::sync_dir(dir)?;
    }
    Ok(Some(sha))
}

/// Uploads local evidence file `relative` (streamed, multipart), reads the object back to
/// check its SHA-256 and records that SHA-256 beside it; the local file stays. Returns the
/// SHA-256 (hex), or `None` when there is no local file.
pub(crate) async fn upload(
    data: &DataDir,
    objects: &dyn ObjectStore,
    relative: &str,
) -> StoreResult<Option<String>> {
    let key = remote_key(relative)?;
    let path = data
        .evidence_file(relative)
        .ok_or_else(|| WarcReadError::OutsideEvidence(relative.to_owned()))?;
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot open {relative}")),
    };
    let upload = objects
        .put_multipart(&key)
        .await
        .with_context(|| format!("cannot start uploading {relative}"))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut sent = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        // At most two parts in flight: memory stays bounded whatever the file's size.
        writer
            .wait_for_capacity(2)
            .await
            .with_context(|| format!("cannot upload {relative}"))?;
        writer.write(&buf[..n]);
        sent += n as u64;
    }
    writer
        .finish()
        .await
        .with_context(|| format!("cannot finish uploading {relative}"))?;
    let local = hex::encode(hasher.finalize());
    let (stored, stored_len) = digest_of(objects, &key, relative).await?;
    if stored != local || stored_len != sent {
        return Err(anyhow!(
            "the uploaded {relative} differs from the local file (SHA-256 {stored}, {stored_len} \
             bytes; local {local}, {sent} bytes); the local file is kept"
        ));
    }
    objects
        .put(&digest_key(&key), PutPayload::from(format!("{local}\n")))
        .await
        .with_context(|| format!("cannot record the SHA-256 of {relative}"))?;
    Ok(Some(local))
}

/// SHA-256 (hex) and length of object `key`, read as a stream.
async fn digest_of(
    objects: &dyn ObjectStore,
    key: &ObjectPath,
    relative: &str,
) -> Result<(String, u64), WarcReadError> {
    let mut stream = objects
        .get(key)
        .await
        .map_err(|e| remote_io(relative, e))?
        .into_stream();
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| remote_io(relative, e))?;
        hasher.update(&chunk);
        len += chunk.len() as u64;
    }
    Ok((hex::encode(hasher.finalize()), len))
}

/// The SHA-256 recorded when `key` was published.
async fn recorded(
    objects: &dyn ObjectStore,
    key: &ObjectPath,
    relative: &str,
) -> Result<Option<String>, WarcReadError> {
    match objects.get(&digest_key(key)).await {
        Ok(r) => {
            let bytes = r.bytes().await.map_err(|e| remote_io(relative, e))?;
            Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned()))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(remote_io(relative, e)),
    }
}

/// Compares two hex digests in constant time.
fn same_digest(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// See [`crate::Evidence::verify_warc`].
pub(crate) async fn verify(
    objects: &dyn ObjectStore,
    relative: &str,
) -> Result<String, WarcReadError> {
    let key = remote_key(relative)?;
    let expected = recorded(objects, &key, relative).await?;
    let (found, _) = digest_of(objects, &key, relative).await?;
    check(relative, expected, found)
}

fn check(relative: &str, expected: Option<String>, found: String) -> Result<String, WarcReadError> {
    match expected {
        Some(e) if same_digest(&e, &found) => Ok(found),
        other => Err(WarcReadError::Tampered {
            path: relative.to_owned(),
            expected: other.unwrap_or_else(|| "none recorded".to_owned()),
            found,
        }),
    }
}

/// See [`crate::Evidence::open_warc`].
pub(crate) async fn download_verified(
    data: &DataDir,
    objects: &dyn ObjectStore,
    relative: &str,
) -> Result<std::fs::File, WarcReadError> {
    let key = remote_key(relative)?;
    let io = |source| WarcReadError::Io {
        path: relative.to_owned(),
        source,
    };
    let expected = recorded(objects, &key, relative).await?;
    let mut stream = objects
        .get(&key)
        .await
        .map_err(|e| remote_io(relative, e))?
        .into_stream();
    let tmp = durable::AtomicFile::create(&data.temp_dir().join("evidence")).map_err(io)?;
    let mut out = tokio::fs::OpenOptions::new()
        .write(true)
        .open(tmp.temp_path())
        .await
        .map_err(io)?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| remote_io(relative, e))?;
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    drop(out);
    check(relative, expected, hex::encode(hasher.finalize()))?;
    let file = std::fs::File::open(tmp.temp_path()).map_err(io)?;
    // Dropping the temporary file unlinks it; the open handle is all that is left of it.
    drop(tmp);
    Ok(file)
}
