//! Drawing a [`Scene`] from a [`Camera`] into an offscreen texture and reading the pixels back.
//!
//! Frames never go straight to a swap chain: the viewer watermarks every frame on the CPU (the
//! same visible and forensic marks as PDF pages) before it is shown, so the render target is an
//! offscreen 4× multisampled texture, resolved and copied into a mapped buffer.

use veilmark_cad::Aabb;
use zeroize::Zeroizing;

use crate::camera::Camera;
use crate::math::{self, V3};
use crate::scene::{EDGE_COLOR, PartUniform, SELECTED_COLOR, Scene};
use crate::{Gpu, RenderError};

/// Multisampling: 4× is what WebGPU guarantees for RGBA8 and what WebGL2 gives everywhere.
const SAMPLES: u32 = 4;
const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Background: a light neutral grey, so white parts and the visible watermark both read.
pub const BACKGROUND: [f64; 3] = [0.945, 0.953, 0.961];
/// Largest frame side.
pub const MAX_SIDE: u32 = 8192;

/// A plane that cuts the model: points with `normal · p > offset` are hidden. The CAD crate's
/// [`veilmark_cad::Plane`], so that drawing and picking cut away the same half.
pub use veilmark_cad::measure::Plane as SectionPlane;

/// Everything about a frame except the geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewState {
    /// The camera.
    pub camera: Camera,
    /// The section plane, if on.
    pub section: Option<SectionPlane>,
    /// Per part: drawn or hidden (missing entries count as drawn).
    pub hidden: Vec<bool>,
    /// A part drawn in the highlight colour.
    pub selected: Option<usize>,
    /// Draw feature edges.
    pub edges: bool,
    /// Measurement points, drawn as markers on top of everything.
    pub markers: Vec<V3>,
    /// Draw a line between the first two markers.
    pub measure_line: bool,
    /// A highlighted polyline (a measured edge chain), drawn on top.
    pub highlight: Vec<V3>,
}

impl ViewState {
    /// A view of `bounds` from the isometric direction.
    #[must_use]
    pub fn fit(bounds: &Aabb, aspect: f64) -> Self {
        Self {
            camera: Camera::fit(bounds, crate::camera::StandardView::Iso, aspect),
            section: None,
            hidden: Vec::new(),
            selected: None,
            edges: true,
            markers: Vec::new(),
            measure_line: false,
            highlight: Vec::new(),
        }
    }
}

