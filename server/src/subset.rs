//! Need-to-know subsets of a PDF: the chosen pages, and nothing else of the document, as a new
//! PDF (`docs/server.md#subsets`).
//!
//! The server cuts the subset from the decrypted document and seals it as a document of its own
//! under a fresh content key: a licence for the subset carries that key only, so the pages left
//! out cannot be decrypted with it — they are not in its envelope at all. Anything that could
//! keep a dropped page reachable is removed before unreferenced objects are pruned: the
//! catalog keeps only its page tree (outlines, named destinations, forms, structure tree and
//! scripts go), kept pages lose their annotations (links to dropped pages), article beads and
//! thumbnails, and the document information dictionary is dropped.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use lopdf::{Document, Object};
use thiserror::Error;

/// Most pages a page list may name (ranges are expanded).
pub const MAX_PAGES: u32 = 100_000;

/// Why a subset could not be made.
#[derive(Debug, Error)]
pub enum SubsetError {
    /// The page list is not `N`, `N-M`, separated by commas.
    #[error("pages {0:?}: write page numbers and ranges separated by commas, such as 1-3,7")]
    Syntax(String),
    /// A page beyond the document.
    #[error("page {page} is beyond the document's {count} pages")]
    Beyond {
        /// The page asked for.
        page: u32,
        /// The document's page count.
        count: u32,
    },
    /// Every page: share the document itself.
    #[error("the pages chosen are the whole document; share it without --pages")]
    Whole,
    /// The document is not a PDF this can read.
    #[error("the document could not be read as a PDF: {0}")]
    Pdf(String),
}

/// Parses `1-3,7` into page numbers (from 1), checking nothing about a document yet.
pub fn parse_pages(spec: &str) -> Result<BTreeSet<u32>, SubsetError> {
    let bad = || SubsetError::Syntax(spec.chars().take(80).collect());
    let mut pages = BTreeSet::new();
    for part in spec.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a == 0 || b < a || b > MAX_PAGES {
            return Err(bad());
        }
        pages.extend(a..=b);
        if pages.len() > MAX_PAGES as usize {
            return Err(bad());
        }
    }
    if pages.is_empty() {
        return Err(bad());
    }
    Ok(pages)
}

/// Page numbers in their shortest form: `1-3, 7`.
#[must_use]
pub fn describe_pages(pages: &BTreeSet<u32>) -> String {
    let mut out = String::new();
    let mut iter = pages.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{end}");
        }
    }
    out
}

/// The PDF `pdf` reduced to `pages` (from 1), with everything that could lead to another page
/// removed. Returns the new PDF.
pub fn pdf_pages(pdf: &[u8], pages: &BTreeSet<u32>) -> Result<Vec<u8>, SubsetError> {
    let mut doc = Document::load_mem(pdf).map_err(|e| SubsetError::Pdf(e.to_string()))?;
    if doc.is_encrypted() {
        return Err(SubsetError::Pdf("it is encrypted".into()));
    }
    let all = doc.get_pages();
    let count = u32::try_from(all.len()).unwrap_or(u32::MAX);
    if let Some(&page) = pages.iter().find(|&&p| p > count) {
        return Err(SubsetError::Beyond { page, count });
    }
    if pages.len() == all.len() {
        return Err(SubsetError::Whole);
    }
    // The catalog keeps its page tree only.
    let catalog = doc
        .catalog_mut()
        .map_err(|e| SubsetError::Pdf(e.to_string()))?;
    let keep: Vec<Vec<u8>> = catalog
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| k != b"Type" && k != b"Pages")
        .collect();
    for k in keep {
        catalog.remove(&k);
    }
    // Kept pages lose what could point elsewhere.
    for (n, id) in &all {
        if pages.contains(n)
            && let Ok(Object::Dictionary(page)) = doc.get_object_mut(*id)
        {
            for key in [&b"Annots"[..], b"B", b"Thumb", b"StructParents", b"AA"] {
                page.remove(key);
            }
        }
    }
    doc.trailer.remove(b"Info");
    let dropped: Vec<u32> = all.keys().copied().filter(|n| !pages.contains(n)).collect();
    doc.delete_pages(&dropped);
    doc.prune_objects();
    doc.renumber_objects();
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| SubsetError::Pdf(e.to_string()))?;
    Ok(out)
}

impl crate::AppState {
    /// Cuts pages `spec` out of PDF document `doc` and stores them as a document of its own
    /// (same level, fresh content key, `derived_from` naming `doc`), for one link.
    pub(crate) async fn cut_pages(
        &self,
        doc: &crate::store::DocumentRecord,
        spec: &str,
        actor: &crate::service::Actor,
        meta: &crate::service::ClientMeta,
    ) -> anyhow::Result<crate::store::DocumentRecord> {
        if doc.media_type != "application/pdf" {
            anyhow::bail!(
                "--pages shares pages of a PDF; {} is {}",
                doc.title,
                doc.media_type
            );
        }
        let pages = parse_pages(spec)?;
        let plaintext = self.open_document(doc).await?;
        // The cut PDF is plaintext too: wiped once sealed.
        let (subset, pages) = tokio::task::spawn_blocking(move || {
            pdf_pages(&plaintext, &pages).map(|p| (zeroize::Zeroizing::new(p), pages))
        })
        .await??;
        let shares = format!("pages {}", describe_pages(&pages));
        self.seal_subset(doc, &shares, "application/pdf", &subset, actor, meta)
            .await
    }

