//! Wavefront OBJ: the plain-text mesh format most tools can write.
//!
//! Read: `v` (positions), `f` (faces in any of the `v`, `v/vt`, `v//vn`, `v/vt/vn` forms, with
//! 1-based or negative relative indices; polygons are fan-triangulated), `o` (an object: a root
//! node) and `g` (a group: a child node of the current object). Each object/group that has faces
//! becomes one part. Texture coordinates, normals, materials (`usemtl`, `mtllib`) and smoothing
//! groups are ignored: parts are grey. OBJ has no unit; millimetres are assumed.

use crate::model::{CadError, LengthUnit, Limits, Model, Node, Part};
use crate::weld::{MeshWelder, check_nodes, check_triangles, finite_f32};

const FORMAT: &str = "OBJ";

fn malformed(line: usize, what: &str) -> CadError {
    CadError::Malformed {
        format: FORMAT,
        reason: format!("line {line}: {what}"),
    }
}

/// Where faces go now: the open part, and the names that a new part would get.
#[derive(Default)]
struct Grouping {
    object: Option<String>,
    object_node: Option<usize>,
    group: Option<String>,
    part: Option<usize>,
}

/// Loads a Wavefront OBJ file.
///
/// # Errors
/// [`CadError::Malformed`] (with the line number) for bad numbers or indices out of range,
/// [`CadError::TooLarge`] beyond `limits`, [`CadError::Empty`] when there are no faces.
pub fn load_obj(bytes: &[u8], limits: &Limits) -> Result<Model, CadError> {
    let mut positions: Vec<[f32; 3]> = Vec::new();
    let mut model = Model {
        nodes: Vec::new(),
        parts: Vec::new(),
        unit: LengthUnit::Millimetre,
        unit_declared: false,
    };
    let mut welders: Vec<MeshWelder> = Vec::new();
    let mut grouping = Grouping::default();
    let mut total_triangles: u64 = 0;
    let mut corners: Vec<[f32; 3]> = Vec::new();

    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = String::from_utf8_lossy(raw);
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_ascii_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword {
            "v" => {
                let mut p = [0.0f32; 3];
                for c in &mut p {
                    let word = words
                        .next()
                        .ok_or_else(|| malformed(line_no, "a vertex needs three coordinates"))?;
                    let v: f64 = word.parse().map_err(|_| {
                        malformed(line_no, &format!("'{}' is not a number", clip(word)))
                    })?;
                    *c = finite_f32(v, FORMAT)
                        .map_err(|_| malformed(line_no, "coordinate is not a finite number"))?;
                }
                positions.push(p);
            }
            "f" => {
                corners.clear();
                for word in words {
                    let i = resolve_index(word, positions.len())
                        .map_err(|what| malformed(line_no, &what))?;
                    corners.push(positions[i]);
                }
                if corners.len() < 3 {
                    return Err(malformed(line_no, "a face needs at least three vertices"));
                }
                total_triangles += corners.len() as u64 - 2;
                check_triangles(total_triangles, limits)?;
                let part = open_part(&mut grouping, &mut model, &mut welders, limits)?;
                let first = corners[0];
                for pair in corners[1..].windows(2) {
                    welders[part].triangle([first, pair[0], pair[1]])?;
                }
            }
            "o" => {
                grouping = Grouping {
                    object: Some(rest_of_line(line, "o")),
                    ..Grouping::default()
                };
            }
            "g" => {
                grouping.group = Some(rest_of_line(line, "g"));
                grouping.part = None;
            }
            // Texture coordinates, normals, materials, smoothing, lines and points: not drawn.
            _ => {}
        }
    }
    for (part, welder) in model.parts.iter_mut().zip(welders) {
        part.mesh = welder.finish();
    }
    model.parts.retain(|p| !p.mesh.triangles.is_empty());
    if model.parts.is_empty() {
        return Err(CadError::Empty { format: FORMAT });
    }
    Ok(model)
}

fn clip(word: &str) -> String {
    word.chars().take(40).collect()
}

fn rest_of_line(line: &str, keyword: &str) -> String {
    line.trim()
        .strip_prefix(keyword)
        .unwrap_or("")
        .trim()
        .chars()
        .take(256)
        .collect()
}

/// The 0-based position index of one face corner (`v`, `v/vt`, `v//vn` or `v/vt/vn`).
fn resolve_index(word: &str, count: usize) -> Result<usize, String> {
    let first = word.split('/').next().unwrap_or("");
    let i: i64 = first
        .parse()
        .map_err(|_| format!("'{}' is not a vertex index", clip(word)))?;
    let count_i = i64::try_from(count).unwrap_or(i64::MAX);
    let resolved = if i > 0 {
        i - 1
    } else {
        count_i.saturating_add(i)
    };
    if i == 0 || resolved < 0 || resolved >= count_i {
        return Err(format!(
            "vertex index {i} is out of range (1..={count} vertices so far)"
        ));
    }
    usize::try_from(resolved).map_err(|_| format!("vertex index {i} is out of range"))
}

/// The part that faces go to now, creating it (and its nodes) on the first face.
fn open_part(
    grouping: &mut Grouping,
    model: &mut Model,
    welders: &mut Vec<MeshWelder>,
    limits: &Limits,
) -> Result<usize, CadError> {
    if let Some(part) = grouping.part {
        return Ok(part);
    }
    let add_node =
        |model: &mut Model, name: String, parent: Option<usize>| -> Result<usize, CadError> {
            check_nodes(model.nodes.len() as u64 + 1, limits)?;
            model.nodes.push(Node { name, parent });
            Ok(model.nodes.len() - 1)
        };
    let object_node = match (grouping.object_node, &grouping.object) {
        (Some(node), _) => Some(node),
        (None, Some(name)) => {
            let node = add_node(model, name.clone(), None)?;
            grouping.object_node = Some(node);
            Some(node)
        }
        (None, None) => None,
    };
    let node = match (&grouping.group, object_node) {
        (Some(group), parent) => add_node(model, group.clone(), parent)?,
        (None, Some(node)) => node,
        (None, None) => add_node(model, "OBJ".to_owned(), None)?,
    };
    let name = model.nodes[node].name.clone();
    model.parts.push(Part {
        name,
        node,
        mesh: Default::default(),
        color: Part::DEFAULT_COLOR,
    });
    welders.push(MeshWelder::default());
    let part = model.parts.len() - 1;
    grouping.part = Some(part);
    Ok(part)
}