/// Rendered pixels: opaque, straight-alpha RGBA, row-major, wiped on drop.
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 4` bytes.
    pub rgba: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RgbaImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbaImage({}×{})", self.width, self.height)
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Globals {
    view_proj: [[f32; 4]; 4],
    view_dir: [f32; 4],
    section: [f32; 4],
    flags: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct OverlayVertex {
    clip: [f32; 4],
    color: [f32; 4],
}

struct Targets {
    width: u32,
    height: u32,
    msaa: wgpu::Texture,
    resolved: wgpu::Texture,
    depth: wgpu::Texture,
    readback: wgpu::Buffer,
    padded_row: u32,
}

/// Pipelines and targets; one per device, reused for every frame.
pub struct Renderer {
    mesh: wgpu::RenderPipeline,
    edge: wgpu::RenderPipeline,
    overlay: wgpu::RenderPipeline,
    globals: wgpu::Buffer,
    globals_group: wgpu::BindGroup,
    part_layout: wgpu::BindGroupLayout,
    targets: Option<Targets>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

fn uniform_layout(device: &wgpu::Device, label: &str) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }],
    })
}

impl Renderer {
    /// Compiles the shaders and builds the pipelines.
    #[must_use]
    pub fn new(gpu: &Gpu) -> Self {
        let device = &gpu.device;
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("cad"),
            source: wgpu::ShaderSource::Wgsl(include_str!("shader.wgsl").into()),
        });
        let globals_layout = uniform_layout(device, "globals");
        let part_layout = uniform_layout(device, "part");
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("cad"),
            bind_group_layouts: &[Some(&globals_layout), Some(&part_layout)],
            immediate_size: 0,
        });
        let overlay_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("overlay"),
            bind_group_layouts: &[],
            immediate_size: 0,
        });
        let position = [Some(wgpu::VertexBufferLayout {
            array_stride: 12,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3],
        })];
        let overlay_attrs = [Some(wgpu::VertexBufferLayout {
            array_stride: 32,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x4, 1 => Float32x4],
        })];
        let target = [Some(wgpu::ColorTargetState {
            format: COLOR_FORMAT,
            blend: None,
            write_mask: wgpu::ColorWrites::ALL,
        })];
        let depth = |write: bool, compare| {
            Some(wgpu::DepthStencilState {
                format: DEPTH_FORMAT,
                depth_write_enabled: Some(write),
                depth_compare: Some(compare),
                stencil: wgpu::StencilState::default(),
                bias: wgpu::DepthBiasState::default(),
            })
        };
        let pipeline = |label: &str,
                        layout: &wgpu::PipelineLayout,
                        vs: &str,
                        fs: &str,
                        buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
                        topology,
                        depth_stencil| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(layout),
                vertex: wgpu::VertexState {
                    module: &shader,
                    entry_point: Some(vs),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    buffers,
                },
                primitive: wgpu::PrimitiveState {
                    topology,
                    front_face: wgpu::FrontFace::Ccw,
                    cull_mode: None,
                    ..Default::default()
                },
                depth_stencil,
                multisample: wgpu::MultisampleState {
                    count: SAMPLES,
                    ..Default::default()
                },
                fragment: Some(wgpu::FragmentState {
                    module: &shader,
                    entry_point: Some(fs),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    targets: &target,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let mesh = pipeline(
            "faces",
            &layout,
            "vs_mesh",
            "fs_mesh",
            &position,
            wgpu::PrimitiveTopology::TriangleList,
            depth(true, wgpu::CompareFunction::Less),
        );
        let edge = pipeline(
            "edges",
            &layout,
            "vs_edge",
            "fs_edge",
            &position,
            wgpu::PrimitiveTopology::LineList,
            depth(false, wgpu::CompareFunction::LessEqual),
        );
        let overlay = pipeline(
            "overlay",
            &overlay_layout,
            "vs_overlay",
            "fs_overlay",
            &overlay_attrs,
            wgpu::PrimitiveTopology::LineList,
            depth(false, wgpu::CompareFunction::Always),
        );
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("globals"),
            size: std::mem::size_of::<Globals>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let globals_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("globals"),
            layout: &globals_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: globals.as_entire_binding(),
            }],
        });
        Self {
            mesh,
            edge,
            overlay,
            globals,
            globals_group,
            part_layout,
            targets: None,
        }
    }

    /// Uploads a model (see [`Scene::upload`]).
    pub fn upload(
        &self,
        gpu: &Gpu,
        model: &veilmark_cad::Model,
        edges: &[Vec<[u32; 2]>],
    ) -> Result<Scene, RenderError> {
        Scene::upload(gpu, &self.part_layout, model, edges)
    }

    fn targets(&mut self, gpu: &Gpu, width: u32, height: u32) -> &Targets {
        let stale = self
            .targets
            .as_ref()
            .is_none_or(|t| t.width != width || t.height != height);
        if stale {
            let texture = |label, format, samples, usage| {
                gpu.device.create_texture(&wgpu::TextureDescriptor {
                    label: Some(label),
                    size: wgpu::Extent3d {
                        width,
                        height,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: samples,
                    dimension: wgpu::TextureDimension::D2,
                    format,
                    usage,
                    view_formats: &[],
                })
            };
            let padded_row = (width * 4).div_ceil(256) * 256;
            self.targets = Some(Targets {
                width,
                height,
                msaa: texture(
                    "msaa",
                    COLOR_FORMAT,
                    SAMPLES,
                    wgpu::TextureUsages::RENDER_ATTACHMENT,
                ),
                resolved: texture(
                    "resolved",
                    COLOR_FORMAT,
                    1,
                    wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                ),
                depth: texture(
                    "depth",
                    DEPTH_FORMAT,
                    SAMPLES,
                    wgpu::TextureUsages::RENDER_ATTACHMENT,
                ),
                readback: gpu.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("readback"),
                    size: u64::from(padded_row) * u64::from(height),
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                }),
                padded_row,
            });
        }
        self.targets.as_ref().expect("targets were just made")
    }

    /// Renders `scene` as `view` describes into a `width × height` image.
    pub async fn render(
        &mut self,
        gpu: &Gpu,
        scene: &Scene,
        view: &ViewState,
        width: u32,
        height: u32,
    ) -> Result<RgbaImage, RenderError> {
        let limit = MAX_SIDE.min(gpu.device.limits().max_texture_dimension_2d);
        if width == 0 || height == 0 || width > limit || height > limit {
            return Err(RenderError::TooLarge(format!(
                "a {width}×{height} frame (each side must be 1..={limit})"
            )));
        }
        let aspect = f64::from(width) / f64::from(height);
        let cam = &view.camera;
        let vp = cam.view_projection(aspect);
        let (_, _, forward) = cam.basis();
        #[allow(clippy::cast_possible_truncation)] // uniforms are f32 by design
        let globals = Globals {
            view_proj: math::to_f32(&vp),
            view_dir: [
                -forward[0] as f32,
                -forward[1] as f32,
                -forward[2] as f32,
                0.0,
            ],
            section: view.section.map_or([0.0; 4], |s| {
                [
                    s.normal[0] as f32,
                    s.normal[1] as f32,
                    s.normal[2] as f32,
                    s.offset as f32,
                ]
            }),
            flags: [
                if view.section.is_some() { 1.0 } else { 0.0 },
                0.0015,
                0.0,
                0.0,
            ],
        };
        gpu.queue
            .write_buffer(&self.globals, 0, bytemuck::bytes_of(&globals));
        for (i, part) in scene.parts.iter().enumerate() {
            let color = if view.selected == Some(i) {
                SELECTED_COLOR
            } else {
                part.color
            };
            gpu.queue.write_buffer(
                &part.uniform,
                0,
                bytemuck::bytes_of(&PartUniform {
                    color: [color[0], color[1], color[2], 1.0],
                    edge_color: EDGE_COLOR,
                }),
            );
        }
        let overlay = overlay_vertices(view, &vp, aspect);
        let overlay_buf = (!overlay.is_empty()).then(|| {
            use wgpu::util::DeviceExt;
            gpu.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("overlay"),
                    contents: bytemuck::cast_slice(&overlay),
                    usage: wgpu::BufferUsages::VERTEX,
                })
        });
        let overlay_count = u32::try_from(overlay.len()).unwrap_or(0);

        // Borrow the pipelines before the targets (which need `&mut self`).
        let (mesh, edge, overlay_pipe, globals_group) = (
            self.mesh.clone(),
            self.edge.clone(),
            self.overlay.clone(),
            self.globals_group.clone(),
        );
        let targets = self.targets(gpu, width, height);
        let msaa_view = targets
            .msaa
            .create_view(&wgpu::TextureViewDescriptor::default());
        let resolved_view = targets
            .resolved
            .create_view(&wgpu::TextureViewDescriptor::default());
        let depth_view = targets
            .depth
            .create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("frame"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &msaa_view,
                    depth_slice: None,
                    resolve_target: Some(&resolved_view),
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color {
                            r: BACKGROUND[0],
                            g: BACKGROUND[1],
                            b: BACKGROUND[2],
                            a: 1.0,
                        }),
                        store: wgpu::StoreOp::Discard,
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &depth_view,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_bind_group(0, &globals_group, &[]);
            let shown = |i: usize| !view.hidden.get(i).copied().unwrap_or(false);
            pass.set_pipeline(&mesh);
            for (i, part) in scene.parts.iter().enumerate() {
                if shown(i) && part.triangle_indices > 0 {
                    pass.set_bind_group(1, &part.bind_group, &[]);
                    pass.set_vertex_buffer(0, part.vertices.slice(..));
                    pass.set_index_buffer(part.triangles.slice(..), wgpu::IndexFormat::Uint32);
                    pass.draw_indexed(0..part.triangle_indices, 0, 0..1);
                }
            }
            if view.edges {
                pass.set_pipeline(&edge);
                for (i, part) in scene.parts.iter().enumerate() {
                    if shown(i) && part.edge_indices > 0 {
                        pass.set_bind_group(1, &part.bind_group, &[]);
                        pass.set_vertex_buffer(0, part.vertices.slice(..));
                        pass.set_index_buffer(part.edges.slice(..), wgpu::IndexFormat::Uint32);
                        pass.draw_indexed(0..part.edge_indices, 0, 0..1);
                    }
                }
            }
            if let Some(buf) = &overlay_buf {
                pass.set_pipeline(&overlay_pipe);
                pass.set_vertex_buffer(0, buf.slice(..));
                pass.draw(0..overlay_count, 0..1);
            }
        }
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &targets.resolved,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &targets.readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(targets.padded_row),
                    rows_per_image: Some(height),
                },
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        gpu.queue.submit([encoder.finish()]);
        let padded_row = targets.padded_row as usize;
        let readback = targets.readback.clone();
        let frame = match read_back(gpu, &readback, padded_row, width, height).await {
            Ok(_) if let Some(e) = gpu.take_error() => Err(RenderError::Gpu(e)),
            other => other,
        };
        if frame.is_err() {
            // The read-back buffer may be left mapped: make fresh targets next time.
            self.targets = None;
        }
        frame
    }
}

async fn read_back(
    gpu: &Gpu,
    buffer: &wgpu::Buffer,
    padded_row: usize,
    width: u32,
    height: u32,
) -> Result<RgbaImage, RenderError> {
    let slice = buffer.slice(..);
    let (tx, rx) = futures_channel::oneshot::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    mapped(gpu, rx)
        .await
        .map_err(|e| RenderError::Gpu(format!("frame read-back failed: {e}")))?;
    let row = width as usize * 4;
    let mut rgba = Zeroizing::new(vec![0u8; row * height as usize]);
    {
        let mapped = slice
            .get_mapped_range()
            .map_err(|e| RenderError::Gpu(format!("frame read-back failed: {e}")))?;
        for (y, out) in rgba.chunks_exact_mut(row).enumerate() {
            out.copy_from_slice(&mapped[y * padded_row..y * padded_row + row]);
        }
    }
    buffer.unmap();
    Ok(RgbaImage {
        width,
        height,
        rgba,
    })
}

type MapResult = Result<(), wgpu::BufferAsyncError>;

/// Waits for a read-back mapping. Natively `poll` blocks until it is done; on WebGPU the
/// browser's event loop completes it; on WebGL2 a blocking wait is not allowed (WebGL caps
/// fence waits at zero), so poll without blocking and give the event loop a turn in between.
async fn mapped(
    gpu: &Gpu,
    mut rx: futures_channel::oneshot::Receiver<MapResult>,
) -> Result<(), String> {
    let canceled = |_| "the GPU dropped the frame read-back".to_owned();
    if cfg!(target_arch = "wasm32") && gpu.backend == wgpu::Backend::Gl {
        for _ in 0..10_000 {
            let _ = gpu.device.poll(wgpu::PollType::Poll);
            if let Some(result) = rx.try_recv().map_err(canceled)? {
                return result.map_err(|e| e.to_string());
            }
            crate::gpu::next_tick().await;
        }
        return Err("the GPU did not finish the frame".into());
    }
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    rx.await.map_err(canceled)?.map_err(|e| e.to_string())
}

/// Crosses at the markers, the line between the first two, and the highlighted chain, in clip
/// space so that they sit on top of the model whatever its depth.
#[allow(clippy::cast_possible_truncation)] // clip coordinates are f32 by design
fn overlay_vertices(view: &ViewState, vp: &math::M4, aspect: f64) -> Vec<OverlayVertex> {
    const MARK: [f32; 4] = [0.90, 0.22, 0.11, 1.0];
    const CHAIN: [f32; 4] = [0.95, 0.55, 0.05, 1.0];
    let clip = |p: V3| {
        let q = math::transform(vp, p);
        [q[0] as f32, q[1] as f32, 0.0, 1.0]
    };
    let mut out = Vec::new();
    let arm = 0.025f32;
    let arm_x = arm / aspect as f32;
    for &p in &view.markers {
        let c = clip(p);
        for (dx, dy) in [(arm_x, arm), (arm_x, -arm)] {
            out.push(OverlayVertex {
                clip: [c[0] - dx, c[1] - dy, 0.0, 1.0],
                color: MARK,
            });
            out.push(OverlayVertex {
                clip: [c[0] + dx, c[1] + dy, 0.0, 1.0],
                color: MARK,
            });
        }
    }
    if view.measure_line && view.markers.len() >= 2 {
        for &p in &view.markers[..2] {
            out.push(OverlayVertex {
                clip: clip(p),
                color: MARK,
            });
        }
    }
    for pair in view.highlight.windows(2) {
        for &p in pair {
            out.push(OverlayVertex {
                clip: clip(p),
                color: CHAIN,
            });
        }
    }
    out
}
