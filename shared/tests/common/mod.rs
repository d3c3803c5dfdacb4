//! Test pictures and the attack suite for the watermark tests and the attack benchmark.
//!
//! Pictures are generated procedurally (a white-background line drawing and a shaded 3D-like
//! render) so that the tests need no binary fixtures. Attacks use the `image` crate where it has
//! the operation (resize, blur, JPEG, WebP) and small hand-written code otherwise.
#![allow(dead_code, missing_docs, clippy::cast_possible_truncation)]

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, RgbImage, RgbaImage};
use veilmark_shared::xorshift::XorShift64Star;

/// The workspace's deterministic generator (xorshift64*) with the float helpers the pictures and
/// attacks need, so runs are reproducible.
pub struct Rng(XorShift64Star);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(XorShift64Star::seeded(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
}

fn dist_to_segment(px: f32, py: f32, a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((px - cx).powi(2) + (py - cy).powi(2)).sqrt()
}

/// A technical drawing: black strokes on white — frame, title block, part outline, circles,
/// hatching, dimension lines and text-like scribbles. Antialiased.
pub fn line_drawing(width: u32, height: u32, seed: u64) -> RgbaImage {
    let (w, h) = (width as f32, height as f32);
    let mut rng = Rng::new(seed);
    type Segment = ((f32, f32), (f32, f32), f32);
    let mut segments: Vec<Segment> = Vec::new();
    let mut circles: Vec<((f32, f32), f32, f32)> = Vec::new();
    // Frame and title block.
    let m = 10.0;
    let frame = [(m, m), (w - m, m), (w - m, h - m), (m, h - m)];
    for i in 0..4 {
        segments.push((frame[i], frame[(i + 1) % 4], 1.2));
    }
    let (tx, ty) = (w * 0.62, h * 0.8);
    segments.push(((tx, ty), (w - m, ty), 0.8));
    segments.push(((tx, ty), (tx, h - m), 0.8));
    // Part outline: a bracket.
    let (x0, y0, x1, y1) = (w * 0.12, h * 0.15, w * 0.55, h * 0.65);
    let outline = [
        (x0, y0),
        (x1, y0),
        (x1, y0 + (y1 - y0) * 0.35),
        (x0 + (x1 - x0) * 0.4, y0 + (y1 - y0) * 0.35),
        (x0 + (x1 - x0) * 0.4, y1),
        (x0, y1),
    ];
    for i in 0..outline.len() {
        segments.push((outline[i], outline[(i + 1) % outline.len()], 1.0));
    }
    // Hatching inside the lower leg.
    let mut k = 0.0;
    while k < (x1 - x0) * 0.4 + (y1 - y0) * 0.65 {
        let a = (x0 + k, y1);
        let b = (x0 + k - (y1 - y0) * 0.3, y1 - (y1 - y0) * 0.3);
        segments.push((a, b, 0.5));
        k += 7.0;
    }
    // Holes and a second view with circles.
    circles.push((
        (x0 + (x1 - x0) * 0.75, y0 + (y1 - y0) * 0.17),
        h * 0.05,
        0.9,
    ));
    circles.push(((x0 + (x1 - x0) * 0.2, y0 + (y1 - y0) * 0.6), h * 0.04, 0.9));
    let (cx, cy) = (w * 0.78, h * 0.38);
    for r in [h * 0.2, h * 0.14, h * 0.06] {
        circles.push(((cx, cy), r, 1.0));
    }
    segments.push(((cx - h * 0.25, cy), (cx + h * 0.25, cy), 0.4));
    segments.push(((cx, cy - h * 0.25), (cx, cy + h * 0.25), 0.4));
    // Dimension lines.
    segments.push(((x0, y1 + 14.0), (x1, y1 + 14.0), 0.5));
    segments.push(((x0, y1 + 8.0), (x0, y1 + 20.0), 0.5));
    segments.push(((x1, y1 + 8.0), (x1, y1 + 20.0), 0.5));
    // Text-like scribbles in the title block and next to dimensions.
    for line in 0..3 {
        let mut x = tx + 6.0;
        let y = ty + 8.0 + line as f32 * 11.0;
        while x < w - m - 8.0 && y + 7.0 < h - m {
            let strokes = 2 + (rng.next_u64() % 3) as usize;
            for _ in 0..strokes {
                let a = (x + rng.range(0.0, 5.0), y + rng.range(0.0, 7.0));
                let b = (x + rng.range(0.0, 5.0), y + rng.range(0.0, 7.0));
                segments.push((a, b, 0.45));
            }
            x += 7.0;
        }
    }
    let mut img = RgbaImage::from_pixel(width, height, image::Rgba([255, 255, 255, 255]));
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
        let mut ink = 0.0f32;
        for &(a, b, half) in &segments {
            if fx < a.0.min(b.0) - 3.0
                || fx > a.0.max(b.0) + 3.0
                || fy < a.1.min(b.1) - 3.0
                || fy > a.1.max(b.1) + 3.0
            {
                continue;
            }
            let d = dist_to_segment(fx, fy, a, b);
            ink = ink.max((half + 0.5 - d).clamp(0.0, 1.0));
        }
        for &(c, r, half) in &circles {
            let d = (((fx - c.0).powi(2) + (fy - c.1).powi(2)).sqrt() - r).abs();
            ink = ink.max((half + 0.5 - d).clamp(0.0, 1.0));
        }
        let v = (255.0 * (1.0 - ink) + 20.0 * ink).round() as u8;
        *px = image::Rgba([v, v, v, 255]);
    }
    img
}

