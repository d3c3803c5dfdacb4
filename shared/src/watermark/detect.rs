//! Blind detection: find the tile lattice, fold, synchronise, decode (`docs/watermark.md#detection`).
//!
//! 1. **Whiten.** Luma minus a local mean (a high-pass filter); residuals much larger than the
//!    watermark (strokes, text, object edges) are faded out, since there the picture drowns it.
//! 2. **Lattice.** The tile repeats, so the autocorrelation of the residual has peaks on the
//!    tile lattice: two orthogonal vectors whose length is the tile size times the scale and
//!    whose angle is the rotation. We compute a spectrally whitened autocorrelation with one FFT
//!    and score every lattice of the allowed scales (0.45×–1.6×) and rotations (±5°).
//! 3. **Fold.** Every pixel is mapped into tile coordinates through the lattice and accumulated:
//!    the tile repeats, the picture does not, so the sum grows the watermark and averages the
//!    picture out.
//! 4. **Synchronise.** Circular cross-correlation of the folded tile with the key's sync
//!    template gives the translation (where the tile starts).
//! 5. **Decode.** Each chip is read through its kernel, combined per coded bit with its keyed
//!    sign, and the soft values go to the Viterbi decoder; the keyed 32-bit check decides.

// Image processing converts between pixel coordinates (f32) and indices (usize/isize) all
// over; every such value is bounded by the window (at most 1024 + 300) or the tile (128).
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;

use super::fft::{fast_size, fft2d};
use super::pattern::{
    self, CHIP, CHIPS, CODED_BITS, ChipRole, GRID, INFO_BITS, Layout, TILE, WatermarkKey,
};
use super::{Detection, Geometry, SessionCode, WatermarkError, fec, validate_frame};

/// Frames smaller than this on either side cannot hold enough of the tile to decode.
pub const MIN_SIDE: u32 = 64;
/// The analysis looks at a central window at most this large (enough tiles at any scale).
const MAX_WINDOW: usize = 1024;
/// Radius of the box filters (applied twice) whose output is subtracted to whiten the luma.
const HIGHPASS_RADIUS: usize = 3;
/// Residuals up to this many grey levels are kept as they are (the watermark lives here)...
const KEEP: f32 = 4.0;
/// ...and from this many on they are dropped: strokes and edges, not watermark.
const DROP: f32 = 8.0;
/// Radius of the window over which the picture's local residual energy is measured.
const LOUDNESS_RADIUS: usize = 4;
/// Local residual RMS (grey levels) below which pixels get full weight.
const LOUDNESS_FLOOR: f32 = 2.0;
/// Smallest and largest scale searched.
const MIN_SCALE: f32 = 0.45;
const MAX_SCALE: f32 = 1.6;
/// Largest rotation searched, in degrees.
const MAX_ROTATION_DEG: f32 = 5.0;
/// Lattice candidates tried.
const LATTICE_CANDIDATES: usize = 6;
/// Translation candidates tried per lattice.
const SHIFT_CANDIDATES: usize = 3;
/// Decoding attempts per image, each passing the 32-bit check with chance 2^-32 on noise.
pub const MAX_ATTEMPTS: usize = LATTICE_CANDIDATES * SHIFT_CANDIDATES;

/// Reads forensic watermarks made with one key.
pub struct Detector {
    key: WatermarkKey,
    layout: Layout,
    /// Conjugated FFT of the sync template.
    sync_conj: Vec<Complex32>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Detector(..)")
    }
}

/// The 2-D window of residuals the detector works on.
struct Residual {
    data: Vec<f32>,
    width: usize,
    height: usize,
    /// Position of the window's top-left corner in the frame.
    origin: (usize, usize),
}

/// A square-ish lattice: the images of the tile's x and y axes, in pixels.
#[derive(Clone, Copy, Debug)]
struct Lattice {
    v1: (f32, f32),
    v2: (f32, f32),
}

impl Detector {
    /// Prepares a detector for `key` (derives the layout and the sync template once).
    #[must_use]
    pub fn new(key: &WatermarkKey) -> Self {
        let layout = Layout::new(key);
        let sync = pattern::render_tile(&layout.amplitudes(None));
        let mut spectrum: Vec<Complex32> = sync.iter().map(|&v| Complex32::new(v, 0.0)).collect();
        let mut planner = FftPlanner::new();
        fft2d(&mut planner, &mut spectrum, TILE, TILE, false);
        let sync_conj = spectrum.iter().map(|c| c.conj()).collect();
        Self {
            key: key.clone(),
            layout,
            sync_conj,
        }
    }

