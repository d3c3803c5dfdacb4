//! Picking and measuring on a [`Model`]: the pure geometry behind the 3D viewer's click, snap
//! and edge-length tools, kept here so that it is tested natively and runs unchanged in wasm.
//!
//! Picking is a flat Möller–Trumbore loop over every visible triangle (no acceleration
//! structure: a click is rare, and a flat loop over 2 M triangles is tens of milliseconds).
//! Feature edges are the edges a CAD user sees: where adjacent faces meet at more than a crease
//! angle, plus open boundaries. An edge chain follows feature edges through vertices where
//! exactly two meet and the direction turns gently, so one click on a tessellated circle
//! measures the whole circle.

use crate::vec3::{cross, dot, norm as length, sub};
use crate::weld::FastMap;

use crate::model::{Mesh, Model};
use crate::weld::position_key;

/// A ray from the camera through the cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ray {
    /// Start point.
    pub origin: [f64; 3],
    /// Direction (any length but zero).
    pub dir: [f64; 3],
}

/// A section plane: points with `normal · p <= offset` are kept, the rest is cut away.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    /// Plane normal, pointing into the removed half.
    pub normal: [f64; 3],
    /// Signed distance of the plane along `normal` (for a unit normal).
    pub offset: f64,
}

/// Where a ray first meets the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index into [`Model::parts`].
    pub part: usize,
    /// Index into that part's triangles.
    pub triangle: usize,
    /// The point hit, in model coordinates.
    pub point: [f64; 3],
    /// Distance from the ray's origin, in model units.
    pub distance: f64,
}

fn vertex(mesh: &Mesh, i: u32) -> [f64; 3] {
    mesh.positions
        .get(i as usize)
        .map_or([f64::NAN; 3], |p| p.map(f64::from))
}

/// The nearest triangle the ray hits, front or back, among parts whose `visible` entry is true
/// (parts past the end of `visible` count as visible), ignoring what the section plane cuts
/// away.
#[must_use]
pub fn pick(model: &Model, visible: &[bool], ray: &Ray, section: Option<Plane>) -> Option<Hit> {
    let norm = length(ray.dir);
    if norm == 0.0 || !norm.is_finite() {
        return None;
    }
    let dir = ray.dir.map(|c| c / norm);
    let mut best: Option<Hit> = None;
    for (part_index, part) in model.parts.iter().enumerate() {
        if !visible.get(part_index).copied().unwrap_or(true) {
            continue;
        }
        let mesh = &part.mesh;
        for (triangle, t) in mesh.triangles.iter().enumerate() {
            let [a, b, c] = t.map(|i| vertex(mesh, i));
            let Some(distance) = intersect(ray.origin, dir, a, b, c) else {
                continue;
            };
            if best.is_some_and(|h| h.distance <= distance) {
                continue;
            }
            let point = std::array::from_fn(|k| ray.origin[k] + distance * dir[k]);
            if section.is_some_and(|s| dot(s.normal, point) > s.offset) {
                continue;
            }
            best = Some(Hit {
                part: part_index,
                triangle,
                point,
                distance,
            });
        }
    }
    best
}

/// Möller–Trumbore: the distance along the unit `dir` at which the ray meets triangle abc.
fn intersect(
    origin: [f64; 3],
    dir: [f64; 3],
    a: [f64; 3],
    b: [f64; 3],
    c: [f64; 3],
) -> Option<f64> {
    let e1 = sub(b, a);
    let e2 = sub(c, a);
    let p = cross(dir, e2);
    let det = dot(e1, p);
    if det.abs() < 1e-12 {
        return None; // parallel or degenerate
    }
    let inv = 1.0 / det;
    let s = sub(origin, a);
    let u = dot(s, p) * inv;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = cross(s, e1);
    let v = dot(dir, q) * inv;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = dot(e2, q) * inv;
    (t >= 0.0).then_some(t)
}

/// The hit triangle's corner nearest to the hit point when it is within `radius`, else the hit
/// point itself.
#[must_use]
pub fn snap_to_vertex(model: &Model, hit: &Hit, radius: f64) -> [f64; 3] {
    let Some(t) = model
        .parts
        .get(hit.part)
        .and_then(|p| p.mesh.triangles.get(hit.triangle).map(|t| (p, t)))
    else {
        return hit.point;
    };
    let (part, corners) = t;
    corners
        .iter()
        .map(|&i| vertex(&part.mesh, i))
        .map(|v| (length(sub(v, hit.point)), v))
        .filter(|(d, _)| *d <= radius)
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map_or(hit.point, |(_, v)| v)
}