/// A shaded 3D-like render: a vertical background gradient, Lambert-shaded spheres, a box with
/// three flat-shaded faces and a cylinder, with soft shadows.
pub fn shaded_render(width: u32, height: u32, seed: u64) -> RgbaImage {
    let (w, h) = (width as f32, height as f32);
    let mut rng = Rng::new(seed);
    let light = {
        let (x, y, z): (f32, f32, f32) = (-0.5, -0.7, 0.6);
        let n = (x * x + y * y + z * z).sqrt();
        (x / n, y / n, z / n)
    };
    let spheres: Vec<((f32, f32), f32, [f32; 3])> = (0..3)
        .map(|i| {
            let r = h * rng.range(0.12, 0.2);
            let c = (w * (0.2 + 0.3 * i as f32), h * rng.range(0.35, 0.6));
            let colour = [
                rng.range(0.4, 0.9),
                rng.range(0.4, 0.9),
                rng.range(0.4, 0.9),
            ];
            (c, r, colour)
        })
        .collect();
    let (bx, by, bs) = (w * 0.68, h * 0.62, h * 0.22);
    let mut img = RgbaImage::new(width, height);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32, y as f32);
        let t = fy / h;
        let mut rgb = [0.85 - 0.25 * t, 0.88 - 0.2 * t, 0.95 - 0.1 * t];
        // Ground shadow under the box.
        let sd = ((fx - bx - bs * 0.3) / (bs * 1.2)).powi(2)
            + ((fy - by - bs * 0.9) / (bs * 0.3)).powi(2);
        if sd < 1.0 {
            let k = 1.0 - 0.3 * (1.0 - sd);
            rgb.iter_mut().for_each(|c| *c *= k);
        }
        // Box: front face, top face (parallelogram), side face.
        let (fx0, fy0) = (bx - bs / 2.0, by - bs / 2.0);
        let depth = bs * 0.4;
        if fx >= fx0 && fx <= fx0 + bs && fy >= fy0 && fy <= fy0 + bs {
            let g = 0.55 + 0.1 * (fy - fy0) / bs;
            rgb = [0.3 * g + 0.2, 0.45 * g + 0.2, 0.7 * g + 0.1];
        } else if fy < fy0
            && fy >= fy0 - depth
            && fx >= fx0 + (fy0 - fy)
            && fx <= fx0 + bs + (fy0 - fy)
        {
            rgb = [0.55, 0.7, 0.9];
        } else if fx > fx0 + bs
            && fx <= fx0 + bs + depth
            && fy <= fy0 + bs - (fx - fx0 - bs)
            && fy >= fy0 - (fx - fx0 - bs)
        {
            rgb = [0.2, 0.3, 0.5];
        }
        // Spheres (Lambert + a little specular).
        for &(c, r, colour) in &spheres {
            let (dx, dy) = ((fx - c.0) / r, (fy - c.1) / r);
            let d2 = dx * dx + dy * dy;
            if d2 < 1.0 {
                let nz = (1.0 - d2).sqrt();
                let lambert = (dx * light.0 + dy * light.1 + nz * light.2).max(0.0);
                let spec = lambert.powi(30) * 0.5;
                for (o, col) in rgb.iter_mut().zip(colour) {
                    *o = (col * (0.15 + 0.85 * lambert) + spec).min(1.0);
                }
            }
        }
        *px = image::Rgba([
            (rgb[0] * 255.0).round() as u8,
            (rgb[1] * 255.0).round() as u8,
            (rgb[2] * 255.0).round() as u8,
            255,
        ]);
    }
    img
}