    /// Looks for a watermark made with this detector's key in an RGBA frame.
    ///
    /// Returns `Ok(None)` when no watermark is found (including frames too small to hold one).
    ///
    /// # Errors
    /// [`WatermarkError::InvalidDimensions`] or [`WatermarkError::BufferSize`] when the buffer
    /// does not hold `width`×`height` RGBA pixels.
    pub fn detect(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
    ) -> Result<Option<Detection>, WatermarkError> {
        let (w, h) = validate_frame(rgba.len(), width, height)?;
        if width < MIN_SIDE || height < MIN_SIDE {
            return Ok(None);
        }
        let residual = residual_window(rgba, w, h);
        let mut planner = FftPlanner::new();
        let lattices = find_lattices(&mut planner, &residual);
        for lattice in lattices {
            let folded = fold(&residual, lattice);
            for shift in self.sync_shifts(&mut planner, &folded) {
                if let Some(mut detection) = self.decode_at(&folded, shift.0) {
                    detection.sync_score = shift.1;
                    detection.geometry = geometry(lattice, shift.0, residual.origin);
                    return Ok(Some(detection));
                }
            }
        }
        Ok(None)
    }

    /// Best cyclic shifts of the sync template in the folded tile, with their z-scores.
    fn sync_shifts(
        &self,
        planner: &mut FftPlanner<f32>,
        folded: &[f32],
    ) -> Vec<((usize, usize), f32)> {
        let mut spectrum: Vec<Complex32> = folded.iter().map(|&v| Complex32::new(v, 0.0)).collect();
        fft2d(planner, &mut spectrum, TILE, TILE, false);
        for (x, s) in spectrum.iter_mut().zip(&self.sync_conj) {
            let norm = x.norm().max(1e-9);
            *x = *x * *s / norm;
        }
        fft2d(planner, &mut spectrum, TILE, TILE, true);
        let corr: Vec<f32> = spectrum.iter().map(|c| c.re).collect();
        let n = corr.len() as f32;
        let mean = corr.iter().sum::<f32>() / n;
        let var = corr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let std = var.sqrt().max(1e-12);
        let mut peaks: Vec<((usize, usize), f32)> = Vec::new();
        while peaks.len() < SHIFT_CANDIDATES {
            let mut best: Option<(usize, f32)> = None;
            for (idx, &v) in corr.iter().enumerate() {
                if best.is_some_and(|(_, b)| b >= v) {
                    continue;
                }
                let (x, y) = (idx % TILE, idx / TILE);
                let near = peaks.iter().any(|&((px, py), _)| {
                    cyclic_distance(px, x, TILE) <= 2 && cyclic_distance(py, y, TILE) <= 2
                });
                if !near {
                    best = Some((idx, v));
                }
            }
            let Some((idx, v)) = best else { break };
            peaks.push(((idx % TILE, idx / TILE), (v - mean) / std));
        }
        peaks
    }

    /// Reads the payload from the folded tile, assuming the tile starts at `shift`.
    fn decode_at(&self, folded: &[f32], shift: (usize, usize)) -> Option<Detection> {
        let mut chip_values = vec![0.0f32; CHIPS];
        let reach = CHIP as isize;
        let weights: Vec<f32> = (-reach + 1..reach)
            .map(|t| pattern::kernel(t as f32))
            .collect();
        for gy in 0..GRID {
            for gx in 0..GRID {
                let cx = (gx * CHIP + shift.0) as isize;
                let cy = (gy * CHIP + shift.1) as isize;
                let mut sum = 0.0;
                for (dy, wy) in (-reach + 1..reach).zip(&weights) {
                    let y = (cy + dy).rem_euclid(TILE as isize) as usize;
                    for (dx, wx) in (-reach + 1..reach).zip(&weights) {
                        let x = (cx + dx).rem_euclid(TILE as isize) as usize;
                        sum += wy * wx * folded[y * TILE + x];
                    }
                }
                chip_values[gy * GRID + gx] = sum;
            }
        }
        // Clipping at white keeps only the dark half of the pattern, which leaves a bias that
        // is nearly the same at every chip centre; remove it.
        let bias = chip_values.iter().sum::<f32>() / CHIPS as f32;
        for v in &mut chip_values {
            *v -= bias;
        }
        let mut soft = vec![0.0f32; CODED_BITS];
        for (role, value) in self.layout.roles.iter().zip(&chip_values) {
            if let ChipRole::Data { bit, sign } = *role {
                soft[usize::from(bit)] += f32::from(sign) * value;
            }
        }
        let rms = (soft.iter().map(|v| v * v).sum::<f32>() / soft.len() as f32).sqrt();
        if rms.is_nan() || rms <= 0.0 {
            return None;
        }
        for v in &mut soft {
            *v /= rms;
        }
        let bits = fec::decode(&soft, INFO_BITS)?;
        let (code, check) = pattern::split_info(&bits);
        if check != pattern::check(&self.key, code) {
            return None;
        }
        let coded = fec::encode(&bits);
        let mut errors = 0u32;
        let mut agreement = 0.0f32;
        for (&c, &s) in coded.iter().zip(&soft) {
            let sign = if c == 1 { 1.0 } else { -1.0 };
            if sign * s < 0.0 {
                errors += 1;
            }
            agreement += sign * s;
        }
        let confidence = agreement / soft.len() as f32;
        Some(Detection {
            code: SessionCode::new(code).ok()?,
            confidence,
            bit_errors_corrected: errors,
            sync_score: 0.0,
            geometry: Geometry::default(),
        })
    }
}

