//! Triangulates one face in its surface's parameter plane.
//!
//! The boundary loops become constraint edges of a constrained Delaunay triangulation (spade,
//! through its non-panicking `try_add_constraint`); triangles inside the face are those an odd
//! number of constraint edges away from the outside. Interior (Steiner) points are then added
//! at the centroids of triangles that stray from the surface by more than the chord tolerance
//! or turn by more than the angular limit, for a bounded number of rounds and points.
//!
//! The parameter plane is scaled by the surface's mean `|∂S/∂u|` and `|∂S/∂v|` so that Delaunay's
//! "well-shaped" holds roughly in 3D too (a cylinder's `u` is an angle, its `v` a length).

use spade::{ConstrainedDelaunayTriangulation, Point2, Triangulation};

use super::geometry::Surface;
use super::linalg::{V3, add, cross, dist, dot, norm, scale, sub};

/// How closely the mesh follows the exact geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Largest distance between a mesh edge or triangle and the true curve or surface.
    pub chord: f64,
    /// Largest angle, in radians, one mesh segment may turn along a curve.
    pub angle: f64,
}

/// Most interior points added to one face.
pub const MAX_STEINER_POINTS: usize = 50_000;

/// Refinement rounds per face.
const MAX_ROUNDS: usize = 12;

/// A boundary loop: mesh vertex index and its `(u, v)`.
#[derive(Debug, Clone, PartialEq)]
pub struct UvLoop {
    /// Points in loop order (the last joins the first).
    pub points: Vec<(u32, [f64; 2])>,
}

/// A vertex of a face's triangles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vertex {
    /// An existing mesh vertex (on the face's boundary).
    Mesh(u32),
    /// The `k`-th of [`FaceTriangles::new_points`].
    New(u32),
}

/// The triangles of one face, counter-clockwise in the parameter plane (so facing along
/// `∂S/∂u × ∂S/∂v`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaceTriangles {
    /// Triangles.
    pub triangles: Vec<[Vertex; 3]>,
    /// Interior points added, in 3D.
    pub new_points: Vec<V3>,
}

struct Info {
    uv: [f64; 2],
    pos: V3,
    id: Vertex,
}

type Cdt = ConstrainedDelaunayTriangulation<Point2<f64>>;

/// Triangulates a face bounded by `loops`; `positions` holds the mesh vertices they name.
/// `None` when the boundary cannot be triangulated.
#[must_use]
pub fn face(
    surface: &Surface,
    loops: &[UvLoop],
    positions: &[V3],
    tol: Tolerance,
    budget: usize,
) -> Option<FaceTriangles> {
    let (su, sv) = scales(surface, loops)?;
    let mut cdt = Cdt::new();
    let mut info: Vec<Info> = Vec::new();
    let mut new_points: Vec<V3> = Vec::new();
    let mut failed_constraint = false;
    let mut scaled_loops: Vec<Vec<[f64; 2]>> = Vec::new();
    for lp in loops {
        let mut handles = Vec::with_capacity(lp.points.len());
        for &(mesh, uv) in &lp.points {
            let pos = *positions.get(mesh as usize)?;
            let h = insert(&mut cdt, &mut info, uv, su, sv, pos, Vertex::Mesh(mesh))?;
            handles.push(h);
        }
        scaled_loops.push(
            lp.points
                .iter()
                .map(|q| [q.1[0] * su, q.1[1] * sv])
                .collect(),
        );
        for k in 0..handles.len() {
            let (a, b) = (handles[k], handles[(k + 1) % handles.len()]);
            if a != b && cdt.try_add_constraint(a, b).is_empty() && !cdt.exists_constraint(a, b) {
                failed_constraint = true;
            }
        }
    }
    let steiner_cap = MAX_STEINER_POINTS.min(budget / 2 + 16);
    for _ in 0..MAX_ROUNDS {
        let inside = classify(&cdt, failed_constraint, &scaled_loops);
        let mut wanted: Vec<[f64; 2]> = Vec::new();
        for f in cdt.inner_faces() {
            if !inside[f.fix().index()] {
                continue;
            }
            let vs = f.vertices().map(|v| v.fix().index());
            if needs_split(surface, &info, vs, tol) {
                let c = vs.map(|i| info[i].uv);
                wanted.push([
                    (c[0][0] + c[1][0] + c[2][0]) / 3.0,
                    (c[0][1] + c[1][1] + c[2][1]) / 3.0,
                ]);
            }
        }
        if wanted.is_empty() {
            break;
        }
        for uv in wanted {
            if new_points.len() >= steiner_cap {
                break;
            }
            let pos = surface.eval(uv[0], uv[1]);
            if !pos.iter().all(|c| c.is_finite()) {
                continue;
            }
            let Ok(k) = u32::try_from(new_points.len()) else {
                break;
            };
            let before = info.len();
            if insert(&mut cdt, &mut info, uv, su, sv, pos, Vertex::New(k)).is_some()
                && info.len() > before
            {
                new_points.push(pos);
            }
        }
        if new_points.len() >= steiner_cap {
            break;
        }
    }
    let inside = classify(&cdt, failed_constraint, &scaled_loops);
    let mut triangles = Vec::new();
    for f in cdt.inner_faces() {
        if !inside[f.fix().index()] {
            continue;
        }
        let t = f.vertices().map(|v| info[v.fix().index()].id);
        if t[0] != t[1] && t[1] != t[2] && t[0] != t[2] {
            triangles.push(t);
        }
        if triangles.len() > budget {
            break;
        }
    }
    Some(FaceTriangles {
        triangles,
        new_points,
    })
}

