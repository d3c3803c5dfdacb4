//! False positives of the forensic watermark detector on real unmarked pictures: rendered PDF
//! pages (the frames Veilmark shows, rendered by the viewer's own rasteriser) and real photos,
//! icons and diagrams, each examined whole and as random crops, rescales and JPEG re-encodes.
//!
//! The issue asks for a measured false-positive rate of 0 on at least 10 000 unmarked real
//! images and crops at the shipped threshold; the design rate (`docs/watermark.md#false-positives`)
//! is 4.2e-9 per image. It lives here, not in `shared`, because it renders PDFs with hayro.
//!
//! ```text
//! FPR_PDFS=/usr/share/doc FPR_IMAGES=/usr/share:<skimage data dir> FPR_TARGET=10000 \
//!   cargo bench -p veilmark-viewer-wasm --bench forensic_fpr
//! ```
//!
//! The figures in `docs/watermark.md#false-positives` add the PDFs of Debian's documentation
//! packages (asymptote, gnuplot, graphviz) to `FPR_PDFS`, and scikit-image's sample photos and
//! the fixture marketplace's images to `FPR_IMAGES`. Environment: `FPR_PDFS` and `FPR_IMAGES` are `:`-separated files or folders searched
//! recursively; `FPR_TARGET` (default 10 000) images to examine in all; `FPR_MAX_PAGES` (default
//! 40) pages per PDF; `FPR_THREADS` (default: all cores).
#![allow(
    missing_docs,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::print_stdout
)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, RgbaImage};
use veilmark_shared::watermark::{Detector, MIN_SIDE, WatermarkKey};
use veilmark_shared::xorshift::XorShift64Star;
use veilmark_viewer_wasm::render::PdfDocument;
use zeroize::Zeroizing;

/// The key every picture is checked under. None of the pictures was marked with it (nor with
/// any key): every detection is a false positive.
const KEY: [u8; 32] = *b"veilmark false-positive key 0001";

/// Largest picture file read (bigger ones are skipped as out of scope for a screenshot).
const MAX_FILE: u64 = 32 << 20;

/// One source picture: a PDF page or an image file.
#[derive(Clone, Debug)]
enum Source {
    /// Page `index` of the PDF at this path.
    Page(PathBuf, u32),
    /// An image file.
    Image(PathBuf),
}

/// The workspace's deterministic generator, with the one helper crops need.
struct Rng(XorShift64Star);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
}

fn env_list(name: &str, default: &str) -> Vec<PathBuf> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(':')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Files under `roots` (recursively, not following links) whose extension is in `exts`.
fn files(roots: &[PathBuf], exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if meta.is_file()
            && meta.len() <= MAX_FILE
            && p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Renders a page at `scale` pixels per point (the viewer's renderer, no watermark).
fn render_page(path: &Path, index: u32, scale: f32) -> Option<RgbaImage> {
    let bytes = std::fs::read(path).ok()?;
    let doc = PdfDocument::open(Zeroizing::new(bytes)).ok()?;
    let frame = doc.render(index, scale).ok()?;
    RgbaImage::from_raw(frame.width, frame.height, frame.rgba.to_vec())
}

/// The picture a source gives, or `None` when it cannot be read or is too small to examine.
fn load(source: &Source, rng: &mut Rng) -> Option<RgbaImage> {
    let img = match source {
        Source::Page(path, index) => render_page(path, *index, rng.range(1.0, 2.0))?,
        Source::Image(path) => image::open(path).ok()?.to_rgba8(),
    };
    (img.width() >= MIN_SIDE && img.height() >= MIN_SIDE).then_some(img)
}

/// Variant `k` of a picture: 0 is the picture itself; others crop 30–100 % of the area at a
/// random offset, rescale by 0.5–1.5 and re-encode half of the time as JPEG quality 50–95.
fn variant(img: &RgbaImage, k: usize, rng: &mut Rng) -> Option<RgbaImage> {
    if k == 0 {
        return Some(img.clone());
    }
    let area = rng.range(0.3, 1.0);
    let aspect = rng.range(0.7, 1.4);
    let (w, h) = (img.width() as f32, img.height() as f32);
    let cw = (w * (area * aspect).sqrt()).clamp(MIN_SIDE as f32, w) as u32;
    let ch = (h * (area / aspect).sqrt()).clamp(MIN_SIDE as f32, h) as u32;
    let x = (rng.range(0.0, 1.0) * (img.width() - cw) as f32) as u32;
    let y = (rng.range(0.0, 1.0) * (img.height() - ch) as f32) as u32;
    let mut out = image::imageops::crop_imm(img, x, y, cw, ch).to_image();
    let s = rng.range(0.5, 1.5);
    let (nw, nh) = ((cw as f32 * s) as u32, (ch as f32 * s) as u32);
    if nw >= MIN_SIDE && nh >= MIN_SIDE {
        let filter = if rng.next().is_multiple_of(2) {
            FilterType::Triangle
        } else {
            FilterType::CatmullRom
        };
        out = image::imageops::resize(&out, nw, nh, filter);
    }
    if rng.next().is_multiple_of(2) {
        let quality = 50 + (rng.next() % 46) as u8;
        let mut buf = Cursor::new(Vec::new());
        let rgb = DynamicImage::ImageRgba8(out).to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
            .encode_image(&rgb)
            .ok()?;
        out = image::load_from_memory_with_format(buf.get_ref(), ImageFormat::Jpeg)
            .ok()?
            .to_rgba8();
    }
    Some(out)
}

/// Examines variants `variants` of the sources at `indices` on `threads` threads, adding to
/// `tally`; records the sources that could be read in `usable`, when given.
fn examine(
    sources: &[Source],
    indices: &[usize],
    variants: std::ops::Range<usize>,
    threads: usize,
    detector: &Detector,
    tally: &Mutex<Tally>,
    usable: Option<&Mutex<Vec<usize>>>,
) {
    let next = AtomicUsize::new(0);
    let lock = |t: &Mutex<Tally>| {
        t.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .examined
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = indices.get(n) else { break };
                    let source = &sources[i];
                    let mut rng = Rng(XorShift64Star::new(
                        0x9e37_79b9_7f4a_7c15 ^ ((i as u64 + 1) << 8) ^ variants.start as u64,
                    ));
                    let Some(img) = load(source, &mut rng) else {
                        continue;
                    };
                    if let Some(u) = usable {
                        u.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(i);
                    }
                    for k in variants.clone() {
                        let Some(v) = variant(&img, k, &mut rng) else {
                            continue;
                        };
                        let t = Instant::now();
                        let found = detector.detect(v.as_raw(), v.width(), v.height());
                        let ms = t.elapsed().as_secs_f64() * 1e3;
                        let mut t = tally
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        t.examined += 1;
                        t.detect_ms += ms;
                        match source {
                            Source::Page(..) => t.pages += 1,
                            Source::Image(_) => t.photos += 1,
                        }
                        if let Ok(Some(d)) = found {
                            t.false_positives
                                .push(format!("{source:?} variant {k}: code {}", d.code));
                        }
                    }
                    if n.is_multiple_of(50) {
                        eprintln!(
                            "  {} pictures examined ({n}/{} sources)",
                            lock(tally),
                            indices.len()
                        );
                    }
                }
            });
        }
    });
}

