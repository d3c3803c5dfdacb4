//! Evidence bundles: a zip of each hit's record, images, saved page and WARC file, with a
//! `sha256sum -c` manifest. The bytes come from [`super::data`]; this module only packs them.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path as FsPath;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::super::{Form, require};
use super::data::{found_image, hit, page_block, reference_image, warc_file};
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
    let form = match Form::parse(body.0.unwrap_or_default().as_bytes()) {
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
            zip,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The evidence bundle for `ids`: per hit `hit-N/hit.json`, `hit-N/image.*`,
/// `hit-N/page.http` (the saved page response), `hit-N/reference.*` and the run's WARC file
/// once under `warc/`; plus `MANIFEST.sha256` (`sha256sum -c` format) over every file.
pub async fn evidence_zip(state: &AppState, org: OrgId, ids: &[i64]) -> Result<Vec<u8>, AppError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut warcs: Vec<String> = Vec::new();
    for &id in ids.iter().take(500) {
        let h = hit(state, org, id).await?;
        let dir = format!("hit-{id}");
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
        if !warcs.contains(&h.warc_file) {
            warcs.push(h.warc_file.clone());
        }
    }
    for w in &warcs {
        if let Ok(bytes) = warc_file(state, org, w).await {
            files.push((format!("warc/{}", warc_name(w)), bytes));
        }
    }
    let mut manifest = String::new();
    for (name, bytes) in &files {
        let _ = writeln!(manifest, "{}  {name}", hex::encode(Sha256::digest(bytes)));
    }
    files.push(("MANIFEST.sha256".into(), manifest.into_bytes()));

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in &files {
        zip.start_file(name.as_str(), opts)
            .map_err(anyhow::Error::from)?;
        zip.write_all(bytes).map_err(anyhow::Error::from)?;
    }
    Ok(zip.finish().map_err(anyhow::Error::from)?.into_inner())
}

fn warc_name(rel: &str) -> String {
    FsPath::new(rel).file_name().map_or_else(
        || "evidence.warc".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}