/// Peak signal-to-noise ratio over R, G and B, in dB.
pub fn psnr(a: &RgbaImage, b: &RgbaImage) -> f64 {
    let mut se = 0.0f64;
    let mut n = 0usize;
    for (p, q) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            let d = f64::from(p[c]) - f64::from(q[c]);
            se += d * d;
            n += 1;
        }
    }
    let mse = se / n as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

fn luma(img: &RgbaImage) -> Vec<f64> {
    img.pixels()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect()
}

/// Mean SSIM on luma with the standard 11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03.
pub fn ssim(a: &RgbaImage, b: &RgbaImage) -> f64 {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let (x, y) = (luma(a), luma(b));
    let kernel: Vec<f64> = (-5..=5)
        .map(|i: i32| (-(f64::from(i * i)) / (2.0 * 1.5 * 1.5)).exp())
        .collect();
    let ksum: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / ksum).collect();
    let blur = |src: &[f64]| -> Vec<f64> {
        let mut tmp = vec![0.0; w * h];
        for r in 0..h {
            for c in 5..w - 5 {
                tmp[r * w + c] = (0..11).map(|k| kernel[k] * src[r * w + c + k - 5]).sum();
            }
        }
        let mut out = vec![0.0; w * h];
        for r in 5..h - 5 {
            for c in 5..w - 5 {
                out[r * w + c] = (0..11).map(|k| kernel[k] * tmp[(r + k - 5) * w + c]).sum();
            }
        }
        out
    };
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p * q).collect();
    let (mx, my, sxx, syy, sxy) = (blur(&x), blur(&y), blur(&xx), blur(&yy), blur(&xy));
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let mut total = 0.0;
    let mut n = 0usize;
    for r in 5..h - 5 {
        for c in 5..w - 5 {
            let i = r * w + c;
            let (ux, uy) = (mx[i], my[i]);
            let (vx, vy, cxy) = (sxx[i] - ux * ux, syy[i] - uy * uy, sxy[i] - ux * uy);
            total += ((2.0 * ux * uy + c1) * (2.0 * cxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            n += 1;
        }
    }
    total / n as f64
}

/// One attack of the suite, as in the list.
#[derive(Clone, Copy, Debug)]
pub enum Attack {
    None,
    Resize(f32, bool),
    Jpeg(u8),
    WebpLossless,
    /// Lossy WebP at this quality, through libwebp's `cwebp`/`dwebp` (Debian package `webp`;
    /// the `image` crate only encodes lossless WebP). Benchmark only.
    WebpLossy(u8),
    Crop(f32),
    Border,
    BrowserFrame,
    Gamma(f32),
    Brightness(f32),
    Contrast(f32),
    Rotate(f32),
    Blur,
    Noise,
    /// Screenshot at 0.75×, crop to 80 % of the area, JPEG 70.
    Combined,
}

impl Attack {
    pub fn name(&self) -> String {
        match self {
            Attack::None => "none".into(),
            Attack::Resize(s, cubic) => format!(
                "resize {s}x {}",
                if *cubic { "bicubic" } else { "bilinear" }
            ),
            Attack::Jpeg(q) => format!("JPEG q{q}"),
            Attack::WebpLossless => "WebP (lossless)".into(),
            Attack::WebpLossy(q) => format!("WebP (lossy q{q})"),
            Attack::Crop(f) => format!("crop {}% area", (f * 100.0).round()),
            Attack::Border => "40px grey border".into(),
            Attack::BrowserFrame => "fake browser frame".into(),
            Attack::Gamma(g) => format!("gamma {g}"),
            Attack::Brightness(b) => format!("brightness {:+}%", (b * 100.0).round()),
            Attack::Contrast(c) => format!("contrast {:+}%", (c * 100.0).round()),
            Attack::Rotate(d) => format!("rotate {d:+}°"),
            Attack::Blur => "gaussian blur σ=1".into(),
            Attack::Noise => "noise σ=3".into(),
            Attack::Combined => "0.75x + crop 80% + JPEG 70".into(),
        }
    }

    /// The attack list.
    pub fn suite() -> Vec<Attack> {
        let mut v = vec![Attack::None];
        for s in [0.5, 0.75, 1.25, 1.5] {
            v.push(Attack::Resize(s, false));
            v.push(Attack::Resize(s, true));
        }
        v.extend([
            Attack::Jpeg(90),
            Attack::Jpeg(70),
            Attack::Jpeg(50),
            Attack::WebpLossless,
            Attack::WebpLossy(80),
        ]);
        v.extend([Attack::Crop(0.9), Attack::Crop(0.75), Attack::Crop(0.6)]);
        v.extend([Attack::Border, Attack::BrowserFrame]);
        v.extend([Attack::Gamma(0.8), Attack::Gamma(1.2)]);
        v.extend([Attack::Brightness(0.1), Attack::Brightness(-0.1)]);
        v.extend([Attack::Contrast(0.15), Attack::Contrast(-0.15)]);
        v.extend([
            Attack::Rotate(1.0),
            Attack::Rotate(-1.0),
            Attack::Rotate(3.0),
            Attack::Rotate(-3.0),
        ]);
        v.extend([Attack::Blur, Attack::Noise, Attack::Combined]);
        v
    }

    pub fn apply(&self, img: &RgbaImage, rng: &mut Rng) -> RgbaImage {
        match *self {
            Attack::None => img.clone(),
            Attack::Resize(s, cubic) => resize(img, s, cubic),
            Attack::Jpeg(q) => jpeg(img, q),
            Attack::WebpLossless => webp_lossless(img),
            Attack::WebpLossy(q) => webp_lossy(img, q),
            Attack::Crop(f) => crop(img, f, rng),
            Attack::Border => border(img, 40, [128, 128, 128]),
            Attack::BrowserFrame => browser_frame(img),
            Attack::Gamma(g) => map(img, |v| 255.0 * (v / 255.0).powf(g)),
            Attack::Brightness(b) => map(img, |v| v * (1.0 + b)),
            Attack::Contrast(c) => map(img, |v| 128.0 + (v - 128.0) * (1.0 + c)),
            Attack::Rotate(d) => rotate(img, d),
            Attack::Blur => image::imageops::blur(img, 1.0),
            Attack::Noise => noise(img, 3.0, rng),
            Attack::Combined => jpeg(&crop(&resize(img, 0.75, false), 0.8, rng), 70),
        }
    }
}

pub fn resize(img: &RgbaImage, s: f32, cubic: bool) -> RgbaImage {
    let w = ((img.width() as f32 * s).round() as u32).max(1);
    let h = ((img.height() as f32 * s).round() as u32).max(1);
    let filter = if cubic {
        FilterType::CatmullRom
    } else {
        FilterType::Triangle
    };
    image::imageops::resize(img, w, h, filter)
}

pub fn jpeg(img: &RgbaImage, quality: u8) -> RgbaImage {
    let rgb: RgbImage = DynamicImage::ImageRgba8(img.clone()).to_rgb8();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(&rgb)
        .expect("JPEG encode");
    let decoder = JpegDecoder::new(std::io::Cursor::new(bytes)).expect("JPEG header");
    let mut out = vec![0u8; decoder.total_bytes() as usize];
    let (w, h) = decoder.dimensions();
    decoder.read_image(&mut out).expect("JPEG decode");
    DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, out).expect("size")).to_rgba8()
}