/// Edges where the two adjacent faces' normals differ by more than `crease_deg`, plus boundary
/// edges (one face) and non-manifold edges (three or more faces). Vertices are first welded by
/// position, so duplicated vertices along face seams do not make false boundaries; the returned
/// indices are the first vertex at each position. Sorted, each edge once, smaller index first.
#[must_use]
pub fn feature_edges(mesh: &Mesh, crease_deg: f32) -> Vec<[u32; 2]> {
    let mut first_at: FastMap<[u32; 3], u32> =
        FastMap::with_capacity_and_hasher(mesh.positions.len(), Default::default());
    let canonical: Vec<u32> = (0..mesh.positions.len())
        .map(|i| {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            *first_at
                .entry(position_key(mesh.positions[i]))
                .or_insert(index)
        })
        .collect();
    struct EdgeFaces {
        normal: [f64; 3],
        faces: u32,
        sharp: bool,
    }
    let cos_crease = f64::from(crease_deg).to_radians().cos();
    // Each edge is shared by two triangles in a closed mesh: 1.5 edges per triangle.
    let mut edges: FastMap<[u32; 2], EdgeFaces> =
        FastMap::with_capacity_and_hasher(mesh.triangles.len() * 3 / 2 + 16, Default::default());
    for t in &mesh.triangles {
        let (Some(&c0), Some(&c1), Some(&c2)) = (
            canonical.get(t[0] as usize),
            canonical.get(t[1] as usize),
            canonical.get(t[2] as usize),
        ) else {
            continue;
        };
        let c = [c0, c1, c2];
        if c[0] == c[1] || c[1] == c[2] || c[0] == c[2] {
            continue;
        }
        let [a, b, d] = [c[0], c[1], c[2]].map(|i| vertex(mesh, i));
        let n = cross(sub(b, a), sub(d, a));
        let len = length(n);
        if len == 0.0 || !len.is_finite() {
            continue;
        }
        let n = n.map(|x| x / len);
        for (u, v) in [(c[0], c[1]), (c[1], c[2]), (c[2], c[0])] {
            let key = if u < v { [u, v] } else { [v, u] };
            edges
                .entry(key)
                .and_modify(|e| {
                    e.faces += 1;
                    e.sharp |= dot(e.normal, n) < cos_crease;
                })
                .or_insert(EdgeFaces {
                    normal: n,
                    faces: 1,
                    sharp: false,
                });
        }
    }
    let mut out: Vec<[u32; 2]> = edges
        .into_iter()
        .filter(|(_, e)| e.faces != 2 || e.sharp)
        .map(|(k, _)| k)
        .collect();
    out.sort_unstable();
    out
}

/// Largest change of direction, in degrees, at which an edge chain continues: a tessellated
/// circle turns by a few degrees per segment, a corner by 90°.
const MAX_CHAIN_TURN_DEG: f64 = 60.0;

/// Follows `edges` from `edges[start_edge]` in both directions through vertices where exactly
/// two feature edges meet and the direction turns by at most 60°, and returns the chain's total
/// length and its vertices in order (a closed loop lists each vertex once, its length includes
/// the closing segment). An out-of-range `start_edge` gives `(0.0, [])`.
#[must_use]
pub fn edge_chain_length(mesh: &Mesh, edges: &[[u32; 2]], start_edge: usize) -> (f64, Vec<u32>) {
    let Some(&[a, b]) = edges.get(start_edge) else {
        return (0.0, Vec::new());
    };
    let mut at_vertex: FastMap<u32, Vec<usize>> = FastMap::default();
    for (i, e) in edges.iter().enumerate() {
        at_vertex.entry(e[0]).or_default().push(i);
        at_vertex.entry(e[1]).or_default().push(i);
    }
    let mut used = vec![false; edges.len()];
    used[start_edge] = true;
    let forward = walk(mesh, edges, &at_vertex, &mut used, a, b);
    let closed = forward.last() == Some(&a);
    let mut chain: Vec<u32> = if closed {
        Vec::new()
    } else {
        let mut back = walk(mesh, edges, &at_vertex, &mut used, b, a);
        back.reverse();
        back
    };
    chain.push(a);
    chain.push(b);
    chain.extend(forward);
    let mut total: f64 = chain
        .windows(2)
        .map(|w| length(sub(vertex(mesh, w[1]), vertex(mesh, w[0]))))
        .sum();
    if closed {
        chain.pop(); // `a` again
    } else if chain.first() == chain.last() && chain.len() > 1 {
        chain.pop();
    }
    if !total.is_finite() {
        total = 0.0;
    }
    (total, chain)
}

/// The vertices after `cur` when walking away from `prev`, stopping at branches, sharp turns,
/// used edges, or on returning to the start.
fn walk(
    mesh: &Mesh,
    edges: &[[u32; 2]],
    at_vertex: &FastMap<u32, Vec<usize>>,
    used: &mut [bool],
    mut prev: u32,
    mut cur: u32,
) -> Vec<u32> {
    let cos_turn = MAX_CHAIN_TURN_DEG.to_radians().cos();
    let mut out = Vec::new();
    while let Some(incident) = at_vertex.get(&cur) {
        if incident.len() != 2 {
            break;
        }
        let Some(&next_edge) = incident.iter().find(|&&e| !used[e]) else {
            break;
        };
        let [u, v] = edges[next_edge];
        let next = if u == cur { v } else { u };
        let d1 = sub(vertex(mesh, cur), vertex(mesh, prev));
        let d2 = sub(vertex(mesh, next), vertex(mesh, cur));
        let (l1, l2) = (length(d1), length(d2));
        if l1 > 0.0 && l2 > 0.0 && dot(d1, d2) / (l1 * l2) < cos_turn {
            break;
        }
        used[next_edge] = true;
        out.push(next);
        prev = cur;
        cur = next;
    }
    out
}

/// The feature edge (index into `edges`) nearest to `point` within `max_dist`, for turning a
/// click near an edge into an edge measurement.
#[must_use]
pub fn nearest_feature_edge(
    mesh: &Mesh,
    edges: &[[u32; 2]],
    point: [f64; 3],
    max_dist: f64,
) -> Option<usize> {
    edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                i,
                segment_distance(point, vertex(mesh, e[0]), vertex(mesh, e[1])),
            )
        })
        .filter(|(_, d)| *d <= max_dist)
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(i, _)| i)
}

fn segment_distance(p: [f64; 3], a: [f64; 3], b: [f64; 3]) -> f64 {
    let ab = sub(b, a);
    let len2 = dot(ab, ab);
    let t = if len2 > 0.0 {
        (dot(sub(p, a), ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    length(sub(p, std::array::from_fn(|k| a[k] + t * ab[k])))
}
