//! STEP geometry entities (points, placements, curves, surfaces) read from the exchange
//! structure and evaluated: `point(t)` on curves, `point(u, v)` on surfaces, and the inverse
//! (the parameters of a point known to lie on them) that the tessellator needs to map face
//! boundaries into the surface's parameter plane.
//!
//! Parameterisations follow ISO 10303-42 (e.g. a cone is `C + (R + v·tan α)(cos u·x + sin u·y)
//! + v·z`), so that `∂S/∂u × ∂S/∂v` is the surface normal a face's `same_sense` refers to.
//! Anything not listed in `docs/cad.md` is reported as unsupported by name.

use std::f64::consts::{PI, TAU};

use super::bspline::{BSplineCurve, BSplineSurface, KnotVector};
use super::linalg::{Frame, V3, add, cross, dist, dot, scale, sub, unit};
use super::part21::{Entity, Exchange, Param, Record};

/// Deepest chain of curves or surfaces built on one another (trimmed curve of a surface curve
/// of …); deeper chains are reference cycles in practice.
const MAX_CHAIN: usize = 16;

/// A 3D curve.
#[derive(Debug, Clone, PartialEq)]
pub enum Curve {
    /// `origin + t·dir`.
    Line {
        /// A point on the line.
        origin: V3,
        /// Direction (unit length).
        dir: V3,
    },
    /// `C + r(cos t·x + sin t·y)`.
    Circle(Frame, f64),
    /// `C + a·cos t·x + b·sin t·y`.
    Ellipse(Frame, f64, f64),
    /// A B-spline or polyline.
    BSpline(BSplineCurve),
}

impl Curve {
    /// The point at parameter `t`.
    #[must_use]
    pub fn eval(&self, t: f64) -> V3 {
        match self {
            Curve::Line { origin, dir } => add(*origin, scale(*dir, t)),
            Curve::Circle(f, r) => f.at(r * t.cos(), r * t.sin(), 0.0),
            Curve::Ellipse(f, a, b) => f.at(a * t.cos(), b * t.sin(), 0.0),
            Curve::BSpline(c) => c.eval(t),
        }
    }

    /// `Some(2π)` for closed periodic curves.
    #[must_use]
    pub fn period(&self) -> Option<f64> {
        matches!(self, Curve::Circle(..) | Curve::Ellipse(..)).then_some(TAU)
    }

    /// The parameter of the curve point nearest `p`.
    #[must_use]
    pub fn invert(&self, p: V3) -> f64 {
        match self {
            Curve::Line { origin, dir } => dot(sub(p, *origin), *dir),
            Curve::Circle(f, _) => {
                let l = f.local(p);
                l[1].atan2(l[0])
            }
            Curve::Ellipse(f, a, b) => {
                let l = f.local(p);
                (l[1] / b).atan2(l[0] / a)
            }
            Curve::BSpline(c) => {
                let (a, b) = c.knots.domain();
                let n = (c.knots.spans() * 8).clamp(16, 512);
                let seed = (0..=n)
                    .map(|i| a + (b - a) * i as f64 / n as f64)
                    .min_by(|&s, &t| dist(c.eval(s), p).total_cmp(&dist(c.eval(t), p)))
                    .unwrap_or(a);
                newton_curve(self, p, seed, a, b)
            }
        }
    }

    /// The parameter range of a bounded curve (B-splines), `None` for unbounded ones.
    #[must_use]
    pub fn domain(&self) -> Option<(f64, f64)> {
        match self {
            Curve::BSpline(c) => Some(c.knots.domain()),
            _ => None,
        }
    }
}

fn newton_curve(c: &Curve, p: V3, mut t: f64, a: f64, b: f64) -> f64 {
    let h = (b - a) * 1e-7;
    for _ in 0..30 {
        let d = scale(sub(c.eval(t + h), c.eval(t - h)), 0.5 / h);
        let dd = dot(d, d);
        if dd.is_nan() || dd <= 1e-300 {
            break;
        }
        let step = dot(sub(p, c.eval(t)), d) / dd;
        let next = (t + step).clamp(a, b);
        if (next - t).abs() < 1e-14 * (b - a).max(1.0) {
            return next;
        }
        t = next;
    }
    t
}

