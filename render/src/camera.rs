//! An orbit camera with an orthographic projection, the CAD convention: parallel edges stay
//! parallel, standard views show true lengths, and a measurement on screen matches the part.
//!
//! Z is up (STEP, build123d and most mechanical CAD). The camera looks at `target` from the
//! direction given by `yaw` (around Z) and `pitch` (above the XY plane); `half_height` is half
//! the visible height in model units, so zooming changes it and nothing else.

use veilmark_cad::Aabb;

use crate::math::{M4, V3, add, cross, normalize_or, scale, sub};

/// A standard view direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardView {
    /// Looking along +Y (from the front, −Y side).
    Front,
    /// Looking along −Y.
    Back,
    /// Looking down −Z.
    Top,
    /// Looking up +Z.
    Bottom,
    /// Looking along −X (from the right, +X side).
    Right,
    /// Looking along +X.
    Left,
    /// From (+1, −1, +1): the isometric view.
    Iso,
}

impl StandardView {
    /// Every view, in the order the toolbar and `veilmark render --views` list them.
    pub const ALL: [StandardView; 7] = [
        Self::Iso,
        Self::Front,
        Self::Top,
        Self::Right,
        Self::Back,
        Self::Bottom,
        Self::Left,
    ];

    /// Lower-case name (`iso`, `front`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Front => "front",
            Self::Back => "back",
            Self::Top => "top",
            Self::Bottom => "bottom",
            Self::Right => "right",
            Self::Left => "left",
            Self::Iso => "iso",
        }
    }

    /// Parses a name from [`StandardView::name`].
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(name.trim()))
    }

    fn yaw_pitch(self) -> (f64, f64) {
        use std::f64::consts::{FRAC_PI_2, PI};
        // Pitch just short of ±90° keeps the up vector defined in top and bottom views.
        let straight = FRAC_PI_2 - 1e-6;
        match self {
            Self::Front => (0.0, 0.0),
            Self::Back => (PI, 0.0),
            Self::Right => (-FRAC_PI_2, 0.0),
            Self::Left => (FRAC_PI_2, 0.0),
            Self::Top => (0.0, straight),
            Self::Bottom => (0.0, -straight),
            // atan(1/√2): the isometric elevation.
            Self::Iso => (-PI / 4.0, (1.0 / 2f64.sqrt()).atan()),
        }
    }
}

/// A ray in model space (for picking): the CAD crate's, so that [`Camera::ray`] feeds
/// [`veilmark_cad::pick`] directly.
pub use veilmark_cad::measure::Ray;

/// The orbit camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    /// The point the camera orbits around and looks at.
    pub target: V3,
    /// Rotation around +Z in radians; 0 looks along +Y, −π/2 along −X.
    pub yaw: f64,
    /// Elevation above the XY plane in radians, within ±90°.
    pub pitch: f64,
    /// Half the visible height in model units.
    pub half_height: f64,
    /// Radius of the model's bounding sphere (sets the depth range).
    pub radius: f64,
    /// Centre of the model's bounding sphere (the depth range follows it when panning).
    pub center: V3,
}

impl Camera {
    /// A camera showing all of `bounds` from `view` in a viewport of `aspect` (width / height).
    #[must_use]
    pub fn fit(bounds: &Aabb, view: StandardView, aspect: f64) -> Self {
        let mut cam = Self {
            target: [0.0; 3],
            yaw: 0.0,
            pitch: 0.0,
            half_height: 1.0,
            radius: 1.0,
            center: [0.0; 3],
        };
        cam.set_view(view);
        cam.fit_all(bounds, aspect);
        cam
    }

    /// Turns to a standard view, keeping target and zoom.
    pub fn set_view(&mut self, view: StandardView) {
        (self.yaw, self.pitch) = view.yaw_pitch();
    }

    /// Centres and zooms so that all of `bounds` is visible with a small margin, from the
    /// current direction (the projected box, not the bounding sphere, so parts fill the view).
    pub fn fit_all(&mut self, bounds: &Aabb, aspect: f64) {
        if bounds.is_empty() {
            return;
        }
        self.target = bounds.center();
        self.center = self.target;
        self.radius = (0.5 * bounds.diagonal()).max(1e-9);
        let (right, up, _) = self.basis();
        let (mut w, mut h) = (0.0f64, 0.0f64);
        for corner in 0..8 {
            let p = [
                if corner & 1 == 0 {
                    bounds.min[0]
                } else {
                    bounds.max[0]
                },
                if corner & 2 == 0 {
                    bounds.min[1]
                } else {
                    bounds.max[1]
                },
                if corner & 4 == 0 {
                    bounds.min[2]
                } else {
                    bounds.max[2]
                },
            ];
            let d = sub(p, self.target);
            w = w.max(crate::math::dot(d, right).abs());
            h = h.max(crate::math::dot(d, up).abs());
        }
        let aspect = if aspect.is_finite() && aspect > 0.0 {
            aspect
        } else {
            1.0
        };
        self.half_height = (h.max(w / aspect) * 1.08).max(self.radius * 1e-6);
    }

    /// Unit vectors `(right, up, forward)` of the view.
    #[must_use]
    pub fn basis(&self) -> (V3, V3, V3) {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        // Looking from the camera towards the target.
        let forward = [sy * cp, cy * cp, -sp];
        let right = normalize_or(cross(forward, [0.0, 0.0, 1.0]), [1.0, 0.0, 0.0]);
        let up = cross(right, forward);
        (right, up, forward)
    }

    /// Where the camera sits: far enough back that the whole bounding sphere is in front.
    #[must_use]
    pub fn eye(&self) -> V3 {
        let (_, _, forward) = self.basis();
        let behind = crate::math::dot(sub(self.center, self.target), forward) - 3.0 * self.radius;
        add(self.target, scale(forward, behind))
    }