/// Where the tile lies in the frame, from the lattice and the sync shift.
fn geometry(lattice: Lattice, shift: (usize, usize), origin: (usize, usize)) -> Geometry {
    let (a, b) = lattice.v1;
    let scale = (a * a + b * b).sqrt() / TILE as f32;
    let rotation_degrees = b.atan2(a).to_degrees();
    let (u, v) = (shift.0 as f32 / TILE as f32, shift.1 as f32 / TILE as f32);
    let x = origin.0 as f32 + u * lattice.v1.0 + v * lattice.v2.0;
    let y = origin.1 as f32 + u * lattice.v1.1 + v * lattice.v2.1;
    Geometry {
        scale,
        rotation_degrees,
        tile_origin: (x, y),
    }
}

fn cyclic_distance(a: usize, b: usize, n: usize) -> usize {
    let d = a.abs_diff(b);
    d.min(n - d)
}

/// Luma of the central window, minus its local mean, clipped.
fn residual_window(rgba: &[u8], w: usize, h: usize) -> Residual {
    let (ww, wh) = (w.min(MAX_WINDOW), h.min(MAX_WINDOW));
    let (ox, oy) = ((w - ww) / 2, (h - wh) / 2);
    let mut luma = vec![0.0f32; ww * wh];
    for y in 0..wh {
        let row = &rgba[((oy + y) * w + ox) * 4..((oy + y) * w + ox + ww) * 4];
        for (x, px) in row.chunks_exact(4).enumerate() {
            luma[y * ww + x] =
                0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2]);
        }
    }
    let mut blurred = luma.clone();
    for _ in 0..2 {
        box_blur(&mut blurred, ww, wh, HIGHPASS_RADIUS, false);
    }
    let mut data: Vec<f32> = luma
        .iter()
        .zip(&blurred)
        .map(|(l, b)| suppress_outlier(l - b))
        .collect();
    // Weight by the inverse local loudness of the picture: textured areas (fur, foliage, JPEG
    // noise) count less than flat ones, where the watermark is all there is.
    let mut energy: Vec<f32> = data.iter().map(|v| v * v).collect();
    box_blur(&mut energy, ww, wh, LOUDNESS_RADIUS, false);
    for (v, e) in data.iter_mut().zip(&energy) {
        *v *= LOUDNESS_FLOOR / e.sqrt().max(LOUDNESS_FLOOR);
    }
    let mean = data.iter().sum::<f32>() / data.len() as f32;
    for v in &mut data {
        *v -= mean;
    }
    Residual {
        data,
        width: ww,
        height: wh,
        origin: (ox, oy),
    }
}

/// Keeps small residuals, fades out larger ones and drops strong ones (edges, strokes, text):
/// near a stroke the picture is far louder than the watermark, so those pixels carry only noise.
fn suppress_outlier(r: f32) -> f32 {
    let a = r.abs();
    if a <= KEEP {
        r
    } else if a >= DROP {
        0.0
    } else {
        r * (DROP - a) / (DROP - KEEP)
    }
}

/// Separable box mean of radius `r`; at the borders either wraps (`wrap`) or averages over
/// the pixels that exist.
fn box_blur(data: &mut [f32], w: usize, h: usize, r: usize, wrap: bool) {
    let mut line = Vec::new();
    let mut out = Vec::new();
    // Rows.
    for y in 0..h {
        line.clear();
        line.extend_from_slice(&data[y * w..(y + 1) * w]);
        box_line(&line, &mut out, r, wrap);
        data[y * w..(y + 1) * w].copy_from_slice(&out);
    }
    // Columns.
    for x in 0..w {
        line.clear();
        line.extend((0..h).map(|y| data[y * w + x]));
        box_line(&line, &mut out, r, wrap);
        for (y, v) in out.iter().enumerate() {
            data[y * w + x] = *v;
        }
    }
}