/// A surface.
#[derive(Debug, Clone, PartialEq)]
pub enum Surface {
    /// `P + u·x + v·y`.
    Plane(Frame),
    /// `C + r(cos u·x + sin u·y) + v·z`.
    Cylinder(Frame, f64),
    /// `C + (r + v·tan α)(cos u·x + sin u·y) + v·z`: frame, `r`, `tan α`.
    Cone(Frame, f64, f64),
    /// `C + r·cos v(cos u·x + sin u·y) + r·sin v·z`.
    Sphere(Frame, f64),
    /// `C + (R + r·cos v)(cos u·x + sin u·y) + r·sin v·z`.
    Torus(Frame, f64, f64),
    /// A B-spline surface.
    BSpline(BSplineSurface),
    /// The curve `v ↦ c(v)` turned by angle `u` about an axis.
    Revolution {
        /// The profile.
        curve: Box<Curve>,
        /// Axis frame: origin on the axis, `z` along it, `x` towards the profile.
        axis: Frame,
    },
    /// `c(u) + v·d`.
    Extrusion {
        /// The swept curve.
        curve: Box<Curve>,
        /// The sweep vector.
        dir: V3,
    },
}

impl Surface {
    /// The point at `(u, v)`.
    #[must_use]
    pub fn eval(&self, u: f64, v: f64) -> V3 {
        match self {
            Surface::Plane(f) => f.at(u, v, 0.0),
            Surface::Cylinder(f, r) => f.at(r * u.cos(), r * u.sin(), v),
            Surface::Cone(f, r, tan) => {
                let rr = r + v * tan;
                f.at(rr * u.cos(), rr * u.sin(), v)
            }
            Surface::Sphere(f, r) => {
                f.at(r * v.cos() * u.cos(), r * v.cos() * u.sin(), r * v.sin())
            }
            Surface::Torus(f, big, r) => {
                let rr = big + r * v.cos();
                f.at(rr * u.cos(), rr * u.sin(), r * v.sin())
            }
            Surface::BSpline(s) => s.eval(u, v),
            Surface::Revolution { curve, axis } => {
                let l = axis.local(curve.eval(v));
                let (s, c) = u.sin_cos();
                axis.at(l[0] * c - l[1] * s, l[0] * s + l[1] * c, l[2])
            }
            Surface::Extrusion { curve, dir } => add(curve.eval(u), scale(*dir, v)),
        }
    }

    /// Periods of `u` and `v` (2π for the angular parameters).
    #[must_use]
    pub fn periods(&self) -> (Option<f64>, Option<f64>) {
        match self {
            Surface::Cylinder(..)
            | Surface::Cone(..)
            | Surface::Sphere(..)
            | Surface::Revolution { .. } => (Some(TAU), None),
            Surface::Torus(..) => (Some(TAU), Some(TAU)),
            Surface::Extrusion { curve, .. } => (curve.period(), None),
            Surface::Plane(_) | Surface::BSpline(_) => (None, None),
        }
    }

    /// Partial derivatives `(∂S/∂u, ∂S/∂v)` by central differences.
    #[must_use]
    pub fn derivatives(&self, u: f64, v: f64) -> (V3, V3) {
        let h = 1e-6;
        let du = scale(sub(self.eval(u + h, v), self.eval(u - h, v)), 0.5 / h);
        let dv = scale(sub(self.eval(u, v + h), self.eval(u, v - h)), 0.5 / h);
        (du, dv)
    }

    /// The surface normal `∂S/∂u × ∂S/∂v` (not normalised; zero at singular points).
    #[must_use]
    pub fn normal(&self, u: f64, v: f64) -> V3 {
        let (du, dv) = self.derivatives(u, v);
        cross(du, dv)
    }