/// Lossy WebP through libwebp's command-line tools (as Pillow would encode it: same library).
pub fn webp_lossy(img: &RgbaImage, quality: u8) -> RgbaImage {
    let dir = std::env::temp_dir().join(format!(
        "veilmark-webp-{}-{:x}",
        std::process::id(),
        std::ptr::from_ref(img) as usize
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (png, webp, back) = (dir.join("in.png"), dir.join("x.webp"), dir.join("out.png"));
    image::DynamicImage::ImageRgba8(img.clone())
        .to_rgb8()
        .save(&png)
        .expect("write PNG");
    let run = |cmd: &str, args: &[&std::ffi::OsStr]| {
        let ok = std::process::Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd} ({e}): apt-get install webp"))
            .status
            .success();
        assert!(ok, "{cmd} failed");
    };
    let q = quality.to_string();
    run(
        "cwebp",
        &[
            "-quiet".as_ref(),
            "-q".as_ref(),
            q.as_ref(),
            png.as_os_str(),
            "-o".as_ref(),
            webp.as_os_str(),
        ],
    );
    run(
        "dwebp",
        &[
            "-quiet".as_ref(),
            webp.as_os_str(),
            "-o".as_ref(),
            back.as_os_str(),
        ],
    );
    let out = image::open(&back).expect("dwebp output").to_rgba8();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

pub fn webp_lossless(img: &RgbaImage) -> RgbaImage {
    let mut bytes = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut bytes)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .expect("WebP encode");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP)
        .expect("WebP decode")
        .to_rgba8()
}

