//! Builds an indexed [`Mesh`] from loose triangles by merging vertices with identical positions.
//!
//! STL stores every triangle's three corners separately and glTF exporters duplicate vertices
//! along face boundaries; picking, feature edges and edge-length measurement all need to know
//! which triangles share a corner, so every loader funnels its triangles through here.

/// A fast hash (foldhash, the one hashbrown uses) with a per-map random seed: bit patterns of
/// positions hash in nanoseconds, and a crafted file cannot precompute collisions.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use crate::model::{CadError, Limits, Mesh};

/// The bit pattern of a position, with -0.0 folded onto 0.0 so that both weld together.
pub(crate) fn position_key(p: [f32; 3]) -> [u32; 3] {
    p.map(|c| (c + 0.0).to_bits())
}

/// Accumulates triangles into one welded mesh.
#[derive(Default)]
pub(crate) struct MeshWelder {
    mesh: Mesh,
    index_of: FastMap<[u32; 3], u32>,
}

impl MeshWelder {
    /// A welder sized for `triangles` triangles (closed meshes have about half as many
    /// vertices), capped so that a lying header cannot reserve much.
    pub(crate) fn with_capacity(triangles: usize) -> Self {
        let triangles = triangles.min(1 << 24);
        let mut welder = Self::default();
        welder.mesh.triangles.reserve(triangles);
        welder.mesh.positions.reserve(triangles / 2);
        welder.index_of.reserve(triangles / 2);
        welder
    }

    /// The index of `p`, adding it when new.
    pub(crate) fn vertex(&mut self, p: [f32; 3]) -> Result<u32, CadError> {
        let key = position_key(p);
        if let Some(&i) = self.index_of.get(&key) {
            return Ok(i);
        }
        let i = u32::try_from(self.mesh.positions.len()).map_err(|_| CadError::TooLarge {
            what: "vertices in one part",
            limit: u64::from(u32::MAX),
        })?;
        self.mesh.positions.push(p);
        self.index_of.insert(key, i);
        Ok(i)
    }

    /// Adds a triangle by its corner positions; degenerate ones (two corners at one position)
    /// are dropped because they have no area and no normal.
    pub(crate) fn triangle(&mut self, corners: [[f32; 3]; 3]) -> Result<(), CadError> {
        let t = [
            self.vertex(corners[0])?,
            self.vertex(corners[1])?,
            self.vertex(corners[2])?,
        ];
        if t[0] != t[1] && t[1] != t[2] && t[0] != t[2] {
            self.mesh.triangles.push(t);
        }
        Ok(())
    }

    /// Triangles so far.
    pub(crate) fn triangle_count(&self) -> usize {
        self.mesh.triangles.len()
    }

    /// The finished mesh.
    pub(crate) fn finish(self) -> Mesh {
        self.mesh
    }
}

/// Converts a coordinate to `f32`, refusing NaN, infinities and values beyond `f32`'s range,
/// which would poison bounding boxes, picking and every measurement.
pub(crate) fn finite_f32(v: f64, format: &'static str) -> Result<f32, CadError> {
    #[allow(clippy::cast_possible_truncation, reason = "range checked just below")]
    let f = v as f32;
    if f.is_finite() {
        Ok(f)
    } else {
        Err(CadError::Malformed {
            format,
            reason: format!("coordinate {v} is not a finite number"),
        })
    }
}

/// Fails when `total` triangles would exceed the limit.
pub(crate) fn check_triangles(total: u64, limits: &Limits) -> Result<(), CadError> {
    if total > limits.max_triangles {
        Err(CadError::TooLarge {
            what: "triangles",
            limit: limits.max_triangles,
        })
    } else {
        Ok(())
    }
}

/// Fails when `total` nodes would exceed the limit.
pub(crate) fn check_nodes(total: u64, limits: &Limits) -> Result<(), CadError> {
    if total > limits.max_nodes {
        Err(CadError::TooLarge {
            what: "nodes",
            limit: limits.max_nodes,
        })
    } else {
        Ok(())
    }
}
