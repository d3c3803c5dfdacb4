//! Small 3D vector and rigid-transform arithmetic for the STEP loader, on plain `[f64; 3]`.

pub use crate::vec3::{V3, add, cross, dist, dot, norm, scale, sub, unit};

/// An orthonormal right-handed frame: origin and axes (STEP's AXIS2_PLACEMENT_3D).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Origin.
    pub o: V3,
    /// First axis (STEP's ref_direction, made perpendicular to `z`).
    pub x: V3,
    /// Second axis, `z × x`.
    pub y: V3,
    /// Main axis.
    pub z: V3,
}

impl Frame {
    /// The frame with origin `o`, main axis `z` and reference direction `x` (either may be
    /// absent, as STEP allows); `None` when the directions are degenerate.
    #[must_use]
    pub fn new(o: V3, z: Option<V3>, x: Option<V3>) -> Option<Frame> {
        let z = unit(z.unwrap_or([0.0, 0.0, 1.0]))?;
        let guess = x.unwrap_or(if z[0].abs() < 0.9 {
            [1.0, 0.0, 0.0]
        } else {
            [0.0, 1.0, 0.0]
        });
        let x = unit(sub(guess, scale(z, dot(guess, z))))
            .or_else(|| unit(cross(z, [0.0, 1.0, 0.0])))
            .or_else(|| unit(cross(z, [1.0, 0.0, 0.0])))?;
        Some(Frame {
            o,
            x,
            y: cross(z, x),
            z,
        })
    }

    /// The world point at local coordinates `(a, b, c)`.
    #[must_use]
    pub fn at(&self, a: f64, b: f64, c: f64) -> V3 {
        add(
            self.o,
            add(add(scale(self.x, a), scale(self.y, b)), scale(self.z, c)),
        )
    }

    /// Local coordinates of the world point `p`.
    #[must_use]
    pub fn local(&self, p: V3) -> V3 {
        let d = sub(p, self.o);
        [dot(d, self.x), dot(d, self.y), dot(d, self.z)]
    }
}

/// A rigid (or any affine) transform: `p ↦ m·p + t`, rows of `m` first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// Linear part, row-major.
    pub m: [[f64; 3]; 3],
    /// Translation.
    pub t: V3,
}

impl Affine {
    /// The identity.
    pub const IDENTITY: Affine = Affine {
        m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        t: [0.0; 3],
    };

    /// The transform taking local coordinates of `f` to world coordinates.
    #[must_use]
    pub fn from_frame(f: &Frame) -> Affine {
        Affine {
            m: [
                [f.x[0], f.y[0], f.z[0]],
                [f.x[1], f.y[1], f.z[1]],
                [f.x[2], f.y[2], f.z[2]],
            ],
            t: f.o,
        }
    }

    /// The inverse of a rigid transform (orthonormal linear part).
    #[must_use]
    pub fn rigid_inverse(&self) -> Affine {
        let mt: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| self.m[j][i]));
        let t = std::array::from_fn(|i| -(0..3).map(|j| mt[i][j] * self.t[j]).sum::<f64>());
        Affine { m: mt, t }
    }

    /// `self ∘ other`: apply `other` first.
    #[must_use]
    pub fn then_after(&self, other: &Affine) -> Affine {
        let m = std::array::from_fn(|i| {
            std::array::from_fn(|j| (0..3).map(|k| self.m[i][k] * other.m[k][j]).sum())
        });
        Affine {
            m,
            t: self.apply(other.t),
        }
    }

    /// The image of point `p`.
    #[must_use]
    pub fn apply(&self, p: V3) -> V3 {
        std::array::from_fn(|i| (0..3).map(|j| self.m[i][j] * p[j]).sum::<f64>() + self.t[i])
    }
}
