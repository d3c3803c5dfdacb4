//! STEP (ISO 10303-21 files of AP203/AP214 B-rep models) to triangle meshes.
//!
//! A CAD kernel compiled to wasm (OpenCascade via occt-import-js) is megabytes and not Rust;
//! the `truck` crates hang on fillets and know no assemblies. This loader reads the subset
//! of STEP that mechanical CAD systems write — analytic and B-spline curves and surfaces,
//! advanced B-rep solids, product structure with placed components — and tessellates it
//! itself. `docs/cad.md` lists the supported entities, the tolerance and the limits.
//!
//! The pipeline: [`part21`] parses the bytes into records; [`units`] reads the length unit;
//! [`assembly`] finds which solids are placed where; [`topology`] follows each solid's faces,
//! loops and edges; [`geometry`] evaluates curves and surfaces; [`tessellate`] samples edges
//! once per solid and [`triangulate`] fills each face in its parameter plane.
//!
//! The chord tolerance is 1/2000 of the model's bounding-box diagonal (taken over the B-rep
//! vertices) with a 20° angular limit. Faces whose geometry is unsupported or broken are
//! skipped and counted ([`StepReport::skipped_faces`]); the load fails only when nothing is
//! left to show.

pub mod assembly;
pub mod bspline;
pub mod geometry;
pub mod linalg;
pub mod part21;
pub mod tessellate;
pub mod topology;
pub mod triangulate;
pub mod units;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::{Aabb, CadError, LengthUnit, Limits, Mesh, Model, Part};
use geometry::GeometryReader;
use tessellate::{SolidMesh, SolidTessellator, Tolerance};

/// Chord tolerance as a fraction of the model's diagonal.
pub const CHORD_FRACTION: f64 = 5e-4;

/// Angular limit of one mesh segment along a curve or across a surface: 20°.
pub const ANGLE_LIMIT: f64 = 20.0 * std::f64::consts::PI / 180.0;

/// The neutral grey of parts without a colour.
const GREY: [f32; 3] = [0.72, 0.74, 0.77];

/// What the loader had to leave out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepReport {
    /// Faces with unsupported or broken geometry, over all placed solids.
    pub skipped_faces: usize,
    /// The chord tolerance used, in model units.
    pub chord_tolerance: f64,
}

/// Loads a STEP file into a model.
///
/// # Errors
/// [`CadError::Malformed`] for bytes that are not ISO 10303-21, [`CadError::TooLarge`] past
/// `limits`, [`CadError::Empty`] or [`CadError::Unsupported`] when no face could be shown.
pub fn load_step(bytes: &[u8], limits: &Limits) -> Result<Model, CadError> {
    load_step_with_report(bytes, limits).map(|(m, _)| m)
}

/// [`load_step`], also saying what was left out.
///
/// # Errors
/// As [`load_step`].
pub fn load_step_with_report(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(Model, StepReport), CadError> {
    let ex = part21::parse(bytes)?;
    let units = units::find(&ex);
    let mut geo = GeometryReader::new(&ex);
    geo.angle_unit = units.angle;
    let structure = assembly::read(&ex, &geo, limits)?;
    let tol = Tolerance {
        chord: chord_tolerance(&ex, &geo).ok_or(CadError::Empty { format: "STEP" })?,
        angle: ANGLE_LIMIT,
    };
    let max_triangles = usize::try_from(limits.max_triangles).unwrap_or(usize::MAX);
    let too_many = || CadError::TooLarge {
        what: "triangles",
        limit: limits.max_triangles,
    };
    let mut meshes: HashMap<u64, SolidMesh> = HashMap::new();
    let mut total = 0usize;
    let mut report = StepReport {
        skipped_faces: 0,
        chord_tolerance: tol.chord,
    };
    let mut parts = Vec::new();
    for placement in &structure.placements {
        let solid = match meshes.entry(placement.solid) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let (faces, unreadable) = topology::solid_faces(&ex, placement.solid);
                let budget = max_triangles.saturating_sub(total);
                let mut mesh = SolidTessellator::new(&ex, &geo, tol, budget)
                    .run(&faces)
                    .map_err(|_| too_many())?;
                mesh.skipped_faces += unreadable;
                e.insert(mesh)
            }
        };
        report.skipped_faces += solid.skipped_faces;
        total = total.saturating_add(solid.triangles.len());
        if total > max_triangles {
            return Err(too_many());
        }
        if solid.triangles.is_empty() {
            continue;
        }
        let positions = solid
            .positions
            .iter()
            .map(|&p| {
                #[allow(clippy::cast_possible_truncation, reason = "meshes are f32 by design")]
                placement.transform.apply(p).map(|c| c as f32)
            })
            .collect();
        parts.push(Part {
            name: placement.name.clone(),
            node: placement.node,
            mesh: Mesh {
                positions,
                triangles: solid.triangles.clone(),
            },
            color: GREY,
        });
    }
    if parts.is_empty() {
        return Err(if report.skipped_faces > 0 {
            CadError::Unsupported {
                format: "STEP",
                what: format!(
                    "no face could be tessellated ({} faces with unsupported or broken geometry)",
                    report.skipped_faces
                ),
            }
        } else {
            CadError::Empty { format: "STEP" }
        });
    }
    let model = Model {
        nodes: structure.nodes,
        parts,
        unit: units.length.unwrap_or(LengthUnit::Millimetre),
        unit_declared: units.length.is_some(),
    };
    Ok((model, report))
}

/// [`CHORD_FRACTION`] of the diagonal of the B-rep's vertices; `None` without vertices.
fn chord_tolerance(ex: &part21::Exchange, geo: &GeometryReader) -> Option<f64> {
    let mut b = Aabb::EMPTY;
    for e in ex.entities.values() {
        if let Some(r) = e.record("VERTEX_POINT")
            && let Some(p) = r
                .param(1)
                .and_then(part21::Param::as_ref_id)
                .and_then(|p| geo.point(p))
        {
            b.add(p);
        }
    }
    if b.is_empty() {
        return None;
    }
    let d = b.diagonal();
    Some(if d.is_finite() && d > 0.0 {
        d * CHORD_FRACTION
    } else {
        1e-3
    })
}