    /// Parameters of a point on (or near) the surface. The angular `u` of a point on the axis
    /// of a surface of revolution is undefined and comes back as NaN; `hint` seeds the
    /// iterative inverse of free-form surfaces.
    #[must_use]
    pub fn invert(&self, p: V3, hint: Option<(f64, f64)>) -> (f64, f64) {
        match self {
            Surface::Plane(f) => {
                let l = f.local(p);
                (l[0], l[1])
            }
            Surface::Cylinder(f, _) => {
                let l = f.local(p);
                (angle(l), l[2])
            }
            Surface::Cone(f, r, _) => {
                let l = f.local(p);
                // Points at the apex have no angle.
                let radius = l[0].hypot(l[1]);
                let u = if radius < 1e-9 * r.abs().max(1.0) {
                    f64::NAN
                } else {
                    angle(l)
                };
                (u, l[2])
            }
            Surface::Sphere(f, r) => {
                let l = f.local(p);
                let radius = l[0].hypot(l[1]);
                let u = if radius < 1e-9 * r {
                    f64::NAN
                } else {
                    angle(l)
                };
                (u, l[2].atan2(radius))
            }
            Surface::Torus(f, big, _) => {
                let l = f.local(p);
                let radius = l[0].hypot(l[1]);
                (angle(l), l[2].atan2(radius - big))
            }
            Surface::BSpline(s) => {
                let (a, b) = s.u.domain();
                let (c, d) = s.v.domain();
                self.newton(p, hint, [a, b, c, d])
            }
            Surface::Revolution { curve, axis } => {
                let l = axis.local(p);
                let radius = l[0].hypot(l[1]);
                // Turn the point back into the profile's half-plane and find it on the profile.
                let profile =
                    axis.local(curve.eval(curve.domain().map_or(0.0, |(a, b)| 0.5 * (a + b))));
                let pa = angle(profile);
                let turned = axis.at(radius * pa.cos(), radius * pa.sin(), l[2]);
                let v = curve.invert(turned);
                let u = if radius < 1e-12 {
                    f64::NAN
                } else {
                    angle(l) - pa
                };
                (u, v)
            }
            Surface::Extrusion { curve, dir } => {
                // Slide the point along the sweep back onto the curve's plane (circles and
                // ellipses) or the plane across the sweep (others), then polish.
                let d2 = dot(*dir, *dir);
                let (origin, normal) = match curve.as_ref() {
                    Curve::Circle(f, _) | Curve::Ellipse(f, _, _) => (f.o, f.z),
                    _ => (curve.eval(curve.domain().map_or(0.0, |(a, _)| a)), *dir),
                };
                let across = dot(*dir, normal);
                let along = if across.abs() > 1e-12 * d2.sqrt() {
                    dot(sub(p, origin), normal) / across
                } else {
                    0.0
                };
                let u = curve.invert(sub(p, scale(*dir, along)));
                let v = if d2 > 0.0 {
                    dot(sub(p, curve.eval(u)), *dir) / d2
                } else {
                    0.0
                };
                self.polish(p, (u, v))
            }
        }
    }

    /// A few unclamped Gauss–Newton steps from a good first guess.
    fn polish(&self, p: V3, (mut u, mut v): (f64, f64)) -> (f64, f64) {
        for _ in 0..8 {
            let (su, sv) = self.derivatives(u, v);
            let r = sub(p, self.eval(u, v));
            let (a11, a12, a22) = (dot(su, su), dot(su, sv), dot(sv, sv));
            let det = a11 * a22 - a12 * a12;
            if det.is_nan() || det.abs() <= 1e-300 {
                break;
            }
            let (b1, b2) = (dot(su, r), dot(sv, r));
            let (du, dv) = ((b1 * a22 - b2 * a12) / det, (a11 * b2 - a12 * b1) / det);
            if !(du.is_finite() && dv.is_finite()) {
                break;
            }
            (u, v) = (u + du, v + dv);
            if du.abs() + dv.abs() < 1e-14 {
                break;
            }
        }
        (u, v)
    }

