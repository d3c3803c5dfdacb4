//! Turning a plaintext into a stored envelope with constant memory, durably.
//!
//! An upload is streamed to a private temporary file (never held whole in memory), sealed from
//! that file one 64 KiB chunk at a time on a blocking thread, and the envelope is written under
//! a temporary name, synced, renamed and its directory synced ([`veilmark_store::durable`])
//! *before* the document's row commits: a document the server acknowledged survives `kill -9`
//! and a power cut. With a remote blob store the sealed temporary file is streamed to it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result};
use object_store::{ObjectStoreExt, WriteMultipart};
use tokio::io::AsyncReadExt;
use veilmark_shared::envelope::{
    ContentKey, DEFAULT_CHUNK_SIZE, Header, SealParams, SealRandomness, Sealer,
};
use veilmark_shared::media::{MediaType, SNIFF_LEN};
use veilmark_store::durable::AtomicFile;

use crate::service::{Actor, ClientMeta, blob_path};
use crate::store::DocumentRecord;
use crate::{AppState, secrets};

/// Parts of an envelope upload to a remote blob store sent at the same time.
const UPLOAD_PARTS_IN_FLIGHT: usize = 4;

impl AppState {
    /// A new private temporary file under the data directory for an upload being received;
    /// removed when dropped.
    pub fn upload_file(&self) -> Result<AtomicFile> {
        AtomicFile::create(&self.data.temp_dir().join("upload"))
            .context("cannot create a temporary file for the upload")
    }

    /// Seals the plaintext in `plain` (a received upload) and stores it as a new document.
    pub async fn ingest_plaintext_file(
        &self,
        plain: &Path,
        title: &str,
        level: Option<&str>,
        actor: &Actor,
        meta: &ClientMeta,
    ) -> Result<DocumentRecord> {
        let key = ContentKey::from_bytes(secrets::random()?);
        let random = SealRandomness::from_bytes(secrets::random()?);
        let doc = random.document_id;
        let mut out = self.envelope_writer(&doc.to_string())?;
        let plain = plain.to_owned();
        let key2 = key.clone();
        let (header, out) = tokio::task::spawn_blocking(move || {
            let header = seal_file(&key2, random, &plain, &mut out)?;
            anyhow::Ok((header, out))
        })
        .await??;
        self.commit_envelope(&header, out).await?;
        self.record_document(
            &header,
            header.envelope_len(),
            &key,
            &crate::service::DocumentLabels::new(title, level),
            actor,
            meta,
        )
        .await
    }

    /// Stores an envelope held in memory (small test and demo documents).
    pub(crate) async fn store_envelope_bytes(&self, header: &Header, sealed: &[u8]) -> Result<()> {
        let mut out = self.envelope_writer(&header.document_id().to_string())?;
        out.write_all(sealed)?;
        self.commit_envelope(header, out).await
    }

    /// Stores the envelope in the open file `file`, read from its current position on.
    pub(crate) async fn store_envelope_from(
        &self,
        header: &Header,
        mut file: tokio::fs::File,
    ) -> Result<()> {
        let mut out = self.envelope_writer(&header.document_id().to_string())?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
        self.commit_envelope(header, out).await
    }

    /// Where an envelope is written before it is committed: beside its final place on disk, or
    /// an upload temporary file when the blob store is remote.
    fn envelope_writer(&self, document_id: &str) -> Result<AtomicFile> {
        let target = if self.envelopes_on_disk {
            self.data.envelope_file(document_id)
        } else {
            self.data.temp_dir().join(format!("{document_id}.vmk"))
        };
        AtomicFile::create(&target).context("cannot create the envelope file")
    }

    /// Makes the written envelope durable under its final name (or uploads it to the remote
    /// blob store); returns once it is safe to commit the document's row.
    async fn commit_envelope(&self, header: &Header, out: AtomicFile) -> Result<()> {
        if self.envelopes_on_disk {
            return tokio::task::spawn_blocking(move || out.commit())
                .await?
                .context("cannot store the envelope");
        }
        let mut file = tokio::fs::File::open(out.temp_path()).await?;
        let upload = self
            .blobs
            .put_multipart(&blob_path(header.document_id()))
            .await?;
        let mut writer = WriteMultipart::new(upload);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            // At most UPLOAD_PARTS_IN_FLIGHT parts (5 MiB each) held while they upload: memory
            // stays bounded whatever the envelope's size and however slow the bucket.
            writer
                .wait_for_capacity(UPLOAD_PARTS_IN_FLIGHT)
                .await
                .context("cannot store the envelope")?;
            writer.write(&buf[..n]);
        }
        writer.finish().await.context("cannot store the envelope")?;
        Ok(())
    }
}

/// Seals the file `plain` into `out`, one chunk at a time; returns the envelope's header.
fn seal_file(
    key: &ContentKey,
    random: SealRandomness,
    plain: &Path,
    out: &mut impl Write,
) -> Result<Header> {
    let mut file = File::open(plain).context("cannot reopen the upload")?;
    let len = file.metadata()?.len();
    let mut prefix = vec![0u8; usize::try_from(len).unwrap_or(SNIFF_LEN).min(SNIFF_LEN)];
    file.read_exact(&mut prefix)?;
    let media = MediaType::detect(&prefix, len);
    file.seek(SeekFrom::Start(0))?;
    let sealer = Sealer::new(
        key,
        &SealParams {
            document_id: random.document_id,
            media_type: media.mime().to_owned(),
            plaintext_len: len,
            chunk_size: DEFAULT_CHUNK_SIZE,
            key_salt: random.key_salt,
            nonce_prefix: random.nonce_prefix,
        },
    )?;
    let header = sealer.header().clone();
    out.write_all(header.as_bytes())?;
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(DEFAULT_CHUNK_SIZE as usize + 64));
    for index in 0..header.chunk_count() {
        let n = header
            .chunk_plaintext_len(index)
            .context("chunk index below the count")?;
        buf.clear();
        buf.resize(n, 0);
        file.read_exact(&mut buf)
            .context("the upload changed while it was sealed")?;
        sealer.seal_chunk(index, &mut buf)?;
        out.write_all(&buf)?;
    }
    Ok(header)
}