    /// View-projection matrix (column-major) for a viewport of `aspect`; depth 0..1.
    #[must_use]
    pub fn view_projection(&self, aspect: f64) -> M4 {
        let (r, u, f) = self.basis();
        let eye = self.eye();
        let hw = self.half_height * aspect;
        let hh = self.half_height;
        // Depth: the model's bounding sphere spans eye distance 2r..4r; keep a margin.
        let near = 0.5 * self.radius;
        let far = 6.0 * self.radius;
        let t = |axis: V3| -crate::math::dot(axis, eye);
        let depth = 1.0 / (far - near);
        [
            [r[0] / hw, u[0] / hh, f[0] * depth, 0.0],
            [r[1] / hw, u[1] / hh, f[1] * depth, 0.0],
            [r[2] / hw, u[2] / hh, f[2] * depth, 0.0],
            [t(r) / hw, t(u) / hh, (t(f) - near) * depth, 1.0],
        ]
    }

    /// The picking ray through the pixel at normalised device coordinates `(x, y)` in −1..1
    /// (y up): its origin lies in front of everything visible, its direction is the unit vector
    /// into the screen.
    #[must_use]
    pub fn ray(&self, x: f64, y: f64, aspect: f64) -> Ray {
        let (r, u, f) = self.basis();
        let on_plane = add(
            self.target,
            add(
                scale(r, x * self.half_height * aspect),
                scale(u, y * self.half_height),
            ),
        );
        let behind = crate::math::dot(sub(self.center, self.target), f) - 3.0 * self.radius;
        Ray {
            origin: add(on_plane, scale(f, behind)),
            dir: f,
        }
    }

    /// Orbits by screen drags in radians (`dx` turns around Z, `dy` tilts).
    pub fn orbit(&mut self, dx: f64, dy: f64) {
        use std::f64::consts::FRAC_PI_2;
        self.yaw = (self.yaw + dx).rem_euclid(std::f64::consts::TAU);
        self.pitch = (self.pitch + dy).clamp(-FRAC_PI_2 + 1e-6, FRAC_PI_2 - 1e-6);
    }

    /// Moves the target by a drag of `(dx, dy)` in normalised device units.
    pub fn pan(&mut self, dx: f64, dy: f64, aspect: f64) {
        let (r, u, _) = self.basis();
        self.target = sub(
            self.target,
            add(
                scale(r, dx * self.half_height * aspect),
                scale(u, dy * self.half_height),
            ),
        );
    }

    /// Zooms by `factor` (> 1 zooms in) keeping the point under `(x, y)` (NDC) fixed.
    pub fn zoom_at(&mut self, factor: f64, x: f64, y: f64, aspect: f64) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let (r, u, _) = self.basis();
        let before = add(
            scale(r, x * self.half_height * aspect),
            scale(u, y * self.half_height),
        );
        let new_half = (self.half_height / factor).clamp(self.radius * 1e-5, self.radius * 1e3);
        let after = scale(before, new_half / self.half_height);
        self.target = add(self.target, sub(before, after));
        self.half_height = new_half;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::transform;

    fn cube() -> Aabb {
        Aabb {
            min: [0.0, 0.0, 0.0],
            max: [80.0, 40.0, 56.0],
        }
    }

    #[test]
    fn fit_puts_every_corner_inside_clip_space() {
        for view in StandardView::ALL {
            let cam = Camera::fit(&cube(), view, 1.5);
            let m = cam.view_projection(1.5);
            for c in 0..8 {
                let p = [
                    if c & 1 == 0 { 0.0 } else { 80.0 },
                    if c & 2 == 0 { 0.0 } else { 40.0 },
                    if c & 4 == 0 { 0.0 } else { 56.0 },
                ];
                let q = transform(&m, p);
                assert!(q[0].abs() <= 1.0 && q[1].abs() <= 1.0, "{view:?} {q:?}");
                assert!((0.0..=1.0).contains(&q[2]), "{view:?} depth {q:?}");
            }
        }
    }

    #[test]
    fn front_view_maps_x_right_and_z_up() {
        let cam = Camera::fit(&cube(), StandardView::Front, 1.0);
        let m = cam.view_projection(1.0);
        let a = transform(&m, [0.0, 0.0, 0.0]);
        let b = transform(&m, [80.0, 0.0, 0.0]);
        let c = transform(&m, [0.0, 0.0, 56.0]);
        assert!(b[0] > a[0] && (b[1] - a[1]).abs() < 1e-9);
        assert!(c[1] > a[1]);
        // Nearer points (smaller y in the front view) have smaller depth.
        let far = transform(&m, [0.0, 40.0, 0.0]);
        assert!(a[2] < far[2]);
    }

    #[test]
    fn ray_through_a_projected_point_hits_it() {
        let cam = Camera::fit(&cube(), StandardView::Iso, 1.3);
        let m = cam.view_projection(1.3);
        let p = [80.0, 0.0, 0.0];
        let q = transform(&m, p);
        let ray = cam.ray(q[0], q[1], 1.3);
        let to_p = sub(p, ray.origin);
        let along = crate::math::dot(to_p, ray.dir);
        let off = sub(to_p, scale(ray.dir, along));
        assert!(crate::math::length(off) < 1e-9, "{off:?}");
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let mut cam = Camera::fit(&cube(), StandardView::Top, 1.0);
        let before = cam.ray(0.5, -0.25, 1.0).origin;
        cam.zoom_at(2.0, 0.5, -0.25, 1.0);
        let after = cam.ray(0.5, -0.25, 1.0).origin;
        assert!(crate::math::length(sub(before, after)) < 1e-9);
    }
}