/// Keeps `fraction` of the area (same aspect ratio) at a random offset.
pub fn crop(img: &RgbaImage, fraction: f32, rng: &mut Rng) -> RgbaImage {
    let side = fraction.sqrt();
    let w = (img.width() as f32 * side).round() as u32;
    let h = (img.height() as f32 * side).round() as u32;
    let x = (rng.unit() * (img.width() - w) as f32) as u32;
    let y = (rng.unit() * (img.height() - h) as f32) as u32;
    image::imageops::crop_imm(img, x, y, w, h).to_image()
}

pub fn border(img: &RgbaImage, b: u32, colour: [u8; 3]) -> RgbaImage {
    let mut out = RgbaImage::from_pixel(
        img.width() + 2 * b,
        img.height() + 2 * b,
        image::Rgba([colour[0], colour[1], colour[2], 255]),
    );
    image::imageops::overlay(&mut out, img, i64::from(b), i64::from(b));
    out
}

/// A fake browser window: tab strip, address bar with text-like marks, side and bottom edges.
pub fn browser_frame(img: &RgbaImage) -> RgbaImage {
    let (top, side) = (86u32, 6u32);
    let mut out = RgbaImage::from_pixel(
        img.width() + 2 * side,
        img.height() + top + side,
        image::Rgba([222, 225, 230, 255]),
    );
    for (x, y, px) in out.enumerate_pixels_mut() {
        if y < 40 && (120..330).contains(&x) && y > 8 {
            *px = image::Rgba([255, 255, 255, 255]); // active tab
        }
        if (48..78).contains(&y) && x > 90 && x + 90 < img.width() {
            *px = image::Rgba([241, 243, 244, 255]); // address bar
            if (58..68).contains(&y) && x > 110 && x < 420 && (x / 3) % 4 != 0 {
                *px = image::Rgba([60, 64, 67, 255]); // url text
            }
        }
        if (52..74).contains(&y) && (10..80).contains(&x) && x % 22 < 14 {
            *px = image::Rgba([95, 99, 104, 255]); // nav buttons
        }
    }
    image::imageops::overlay(&mut out, img, i64::from(side), i64::from(top));
    out
}

pub fn map(img: &RgbaImage, f: impl Fn(f32) -> f32) -> RgbaImage {
    let lut: Vec<u8> = (0..256)
        .map(|v| f(v as f32).round().clamp(0.0, 255.0) as u8)
        .collect();
    let mut out = img.clone();
    for px in out.pixels_mut() {
        for c in 0..3 {
            px[c] = lut[px[c] as usize];
        }
    }
    out
}

/// Rotates about the centre by `degrees` (bilinear), same canvas, corners filled with white.
pub fn rotate(img: &RgbaImage, degrees: f32) -> RgbaImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w / 2.0, h / 2.0);
    let mut out =
        RgbaImage::from_pixel(img.width(), img.height(), image::Rgba([255, 255, 255, 255]));
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        // Inverse rotation: where does this output pixel come from?
        let sx = c * dx + s * dy + cx;
        let sy = -s * dx + c * dy + cy;
        if sx < 0.0 || sy < 0.0 || sx > w - 1.0 || sy > h - 1.0 {
            continue;
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = (
            (x0 + 1).min(img.width() - 1),
            (y0 + 1).min(img.height() - 1),
        );
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        for ch in 0..4 {
            let v = f32::from(img.get_pixel(x0, y0)[ch]) * (1.0 - fx) * (1.0 - fy)
                + f32::from(img.get_pixel(x1, y0)[ch]) * fx * (1.0 - fy)
                + f32::from(img.get_pixel(x0, y1)[ch]) * (1.0 - fx) * fy
                + f32::from(img.get_pixel(x1, y1)[ch]) * fx * fy;
            px[ch] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

pub fn noise(img: &RgbaImage, sigma: f32, rng: &mut Rng) -> RgbaImage {
    let mut out = img.clone();
    for px in out.pixels_mut() {
        for c in 0..3 {
            px[c] = (f32::from(px[c]) + sigma * rng.normal())
                .round()
                .clamp(0.0, 255.0) as u8;
        }
    }
    out
}