    /// Gauss–Newton on `|S(u, v) − p|²` inside `[a, b] × [c, d]`, from `hint` or the best
    /// point of a coarse grid.
    fn newton(&self, p: V3, hint: Option<(f64, f64)>, [a, b, c, d]: [f64; 4]) -> (f64, f64) {
        let refine = |(mut u, mut v): (f64, f64)| {
            for _ in 0..30 {
                let (su, sv) = self.derivatives(u, v);
                let r = sub(p, self.eval(u, v));
                let (a11, a12, a22) = (dot(su, su), dot(su, sv), dot(sv, sv));
                let (b1, b2) = (dot(su, r), dot(sv, r));
                let det = a11 * a22 - a12 * a12;
                if det.is_nan() || det.abs() <= 1e-300 {
                    break;
                }
                let du = (b1 * a22 - b2 * a12) / det;
                let dv = (a11 * b2 - a12 * b1) / det;
                let (nu, nv) = ((u + du).clamp(a, b), (v + dv).clamp(c, d));
                let done = (nu - u).abs() + (nv - v).abs() < 1e-13 * (b - a + d - c);
                (u, v) = (nu, nv);
                if done {
                    break;
                }
            }
            (u, v)
        };
        let scale_len = dist(self.eval(a, c), self.eval(b, d)).max(1e-12);
        if let Some(h) = hint {
            let uv = refine(h);
            if dist(self.eval(uv.0, uv.1), p) < 1e-7 * scale_len {
                return uv;
            }
        }
        let n = 12;
        let mut best = (a, c);
        let mut best_d = f64::INFINITY;
        for i in 0..=n {
            for j in 0..=n {
                let uv = (
                    a + (b - a) * f64::from(i) / f64::from(n),
                    c + (d - c) * f64::from(j) / f64::from(n),
                );
                let dd = dist(self.eval(uv.0, uv.1), p);
                if dd < best_d {
                    (best, best_d) = (uv, dd);
                }
            }
        }
        refine(best)
    }
}

fn angle(l: V3) -> f64 {
    l[1].atan2(l[0])
}

/// Reads geometry entities from an exchange structure.
pub struct GeometryReader<'a> {
    ex: &'a Exchange,
    /// Radians per plane-angle unit of the file (1, or π/180 for degrees).
    pub angle_unit: f64,
}

impl<'a> GeometryReader<'a> {
    /// A reader over `ex` with angles in radians.
    #[must_use]
    pub fn new(ex: &'a Exchange) -> Self {
        Self {
            ex,
            angle_unit: 1.0,
        }
    }

