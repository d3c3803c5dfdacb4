//! The little linear algebra a camera needs, in f64 (models in millimetres span 1e-3..1e5, so
//! view matrices are built in double precision and only handed to the GPU as f32).

/// A 3-vector.
pub type V3 = [f64; 3];

/// `a + b`.
#[must_use]
pub fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a - b`.
#[must_use]
pub fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `a * s`.
#[must_use]
pub fn scale(a: V3, s: f64) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// Dot product.
#[must_use]
pub fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Cross product.
#[must_use]
pub fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Euclidean length.
#[must_use]
pub fn length(a: V3) -> f64 {
    dot(a, a).sqrt()
}

/// `a / |a|`, or `fallback` for a (near) zero vector.
#[must_use]
pub fn normalize_or(a: V3, fallback: V3) -> V3 {
    let l = length(a);
    if l > 1e-300 && l.is_finite() {
        scale(a, 1.0 / l)
    } else {
        fallback
    }
}

/// A 4×4 matrix, column-major (`m[col][row]`), as WGSL expects.
pub type M4 = [[f64; 4]; 4];

/// `a × b`.
#[must_use]
pub fn mul(a: &M4, b: &M4) -> M4 {
    let mut r = [[0.0; 4]; 4];
    for (c, col) in r.iter_mut().enumerate() {
        for (row, v) in col.iter_mut().enumerate() {
            *v = (0..4).map(|k| a[k][row] * b[c][k]).sum();
        }
    }
    r
}

/// Transforms the point `p` (w = 1) by `m`, returning homogeneous coordinates.
#[must_use]
pub fn transform(m: &M4, p: V3) -> [f64; 4] {
    std::array::from_fn(|row| m[0][row] * p[0] + m[1][row] * p[1] + m[2][row] * p[2] + m[3][row])
}

/// `m` as f32 for a uniform buffer.
#[must_use]
#[allow(clippy::cast_possible_truncation)] // f64 → f32 is the point: GPUs take single precision
pub fn to_f32(m: &M4) -> [[f32; 4]; 4] {
    m.map(|c| c.map(|v| v as f32))
}