/// Inserts a point; records its information when it is new. `None` for coordinates spade
/// refuses (NaN, out of range).
fn insert(
    cdt: &mut Cdt,
    info: &mut Vec<Info>,
    uv: [f64; 2],
    su: f64,
    sv: f64,
    pos: V3,
    id: Vertex,
) -> Option<spade::handles::FixedVertexHandle> {
    let h = cdt.insert(Point2::new(uv[0] * su, uv[1] * sv)).ok()?;
    if h.index() == info.len() {
        info.push(Info { uv, pos, id });
    }
    (h.index() < info.len()).then_some(h)
}

/// Mean `|∂S/∂u|` and `|∂S/∂v|` over the face's parameter box.
fn scales(surface: &Surface, loops: &[UvLoop]) -> Option<(f64, f64)> {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for q in loops.iter().flat_map(|l| &l.points) {
        for k in 0..2 {
            lo[k] = lo[k].min(q.1[k]);
            hi[k] = hi[k].max(q.1[k]);
        }
    }
    if !(lo[0].is_finite() && hi[0].is_finite() && lo[1].is_finite() && hi[1].is_finite()) {
        return None;
    }
    let (mut su, mut sv, mut n) = (0.0, 0.0, 0.0);
    for i in 0..3 {
        for j in 0..3 {
            let u = lo[0] + (hi[0] - lo[0]) * (0.25 + 0.25 * f64::from(i));
            let v = lo[1] + (hi[1] - lo[1]) * (0.25 + 0.25 * f64::from(j));
            let (du, dv) = surface.derivatives(u, v);
            let (a, b) = (norm(du), norm(dv));
            if a.is_finite() && b.is_finite() {
                su += a;
                sv += b;
                n += 1.0;
            }
        }
    }
    let fix = |s: f64| if s.is_finite() && s > 1e-12 { s } else { 1.0 };
    if n == 0.0 {
        return Some((1.0, 1.0));
    }
    Some((fix(su / n), fix(sv / n)))
}

/// Whether a triangle strays from the surface: its centroid or an edge midpoint is off by more
/// than the chord tolerance, or its normal is turned from the surface's by more than the
/// angular limit.
fn needs_split(surface: &Surface, info: &[Info], vs: [usize; 3], tol: Tolerance) -> bool {
    let p = vs.map(|i| info[i].pos);
    let uv = vs.map(|i| info[i].uv);
    let longest = dist(p[0], p[1]).max(dist(p[1], p[2])).max(dist(p[2], p[0]));
    if longest < tol.chord {
        return false;
    }
    let cu = (uv[0][0] + uv[1][0] + uv[2][0]) / 3.0;
    let cv = (uv[0][1] + uv[1][1] + uv[2][1]) / 3.0;
    let centre = scale(add(add(p[0], p[1]), p[2]), 1.0 / 3.0);
    if dist(surface.eval(cu, cv), centre) > tol.chord {
        return true;
    }
    for (a, b) in [(0, 1), (1, 2), (2, 0)] {
        let m = surface.eval(0.5 * (uv[a][0] + uv[b][0]), 0.5 * (uv[a][1] + uv[b][1]));
        if dist(m, scale(add(p[a], p[b]), 0.5)) > tol.chord {
            return true;
        }
    }
    let nt = cross(sub(p[1], p[0]), sub(p[2], p[0]));
    let ns = surface.normal(cu, cv);
    let d = norm(nt) * norm(ns);
    d > 0.0 && (dot(nt, ns).abs() / d).clamp(-1.0, 1.0).acos() > tol.angle
}

/// Which faces (by spade face index) lie inside the boundary: flood fill from the hull,
/// flipping at each constraint edge; when a constraint could not be added, an even-odd test of
/// each centroid against the loops instead.
fn classify(cdt: &Cdt, failed: bool, loops: &[Vec<[f64; 2]>]) -> Vec<bool> {
    let mut inside = vec![false; cdt.num_all_faces()];
    if failed {
        for f in cdt.inner_faces() {
            let c = f.vertices().map(|v| v.position());
            let p = [
                (c[0].x + c[1].x + c[2].x) / 3.0,
                (c[0].y + c[1].y + c[2].y) / 3.0,
            ];
            inside[f.fix().index()] = even_odd(p, loops);
        }
        return inside;
    }
    let mut seen = vec![false; cdt.num_all_faces()];
    let mut stack = Vec::new();
    for e in cdt.convex_hull() {
        for edge in [e, e.rev()] {
            if let Some(f) = edge.face().as_inner() {
                let i = f.fix().index();
                if !seen[i] {
                    seen[i] = true;
                    inside[i] = edge.is_constraint_edge();
                    stack.push(f);
                }
            }
        }
    }
    while let Some(f) = stack.pop() {
        let here = inside[f.fix().index()];
        for e in f.adjacent_edges() {
            if let Some(g) = e.rev().face().as_inner() {
                let i = g.fix().index();
                if !seen[i] {
                    seen[i] = true;
                    inside[i] = here ^ e.is_constraint_edge();
                    stack.push(g);
                }
            }
        }
    }
    inside
}

fn even_odd(p: [f64; 2], loops: &[Vec<[f64; 2]>]) -> bool {
    let mut inside = false;
    for lp in loops {
        let n = lp.len();
        for k in 0..n {
            let (a, b) = (lp[k], lp[(k + 1) % n]);
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
                if p[0] < x {
                    inside = !inside;
                }
            }
        }
    }
    inside
}
