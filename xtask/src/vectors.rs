//! `cargo xtask vectors`: regenerates `docs/vectors/envelope/`, one file per named behaviour.
//!
//! Vectors are deterministic (fixed keys, salts and nonce prefixes; plaintexts from a counter-mode
//! SHA-256 stream), so regenerating them must produce identical files; `--check` fails if they
//! differ from what is committed. The format of a vector file is described in
//! `docs/vectors/envelope/README.md`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use veilmark_shared::envelope::{self, ContentKey, DocumentId, Header};

const CHUNK: u32 = 1024;
const KEY: [u8; 32] = *b"veilmark test vector content key";
const OTHER_KEY: [u8; 32] = *b"another key, not the sealing one";
const DOC: [u8; 16] = *b"doc-id-for-tests";
const SALT: [u8; 16] = *b"salt:0123456789a";
const NONCE: [u8; 7] = *b"nonce-7";

/// One vector: a name, a comment, the expectation and the bytes.
struct Vector {
    name: &'static str,
    comment: &'static str,
    key: [u8; 32],
    plaintext: Option<Vec<u8>>,
    media_type: &'static str,
    envelope: Vec<u8>,
    expect: &'static str,
}

/// Deterministic test plaintext: SHA-256(label ‖ counter) blocks.
fn plaintext(len: usize, label: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(label.as_bytes());
        h.update(counter.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

fn seal_with(pt: &[u8], media: &str, salt: [u8; 16], nonce: [u8; 7]) -> Vec<u8> {
    envelope::seal(
        &ContentKey::from_bytes(KEY),
        DocumentId(DOC),
        media,
        pt,
        CHUNK,
        salt,
        nonce,
    )
    .expect("vector parameters are valid")
}

fn seal(pt: &[u8]) -> Vec<u8> {
    seal_with(pt, "application/octet-stream", SALT, NONCE)
}

fn chunk_range(env: &[u8], i: u32) -> std::ops::Range<usize> {
    let r = Header::parse(env)
        .expect("valid")
        .chunk_range(i)
        .expect("exists");
    r.start as usize..r.end as usize
}

fn ok(name: &'static str, comment: &'static str, pt: Vec<u8>, media: &'static str) -> Vector {
    let envelope = seal_with(&pt, media, SALT, NONCE);
    Vector {
        name,
        comment,
        key: KEY,
        plaintext: Some(pt),
        media_type: media,
        envelope,
        expect: "ok",
    }
}

fn bad(
    name: &'static str,
    comment: &'static str,
    envelope: Vec<u8>,
    expect: &'static str,
) -> Vector {
    Vector {
        name,
        comment,
        key: KEY,
        plaintext: None,
        media_type: "application/octet-stream",
        envelope,
        expect,
    }
}

fn all_vectors() -> Vec<Vector> {
    let c = CHUNK as usize;
    let three = plaintext(3 * c - 100, "three chunks");
    let base = seal(&three);
    let header_len = Header::parse(&base).expect("valid").len();
    let mut v = vec![
        ok(
            "empty",
            "A zero-byte file is one final chunk holding only a tag.",
            vec![],
            "application/octet-stream",
        ),
        ok(
            "one_byte",
            "A single byte.",
            plaintext(1, "one byte"),
            "application/octet-stream",
        ),
        ok(
            "chunk_size_minus_one",
            "One byte short of a full chunk: a single, final chunk.",
            plaintext(c - 1, "minus one"),
            "application/octet-stream",
        ),
        ok(
            "chunk_size_exact",
            "Exactly one chunk: the full chunk is the final chunk; no empty chunk follows.",
            plaintext(c, "exact"),
            "application/octet-stream",
        ),
        ok(
            "chunk_size_plus_one",
            "One byte over a chunk: a full chunk, then a final chunk of one byte.",
            plaintext(c + 1, "plus one"),
            "application/octet-stream",
        ),
        ok(
            "multi_chunk",
            "Three chunks, the last one partial.",
            three.clone(),
            "application/octet-stream",
        ),
        ok(
            "exact_multiple",
            "Four full chunks; the fourth carries the last-chunk flag.",
            plaintext(4 * c, "exact multiple"),
            "application/octet-stream",
        ),
        ok(
            "media_type_pdf",
            "The media type is recorded in, and authenticated with, the header.",
            b"%PDF-1.7\n%%EOF\n".to_vec(),
            "application/pdf",
        ),
    ];

    let mut b = base.clone();
    b[0] = b'X';
    v.push(bad(
        "bad_magic",
        "The first byte of the magic is changed.",
        b,
        "not-an-envelope",
    ));
    let mut b = base.clone();
    b[8] = 2;
    v.push(bad(
        "unsupported_version",
        "Format version 2 is not defined.",
        b,
        "unsupported-version",
    ));
    let mut b = base.clone();
    b[9] = 0x80;
    v.push(bad(
        "reserved_flags_set",
        "The reserved flags byte must be zero.",
        b,
        "malformed-header",
    ));
    v.push(bad(
        "header_truncated",
        "The file ends inside the header.",
        base[..header_len - 1].to_vec(),
        "header-truncated",
    ));
    let mut b = base.clone();
    b[28..32].copy_from_slice(&512u32.to_be_bytes());
    v.push(bad(
        "chunk_size_too_small",
        "A chunk size below 1 KiB is refused before any key is used.",
        b,
        "malformed-header",
    ));
    let mut b = base.clone();
    b[64] = b'A';
    v.push(bad(
        "media_type_uppercase",
        "Media types are lowercase tokens.",
        b,
        "malformed-header",
    ));
    let mut wrong = bad(
        "wrong_key",
        "Opened with a key other than the sealing key: the key check fails.",
        base.clone(),
        "wrong-key",
    );
    wrong.key = OTHER_KEY;
    v.push(wrong);
    let mut b = base.clone();
    b[40] ^= 1;
    v.push(bad(
        "key_salt_edited",
        "A changed key salt derives other keys: indistinguishable from a wrong key.",
        b,
        "wrong-key",
    ));
    let mut b = base.clone();
    b[12] ^= 1;
    v.push(bad(
        "document_id_edited",
        "The document id is changed: the header MAC fails.",
        b,
        "header-tampered",
    ));
    let mut b = base.clone();
    b[39] ^= 1;
    v.push(bad(
        "plaintext_length_edited",
        "The plaintext length is changed: the header MAC fails before lengths are compared.",
        b,
        "header-tampered",
    ));
    let mut b = base.clone();
    b[56] ^= 1;
    v.push(bad(
        "nonce_prefix_edited",
        "The nonce prefix is changed: the header MAC fails.",
        b,
        "header-tampered",
    ));
    let mut b = base.clone();
    b[header_len - 1] ^= 1;
    v.push(bad(
        "header_mac_edited",
        "The last byte of the header MAC is changed.",
        b,
        "header-tampered",
    ));
    let r2 = chunk_range(&base, 2);
    v.push(bad(
        "stream_missing_final_chunk",
        "The final chunk is removed.",
        base[..r2.start].to_vec(),
        "truncated",
    ));
    v.push(bad(
        "stream_truncated_mid_chunk",
        "The file is cut in the middle of the second chunk.",
        base[..chunk_range(&base, 1).start + 100].to_vec(),
        "truncated",
    ));
    let mut b = base.clone();
    b.extend_from_slice(b"garbage");
    v.push(bad(
        "stream_trailing_garbage",
        "Bytes follow the final chunk.",
        b,
        "trailing-data",
    ));
    let (r0, r1) = (chunk_range(&base, 0), chunk_range(&base, 1));
    let mut b = base.clone();
    b[r0.clone()].copy_from_slice(&base[r1.clone()]);
    b[r1.clone()].copy_from_slice(&base[r0.clone()]);
    v.push(bad(
        "stream_chunks_swapped",
        "Chunks 0 and 1 are exchanged: chunk 0 authenticates only as chunk 1.",
        b,
        "chunk-out-of-order",
    ));
    let other = seal_with(
        &three,
        "application/octet-stream",
        *b"another file sal",
        *b"other-n",
    );
    let mut b = base.clone();
    b[r1.clone()].copy_from_slice(&other[r1.clone()]);
    v.push(bad(
        "stream_chunk_from_other_file",
        "Chunk 1 is taken from another envelope of the same plaintext under the same key.",
        b,
        "chunk-tampered",
    ));
    let mut b = base.clone();
    b[r1.start + 7] ^= 0x10;
    v.push(bad(
        "stream_bit_flip_second_chunk",
        "One ciphertext bit of chunk 1 is flipped.",
        b,
        "chunk-tampered",
    ));
    let mut b = base.clone();
    b[r2.end - 1] ^= 0x01;
    v.push(bad(
        "stream_bad_tag_final_chunk",
        "One bit of the final chunk's tag is flipped.",
        b,
        "chunk-tampered",
    ));
    v
}

fn render(v: &Vector) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}", v.comment);
    let _ = writeln!(s, "expect: {}", v.expect);
    let _ = writeln!(s, "key: {}", hex::encode(v.key));
    if let Some(pt) = &v.plaintext {
        let _ = writeln!(s, "media type: {}", v.media_type);
        let _ = writeln!(s, "document id: {}", hex::encode(DOC));
        let _ = writeln!(s, "chunk size: {CHUNK}");
        let _ = writeln!(s, "key salt: {}", hex::encode(SALT));
        let _ = writeln!(s, "nonce prefix: {}", hex::encode(NONCE));
        let _ = writeln!(s, "plaintext: {}", hex::encode(pt));
    }
    let _ = writeln!(s, "envelope: {}", hex::encode(&v.envelope));
    s
}

/// Writes (or with `check`, compares) every vector file under `dir`.
pub fn run(dir: &Path, check: bool) -> Result<()> {
    fs::create_dir_all(dir)?;
    let vectors = all_vectors();
    let mut stale = Vec::new();
    for v in &vectors {
        let path = dir.join(format!("{}.txt", v.name));
        let text = render(v);
        if check {
            let current = fs::read_to_string(&path).unwrap_or_default();
            if current != text {
                stale.push(path.display().to_string());
            }
        } else {
            fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if !stale.is_empty() {
        bail!("test vectors differ from the implementation (run `cargo xtask vectors`): {stale:?}");
    }
    println!(
        "{} envelope vectors {} in {}",
        vectors.len(),
        if check { "verified" } else { "written" },
        dir.display()
    );
    Ok(())
}
