//! Two-dimensional FFTs over row-major buffers, built from `rustfft`'s one-dimensional plans.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;

/// Forward or inverse (unnormalised) 2-D FFT of a `width`×`height` row-major buffer, in place.
pub(crate) fn fft2d(
    planner: &mut FftPlanner<f32>,
    data: &mut [Complex32],
    width: usize,
    height: usize,
    inverse: bool,
) {
    debug_assert_eq!(data.len(), width * height);
    let (row_plan, col_plan) = if inverse {
        (
            planner.plan_fft_inverse(width),
            planner.plan_fft_inverse(height),
        )
    } else {
        (
            planner.plan_fft_forward(width),
            planner.plan_fft_forward(height),
        )
    };
    row_plan.process(data);
    let mut transposed = vec![Complex32::new(0.0, 0.0); data.len()];
    transpose(data, &mut transposed, width, height);
    col_plan.process(&mut transposed);
    transpose(&transposed, data, height, width);
}

/// Writes the transpose of `src` (`width`×`height`) into `dst` (`height`×`width`).
fn transpose(src: &[Complex32], dst: &mut [Complex32], width: usize, height: usize) {
    const BLOCK: usize = 32;
    for by in (0..height).step_by(BLOCK) {
        for bx in (0..width).step_by(BLOCK) {
            for y in by..(by + BLOCK).min(height) {
                for x in bx..(bx + BLOCK).min(width) {
                    dst[x * height + y] = src[y * width + x];
                }
            }
        }
    }
}

/// The smallest size ≥ `n` whose only prime factors are 2, 3 and 5 (fast for `rustfft`).
pub(crate) fn fast_size(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_then_inverse_is_identity_times_n() {
        let (w, h) = (12, 10);
        let orig: Vec<Complex32> = (0..w * h)
            .map(|i| Complex32::new((i % 7) as f32, (i % 3) as f32))
            .collect();
        let mut data = orig.clone();
        let mut planner = FftPlanner::new();
        fft2d(&mut planner, &mut data, w, h, false);
        fft2d(&mut planner, &mut data, w, h, true);
        for (a, b) in data.iter().zip(&orig) {
            assert!((a / (w * h) as f32 - b).norm() < 1e-3);
        }
    }

    #[test]
    fn fast_sizes() {
        assert_eq!(fast_size(7), 8);
        assert_eq!(fast_size(1000), 1000);
        assert_eq!(fast_size(1001), 1024);
    }
}
