//! Non-uniform rational B-spline curves and surfaces: validation of what a file declares and
//! evaluation by de Boor's algorithm in homogeneous coordinates.
//!
//! Degrees, control-point counts and knot vectors come from untrusted files, so
//! [`KnotVector::new`] checks that multiplicities add up, knots never decrease and every number
//! is finite before anything is evaluated; evaluation itself is then bounded by the degree.

use super::linalg::V3;

/// Highest degree accepted (CAD systems write at most 25; OpenCascade's limit).
pub const MAX_DEGREE: usize = 25;

/// A clamped or unclamped knot vector, expanded from STEP's (multiplicity, value) form.
#[derive(Debug, Clone, PartialEq)]
pub struct KnotVector {
    /// Degree `p`.
    pub degree: usize,
    /// Expanded knots, `n + p + 1` of them for `n` control points.
    pub knots: Vec<f64>,
}

impl KnotVector {
    /// Expands and checks a knot vector for `count` control points; `None` when inconsistent.
    #[must_use]
    pub fn new(degree: i64, count: usize, mults: &[i64], values: &[f64]) -> Option<KnotVector> {
        let degree = usize::try_from(degree).ok()?;
        if degree == 0 || degree > MAX_DEGREE || count <= degree || mults.len() != values.len() {
            return None;
        }
        let total: i64 = mults.iter().try_fold(0i64, |acc, &m| {
            (1..=i64::try_from(degree + 1).ok()?)
                .contains(&m)
                .then(|| acc.checked_add(m))
                .flatten()
        })?;
        if usize::try_from(total).ok()? != count + degree + 1 {
            return None;
        }
        let mut knots = Vec::with_capacity(count + degree + 1);
        for (&m, &v) in mults.iter().zip(values) {
            if !v.is_finite() || knots.last().is_some_and(|&last| v < last) {
                return None;
            }
            for _ in 0..m {
                knots.push(v);
            }
        }
        let kv = KnotVector { degree, knots };
        let (a, b) = kv.domain();
        (b > a).then_some(kv)
    }

    /// A uniform knot vector for a polyline (degree 1) through `count` points.
    #[must_use]
    pub fn polyline(count: usize) -> Option<KnotVector> {
        let values: Vec<f64> = (0..count).map(|i| i as f64).collect();
        let mut mults = vec![1; count];
        *mults.first_mut()? = 2;
        *mults.last_mut()? = 2;
        if count < 2 {
            return None;
        }
        KnotVector::new(1, count, &mults, &values)
    }

    /// The valid parameter range `[knots[p], knots[n]]`.
    #[must_use]
    pub fn domain(&self) -> (f64, f64) {
        let n = self.knots.len() - self.degree - 1;
        (self.knots[self.degree], self.knots[n])
    }

    /// Number of control points.
    #[must_use]
    pub fn count(&self) -> usize {
        self.knots.len() - self.degree - 1
    }

    /// Distinct knot spans inside the domain (for choosing sample counts).
    #[must_use]
    pub fn spans(&self) -> usize {
        let (a, b) = self.domain();
        let mut inner: Vec<f64> = self
            .knots
            .iter()
            .copied()
            .filter(|&k| k > a && k < b)
            .collect();
        inner.dedup();
        inner.len() + 1
    }

    /// The span index `k` with `knots[k] <= t < knots[k+1]`, clamped to the domain.
    fn span(&self, t: f64) -> usize {
        let p = self.degree;
        let n = self.count();
        if t >= self.knots[n] {
            let mut k = n - 1;
            while k > p && self.knots[k] >= self.knots[n] {
                k -= 1;
            }
            return k;
        }
        let (mut lo, mut hi) = (p, n);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if t < self.knots[mid] {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        lo
    }

    /// de Boor: the point at `t` from homogeneous control points `ctrl(i)`.
    fn eval<const N: usize>(&self, t: f64, ctrl: impl Fn(usize) -> [f64; N]) -> [f64; N] {
        let p = self.degree;
        let k = self.span(t);
        let mut d: Vec<[f64; N]> = (0..=p).map(|j| ctrl(j + k - p)).collect();
        for r in 1..=p {
            for j in (r..=p).rev() {
                let i = j + k - p;
                let den = self.knots[i + p + 1 - r] - self.knots[i];
                let alpha = if den.abs() > 0.0 {
                    (t - self.knots[i]) / den
                } else {
                    0.0
                };
                let prev = d[j - 1];
                for (x, q) in d[j].iter_mut().zip(prev) {
                    *x = (1.0 - alpha) * q + alpha * *x;
                }
            }
        }
        d[p]
    }
}

/// A (rational) B-spline curve.
#[derive(Debug, Clone, PartialEq)]
pub struct BSplineCurve {
    /// Knots and degree.
    pub knots: KnotVector,
    /// Control points as `(w·x, w·y, w·z, w)`.
    pub ctrl: Vec<[f64; 4]>,
}

impl BSplineCurve {
    /// The curve through `points` with `weights` (all 1 when `None`); `None` if inconsistent.
    #[must_use]
    pub fn new(knots: KnotVector, points: &[V3], weights: Option<&[f64]>) -> Option<BSplineCurve> {
        if points.len() != knots.count() {
            return None;
        }
        let ctrl = homogeneous(points, weights)?;
        Some(BSplineCurve { knots, ctrl })
    }