    fn simple(&self, id: u64) -> Option<&'a Record> {
        self.ex.get(id)?.simple()
    }

    /// A CARTESIAN_POINT (2D points get z = 0).
    #[must_use]
    pub fn point(&self, id: u64) -> Option<V3> {
        let r = self.ex.record(id, "CARTESIAN_POINT")?;
        coords(r.param(1)?)
    }

    /// A DIRECTION.
    #[must_use]
    pub fn direction(&self, id: u64) -> Option<V3> {
        let r = self.ex.record(id, "DIRECTION")?;
        unit(coords(r.param(1)?)?)
    }

    /// An AXIS2_PLACEMENT_3D (or AXIS1_PLACEMENT, whose reference direction is chosen).
    #[must_use]
    pub fn frame(&self, id: u64) -> Option<Frame> {
        let r = self.simple(id)?;
        let opt_dir = |i: usize| match r.param(i) {
            Some(Param::Ref(d)) => self.direction(*d).map(Some),
            _ => Some(None),
        };
        match r.name.as_str() {
            "AXIS2_PLACEMENT_3D" => {
                let o = self.point(r.param(1)?.as_ref_id()?)?;
                Frame::new(o, opt_dir(2)?, opt_dir(3)?)
            }
            "AXIS1_PLACEMENT" => {
                let o = self.point(r.param(1)?.as_ref_id()?)?;
                Frame::new(o, opt_dir(2)?, None)
            }
            _ => None,
        }
    }

    /// The 3D curve of an edge's geometry.
    ///
    /// # Errors
    /// The entity name (or a reason) when the curve is unsupported or broken.
    pub fn curve(&self, id: u64) -> Result<Curve, String> {
        self.curve_at(id, 0)
    }

    fn curve_at(&self, id: u64, depth: usize) -> Result<Curve, String> {
        if depth > MAX_CHAIN {
            return Err("curve references nested too deeply".into());
        }
        let entity = self
            .ex
            .get(id)
            .ok_or_else(|| format!("missing curve #{id}"))?;
        let bad = || format!("malformed curve #{id}");
        let r = match entity {
            Entity::Complex(_) => return self.rational_curve(entity).ok_or_else(bad),
            Entity::Simple(r) => r,
        };
        let num = |i: usize| r.param(i).and_then(Param::as_f64).filter(|x| x.is_finite());
        let refp = |i: usize| r.param(i).and_then(Param::as_ref_id);
        match r.name.as_str() {
            "LINE" => {
                let origin = refp(1).and_then(|p| self.point(p)).ok_or_else(bad)?;
                let v = self
                    .ex
                    .record(refp(2).ok_or_else(bad)?, "VECTOR")
                    .ok_or_else(bad)?;
                let dir = v
                    .param(1)
                    .and_then(Param::as_ref_id)
                    .and_then(|d| self.direction(d));
                Ok(Curve::Line {
                    origin,
                    dir: dir.ok_or_else(bad)?,
                })
            }
            "CIRCLE" => {
                let f = refp(1).and_then(|p| self.frame(p)).ok_or_else(bad)?;
                let rad = num(2).filter(|&x| x > 0.0).ok_or_else(bad)?;
                Ok(Curve::Circle(f, rad))
            }
            "ELLIPSE" => {
                let f = refp(1).and_then(|p| self.frame(p)).ok_or_else(bad)?;
                let a = num(2).filter(|&x| x > 0.0).ok_or_else(bad)?;
                let b = num(3).filter(|&x| x > 0.0).ok_or_else(bad)?;
                Ok(Curve::Ellipse(f, a, b))
            }
            "B_SPLINE_CURVE_WITH_KNOTS" => {
                let points = self
                    .point_list(r.param(2).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
                let kv = knot_vector(r.param(1), points.len(), r.param(6), r.param(7))
                    .ok_or_else(bad)?;
                BSplineCurve::new(kv, &points, None)
                    .map(Curve::BSpline)
                    .ok_or_else(bad)
            }
            "POLYLINE" => {
                let points = self
                    .point_list(r.param(1).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
                let kv = KnotVector::polyline(points.len()).ok_or_else(bad)?;
                BSplineCurve::new(kv, &points, None)
                    .map(Curve::BSpline)
                    .ok_or_else(bad)
            }
            "TRIMMED_CURVE" => self.curve_at(refp(1).ok_or_else(bad)?, depth + 1),
            "SURFACE_CURVE" | "SEAM_CURVE" | "INTERSECTION_CURVE" => {
                self.curve_at(refp(1).ok_or_else(bad)?, depth + 1)
            }
            other => Err(other.to_owned()),
        }
    }

    /// The complex form `(B_SPLINE_CURVE(..) B_SPLINE_CURVE_WITH_KNOTS(..)
    /// RATIONAL_B_SPLINE_CURVE(..) ..)`.
    fn rational_curve(&self, entity: &Entity) -> Option<Curve> {
        let b = entity.record("B_SPLINE_CURVE")?;
        let k = entity.record("B_SPLINE_CURVE_WITH_KNOTS")?;
        let points = self.point_list(b.param(1)?)?;
        let kv = knot_vector(b.param(0), points.len(), k.param(0), k.param(1))?;
        let weights = match entity.record("RATIONAL_B_SPLINE_CURVE") {
            Some(w) => Some(numbers(w.param(0)?)?),
            None => None,
        };
        BSplineCurve::new(kv, &points, weights.as_deref()).map(Curve::BSpline)
    }

    fn point_list(&self, p: &Param) -> Option<Vec<V3>> {
        p.as_list()?
            .iter()
            .map(|q| self.point(q.as_ref_id()?))
            .collect()
    }

    fn point_grid(&self, p: &Param) -> Option<(usize, Vec<V3>)> {
        let rows = p.as_list()?;
        let mut out = Vec::new();
        let mut width = None;
        for row in rows {
            let pts = self.point_list(row)?;
            if *width.get_or_insert(pts.len()) != pts.len() {
                return None;
            }
            out.extend(pts);
        }
        Some((rows.len(), out))
    }

    /// A face's surface.
    ///
    /// # Errors
    /// The entity name (or a reason) when the surface is unsupported or broken.
    pub fn surface(&self, id: u64) -> Result<Surface, String> {
        self.surface_at(id, 0)
    }

    fn surface_at(&self, id: u64, depth: usize) -> Result<Surface, String> {
        if depth > MAX_CHAIN {
            return Err("surface references nested too deeply".into());
        }
        let entity = self
            .ex
            .get(id)
            .ok_or_else(|| format!("missing surface #{id}"))?;
        let bad = || format!("malformed surface #{id}");
        let r = match entity {
            Entity::Complex(_) => return self.rational_surface(entity).ok_or_else(bad),
            Entity::Simple(r) => r,
        };
        let num = |i: usize| r.param(i).and_then(Param::as_f64).filter(|x| x.is_finite());
        let frame = || {
            r.param(1)
                .and_then(Param::as_ref_id)
                .and_then(|p| self.frame(p))
                .ok_or_else(bad)
        };
        match r.name.as_str() {
            "PLANE" => Ok(Surface::Plane(frame()?)),
            "CYLINDRICAL_SURFACE" => Ok(Surface::Cylinder(
                frame()?,
                num(2).filter(|&x| x > 0.0).ok_or_else(bad)?,
            )),
            "CONICAL_SURFACE" => {
                let f = frame()?;
                let rad = num(2).filter(|&x| x >= 0.0).ok_or_else(bad)?;
                let a = num(3).ok_or_else(bad)? * self.angle_unit;
                if a.abs() >= 0.5 * PI - 1e-9 || a == 0.0 {
                    return Err(bad());
                }
                Ok(Surface::Cone(f, rad, a.tan()))
            }
            "SPHERICAL_SURFACE" => Ok(Surface::Sphere(
                frame()?,
                num(2).filter(|&x| x > 0.0).ok_or_else(bad)?,
            )),
            "TOROIDAL_SURFACE" => {
                let f = frame()?;
                let big = num(2).filter(|&x| x >= 0.0).ok_or_else(bad)?;
                let small = num(3).filter(|&x| x > 0.0).ok_or_else(bad)?;
                Ok(Surface::Torus(f, big, small))
            }
            "B_SPLINE_SURFACE_WITH_KNOTS" => {
                let (nu, points) = self
                    .point_grid(r.param(3).ok_or_else(bad)?)
                    .ok_or_else(bad)?;
                let nv = points.len().checked_div(nu).ok_or_else(bad)?;
                let u = knot_vector(r.param(1), nu, r.param(8), r.param(10)).ok_or_else(bad)?;
                let v = knot_vector(r.param(2), nv, r.param(9), r.param(11)).ok_or_else(bad)?;
                BSplineSurface::new(u, v, &points, None)
                    .map(Surface::BSpline)
                    .ok_or_else(bad)
            }
            "SURFACE_OF_REVOLUTION" => {
                let curve = self.curve_at(
                    r.param(1).and_then(Param::as_ref_id).ok_or_else(bad)?,
                    depth + 1,
                )?;
                let axis_id = r.param(2).and_then(Param::as_ref_id).ok_or_else(bad)?;
                let axis = self.frame(axis_id).ok_or_else(bad)?;
                Ok(Surface::Revolution {
                    curve: Box::new(curve),
                    axis,
                })
            }
            "SURFACE_OF_LINEAR_EXTRUSION" => {
                let curve = self.curve_at(
                    r.param(1).and_then(Param::as_ref_id).ok_or_else(bad)?,
                    depth + 1,
                )?;
                let v = self
                    .ex
                    .record(
                        r.param(2).and_then(Param::as_ref_id).ok_or_else(bad)?,
                        "VECTOR",
                    )
                    .ok_or_else(bad)?;
                let d = v
                    .param(1)
                    .and_then(Param::as_ref_id)
                    .and_then(|d| self.direction(d))
                    .ok_or_else(bad)?;
                let m = v
                    .param(2)
                    .and_then(Param::as_f64)
                    .filter(|m| m.is_finite() && *m != 0.0)
                    .ok_or_else(bad)?;
                Ok(Surface::Extrusion {
                    curve: Box::new(curve),
                    dir: scale(d, m),
                })
            }
            other => Err(other.to_owned()),
        }
    }

    fn rational_surface(&self, entity: &Entity) -> Option<Surface> {
        let b = entity.record("B_SPLINE_SURFACE")?;
        let k = entity.record("B_SPLINE_SURFACE_WITH_KNOTS")?;
        let (nu, points) = self.point_grid(b.param(2)?)?;
        let nv = points.len().checked_div(nu)?;
        let u = knot_vector(b.param(0), nu, k.param(0), k.param(2))?;
        let v = knot_vector(b.param(1), nv, k.param(1), k.param(3))?;
        let weights = match entity.record("RATIONAL_B_SPLINE_SURFACE") {
            Some(w) => {
                let mut all = Vec::new();
                for row in w.param(0)?.as_list()? {
                    all.extend(numbers(row)?);
                }
                Some(all)
            }
            None => None,
        };
        BSplineSurface::new(u, v, &points, weights.as_deref()).map(Surface::BSpline)
    }
}

fn coords(p: &Param) -> Option<V3> {
    let l = p.as_list()?;
    if l.len() < 2 || l.len() > 3 {
        return None;
    }
    let mut out = [0.0; 3];
    for (o, q) in out.iter_mut().zip(l) {
        *o = q.as_f64().filter(|x| x.is_finite() && x.abs() < 1e100)?;
    }
    Some(out)
}

fn numbers(p: &Param) -> Option<Vec<f64>> {
    p.as_list()?.iter().map(Param::as_f64).collect()
}

fn knot_vector(
    degree: Option<&Param>,
    count: usize,
    mults: Option<&Param>,
    knots: Option<&Param>,
) -> Option<KnotVector> {
    let mults: Vec<i64> = mults?
        .as_list()?
        .iter()
        .map(Param::as_i64)
        .collect::<Option<_>>()?;
    KnotVector::new(degree?.as_i64()?, count, &mults, &numbers(knots?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame::new(
            [1.0, 2.0, 3.0],
            Some([0.3, -0.2, 1.0]),
            Some([1.0, 0.5, 0.0]),
        )
        .expect("frame")
    }

    #[test]
    fn surfaces_invert_their_own_points() {
        let profile = Curve::Circle(
            Frame::new(
                [5.0, 0.0, 0.0],
                Some([0.0, 1.0, 0.0]),
                Some([1.0, 0.0, 0.0]),
            )
            .expect("frame"),
            1.5,
        );
        let surfaces = [
            Surface::Plane(frame()),
            Surface::Cylinder(frame(), 2.0),
            Surface::Cone(frame(), 2.0, 0.5),
            Surface::Sphere(frame(), 3.0),
            Surface::Torus(frame(), 5.0, 1.0),
            Surface::Revolution {
                curve: Box::new(profile.clone()),
                axis: Frame::new([0.0; 3], None, None).expect("frame"),
            },
            Surface::Extrusion {
                curve: Box::new(profile),
                dir: [0.0, 2.0, 0.5],
            },
        ];
        for s in &surfaces {
            for (u, v) in [(0.3, 0.4), (-2.0, 1.1), (2.5, -0.7)] {
                let p = s.eval(u, v);
                let (iu, iv) = s.invert(p, None);
                let q = s.eval(iu, iv);
                assert!(dist(p, q) < 1e-9, "{s:?} at ({u}, {v}): {p:?} vs {q:?}");
            }
        }
    }

    #[test]
    fn bspline_surfaces_invert_by_newton() {
        let u = KnotVector::new(2, 3, &[3, 3], &[0.0, 1.0]).expect("knots");
        let v = KnotVector::new(1, 2, &[2, 2], &[0.0, 2.0]).expect("knots");
        let pts = [
            [0.0, 0.0, 0.0],
            [0.0, 4.0, 0.0],
            [1.0, 0.0, 1.0],
            [1.0, 4.0, 1.5],
            [2.0, 0.0, 0.0],
            [2.0, 4.0, 0.2],
        ];
        let s = Surface::BSpline(BSplineSurface::new(u, v, &pts, None).expect("surface"));
        for (a, b) in [(0.2, 0.3), (0.9, 1.7), (0.5, 1.0)] {
            let p = s.eval(a, b);
            let (iu, iv) = s.invert(p, None);
            assert!(dist(s.eval(iu, iv), p) < 1e-9);
        }
    }
}
