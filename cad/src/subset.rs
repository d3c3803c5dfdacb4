//! Need-to-know subsets of an assembly: the parts chosen by name, and nothing else of the
//! model, written as a new binary glTF (`docs/server.md#subsets`).
//!
//! The server loads the sealed model, keeps the chosen parts (a name may be a part or an
//! assembly node, which brings every part under it) and seals the GLB this module writes as a
//! document of its own: the parts left out are not in it at all. Geometry is kept exactly (f32
//! positions in world coordinates, converted to glTF's metres and +Y up, which the glTF loader
//! turns back); the part names and colours travel with it, the rest of the source file (its
//! other parts, the assembly structure above the chosen ones, metadata) does not.

use std::collections::BTreeSet;

use thiserror::Error;

use crate::model::{Model, Part};

/// Why a subset could not be made.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PartsError {
    /// No name was given.
    #[error("name at least one part")]
    Empty,
    /// A name matches no part or assembly node.
    #[error("no part or assembly named {name:?}; this model has: {available}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Part names of the model (the first few).
        available: String,
    },
    /// Every part: share the model itself.
    #[error("the parts chosen are the whole model; share it without --parts")]
    Whole,
}

/// Parses `Bracket, Gear shaft` into names (trimmed, non-empty).
#[must_use]
pub fn parse_part_names(spec: &str) -> Vec<String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The model with only the parts `names` select: a part's own name, or the name of a tree node
/// above it (case-insensitive, exact). Nodes keep only the chosen parts' ancestors.
pub fn select_parts(model: &Model, names: &[String]) -> Result<Model, PartsError> {
    if names.is_empty() {
        return Err(PartsError::Empty);
    }
    let under = |part: &Part, node_name: &str| {
        let mut n = Some(part.node);
        while let Some(i) = n {
            let Some(node) = model.nodes.get(i) else {
                return false;
            };
            if node.name.eq_ignore_ascii_case(node_name) {
                return true;
            }
            n = node.parent;
        }
        false
    };
    let mut chosen = BTreeSet::new();
    for name in names {
        let before = chosen.len();
        let mut matched = false;
        for (i, p) in model.parts.iter().enumerate() {
            if p.name.eq_ignore_ascii_case(name) || under(p, name) {
                chosen.insert(i);
                matched = true;
            }
        }
        if !matched && chosen.len() == before {
            let mut available: Vec<&str> = model.parts.iter().map(|p| p.name.as_str()).collect();
            available.dedup();
            let shown = available.len().min(20);
            let mut list = available[..shown].join(", ");
            if available.len() > shown {
                list.push_str(&format!(" and {} more", available.len() - shown));
            }
            return Err(PartsError::Unknown {
                name: name.chars().take(80).collect(),
                available: list,
            });
        }
    }
    if chosen.len() == model.parts.len() {
        return Err(PartsError::Whole);
    }
    Ok(Model {
        nodes: model.nodes.clone(),
        parts: chosen.iter().map(|&i| model.parts[i].clone()).collect(),
        unit: model.unit,
        unit_declared: model.unit_declared,
    })
}

/// Writes `model`'s parts as a binary glTF 2.0 file: one root node named `root`, one child node
/// and mesh per part (its name and colour), positions in metres with +Y up.
#[must_use]
pub fn write_glb(model: &Model, root: &str) -> Vec<u8> {
    let to_m = model.unit.in_mm() / 1000.0;
    let mut bin: Vec<u8> = Vec::new();
    let mut nodes = vec![
        serde_json::json!({ "name": root, "children": (1..=model.parts.len()).collect::<Vec<_>>() }),
    ];
    let mut meshes = Vec::new();
    let mut materials = Vec::new();
    let mut accessors = Vec::new();
    let mut views = Vec::new();
    for (i, p) in model.parts.iter().enumerate() {
        // Model coordinates are +Z up; glTF's are +Y up: (x, y, z) → (x, z, −y).
        let mut min = [f32::INFINITY; 3];
        let mut max = [f32::NEG_INFINITY; 3];
        let start = bin.len();
        for v in &p.mesh.positions {
            #[allow(clippy::cast_possible_truncation)]
            let g = [
                (f64::from(v[0]) * to_m) as f32,
                (f64::from(v[2]) * to_m) as f32,
                (-f64::from(v[1]) * to_m) as f32,
            ];
            for k in 0..3 {
                min[k] = min[k].min(g[k]);
                max[k] = max[k].max(g[k]);
                bin.extend_from_slice(&g[k].to_le_bytes());
            }
        }
        if p.mesh.positions.is_empty() {
            min = [0.0; 3];
            max = [0.0; 3];
        }
        views.push(serde_json::json!({ "buffer": 0, "byteOffset": start, "byteLength": bin.len() - start, "target": 34962 }));
        accessors.push(serde_json::json!({
            "bufferView": views.len() - 1, "componentType": 5126,
            "count": p.mesh.positions.len(), "type": "VEC3", "min": min, "max": max
        }));
        let start = bin.len();
        for t in &p.mesh.triangles {
            for &k in t {
                bin.extend_from_slice(&k.to_le_bytes());
            }
        }
        views.push(serde_json::json!({ "buffer": 0, "byteOffset": start, "byteLength": bin.len() - start, "target": 34963 }));
        accessors.push(serde_json::json!({
            "bufferView": views.len() - 1, "componentType": 5125,
            "count": p.mesh.triangles.len() * 3, "type": "SCALAR"
        }));
        // Part colours are sRGB; glTF's base colour factor is linear.
        let [r, g, b] = p.color.map(srgb_to_linear);
        materials.push(serde_json::json!({
            "pbrMetallicRoughness": { "baseColorFactor": [r, g, b, 1.0], "metallicFactor": 0.0 }
        }));
        meshes.push(serde_json::json!({
            "name": p.name,
            "primitives": [{ "attributes": { "POSITION": 2 * i }, "indices": 2 * i + 1, "material": i }]
        }));
        nodes.push(serde_json::json!({ "name": p.name, "mesh": i }));
    }
    let json = serde_json::json!({
        "asset": { "version": "2.0", "generator": "veilmark (need-to-know subset)" },
        "scene": 0,
        "scenes": [{ "nodes": [0] }],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{ "byteLength": bin.len() }],
    });
    let mut json = serde_json::to_vec(&json).expect("a JSON value serialises");
    while !json.len().is_multiple_of(4) {
        json.push(b' ');
    }
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let total = 12 + 8 + json.len() + 8 + bin.len();
    let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&len32(total));
    out.extend_from_slice(&len32(json.len()));
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json);
    out.extend_from_slice(&len32(bin.len()));
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

