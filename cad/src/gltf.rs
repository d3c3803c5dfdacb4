//! glTF 2.0, as JSON (`.gltf`, buffers embedded as `data:` URIs) or binary (`.glb`).
//!
//! The JSON is read with `serde_json` into the handful of structs below rather than with the
//! `gltf` crate: we need only positions, indices, the node tree and one colour, and every
//! offset, stride and count has to be checked against the bytes present anyway. Our own structs
//! keep that checking in one readable place, add no dependency to the wasm viewer, and cannot
//! reach for the file system (`gltf`'s import path resolves external URIs).
//!
//! Conventions (glTF 2.0 §3.4, §3.5): lengths are metres and +Y is up. Coordinates keep their
//! metres ([`LengthUnit::Metre`], declared), but are turned to +Z up, the CAD convention the
//! other loaders (STL, OBJ, STEP) share, so that every model arrives standing the same way.
//! Each node becomes a [`Node`]; each mesh instance becomes one [`Part`] per material (its
//! primitives merged and welded, since exporters such as OpenCascade write one primitive per
//! B-rep face), with world-transformed positions.

use std::collections::HashMap;

use base64::Engine as _;
use serde::Deserialize;

use crate::model::{CadError, LengthUnit, Limits, Model, Node, Part};
use crate::weld::{MeshWelder, check_nodes, check_triangles, finite_f32};

const FORMAT: &str = "glTF";
const GLB_MAGIC: &[u8; 4] = b"glTF";
const CHUNK_JSON: u32 = 0x4E4F_534A;
const CHUNK_BIN: u32 = 0x004E_4942;
const MODE_TRIANGLES: u32 = 4;
const MODE_TRIANGLE_STRIP: u32 = 5;
const MODE_TRIANGLE_FAN: u32 = 6;
const FLOAT: u32 = 5126;

fn malformed(reason: impl Into<String>) -> CadError {
    CadError::Malformed {
        format: FORMAT,
        reason: reason.into(),
    }
}