#[derive(Default)]
struct Tally {
    examined: usize,
    pages: usize,
    photos: usize,
    false_positives: Vec<String>,
    detect_ms: f64,
}

fn main() {
    let target = env_num("FPR_TARGET", 10_000);
    let max_pages = env_num("FPR_MAX_PAGES", 40);
    let threads = env_num(
        "FPR_THREADS",
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    let pdfs = files(&env_list("FPR_PDFS", "/usr/share/doc"), &["pdf"]);
    let images = files(
        &env_list("FPR_IMAGES", "/usr/share"),
        &["png", "jpg", "jpeg", "webp", "gif"],
    );
    let mut sources = Vec::new();
    for pdf in &pdfs {
        let pages = std::fs::read(pdf)
            .ok()
            .and_then(|b| PdfDocument::open(Zeroizing::new(b)).ok())
            .map_or(0, |d| d.page_count());
        for i in 0..pages.min(u32::try_from(max_pages).unwrap_or(u32::MAX)) {
            sources.push(Source::Page(pdf.clone(), i));
        }
    }
    let page_sources = sources.len();
    sources.extend(images.iter().cloned().map(Source::Image));
    println!(
        "# Forensic watermark false positives\n\n{} PDF files ({page_sources} pages, at most {max_pages} each), {} image files; target {target} pictures, {threads} threads\n",
        pdfs.len(),
        images.len()
    );
    assert!(!sources.is_empty(), "no PDFs or images found");

    let detector = Detector::new(&WatermarkKey::from_bytes(KEY));
    let tally = Mutex::new(Tally::default());
    let usable = Mutex::new(Vec::new());
    let t0 = Instant::now();
    // Round 1 examines every source as it is (variant 0) and learns which sources are usable
    // (readable, at least MIN_SIDE on each side); round 2 shares what is left of the target
    // among those as random crops, rescales and re-encodes.
    let all: Vec<usize> = (0..sources.len()).collect();
    examine(
        &sources,
        &all,
        0..1,
        threads,
        &detector,
        &tally,
        Some(&usable),
    );
    let mut usable = usable
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    usable.sort_unstable();
    let done = tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .examined;
    let remaining = target.saturating_sub(done);
    if remaining > 0 && !usable.is_empty() {
        let per = remaining.div_ceil(usable.len());
        eprintln!(
            "  round 2: {} usable sources, {per} variants each",
            usable.len()
        );
        examine(
            &sources,
            &usable,
            1..per + 1,
            threads,
            &detector,
            &tally,
            None,
        );
    }
    let t = tally
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!(
        "| pictures examined | from PDF pages | from image files | false positives | ms/detect (mean) | wall time |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {:.0} | {:.0} s |",
        t.examined,
        t.pages,
        t.photos,
        t.false_positives.len(),
        t.detect_ms / t.examined.max(1) as f64,
        t0.elapsed().as_secs_f64()
    );
    for fp in &t.false_positives {
        println!("FALSE POSITIVE: {fp}");
    }
    println!(
        "\nDesign bound: ≤ 18 × 2^-32 ≈ 4.2e-9 per picture; with 0 of {n} observed, the 95 % upper confidence bound on the rate is {:.1e} (rule of three).",
        3.0 / t.examined.max(1) as f64,
        n = t.examined
    );
}