fn box_line(line: &[f32], out: &mut Vec<f32>, r: usize, wrap: bool) {
    let n = line.len();
    out.clear();
    // Prefix sums in f64 so long lines do not lose precision.
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for &v in line {
        let last = *prefix.last().expect("non-empty");
        prefix.push(last + f64::from(v));
    }
    let total = prefix[n];
    for i in 0..n {
        let (lo, hi) = (i as isize - r as isize, i + r + 1);
        let value = if wrap {
            let span = (2 * r + 1) as f64;
            let mut sum = 0.0;
            // Split the window into its in-range part and the wrapped parts.
            let lo_in = lo.max(0) as usize;
            let hi_in = hi.min(n);
            sum += prefix[hi_in] - prefix[lo_in];
            if lo < 0 {
                let k = ((-lo) as usize).min(n);
                sum += total - prefix[n - k];
            }
            if hi > n {
                let k = (hi - n).min(n);
                sum += prefix[k];
            }
            sum / span
        } else {
            let lo = lo.max(0) as usize;
            let hi = hi.min(n);
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        };
        // Means of f32 inputs fit in f32.
        #[allow(clippy::cast_possible_truncation)]
        out.push(value as f32);
    }
}

/// A whitened autocorrelation of the residual, with lag lookup.
struct Autocorrelation {
    values: Vec<f32>,
    pw: usize,
    ph: usize,
    width: usize,
    height: usize,
}

impl Autocorrelation {
    fn new(planner: &mut FftPlanner<f32>, res: &Residual, max_lag: usize) -> Self {
        let pw = fast_size(res.width + max_lag);
        let ph = fast_size(res.height + max_lag);
        let mut spectrum = vec![Complex32::new(0.0, 0.0); pw * ph];
        for y in 0..res.height {
            for x in 0..res.width {
                spectrum[y * pw + x].re = res.data[y * res.width + x];
            }
        }
        fft2d(planner, &mut spectrum, pw, ph, false);
        let mut power: Vec<f32> = spectrum.iter().map(Complex32::norm_sqr).collect();
        let mut local = power.clone();
        box_blur(&mut local, pw, ph, 4, true);
        let floor = local.iter().sum::<f32>() / local.len() as f32 * 1e-3 + 1e-12;
        for (p, l) in power.iter_mut().zip(&local) {
            *p = (*p / (l + floor)).min(50.0);
        }
        power[0] = 0.0;
        let mut acf: Vec<Complex32> = power.iter().map(|&p| Complex32::new(p, 0.0)).collect();
        fft2d(planner, &mut acf, pw, ph, true);
        let values = acf.iter().map(|c| c.re).collect();
        Self {
            values,
            pw,
            ph,
            width: res.width,
            height: res.height,
        }
    }

    /// Autocorrelation at an integer lag, normalised by the overlap area.
    fn at(&self, dx: isize, dy: isize) -> f32 {
        let ox = self.width as isize - dx.abs();
        let oy = self.height as isize - dy.abs();
        if ox <= 0 || oy <= 0 {
            return 0.0;
        }
        let x = dx.rem_euclid(self.pw as isize) as usize;
        let y = dy.rem_euclid(self.ph as isize) as usize;
        self.values[y * self.pw + x] / (ox * oy) as f32
    }

    /// Sub-pixel peak position near `(x, y)`: the best integer lag within one pixel, refined by
    /// a parabola along each axis.
    fn refine(&self, x: f32, y: f32) -> (f32, f32) {
        let (mut bx, mut by) = (x.round() as isize, y.round() as isize);
        let mut best = f32::NEG_INFINITY;
        let (cx, cy) = (bx, by);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let v = self.at(cx + dx, cy + dy);
                if v > best {
                    best = v;
                    (bx, by) = (cx + dx, cy + dy);
                }
            }
        }
        let parabola = |m: f32, c: f32, p: f32| {
            let denom = m - 2.0 * c + p;
            if denom < 0.0 {
                (0.5 * (m - p) / denom).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        };
        let fx = parabola(self.at(bx - 1, by), best, self.at(bx + 1, by));
        let fy = parabola(self.at(bx, by - 1), best, self.at(bx, by + 1));
        (bx as f32 + fx, by as f32 + fy)
    }
}