fn unsupported(what: impl Into<String>) -> CadError {
    CadError::Unsupported {
        format: FORMAT,
        what: what.into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    scene: Option<usize>,
    #[serde(default)]
    scenes: Vec<Scene>,
    #[serde(default)]
    nodes: Vec<GltfNode>,
    #[serde(default)]
    meshes: Vec<GltfMesh>,
    #[serde(default)]
    accessors: Vec<Accessor>,
    #[serde(default)]
    buffer_views: Vec<BufferView>,
    #[serde(default)]
    buffers: Vec<Buffer>,
    #[serde(default)]
    materials: Vec<Material>,
}

#[derive(Deserialize)]
struct Scene {
    #[serde(default)]
    nodes: Vec<usize>,
}

#[derive(Deserialize)]
struct GltfNode {
    name: Option<String>,
    #[serde(default)]
    children: Vec<usize>,
    mesh: Option<usize>,
    matrix: Option<[f64; 16]>,
    translation: Option<[f64; 3]>,
    rotation: Option<[f64; 4]>,
    scale: Option<[f64; 3]>,
}

#[derive(Deserialize)]
struct GltfMesh {
    name: Option<String>,
    #[serde(default)]
    primitives: Vec<Primitive>,
}

#[derive(Deserialize)]
struct Primitive {
    #[serde(default)]
    attributes: HashMap<String, usize>,
    indices: Option<usize>,
    mode: Option<u32>,
    material: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accessor {
    buffer_view: Option<usize>,
    #[serde(default)]
    byte_offset: u64,
    component_type: u32,
    count: u64,
    #[serde(rename = "type")]
    kind: String,
    sparse: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BufferView {
    buffer: usize,
    #[serde(default)]
    byte_offset: u64,
    byte_length: u64,
    byte_stride: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Buffer {
    uri: Option<String>,
    byte_length: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Material {
    pbr_metallic_roughness: Option<Pbr>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pbr {
    base_color_factor: Option<[f64; 4]>,
}

/// Loads a glTF 2.0 file, JSON or binary (GLB), telling them apart by the GLB magic.
///
/// # Errors
/// [`CadError::Unsupported`] for external buffers, sparse accessors and quantised positions;
/// [`CadError::Malformed`] for anything out of bounds or a node graph that is not a tree;
/// [`CadError::TooLarge`] beyond `limits`; [`CadError::Empty`] without triangles.
pub fn load_gltf(bytes: &[u8], limits: &Limits) -> Result<Model, CadError> {
    let (json, bin) = if bytes.starts_with(GLB_MAGIC) {
        split_glb(bytes)?
    } else {
        (bytes, None)
    };
    let doc: Document =
        serde_json::from_slice(json).map_err(|e| malformed(format!("JSON: {e}")))?;
    let buffers = decode_buffers(&doc, bin)?;
    let model = build_model(&doc, &buffers, limits)?;
    if model.triangle_count() == 0 {
        return Err(CadError::Empty { format: FORMAT });
    }
    Ok(model)
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

/// The JSON chunk and the optional BIN chunk of a GLB container (glTF 2.0 §4.4).
fn split_glb(bytes: &[u8]) -> Result<(&[u8], Option<&[u8]>), CadError> {
    let version = le_u32(bytes, 4).ok_or_else(|| malformed("GLB header is truncated"))?;
    if version != 2 {
        return Err(unsupported(format!("GLB version {version}")));
    }
    let declared = le_u32(bytes, 8).ok_or_else(|| malformed("GLB header is truncated"))?;
    let declared = usize::try_from(declared).map_err(|_| malformed("GLB length too large"))?;
    let body = bytes.get(..declared).ok_or_else(|| {
        malformed(format!(
            "GLB declares {declared} bytes, the file has {}",
            bytes.len()
        ))
    })?;
    let mut at = 12;
    let mut json = None;
    let mut bin = None;
    while at < body.len() {
        let len = le_u32(body, at).ok_or_else(|| malformed("GLB chunk header is truncated"))?;
        let kind =
            le_u32(body, at + 4).ok_or_else(|| malformed("GLB chunk header is truncated"))?;
        let start = at + 8;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= body.len());
        let end =
            end.ok_or_else(|| malformed(format!("GLB chunk of {len} bytes runs past the file")))?;
        match kind {
            CHUNK_JSON if json.is_none() => json = Some(&body[start..end]),
            CHUNK_BIN if bin.is_none() => bin = Some(&body[start..end]),
            _ => {}
        }
        at = end;
    }
    Ok((json.ok_or_else(|| malformed("GLB has no JSON chunk"))?, bin))
}

/// Every buffer's bytes: the GLB BIN chunk for a buffer without URI, `data:` URIs decoded.
fn decode_buffers<'a>(
    doc: &Document,
    bin: Option<&'a [u8]>,
) -> Result<Vec<std::borrow::Cow<'a, [u8]>>, CadError> {
    let mut out = Vec::with_capacity(doc.buffers.len().min(1024));
    for (i, buffer) in doc.buffers.iter().enumerate() {
        let data: std::borrow::Cow<'a, [u8]> = match &buffer.uri {
            None => std::borrow::Cow::Borrowed(bin.ok_or_else(|| {
                malformed(format!(
                    "buffer {i} has no URI and there is no GLB BIN chunk"
                ))
            })?),
            Some(uri) => match uri.strip_prefix("data:") {
                Some(rest) => {
                    let (_, payload) = rest.split_once(";base64,").ok_or_else(|| {
                        unsupported(format!("buffer {i}: data URI that is not base64"))
                    })?;
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(payload)
                        .map_err(|e| malformed(format!("buffer {i}: bad base64: {e}")))?;
                    std::borrow::Cow::Owned(decoded)
                }
                None => {
                    let shown: String = uri.chars().take(80).collect();
                    return Err(unsupported(format!(
                        "external buffer '{shown}': a sealed file must be self-contained"
                    )));
                }
            },
        };
        if (data.len() as u64) < buffer.byte_length {
            return Err(malformed(format!(
                "buffer {i} declares {} bytes but holds {}",
                buffer.byte_length,
                data.len()
            )));
        }
        out.push(data);
    }
    Ok(out)
}

/// A column-major 4×4 affine transform.
type Matrix = [f64; 16];

/// Rotation by +90° about X: glTF's +Y up becomes +Z up, (x, y, z) → (x, −z, y).
const Y_UP_TO_Z_UP: Matrix = [
    1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
];

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    std::array::from_fn(|k| {
        let (col, row) = (k / 4, k % 4);
        (0..4).map(|i| a[i * 4 + row] * b[col * 4 + i]).sum()
    })
}

fn transform_point(m: &Matrix, p: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|row| m[row] * p[0] + m[4 + row] * p[1] + m[8 + row] * p[2] + m[12 + row])
}

/// The node's local transform: its matrix, or T·R·S (glTF 2.0 §3.5.3).
fn local_matrix(node: &GltfNode) -> Result<Matrix, CadError> {
    let m = if let Some(matrix) = node.matrix {
        matrix
    } else {
        let t = node.translation.unwrap_or([0.0; 3]);
        let [x, y, z, w] = node.rotation.unwrap_or([0.0, 0.0, 0.0, 1.0]);
        let s = node.scale.unwrap_or([1.0; 3]);
        let n = (x * x + y * y + z * z + w * w).sqrt();
        let (x, y, z, w) = if n > 0.0 {
            (x / n, y / n, z / n, w / n)
        } else {
            (0.0, 0.0, 0.0, 1.0)
        };
        let r = [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y + z * w),
            2.0 * (x * z - y * w),
            2.0 * (x * y - z * w),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z + x * w),
            2.0 * (x * z + y * w),
            2.0 * (y * z - x * w),
            1.0 - 2.0 * (x * x + y * y),
        ];
        [
            r[0] * s[0],
            r[1] * s[0],
            r[2] * s[0],
            0.0,
            r[3] * s[1],
            r[4] * s[1],
            r[5] * s[1],
            0.0,
            r[6] * s[2],
            r[7] * s[2],
            r[8] * s[2],
            0.0,
            t[0],
            t[1],
            t[2],
            1.0,
        ]
    };
    if m.iter().all(|v| v.is_finite()) {
        Ok(m)
    } else {
        Err(malformed("a node transform holds a non-finite number"))
    }
}

