//! B-rep topology: solids → shells → faces → loops → oriented edges → edge curves and vertices.
//!
//! This module only follows references and flags; it never evaluates geometry. Whatever it
//! cannot read in one face makes that face unreadable (reported by the caller), not the solid.

use super::part21::{Exchange, Param};

/// The items of a shape representation that carry surfaces: a solid or surface model.
pub const SOLID_NAMES: &[&str] = &[
    "MANIFOLD_SOLID_BREP",
    "BREP_WITH_VOIDS",
    "FACETED_BREP",
    "SHELL_BASED_SURFACE_MODEL",
];

/// Most faces followed in one solid (a cap against shells listing themselves).
const MAX_FACES: usize = 1_000_000;

/// A face with its flags resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRef {
    /// The ADVANCED_FACE or FACE_SURFACE.
    pub id: u64,
    /// The surface entity.
    pub surface: u64,
    /// True when the outward normal is the surface's `∂S/∂u × ∂S/∂v` (face `same_sense`, turned
    /// over by an oriented shell).
    pub same_sense: bool,
    /// Boundary loops; the outer bound (when marked) first.
    pub loops: Vec<Vec<OrientedEdge>>,
}

/// An edge of a loop, in the direction the loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrientedEdge {
    /// The EDGE_CURVE.
    pub edge: u64,
    /// False when the loop runs the edge from its end vertex to its start.
    pub forward: bool,
}

/// An EDGE_CURVE's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeCurve {
    /// Start VERTEX_POINT's point.
    pub start: u64,
    /// End VERTEX_POINT's point.
    pub end: u64,
    /// The curve entity.
    pub curve: u64,
    /// True when the edge runs with the curve's parameter.
    pub same_sense: bool,
}

/// Reads an EDGE_CURVE.
#[must_use]
pub fn edge_curve(ex: &Exchange, id: u64) -> Option<EdgeCurve> {
    let r = ex.record(id, "EDGE_CURVE")?;
    let vertex = |i: usize| {
        let v = ex.record(r.param(i)?.as_ref_id()?, "VERTEX_POINT")?;
        v.param(1)?.as_ref_id()
    };
    Some(EdgeCurve {
        start: vertex(1)?,
        end: vertex(2)?,
        curve: r.param(3)?.as_ref_id()?,
        same_sense: r.param(4)?.as_bool()?,
    })
}

/// The faces of a solid (or surface model), with shell orientation folded into `same_sense`.
/// Faces that cannot be read are counted in the second value.
#[must_use]
pub fn solid_faces(ex: &Exchange, solid: u64) -> (Vec<FaceRef>, usize) {
    let mut shells: Vec<(u64, bool)> = Vec::new();
    if let Some(r) = ex.get(solid).and_then(|e| e.simple()) {
        match r.name.as_str() {
            "MANIFOLD_SOLID_BREP" | "FACETED_BREP" => {
                shells.extend(r.param(1).and_then(Param::as_ref_id).map(|s| (s, true)));
            }
            "BREP_WITH_VOIDS" => {
                shells.extend(r.param(1).and_then(Param::as_ref_id).map(|s| (s, true)));
                // Voids are oriented closed shells; their faces point into the void.
                for v in r.param(2).and_then(Param::as_list).unwrap_or(&[]) {
                    shells.extend(v.as_ref_id().map(|s| (s, true)));
                }
            }
            "SHELL_BASED_SURFACE_MODEL" => {
                for s in r.param(1).and_then(Param::as_list).unwrap_or(&[]) {
                    shells.extend(s.as_ref_id().map(|s| (s, true)));
                }
            }
            _ => {}
        }
    }
    let mut faces = Vec::new();
    let mut bad = 0;
    for (shell, sense) in shells {
        let Some((shell, sense)) = resolve_shell(ex, shell, sense) else {
            bad += 1;
            continue;
        };
        let Some(list) = ex
            .get(shell)
            .and_then(|e| e.simple())
            .and_then(|r| r.param(1))
            .and_then(Param::as_list)
        else {
            bad += 1;
            continue;
        };
        for f in list.iter().take(MAX_FACES) {
            match f.as_ref_id().and_then(|id| face(ex, id, sense)) {
                Some(face) => faces.push(face),
                None => bad += 1,
            }
        }
    }
    (faces, bad)
}

/// Follows ORIENTED_CLOSED_SHELL / ORIENTED_OPEN_SHELL to the shell with its faces.
fn resolve_shell(ex: &Exchange, mut id: u64, mut sense: bool) -> Option<(u64, bool)> {
    for _ in 0..8 {
        let r = ex.get(id)?.simple()?;
        match r.name.as_str() {
            "CLOSED_SHELL" | "OPEN_SHELL" => return Some((id, sense)),
            "ORIENTED_CLOSED_SHELL" | "ORIENTED_OPEN_SHELL" => {
                sense ^= !r.param(3)?.as_bool()?;
                id = r.param(2)?.as_ref_id()?;
            }
            _ => return None,
        }
    }
    None
}

fn face(ex: &Exchange, id: u64, shell_sense: bool) -> Option<FaceRef> {
    let r = ex.get(id)?.simple()?;
    let (r, flip) = match r.name.as_str() {
        "ADVANCED_FACE" | "FACE_SURFACE" => (r, false),
        "ORIENTED_FACE" => {
            let inner = ex.get(r.param(2)?.as_ref_id()?)?.simple()?;
            (inner, !r.param(3)?.as_bool()?)
        }
        _ => return None,
    };
    if !matches!(r.name.as_str(), "ADVANCED_FACE" | "FACE_SURFACE") {
        return None;
    }
    let surface = r.param(2)?.as_ref_id()?;
    let same_sense = r.param(3)?.as_bool()? ^ flip ^ !shell_sense;
    let mut loops = Vec::new();
    for b in r.param(1)?.as_list()? {
        let bound = ex.get(b.as_ref_id()?)?.simple()?;
        let outer = match bound.name.as_str() {
            "FACE_OUTER_BOUND" => true,
            "FACE_BOUND" => false,
            _ => return None,
        };
        let lp = ex.get(bound.param(1)?.as_ref_id()?)?.simple()?;
        match lp.name.as_str() {
            "EDGE_LOOP" => {}
            // A loop of one vertex (a cone's apex, a sphere's pole) bounds nothing.
            "VERTEX_LOOP" => continue,
            _ => return None,
        }
        let mut edges = Vec::new();
        for oe in lp.param(1)?.as_list()? {
            let o = ex.record(oe.as_ref_id()?, "ORIENTED_EDGE")?;
            edges.push(OrientedEdge {
                edge: o.param(3)?.as_ref_id()?,
                forward: o.param(4)?.as_bool()?,
            });
        }
        if outer {
            loops.insert(0, edges);
        } else {
            loops.push(edges);
        }
    }
    Some(FaceRef {
        id,
        surface,
        same_sense,
        loops,
    })
}