    /// The point at parameter `t`.
    #[must_use]
    pub fn eval(&self, t: f64) -> V3 {
        let h = self.knots.eval(t, |i| self.ctrl[i]);
        project(h)
    }
}

/// A (rational) B-spline surface; control points row by row (`u` index outer).
#[derive(Debug, Clone, PartialEq)]
pub struct BSplineSurface {
    /// Knots in `u`.
    pub u: KnotVector,
    /// Knots in `v`.
    pub v: KnotVector,
    /// Control points `(w·x, w·y, w·z, w)`, index `i * v_count + j`.
    pub ctrl: Vec<[f64; 4]>,
}

impl BSplineSurface {
    /// The surface over a `u.count() × v.count()` grid of points; `None` if inconsistent.
    #[must_use]
    pub fn new(
        u: KnotVector,
        v: KnotVector,
        points: &[V3],
        weights: Option<&[f64]>,
    ) -> Option<BSplineSurface> {
        if points.len() != u.count().checked_mul(v.count())? {
            return None;
        }
        let ctrl = homogeneous(points, weights)?;
        Some(BSplineSurface { u, v, ctrl })
    }

    /// The point at `(s, t)`.
    #[must_use]
    pub fn eval(&self, s: f64, t: f64) -> V3 {
        let nv = self.v.count();
        let h = self
            .u
            .eval(s, |i| self.v.eval(t, |j| self.ctrl[i * nv + j]));
        project(h)
    }
}

fn homogeneous(points: &[V3], weights: Option<&[f64]>) -> Option<Vec<[f64; 4]>> {
    if let Some(w) = weights
        && w.len() != points.len()
    {
        return None;
    }
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let w = weights.map_or(1.0, |w| w[i]);
            (w.is_finite() && w > 0.0 && p.iter().all(|c| c.is_finite()))
                .then(|| [p[0] * w, p[1] * w, p[2] * w, w])
        })
        .collect()
}

fn project(h: [f64; 4]) -> V3 {
    if h[3].abs() > 1e-300 {
        [h[0] / h[3], h[1] / h[3], h[2] / h[3]]
    } else {
        [h[0], h[1], h[2]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_circle_as_rational_quadratic() {
        let kv = KnotVector::new(2, 3, &[3, 3], &[0.0, 1.0]).expect("valid");
        let w = std::f64::consts::FRAC_1_SQRT_2;
        let c = BSplineCurve::new(
            kv,
            &[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]],
            Some(&[1.0, w, 1.0]),
        )
        .expect("valid");
        for i in 0..=10 {
            let p = c.eval(f64::from(i) / 10.0);
            assert!((p[0].hypot(p[1]) - 1.0).abs() < 1e-12);
        }
        assert_eq!(c.eval(1.0), [0.0, 1.0, 0.0]);
    }

    #[test]
    fn rejects_inconsistent_knots() {
        assert!(KnotVector::new(2, 3, &[3, 2], &[0.0, 1.0]).is_none());
        assert!(KnotVector::new(1000, 3, &[3, 3], &[0.0, 1.0]).is_none());
        assert!(KnotVector::new(1, 2, &[2, 2], &[1.0, 0.0]).is_none());
        assert!(KnotVector::new(1, 2, &[2, 2], &[0.0, f64::NAN]).is_none());
        assert!(KnotVector::new(1, 2, &[i64::MAX, 2], &[0.0, 1.0]).is_none());
    }
}
