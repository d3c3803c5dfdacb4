//! Turns one solid's B-rep into a welded triangle mesh.
//!
//! Every edge curve is sampled once, to the chord tolerance and an angular limit
//! ([`Tolerance`]), and both faces that share it use the same mesh vertices, so neighbouring
//! faces meet without cracks. Each face's boundary is then mapped into its surface's
//! parameter plane (unwrapping angular parameters across seams) and triangulated there by
//! [`super::triangulate`], which adds interior points until the triangles follow the surface.

use std::collections::HashMap;
use std::f64::consts::TAU;
use std::rc::Rc;

use super::geometry::{Curve, GeometryReader, Surface};
use super::linalg::{V3, add, dist, scale, sub};
use super::part21::Exchange;
use super::topology::{FaceRef, edge_curve};
// The dependency runs one way: this module calls `triangulate`, which knows nothing of it
// (`Tolerance` lives there, re-exported here where the rest of the loader looks for it).
pub use super::triangulate::Tolerance;
use super::triangulate::{self, UvLoop};

/// Most points on one edge: a hostile radius over tolerance ratio cannot ask for more.
pub const MAX_EDGE_POINTS: usize = 4096;

/// A solid's mesh in its own coordinates, before placement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SolidMesh {
    /// Vertex positions.
    pub positions: Vec<V3>,
    /// Triangles, outward-facing.
    pub triangles: Vec<[u32; 3]>,
    /// Faces that could not be tessellated (unsupported or broken geometry).
    pub skipped_faces: usize,
}

/// Tessellates the faces of one solid, up to `max_triangles` triangles.
pub struct SolidTessellator<'a> {
    ex: &'a Exchange,
    geo: &'a GeometryReader<'a>,
    tol: Tolerance,
    max_triangles: usize,
    mesh: SolidMesh,
    vertices: HashMap<u64, u32>,
    edges: HashMap<u64, Option<Rc<[u32]>>>,
}

/// The triangle budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget;

impl<'a> SolidTessellator<'a> {
    /// A tessellator writing into a fresh mesh.
    #[must_use]
    pub fn new(
        ex: &'a Exchange,
        geo: &'a GeometryReader<'a>,
        tol: Tolerance,
        max_triangles: usize,
    ) -> Self {
        Self {
            ex,
            geo,
            tol,
            max_triangles,
            mesh: SolidMesh::default(),
            vertices: HashMap::new(),
            edges: HashMap::new(),
        }
    }

    /// Tessellates `faces` and returns the mesh.
    ///
    /// # Errors
    /// [`OverBudget`] when the triangles would exceed the budget.
    pub fn run(mut self, faces: &[FaceRef]) -> Result<SolidMesh, OverBudget> {
        for f in faces {
            if !self.face(f)? {
                self.mesh.skipped_faces += 1;
            }
        }
        Ok(self.mesh)
    }

    fn push_point(&mut self, p: V3) -> Option<u32> {
        let i = u32::try_from(self.mesh.positions.len()).ok()?;
        self.mesh.positions.push(p);
        Some(i)
    }

    fn vertex(&mut self, point: u64) -> Option<u32> {
        if let Some(&i) = self.vertices.get(&point) {
            return Some(i);
        }
        let p = self.geo.point(point)?;
        let i = self.push_point(p)?;
        self.vertices.insert(point, i);
        Some(i)
    }

    /// The mesh vertices along an edge curve, start vertex to end vertex.
    fn edge(&mut self, id: u64) -> Option<Rc<[u32]>> {
        if let Some(e) = self.edges.get(&id) {
            return e.clone();
        }
        let result = self.sample_edge(id).map(Rc::from);
        self.edges.insert(id, result.clone());
        result
    }