/// The inverse of the glTF loader's `linear_to_srgb`.
fn srgb_to_linear(s: f32) -> f64 {
    let s = f64::from(s.clamp(0.0, 1.0));
    if s <= 0.040_45 {
        s / 12.92
    } else {
        ((s + 0.055) / 1.055).powf(2.4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LengthUnit, Limits, Mesh, Node};

    fn tetra(offset: f32) -> Mesh {
        Mesh {
            positions: vec![
                [offset, 0.0, 0.0],
                [offset + 10.0, 0.0, 0.0],
                [offset, 10.0, 0.0],
                [offset, 0.0, 10.0],
            ],
            triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        }
    }

    fn assembly() -> Model {
        Model {
            nodes: vec![
                Node {
                    name: "Gearbox".into(),
                    parent: None,
                },
                Node {
                    name: "Housing".into(),
                    parent: Some(0),
                },
                Node {
                    name: "Gear train".into(),
                    parent: Some(0),
                },
                Node {
                    name: "Gear".into(),
                    parent: Some(2),
                },
                Node {
                    name: "Shaft".into(),
                    parent: Some(2),
                },
            ],
            parts: vec![
                Part {
                    name: "Housing".into(),
                    node: 1,
                    mesh: tetra(0.0),
                    color: [0.2, 0.3, 0.4],
                },
                Part {
                    name: "Gear".into(),
                    node: 3,
                    mesh: tetra(100.0),
                    color: Part::DEFAULT_COLOR,
                },
                Part {
                    name: "Shaft".into(),
                    node: 4,
                    mesh: tetra(200.0),
                    color: Part::DEFAULT_COLOR,
                },
            ],
            unit: LengthUnit::Millimetre,
            unit_declared: true,
        }
    }

    #[test]
    fn parts_are_chosen_by_their_name_or_an_assembly_above_them() {
        let m = assembly();
        let names = |s: &str| parse_part_names(s);
        let one = select_parts(&m, &names("housing")).unwrap();
        assert_eq!(one.parts.len(), 1);
        assert_eq!(one.parts[0].name, "Housing");
        let train = select_parts(&m, &names(" Gear train ")).unwrap();
        let got: Vec<&str> = train.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(got, ["Gear", "Shaft"]);
        assert_eq!(select_parts(&m, &names("Gearbox")), Err(PartsError::Whole));
        assert_eq!(select_parts(&m, &names(" , ")), Err(PartsError::Empty));
        let e = select_parts(&m, &names("Housing, Pump")).unwrap_err();
        assert!(
            e.to_string().contains("\"Pump\"") && e.to_string().contains("Housing, Gear, Shaft"),
            "{e}"
        );
    }

    #[test]
    fn the_glb_loads_back_with_only_the_chosen_parts_in_place() {
        let m = assembly();
        let sub = select_parts(&m, &parse_part_names("Housing,Shaft")).unwrap();
        let glb = write_glb(&sub, "Gearbox");
        let back = crate::load_gltf(&glb, &Limits::default()).unwrap();
        let names: Vec<&str> = back.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Housing", "Shaft"]);
        assert_eq!(back.triangle_count(), 8);
        // Same place and size, in metres now: the shaft's corner at 200 mm is at 0.2 m.
        let to_mm = back.unit.in_mm();
        let b = back.parts[1].mesh.bounds();
        assert!(
            (b.min[0] * to_mm - 200.0).abs() < 1e-3,
            "{b:?} in {:?}",
            back.unit
        );
        assert!((b.max[2] * to_mm - 10.0).abs() < 1e-3, "{b:?}");
        assert!(
            (back.parts[0].color[0] - 0.2).abs() < 1e-5,
            "{:?}",
            back.parts[0].color
        );
        assert!(
            !back.parts.iter().any(|p| p.name == "Gear"),
            "the gear is not in the file"
        );
    }
}
