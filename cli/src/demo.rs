//! `veilmark demo`: a guided tour, in a scratch folder, of what this build can do.
//!
//! The demo is the product's front window (BRIEF §8): it grows with every capability. Today it
//! seals sample files, shows what an envelope reveals without a key, opens them again, and shows
//! each kind of tampering being caught with its own error.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use sha2::{Digest, Sha256};

use crate::envelope_cmd::human_bytes;
use crate::envelope_file::{SealOptions, inspect_file, open_file, seal_file};
use crate::keyfile::{generate_key, write_key_file};
use crate::progress::Progress;

/// Arguments of `veilmark demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Scratch folder for the demo's files (created; reused if it exists).
    #[arg(long, default_value = "veilmark-demo")]
    dir: PathBuf,
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<()> {
    let dir = &args.dir;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let quiet = Progress::auto(true);
    println!("Veilmark demo — working in {}\n", dir.display());

    println!("1. A brand owner has files to share with a supplier:");
    let samples = write_samples(dir)?;
    for s in &samples {
        println!(
            "   {:<22} {:>10}",
            s.display().to_string(),
            human_bytes(fs::metadata(s)?.len())
        );
    }

    println!("\n2. A random 256-bit content key (the server will keep one per document, wrapped):");
    let key_path = dir.join("demo.key");
    let key = generate_key()?;
    write_key_file(&key_path, &key, true)?;
    println!("   {} (mode 0600)", key_path.display());

    println!(
        "\n3. Each file is sealed into an envelope: AES-256-GCM in 64 KiB chunks, authenticated header:"
    );
    let mut sealed = Vec::new();
    for s in &samples {
        let out = s.with_extension(format!(
            "{}.vmk",
            s.extension().and_then(|e| e.to_str()).unwrap_or("bin")
        ));
        let opts = SealOptions {
            chunk_size: veilmark_shared::envelope::DEFAULT_CHUNK_SIZE,
            media_type: None,
            document_id: None,
            force: true,
            progress: quiet,
        };
        let header = seal_file(&key, s, &out, &opts)?;
        println!(
            "   {:<22} -> {:<26} detected {:<18} {} chunk(s)",
            s.file_name().unwrap_or_default().to_string_lossy(),
            out.display().to_string(),
            header.media_type(),
            header.chunk_count()
        );
        sealed.push((s.clone(), out));
    }

    println!("\n4. Without the key an envelope reveals only its header:");
    let (header, total) = inspect_file(&sealed[0].1)?;
    println!(
        "   document {}  type {}  {} plaintext  {} bytes on disk",
        header.document_id(),
        header.media_type(),
        human_bytes(header.plaintext_len()),
        total
    );

    println!("\n5. With the key, every chunk verifies and the bytes come back exactly:");
    for (original, envelope) in &sealed {
        let back = dir.join(format!(
            "opened-{}",
            original.file_name().unwrap_or_default().to_string_lossy()
        ));
        open_file(&key, envelope, &back, true, &quiet)?;
        let same = sha256(original)? == sha256(&back)?;
        println!(
            "   {:<26} -> {:<28} SHA-256 {}",
            envelope.display().to_string(),
            back.display().to_string(),
            if same { "identical" } else { "DIFFERENT" }
        );
        anyhow::ensure!(same, "round trip changed {}", original.display());
    }

    println!("\n6. Every kind of tampering is caught, and nothing is written:");
    let victim = &sealed[0].1;
    let bytes = fs::read(victim)?;
    let header_len = header.len();
    // Chunk offsets lie inside the file we just read, so they fit usize.
    #[allow(clippy::cast_possible_truncation)]
    let chunk_start = header
        .chunk_range(1)
        .map_or(header_len + 10, |r| r.start as usize + 10);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut flipped = bytes.clone();
    flipped[chunk_start] ^= 0x01;
    cases.push(("one bit flipped in chunk 1", flipped));
    cases.push((
        "last 100 bytes cut off",
        bytes[..bytes.len() - 100].to_vec(),
    ));
    let mut edited = bytes.clone();
    edited[35] ^= 0x01; // a bit of the plaintext length field
    cases.push(("header's length field edited", edited));
    if let (Some(a), Some(b)) = (header.chunk_range(0), header.chunk_range(1))
        && a.end - a.start == b.end - b.start
    {
        let mut swapped = bytes.clone();
        #[allow(clippy::cast_possible_truncation)]
        let (a, b) = (
            a.start as usize..a.end as usize,
            b.start as usize..b.end as usize,
        );
        let first = bytes[a.clone()].to_vec();
        swapped.copy_within(b.clone(), a.start);
        swapped[b].copy_from_slice(&first);
        cases.push(("chunks 0 and 1 swapped", swapped));
    }
    let mut appended = bytes.clone();
    appended.extend_from_slice(b"extra");
    cases.push(("bytes appended", appended));
    for (what, tampered) in cases {
        let path = dir.join("tampered.vmk");
        fs::write(&path, tampered)?;
        let out = dir.join("should-not-exist.pdf");
        let _ = fs::remove_file(&out);
        let err = open_file(&key, &path, &out, true, &quiet)
            .err()
            .context("a tampered envelope opened")?;
        anyhow::ensure!(!out.exists(), "partial plaintext was written");
        println!("   {what:<30} -> {}", root_cause(&err));
    }
    let other_key = generate_key()?;
    let err = open_file(
        &other_key,
        victim,
        &dir.join("should-not-exist.pdf"),
        true,
        &quiet,
    )
    .err()
    .context("opened with the wrong key")?;
    println!("   {:<30} -> {}", "another key", root_cause(&err));

    println!("\nDone. Try it yourself:");
    println!(
        "   veilmark envelope seal YOUR-FILE out.vmk --key-file {}",
        key_path.display()
    );
    println!(
        "   veilmark envelope open out.vmk back --key-file {}",
        key_path.display()
    );
    println!("   veilmark --help");
    Ok(())
}