    fn sample_edge(&mut self, id: u64) -> Option<Vec<u32>> {
        let e = edge_curve(self.ex, id)?;
        let i0 = self.vertex(e.start)?;
        let i1 = self.vertex(e.end)?;
        let p0 = self.mesh.positions[i0 as usize];
        let p1 = self.mesh.positions[i1 as usize];
        let curve = self.geo.curve(e.curve).ok()?;
        if matches!(curve, Curve::Line { .. }) {
            return Some(vec![i0, i1]);
        }
        // Sample in the curve's own direction, from the edge's first point along the curve.
        let (a, b) = if e.same_sense { (p0, p1) } else { (p1, p0) };
        let closed = e.start == e.end || dist(p0, p1) < 1e-9 * self.tol.chord.max(1e-300);
        let t0 = curve.invert(a);
        let mut t1 = curve.invert(b);
        if let Some(period) = curve.period() {
            let mut d = (t1 - t0).rem_euclid(period);
            if closed && d < 1e-9 {
                d = period;
            }
            t1 = t0 + d;
        } else if closed && let Some((lo, hi)) = curve.domain() {
            // A closed B-spline: the whole curve from the vertex round to itself.
            if (t1 - t0).abs() < 1e-12 * (hi - lo) {
                t1 = if (t0 - lo).abs() < (hi - t0).abs() {
                    hi
                } else {
                    lo
                };
            }
        }
        let ts = self.parameters(&curve, t0, t1);
        let mut idx = Vec::with_capacity(ts.len());
        idx.push(if e.same_sense { i0 } else { i1 });
        for &t in &ts[1..ts.len() - 1] {
            let p = curve.eval(t);
            if !p.iter().all(|c| c.is_finite()) {
                return None;
            }
            idx.push(self.push_point(p)?);
        }
        idx.push(if e.same_sense { i1 } else { i0 });
        if !e.same_sense {
            idx.reverse();
        }
        Some(idx)
    }

    /// Curve parameters from `t0` to `t1` (both included) meeting the tolerance.
    fn parameters(&self, curve: &Curve, t0: f64, t1: f64) -> Vec<f64> {
        let uniform = |n: usize| -> Vec<f64> {
            let n = n.clamp(1, MAX_EDGE_POINTS - 1);
            (0..=n)
                .map(|i| t0 + (t1 - t0) * i as f64 / n as f64)
                .collect()
        };
        match curve {
            Curve::Line { .. } => vec![t0, t1],
            Curve::Circle(_, r) => uniform(self.arc_segments(*r, t1 - t0)),
            Curve::Ellipse(_, a, b) => {
                // Smallest radius of curvature of an ellipse: b²/a for a ≥ b.
                let (big, small) = if a >= b { (*a, *b) } else { (*b, *a) };
                uniform(self.arc_segments(small * small / big, t1 - t0))
            }
            Curve::BSpline(c) => {
                let start = uniform(c.knots.spans() * c.knots.degree.max(2) * 2);
                self.subdivide(curve, start)
            }
        }
    }

