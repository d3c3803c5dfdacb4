//! The little linear algebra a camera needs, in f64 (models in millimetres span 1e-3..1e5, so
//! view matrices are built in double precision and only handed to the GPU as f32).

pub use veilmark_cad::vec3::{V3, add, cross, dot, norm as length, scale, sub};

/// `a / |a|`, or `fallback` for a (near) zero vector.
#[must_use]
pub fn normalize_or(a: V3, fallback: V3) -> V3 {
    veilmark_cad::vec3::unit(a).unwrap_or(fallback)
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