/// Candidate tile lattices, best first.
fn find_lattices(planner: &mut FftPlanner<f32>, res: &Residual) -> Vec<Lattice> {
    let min_side = res.width.min(res.height) as f32;
    let min_period = TILE as f32 * MIN_SCALE;
    // At least 1.5 periods must fit in the window for the autocorrelation to see one.
    let max_period = (TILE as f32 * MAX_SCALE).min(min_side / 1.5);
    if max_period <= min_period {
        return Vec::new();
    }
    let max_lag = (max_period * std::f32::consts::SQRT_2).ceil() as usize + 2;
    let acf = Autocorrelation::new(planner, res, max_lag);
    let tan = MAX_ROTATION_DEG.to_radians().tan();
    let (pmin, pmax) = (min_period.floor() as isize, max_period.ceil() as isize);
    let dymax = (pmax as f32 * tan).ceil() as isize;
    let rows = (2 * dymax + 1) as usize;
    let cols = (pmax - pmin + 1) as usize;
    let mut score = vec![f32::NEG_INFINITY; rows * cols];
    for dx in pmin..=pmax {
        let limit = dx as f32 * tan + 1.0;
        for dy in -dymax..=dymax {
            if (dy as f32).abs() > limit {
                continue;
            }
            let s = acf.at(dx, dy)
                + acf.at(-dy, dx)
                + 0.5 * (acf.at(dx - dy, dy + dx) + acf.at(dx + dy, dy - dx));
            score[(dy + dymax) as usize * cols + (dx - pmin) as usize] = s;
        }
    }
    let mut maxima: Vec<(f32, isize, isize)> = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let s = score[r * cols + c];
            if s == f32::NEG_INFINITY {
                continue;
            }
            let mut is_max = true;
            'n: for nr in r.saturating_sub(1)..=(r + 1).min(rows - 1) {
                for nc in c.saturating_sub(1)..=(c + 1).min(cols - 1) {
                    if (nr, nc) != (r, c) && score[nr * cols + nc] > s {
                        is_max = false;
                        break 'n;
                    }
                }
            }
            if is_max {
                maxima.push((s, c as isize + pmin, r as isize - dymax));
            }
        }
    }
    maxima.sort_by(|a, b| b.0.total_cmp(&a.0));
    maxima
        .into_iter()
        .take(LATTICE_CANDIDATES)
        .map(|(_, dx, dy)| {
            let (fx, fy) = (dx as f32, dy as f32);
            let e1 = acf.refine(fx, fy);
            let e2 = acf.refine(-fy, fx);
            // Estimates of v1 from both peaks, assuming a square lattice, averaged.
            let v1 = ((e1.0 + e2.1) / 2.0, (e1.1 - e2.0) / 2.0);
            let v2 = (-v1.1, v1.0);
            // Keep the two axes' own estimates where they agree closely (slightly
            // anisotropic resizes), otherwise the averaged square lattice.
            let agree = (e1.0 - v1.0).abs() < 1.0 && (e2.1 - v2.1).abs() < 1.0;
            if agree {
                Lattice { v1: e1, v2: e2 }
            } else {
                Lattice { v1, v2 }
            }
        })
        .collect()
}

/// Accumulates the residual into one tile through the lattice (bilinear splatting).
fn fold(res: &Residual, lattice: Lattice) -> Vec<f32> {
    let (a, b) = lattice.v1;
    let (c, d) = lattice.v2;
    // Image position p = u/T * v1 + v/T * v2; invert the 2×2 matrix [v1 v2].
    let det = a * d - c * b;
    let n = TILE as f32;
    let (i11, i12, i21, i22) = (d / det * n, -c / det * n, -b / det * n, a / det * n);
    let mut acc = vec![0.0f32; TILE * TILE];
    let mut weight = vec![0.0f32; TILE * TILE];
    for y in 0..res.height {
        let fy = y as f32;
        for x in 0..res.width {
            let fx = x as f32;
            let u = (i11 * fx + i12 * fy).rem_euclid(n);
            let v = (i21 * fx + i22 * fy).rem_euclid(n);
            let (u0, v0) = (u.floor(), v.floor());
            let (du, dv) = (u - u0, v - v0);
            let u0 = (u0 as usize) % TILE;
            let v0 = (v0 as usize) % TILE;
            let u1 = (u0 + 1) % TILE;
            let v1 = (v0 + 1) % TILE;
            let r = res.data[y * res.width + x];
            for (idx, wgt) in [
                (v0 * TILE + u0, (1.0 - du) * (1.0 - dv)),
                (v0 * TILE + u1, du * (1.0 - dv)),
                (v1 * TILE + u0, (1.0 - du) * dv),
                (v1 * TILE + u1, du * dv),
            ] {
                acc[idx] += wgt * r;
                weight[idx] += wgt;
            }
        }
    }
    acc.iter()
        .zip(&weight)
        .map(|(s, w)| if *w > 1e-6 { s / w } else { 0.0 })
        .collect()
}