fn root_cause(err: &anyhow::Error) -> String {
    err.root_cause().to_string()
}

fn sha256(path: &Path) -> Result<[u8; 32]> {
    Ok(Sha256::digest(fs::read(path)?).into())
}

/// Writes the demo's sample files: a small multi-page PDF drawing list and a binary STL part.
fn write_samples(dir: &Path) -> Result<Vec<PathBuf>> {
    let pdf = dir.join("bracket-drawing.pdf");
    fs::write(&pdf, sample_pdf())?;
    let stl = dir.join("bracket.stl");
    fs::write(&stl, sample_stl())?;
    Ok(vec![pdf, stl])
}

/// A valid three-page PDF with a title block per page, large enough to span several chunks.
fn sample_pdf() -> Vec<u8> {
    let mut objects: Vec<String> = Vec::new();
    let pages = 3;
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    ));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for p in 0..pages {
        let mut content = format!(
            "BT /F1 18 Tf 50 800 Td (ACME bracket BR-2040, sheet {} of {pages}) Tj ET\n",
            p + 1
        );
        for i in 0..2000 {
            let y = 60 + (i * 7) % 700;
            let x = 60 + (i * 13) % 480;
            content.push_str(&format!("{x} {y} m {} {} l S\n", x + 20, y + 5));
        }
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * p
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ));
    }
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{obj}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A binary STL of an L-shaped bracket with a hole pattern, tessellated finely enough to span
/// several chunks.
fn sample_stl() -> Vec<u8> {
    let mut tris: Vec<[[f32; 3]; 3]> = Vec::new();
    let mut quad = |a: [f32; 3], b: [f32; 3], c: [f32; 3], d: [f32; 3]| {
        tris.push([a, b, c]);
        tris.push([a, c, d]);
    };
    // Two plates of a bracket, each subdivided into a grid.
    let n = 40;
    for i in 0..n {
        for j in 0..n {
            let (x0, x1) = (i as f32 * 2.0, (i + 1) as f32 * 2.0);
            let (y0, y1) = (j as f32 * 1.5, (j + 1) as f32 * 1.5);
            quad([x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]);
            quad([x0, 0.0, y0], [x0, 0.0, y1], [x1, 0.0, y1], [x1, 0.0, y0]);
        }
    }
    let mut out = vec![0u8; 80];
    out[..29].copy_from_slice(b"Veilmark demo bracket BR-2040");
    out.extend_from_slice(&u32::try_from(tris.len()).expect("small").to_le_bytes());
    for t in tris {
        out.extend_from_slice(&[0u8; 12]);
        for v in t {
            for c in v {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        out.extend_from_slice(&[0, 0]);
    }
    out
}
