//! A model's meshes on the GPU: one vertex buffer, one triangle index buffer and one edge index
//! buffer per part, plus each part's colour uniform.

use veilmark_cad::Model;
use wgpu::util::DeviceExt;

use crate::{Gpu, RenderError};

/// The default colour of feature edges.
pub const EDGE_COLOR: [f32; 4] = [0.13, 0.15, 0.18, 1.0];
/// Highlight colour of a selected part.
pub const SELECTED_COLOR: [f32; 3] = [0.16, 0.46, 0.86];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct PartUniform {
    pub color: [f32; 4],
    pub edge_color: [f32; 4],
}

pub(crate) struct GpuPart {
    pub vertices: wgpu::Buffer,
    pub triangles: wgpu::Buffer,
    pub triangle_indices: u32,
    pub edges: wgpu::Buffer,
    pub edge_indices: u32,
    pub uniform: wgpu::Buffer,
    pub bind_group: wgpu::BindGroup,
    pub color: [f32; 3],
}

/// A model uploaded for drawing.
pub struct Scene {
    pub(crate) parts: Vec<GpuPart>,
}

impl std::fmt::Debug for Scene {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scene({} parts)", self.parts.len())
    }
}

impl Scene {
    /// Uploads `model`; `edges[i]` are part `i`'s feature edges (pairs of vertex indices), drawn
    /// over the faces.
    pub fn upload(
        gpu: &Gpu,
        layout: &wgpu::BindGroupLayout,
        model: &Model,
        edges: &[Vec<[u32; 2]>],
    ) -> Result<Self, RenderError> {
        let max = gpu.device.limits().max_buffer_size;
        let mut parts = Vec::with_capacity(model.parts.len());
        for (i, part) in model.parts.iter().enumerate() {
            let verts: &[u8] = bytemuck::cast_slice(&part.mesh.positions);
            let tris: &[u8] = bytemuck::cast_slice(&part.mesh.triangles);
            let part_edges = edges.get(i).map_or(&[][..], Vec::as_slice);
            let edge_bytes: &[u8] = bytemuck::cast_slice(part_edges);
            for len in [verts.len(), tris.len(), edge_bytes.len()] {
                if len as u64 > max {
                    return Err(RenderError::TooLarge(format!(
                        "part '{}' needs a {len}-byte buffer; this GPU allows {max}",
                        part.name
                    )));
                }
            }
            // wgpu rejects empty buffers in some backends: pad with one zero element.
            let nonempty = |b: &[u8]| {
                if b.is_empty() {
                    vec![0u8; 16]
                } else {
                    b.to_vec()
                }
            };
            let vertices = gpu
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("vertices"),
                    contents: &nonempty(verts),
                    usage: wgpu::BufferUsages::VERTEX,
                });
            let triangles = gpu
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("triangles"),
                    contents: &nonempty(tris),
                    usage: wgpu::BufferUsages::INDEX,
                });
            let edges_buf = gpu
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("edges"),
                    contents: &nonempty(edge_bytes),
                    usage: wgpu::BufferUsages::INDEX,
                });
            let color = part.color;
            let uniform = gpu
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("part"),
                    contents: bytemuck::bytes_of(&PartUniform {
                        color: [color[0], color[1], color[2], 1.0],
                        edge_color: EDGE_COLOR,
                    }),
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                });
            let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("part"),
                layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform.as_entire_binding(),
                }],
            });
            parts.push(GpuPart {
                vertices,
                triangles,
                triangle_indices: count(part.mesh.triangles.len(), 3)?,
                edges: edges_buf,
                edge_indices: count(part_edges.len(), 2)?,
                uniform,
                bind_group,
                color,
            });
        }
        Ok(Self { parts })
    }

    /// Number of parts.
    #[must_use]
    pub fn part_count(&self) -> usize {
        self.parts.len()
    }
}

fn count(n: usize, per: usize) -> Result<u32, RenderError> {
    n.checked_mul(per)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| RenderError::TooLarge(format!("{n} primitives in one part")))
}