    fn arc_segments(&self, radius: f64, sweep: f64) -> usize {
        let by_chord = if self.tol.chord < radius {
            2.0 * (1.0 - self.tol.chord / radius).acos()
        } else {
            self.tol.angle
        };
        let step = by_chord
            .min(self.tol.angle)
            .max(TAU / MAX_EDGE_POINTS as f64);
        let n = (sweep.abs() / step).ceil();
        if n.is_finite() {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "clamped to MAX_EDGE_POINTS"
            )]
            let n = n.min(MAX_EDGE_POINTS as f64) as usize;
            n.max(1)
        } else {
            1
        }
    }

    /// Halves segments whose midpoint is off the chord by more than the tolerance.
    fn subdivide(&self, curve: &Curve, start: Vec<f64>) -> Vec<f64> {
        let mut ts = start;
        for _ in 0..12 {
            let mut out = Vec::with_capacity(ts.len() * 2);
            let mut split = false;
            for w in ts.windows(2) {
                out.push(w[0]);
                if out.len() + ts.len() >= MAX_EDGE_POINTS {
                    continue;
                }
                let (pa, pb) = (curve.eval(w[0]), curve.eval(w[1]));
                let m = 0.5 * (w[0] + w[1]);
                let mid = curve.eval(m);
                let chord_mid = scale(add(pa, pb), 0.5);
                let turn = angle_between(sub(mid, pa), sub(pb, mid));
                if dist(mid, chord_mid) > self.tol.chord || turn > self.tol.angle {
                    out.push(m);
                    split = true;
                }
            }
            out.extend(ts.last());
            ts = out;
            if !split {
                break;
            }
        }
        ts
    }

    /// Tessellates one face; `Ok(false)` when it had to be skipped.
    fn face(&mut self, f: &FaceRef) -> Result<bool, OverBudget> {
        let Ok(surface) = self.geo.surface(f.surface) else {
            return Ok(false);
        };
        let mut loops: Vec<Vec<u32>> = Vec::new();
        for lp in &f.loops {
            let mut idx: Vec<u32> = Vec::new();
            for oe in lp {
                let Some(e) = self.edge(oe.edge) else {
                    return Ok(false);
                };
                let seq: Vec<u32> = if oe.forward {
                    e.to_vec()
                } else {
                    e.iter().rev().copied().collect()
                };
                if idx.last() == seq.first() {
                    idx.extend(&seq[1..]);
                } else {
                    idx.extend(seq);
                }
            }
            if idx.len() > 1 && idx.first() == idx.last() {
                idx.pop();
            }
            if idx.len() >= 2 {
                loops.push(idx);
            }
        }
        if loops.is_empty() {
            return Ok(false);
        }
        let Some(uv_loops) = self.uv_loops(&surface, &loops) else {
            return Ok(false);
        };
        let budget = self.max_triangles.saturating_sub(self.mesh.triangles.len());
        let out = triangulate::face(&surface, &uv_loops, &self.mesh.positions, self.tol, budget);
        let Some(out) = out else {
            return Ok(false);
        };
        if out.triangles.len() > budget {
            return Err(OverBudget);
        }
        let base = self.mesh.positions.len();
        let Ok(base) = u32::try_from(base) else {
            return Err(OverBudget);
        };
        self.mesh.positions.extend(out.new_points);
        for t in out.triangles {
            let t = t.map(|v| match v {
                triangulate::Vertex::Mesh(i) => i,
                triangulate::Vertex::New(k) => base + k,
            });
            let t = if f.same_sense { t } else { [t[0], t[2], t[1]] };
            self.mesh.triangles.push(t);
        }
        Ok(true)
    }

    /// Boundary loops in the surface's parameter plane, angular parameters unwrapped so that
    /// every loop is continuous and all loops lie in one period.
    fn uv_loops(&self, surface: &Surface, loops: &[Vec<u32>]) -> Option<Vec<UvLoop>> {
        let (pu, pv) = surface.periods();
        let mut out: Vec<UvLoop> = Vec::new();
        for lp in loops {
            let mut uv: Vec<(f64, f64)> = Vec::with_capacity(lp.len());
            let mut hint = None;
            for &i in lp {
                let p = self.mesh.positions[i as usize];
                let q = surface.invert(p, hint);
                if q.1.is_finite() && q.0.is_finite() {
                    hint = Some(q);
                }
                uv.push(q);
            }
            unwrap(&mut uv, |q| q.0, |q, x| q.0 = x, pu);
            unwrap(&mut uv, |q| q.1, |q, x| q.1 = x, pv);
            let mut points = Vec::with_capacity(uv.len());
            let n = uv.len();
            for k in 0..n {
                let (u, v) = uv[k];
                if !v.is_finite() {
                    return None;
                }
                if u.is_finite() {
                    points.push((lp[k], [u, v]));
                } else {
                    // A pole or apex: one boundary point at the previous and next angles.
                    let prev = uv[(k + n - 1) % n].0;
                    let next = uv[(k + 1) % n].0;
                    for w in [prev, next] {
                        if w.is_finite()
                            && points.last().is_none_or(|l: &(u32, [f64; 2])| l.1[0] != w)
                        {
                            points.push((lp[k], [w, v]));
                        }
                    }
                }
            }
            if points.len() < 2 {
                continue;
            }
            out.push(UvLoop { points });
        }
        // Move inner loops by whole periods next to the outer loop.
        if let (Some(p), Some(first)) = (pu, out.first()) {
            let centre = mean(first, 0);
            for lp in out.iter_mut().skip(1) {
                let shift = ((centre - mean(lp, 0)) / p).round() * p;
                lp.points.iter_mut().for_each(|q| q.1[0] += shift);
            }
        }
        if let (Some(p), Some(first)) = (pv, out.first()) {
            let centre = mean(first, 1);
            for lp in out.iter_mut().skip(1) {
                let shift = ((centre - mean(lp, 1)) / p).round() * p;
                lp.points.iter_mut().for_each(|q| q.1[1] += shift);
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

fn mean(lp: &UvLoop, k: usize) -> f64 {
    lp.points.iter().map(|q| q.1[k]).sum::<f64>() / lp.points.len().max(1) as f64
}

/// Makes a periodic coordinate continuous along a loop (NaNs are left as they are).
fn unwrap(
    uv: &mut [(f64, f64)],
    get: impl Fn(&(f64, f64)) -> f64,
    set: impl Fn(&mut (f64, f64), f64),
    period: Option<f64>,
) {
    let Some(p) = period else { return };
    let mut prev: Option<f64> = None;
    for q in uv.iter_mut() {
        let x = get(q);
        if !x.is_finite() {
            continue;
        }
        if let Some(pr) = prev {
            let y = x + ((pr - x) / p).round() * p;
            set(q, y);
            prev = Some(y);
        } else {
            prev = Some(x);
        }
    }
}

fn angle_between(a: V3, b: V3) -> f64 {
    let na = super::linalg::norm(a);
    let nb = super::linalg::norm(b);
    if na * nb <= 0.0 {
        return 0.0;
    }
    (super::linalg::dot(a, b) / (na * nb))
        .clamp(-1.0, 1.0)
        .acos()
}
