//! Evidence bundles: a zip of each hit's record, images, saved page and WARC file, with a
//! `sha256sum -c` manifest. The bytes come from [`super::data`]; this module only packs them,
//! into a temporary file that is streamed to the client (a WARC file may be hundreds of MB).

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::path::Path as FsPath;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::super::{parse_form, require};
use super::data::{found_image, hit, page_block, reference_image};
use super::model::sniff_image;
use crate::{AppError, AppState};
use veilmark_store::{OrgId, Permission};

/// Bundle query: `id` repeated.
pub async fn bundle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::extract::RawQuery,
) -> Response {
    let s = match require(&state, &headers, Some(Permission::ReviewHits)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = match parse_form(body.0.unwrap_or_default().as_bytes()) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let ids: Vec<i64> = form.all("id").filter_map(|v| v.parse().ok()).collect();
    if ids.is_empty() {
        return AppError::BadRequest("name at least one hit".into()).into_response();
    }
    bundle_response(&state, s.account.org, &ids).await
}

pub(super) async fn bundle_response(state: &AppState, org: OrgId, ids: &[i64]) -> Response {
    match evidence_zip(state, org, ids).await {
        Ok(zip) => (
            [
                (header::CONTENT_TYPE, "application/zip"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"veilmark-evidence.zip\"",
                ),
            ],
            Body::from_stream(read_in_pieces(zip)),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// A file sent in 64 KiB pieces.
fn read_in_pieces(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// A zip being written to a private temporary file, with the SHA-256 of each member.
struct ZipFile {
    zip: zip::ZipWriter<std::fs::File>,
    manifest: String,
}

impl ZipFile {
    fn add(&mut self, name: &str, mut from: impl Read) -> anyhow::Result<()> {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        self.zip.start_file(name, opts)?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = from.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            self.zip.write_all(&buf[..n])?;
        }
        let _ = writeln!(self.manifest, "{}  {name}", hex::encode(hash.finalize()));
        Ok(())
    }
}

/// The evidence bundle for `ids`: per hit `hit-N/hit.json`, `hit-N/image.*`,
/// `hit-N/page.http` (the saved page response), `hit-N/reference.*` and the run's WARC file
/// once under `warc/`; plus `MANIFEST.sha256` (`sha256sum -c` format) over every file.
///
/// The zip is written to a private temporary file (WARC files copied in 64 KiB pieces on a
/// blocking thread) and returned open, already unlinked: it is streamed to the client and
/// never held in memory.
pub async fn evidence_zip(
    state: &AppState,
    org: OrgId,
    ids: &[i64],
) -> Result<tokio::fs::File, AppError> {
    let mut tmp = state.upload_file()?;
    let mut zip = ZipFile {
        zip: zip::ZipWriter::new(tmp.file().try_clone()?),
        manifest: String::new(),
    };
    let mut warcs: Vec<String> = Vec::new();
    for &id in ids.iter().take(500) {
        let h = hit(state, org, id).await?;
        let dir = format!("hit-{id}");
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut record = serde_json::to_value(&h).map_err(anyhow::Error::from)?;
        record["warc_file"] =
            serde_json::Value::String(format!("warc/{}", warc_name(&h.warc_file)));
        record["warc_image_offset"] = h.warc_image_offset.into();
        record["warc_page_offset"] = h.warc_page_offset.into();
        files.push((
            format!("{dir}/hit.json"),
            serde_json::to_vec_pretty(&record).map_err(anyhow::Error::from)?,
        ));
        if let Ok(img) = found_image(state, org, &h).await {
            let ext = sniff_image(&img).map_or("bin", |ct| ct.trim_start_matches("image/"));
            files.push((format!("{dir}/image.{ext}"), img));
        }
        if let Ok(block) = page_block(state, org, &h).await {
            files.push((format!("{dir}/page.http"), block));
        }
        if let Ok(img) = reference_image(state, org, &h).await {
            let ext = sniff_image(&img).map_or("bin", |ct| ct.trim_start_matches("image/"));
            files.push((format!("{dir}/reference.{ext}"), img));
        }
        zip = tokio::task::spawn_blocking(move || {
            for (name, bytes) in files {
                zip.add(&name, bytes.as_slice())?;
            }
            anyhow::Ok(zip)
        })
        .await
        .map_err(anyhow::Error::from)??;
        if !warcs.contains(&h.warc_file) {
            warcs.push(h.warc_file.clone());
        }
    }
    let evidence = state.evidence(org);
    let mut opened: Vec<(String, std::fs::File)> = Vec::new();
    for w in &warcs {
        // Local, or downloaded from the bucket and checked against its recorded SHA-256: an
        // altered evidence file is left out of the bundle and logged, never shipped as intact.
        match evidence.open_warc(w).await {
            Ok(file) => opened.push((format!("warc/{}", warc_name(w)), file)),
            Err(e) => tracing::warn!("evidence bundle: {w} left out: {e}"),
        }
    }
    tokio::task::spawn_blocking(move || {
        for (name, file) in opened {
            zip.add(&name, file)?;
        }
        let manifest = std::mem::take(&mut zip.manifest);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.zip.start_file("MANIFEST.sha256", opts)?;
        zip.zip.write_all(manifest.as_bytes())?;
        zip.zip.finish()?;
        anyhow::Ok(())
    })
    .await
    .map_err(anyhow::Error::from)??;
    let file = tokio::fs::File::open(tmp.temp_path()).await?;
    drop(tmp); // unlinked: the open file is all that is left of it
    Ok(file)
}

fn warc_name(rel: &str) -> String {
    FsPath::new(rel).file_name().map_or_else(
        || "evidence.warc".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}