    /// Decrypts a stored document in memory (for cutting a subset; wiped when dropped).
    async fn open_document(
        &self,
        doc: &crate::store::DocumentRecord,
    ) -> anyhow::Result<zeroize::Zeroizing<Vec<u8>>> {
        use anyhow::Context;
        use object_store::ObjectStoreExt;
        use veilmark_shared::envelope::{self, DocumentId};
        let id = DocumentId::from_hex(&doc.id).context("stored document id is not hex")?;
        let key = self.keys.unwrap_content_key(id, &doc.wrapped_key)?;
        let sealed = self
            .blobs
            .get(&object_store::path::Path::from(doc.blob.as_str()))
            .await
            .with_context(|| format!("cannot read the envelope of {}", doc.id))?
            .bytes()
            .await?;
        Ok(envelope::open(&key, &sealed)?.plaintext)
    }

    /// Seals `subset` (of media type `mime`) as a document of its own under a fresh content key,
    /// at `doc`'s level, recorded as derived from `doc` and sharing `shares`.
    async fn seal_subset(
        &self,
        doc: &crate::store::DocumentRecord,
        shares: &str,
        mime: &str,
        subset: &[u8],
        actor: &crate::service::Actor,
        meta: &crate::service::ClientMeta,
    ) -> anyhow::Result<crate::store::DocumentRecord> {
        use veilmark_shared::envelope::{self, ContentKey, Header, SealRandomness};
        let key = ContentKey::from_bytes(crate::secrets::random()?);
        let random = SealRandomness::from_bytes(crate::secrets::random()?);
        let sealed = envelope::seal(
            &key,
            random.document_id,
            mime,
            subset,
            envelope::DEFAULT_CHUNK_SIZE,
            random.key_salt,
            random.nonce_prefix,
        )?;
        let header = Header::parse(&sealed)?;
        self.store_envelope_bytes(&header, &sealed).await?;
        let title = format!("{} — {shares}", doc.title);
        self.record_document(
            &header,
            sealed.len() as u64,
            &key,
            &crate::service::DocumentLabels {
                title: &title,
                level: Some(&doc.level),
                subset_of: Some((&doc.id, shares)),
            },
            actor,
            meta,
        )
        .await
    }
}

impl crate::AppState {
    /// Cuts parts `spec` (names of parts or assemblies) out of 3D model `doc` and stores them as
    /// a binary glTF document of its own (same level, fresh content key, `derived_from` naming
    /// `doc`), for one link.
    pub(crate) async fn cut_parts(
        &self,
        doc: &crate::store::DocumentRecord,
        spec: &str,
        actor: &crate::service::Actor,
        meta: &crate::service::ClientMeta,
    ) -> anyhow::Result<crate::store::DocumentRecord> {
        use veilmark_shared::media::MediaType;
        let media = MediaType::from_mime(&doc.media_type);
        if !matches!(
            media,
            MediaType::Step | MediaType::Stl | MediaType::Obj | MediaType::Gltf | MediaType::Glb
        ) {
            anyhow::bail!(
                "--parts shares parts of a 3D model; {} is {}",
                doc.title,
                doc.media_type
            );
        }
        let names = veilmark_cad::subset::parse_part_names(spec);
        let plaintext = self.open_document(doc).await?;
        let root = doc.title.clone();
        let (glb, chosen) = tokio::task::spawn_blocking(move || {
            let model =
                veilmark_cad::load_model(media, &plaintext, &veilmark_cad::Limits::default())
                    .map_err(|e| anyhow::anyhow!("the model could not be read: {e}"))?;
            let sub = veilmark_cad::subset::select_parts(&model, &names)?;
            let chosen: Vec<String> = sub.parts.iter().map(|p| p.name.clone()).collect();
            Ok::<_, anyhow::Error>((
                zeroize::Zeroizing::new(veilmark_cad::subset::write_glb(&sub, &root)),
                chosen,
            ))
        })
        .await??;
        let mut listed = chosen.join(", ");
        if listed.chars().count() > 200 {
            listed = listed.chars().take(200).collect::<String>() + "…";
        }
        let shares = format!("parts {listed}");
        self.seal_subset(doc, &shares, MediaType::Glb.mime(), &glb, actor, meta)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_lists_parse_and_print_in_their_shortest_form() {
        let p = parse_pages(" 1-3, 7,2 ,9-10").unwrap();
        assert_eq!(p.iter().copied().collect::<Vec<_>>(), [1, 2, 3, 7, 9, 10]);
        assert_eq!(describe_pages(&p), "1-3, 7, 9-10");
        for bad in ["", "0", "3-1", "a", "1,,2", "1-", "-2", "1-100001", "1;2"] {
            assert!(
                matches!(parse_pages(bad), Err(SubsetError::Syntax(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn garbage_is_refused_as_a_pdf() {
        let pages = parse_pages("1").unwrap();
        assert!(matches!(
            pdf_pages(b"%PDF-1.7 not really", &pages),
            Err(SubsetError::Pdf(_))
        ));
    }
}