/// Walks the scene's node trees (iteratively; a node reached twice is a cycle or a shared
/// node, which glTF forbids) and turns every mesh instance into parts.
fn build_model(
    doc: &Document,
    buffers: &[std::borrow::Cow<'_, [u8]>],
    limits: &Limits,
) -> Result<Model, CadError> {
    check_nodes(doc.nodes.len() as u64, limits)?;
    let roots: Vec<usize> = match doc
        .scene
        .or(if doc.scenes.is_empty() { None } else { Some(0) })
    {
        Some(s) => doc
            .scenes
            .get(s)
            .ok_or_else(|| malformed(format!("scene {s} does not exist")))?
            .nodes
            .clone(),
        None => {
            // No scene: every node that is nobody's child is a root.
            let mut is_child = vec![false; doc.nodes.len()];
            for n in &doc.nodes {
                for &c in &n.children {
                    if let Some(flag) = is_child.get_mut(c) {
                        *flag = true;
                    }
                }
            }
            (0..doc.nodes.len()).filter(|&i| !is_child[i]).collect()
        }
    };
    let mut model = Model {
        nodes: Vec::new(),
        parts: Vec::new(),
        unit: LengthUnit::Metre,
        unit_declared: true,
    };
    let mut visited = vec![false; doc.nodes.len()];
    let mut triangles: u64 = 0;
    // (glTF node, parent model node, parent world matrix)
    let mut stack: Vec<(usize, Option<usize>, Matrix)> = roots
        .iter()
        .rev()
        .map(|&r| (r, None, Y_UP_TO_Z_UP))
        .collect();
    while let Some((index, parent, parent_world)) = stack.pop() {
        let node = doc
            .nodes
            .get(index)
            .ok_or_else(|| malformed(format!("node {index} does not exist")))?;
        if std::mem::replace(&mut visited[index], true) {
            return Err(malformed(format!(
                "node {index} is reached twice: the node graph has a cycle or a shared node"
            )));
        }
        let world = multiply(&parent_world, &local_matrix(node)?);
        let mesh = match node.mesh {
            Some(m) => Some(
                doc.meshes
                    .get(m)
                    .ok_or_else(|| malformed(format!("mesh {m} does not exist")))?,
            ),
            None => None,
        };
        let name = node
            .name
            .clone()
            .or_else(|| mesh.and_then(|m| m.name.clone()))
            .unwrap_or_else(|| format!("node {index}"));
        let model_node = model.nodes.len();
        model.nodes.push(Node {
            name: name.clone(),
            parent,
        });
        if let Some(mesh) = mesh {
            add_mesh_parts(
                doc,
                buffers,
                mesh,
                &world,
                &name,
                model_node,
                &mut triangles,
                limits,
                &mut model,
            )?;
        }
        for &child in node.children.iter().rev() {
            stack.push((child, Some(model_node), world));
        }
    }
    Ok(model)
}

/// One part per material of the mesh, its primitives' triangles merged.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
fn add_mesh_parts(
    doc: &Document,
    buffers: &[std::borrow::Cow<'_, [u8]>],
    mesh: &GltfMesh,
    world: &Matrix,
    name: &str,
    node: usize,
    triangles: &mut u64,
    limits: &Limits,
    model: &mut Model,
) -> Result<(), CadError> {
    let mut by_material: Vec<(Option<usize>, MeshWelder)> = Vec::new();
    for primitive in &mesh.primitives {
        let mode = primitive.mode.unwrap_or(MODE_TRIANGLES);
        if !matches!(
            mode,
            MODE_TRIANGLES | MODE_TRIANGLE_STRIP | MODE_TRIANGLE_FAN
        ) {
            continue; // points and lines: nothing to shade or pick
        }
        let position = *primitive
            .attributes
            .get("POSITION")
            .ok_or_else(|| malformed("a primitive has no POSITION"))?;
        let positions = read_positions(doc, buffers, position, world)?;
        let corners = match primitive.indices {
            Some(a) => read_indices(doc, buffers, a, positions.len())?,
            None => (0..u32::try_from(positions.len())
                .map_err(|_| malformed("too many vertices"))?)
                .collect(),
        };
        let tris = assemble(mode, &corners);
        *triangles += tris.len() as u64;
        check_triangles(*triangles, limits)?;
        let slot = match by_material
            .iter()
            .position(|(m, _)| *m == primitive.material)
        {
            Some(slot) => slot,
            None => {
                by_material.push((primitive.material, MeshWelder::default()));
                by_material.len() - 1
            }
        };
        let welder = &mut by_material[slot].1;
        for t in tris {
            // Indices were checked against the position count in read_indices.
            let get = |i: u32| {
                positions
                    .get(i as usize)
                    .copied()
                    .ok_or_else(|| malformed("index out of range"))
            };
            welder.triangle([get(t[0])?, get(t[1])?, get(t[2])?])?;
        }
    }
    let several = by_material.len() > 1;
    for (k, (material, welder)) in by_material.into_iter().enumerate() {
        let mesh = welder.finish();
        if mesh.triangles.is_empty() {
            continue;
        }
        let color = material
            .and_then(|m| doc.materials.get(m))
            .and_then(|m| m.pbr_metallic_roughness.as_ref())
            .and_then(|p| p.base_color_factor)
            .map_or(Part::DEFAULT_COLOR, |c| {
                [
                    linear_to_srgb(c[0]),
                    linear_to_srgb(c[1]),
                    linear_to_srgb(c[2]),
                ]
            });
        let name = if several {
            format!("{name} ({})", k + 1)
        } else {
            name.to_owned()
        };
        model.parts.push(Part {
            name,
            node,
            mesh,
            color,
        });
    }
    Ok(())
}

/// Triangle corner triples for a primitive mode (strips alternate winding, fans share corner 0).
fn assemble(mode: u32, corners: &[u32]) -> Vec<[u32; 3]> {
    match mode {
        MODE_TRIANGLE_STRIP => corners
            .windows(3)
            .enumerate()
            .map(|(i, w)| {
                if i % 2 == 0 {
                    [w[0], w[1], w[2]]
                } else {
                    [w[1], w[0], w[2]]
                }
            })
            .collect(),
        MODE_TRIANGLE_FAN => match corners.split_first() {
            Some((&first, rest)) => rest.windows(2).map(|w| [first, w[0], w[1]]).collect(),
            None => Vec::new(),
        },
        _ => corners
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect(),
    }
}

fn linear_to_srgb(c: f64) -> f32 {
    let c = if c.is_finite() {
        c.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let s = if c <= 0.003_130_8 {
        12.92 * c
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    #[allow(clippy::cast_possible_truncation, reason = "in 0..=1")]
    let s = s as f32;
    s
}

/// An accessor's elements, bounds-checked: element `i` starts at `i * stride` in `bytes`.
struct Elements<'b> {
    bytes: &'b [u8],
    stride: usize,
    count: usize,
    component_type: u32,
}

fn component_size(component_type: u32) -> Option<u64> {
    match component_type {
        5120 | 5121 => Some(1),
        5122 | 5123 => Some(2),
        5125 | FLOAT => Some(4),
        _ => None,
    }
}

/// Checks accessor `index` against its buffer view and buffer (glTF 2.0 §3.6.2) and returns
/// its elements, which must be of `kind` ("VEC3", "SCALAR").
fn elements<'b>(
    doc: &Document,
    buffers: &'b [std::borrow::Cow<'_, [u8]>],
    index: usize,
    kind: &str,
) -> Result<Elements<'b>, CadError> {
    let accessor = doc
        .accessors
        .get(index)
        .ok_or_else(|| malformed(format!("accessor {index} does not exist")))?;
    if accessor.sparse.is_some() {
        return Err(unsupported(format!("sparse accessor {index}")));
    }
    if accessor.kind != kind {
        return Err(malformed(format!(
            "accessor {index} is {} where {kind} is needed",
            clip(&accessor.kind)
        )));
    }
    let components: u64 = if kind == "VEC3" { 3 } else { 1 };
    let size = component_size(accessor.component_type).ok_or_else(|| {
        malformed(format!(
            "accessor {index} has component type {}",
            accessor.component_type
        ))
    })?;
    let element = size * components;
    let out_of_bounds = || malformed(format!("accessor {index} runs past its buffer view"));
    let view_index = accessor
        .buffer_view
        .ok_or_else(|| unsupported(format!("accessor {index} without a buffer view")))?;
    let view = doc
        .buffer_views
        .get(view_index)
        .ok_or_else(|| malformed(format!("buffer view {view_index} does not exist")))?;
    let buffer = buffers
        .get(view.buffer)
        .ok_or_else(|| malformed(format!("buffer {} does not exist", view.buffer)))?;
    let stride = view.byte_stride.unwrap_or(element);
    if stride < element || stride > 252 {
        return Err(malformed(format!(
            "buffer view {view_index} has byte stride {stride}"
        )));
    }
    // The view must lie inside the buffer, and the accessor's last element inside the view.
    if view
        .byte_offset
        .checked_add(view.byte_length)
        .is_none_or(|e| e > buffer.len() as u64)
    {
        return Err(malformed(format!(
            "buffer view {view_index} runs past its buffer"
        )));
    }
    let needed = match accessor.count {
        0 => 0,
        n => (n - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(element))
            .ok_or_else(out_of_bounds)?,
    };
    let end = accessor
        .byte_offset
        .checked_add(needed)
        .filter(|&e| e <= view.byte_length)
        .ok_or_else(out_of_bounds)?;
    let start =
        usize::try_from(view.byte_offset + accessor.byte_offset).map_err(|_| out_of_bounds())?;
    let stop = usize::try_from(view.byte_offset + end).map_err(|_| out_of_bounds())?;
    Ok(Elements {
        bytes: buffer.get(start..stop).ok_or_else(out_of_bounds)?,
        stride: usize::try_from(stride).map_err(|_| out_of_bounds())?,
        count: usize::try_from(accessor.count).map_err(|_| out_of_bounds())?,
        component_type: accessor.component_type,
    })
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// World-space positions of a POSITION accessor (VEC3 of FLOAT; quantised positions from
/// `KHR_mesh_quantization` are not supported).
fn read_positions(
    doc: &Document,
    buffers: &[std::borrow::Cow<'_, [u8]>],
    index: usize,
    world: &Matrix,
) -> Result<Vec<[f32; 3]>, CadError> {
    let e = elements(doc, buffers, index, "VEC3")?;
    if e.component_type != FLOAT {
        return Err(unsupported(format!(
            "positions of component type {}",
            e.component_type
        )));
    }
    let mut out = Vec::with_capacity(e.count);
    for i in 0..e.count {
        let at = i * e.stride;
        let local: [f64; 3] = std::array::from_fn(|c| {
            let raw = e
                .bytes
                .get(at + 4 * c..at + 4 * c + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok());
            raw.map_or(f64::NAN, |b| f64::from(f32::from_le_bytes(b)))
        });
        let p = transform_point(world, local);
        out.push([
            finite_f32(p[0], FORMAT)?,
            finite_f32(p[1], FORMAT)?,
            finite_f32(p[2], FORMAT)?,
        ]);
    }
    Ok(out)
}

/// Indices of an index accessor (unsigned byte, short or int), each checked against the vertex
/// count.
fn read_indices(
    doc: &Document,
    buffers: &[std::borrow::Cow<'_, [u8]>],
    index: usize,
    vertex_count: usize,
) -> Result<Vec<u32>, CadError> {
    let e = elements(doc, buffers, index, "SCALAR")?;
    let mut out = Vec::with_capacity(e.count);
    for i in 0..e.count {
        let at = i * e.stride;
        let b = |k: usize| e.bytes.get(at + k).copied().unwrap_or(0);
        let v = match e.component_type {
            5121 => u32::from(b(0)),
            5123 => u32::from(u16::from_le_bytes([b(0), b(1)])),
            5125 => u32::from_le_bytes([b(0), b(1), b(2), b(3)]),
            other => {
                return Err(malformed(format!(
                    "index accessor {index} has component type {other}"
                )));
            }
        };
        if v as usize >= vertex_count {
            return Err(malformed(format!(
                "index {v} in accessor {index} is past the {vertex_count} vertices"
            )));
        }
        out.push(v);
    }
    Ok(out)
}
