//! STL, binary and ASCII: the lowest common denominator of 3D printing and CAD export.
//!
//! Binary STL is an 80-byte header, a little-endian `u32` triangle count and 50 bytes per
//! triangle (normal, three corners, attribute word). Some exporters start the binary header
//! with `solid`, so the form is decided by length: a file whose size is exactly
//! `84 + 50·count` is binary, otherwise it must be ASCII (`solid … endsolid`, possibly several
//! solids, each of which becomes its own part). Corners are welded by exact position. STL has
//! no unit; millimetres are assumed and [`Model::unit_declared`] is false.

use crate::model::{CadError, LengthUnit, Limits, Model, Node, Part};
use crate::weld::{MeshWelder, check_triangles, finite_f32};

const FORMAT: &str = "STL";
const HEADER_LEN: usize = 84;
const FACET_LEN: usize = 50;

/// Loads a binary or ASCII STL file.
///
/// # Errors
/// [`CadError::Malformed`] for a truncated or garbled file, [`CadError::TooLarge`] beyond
/// `limits`, [`CadError::Empty`] when no triangle remains.
pub fn load_stl(bytes: &[u8], limits: &Limits) -> Result<Model, CadError> {
    let model = match binary_count(bytes) {
        Some(count) => load_binary(bytes, count, limits)?,
        None if starts_with_solid(bytes) => load_ascii(bytes, limits)?,
        None => return Err(binary_length_error(bytes)),
    };
    if model.triangle_count() == 0 {
        return Err(CadError::Empty { format: FORMAT });
    }
    Ok(model)
}

/// The triangle count when the file's length matches a binary STL exactly.
fn binary_count(bytes: &[u8]) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(80..HEADER_LEN)?.try_into().ok()?;
    let count = u32::from_le_bytes(raw);
    let expected = u64::from(count) * FACET_LEN as u64 + HEADER_LEN as u64;
    (expected == bytes.len() as u64).then_some(count)
}

fn starts_with_solid(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"solid")
}

fn binary_length_error(bytes: &[u8]) -> CadError {
    let reason = match bytes
        .get(80..HEADER_LEN)
        .and_then(|raw| <[u8; 4]>::try_from(raw).ok())
    {
        Some(raw) => {
            let count = u32::from_le_bytes(raw);
            format!(
                "binary STL declares {count} triangles ({} bytes) but the file has {} bytes",
                u64::from(count) * FACET_LEN as u64 + HEADER_LEN as u64,
                bytes.len()
            )
        }
        None => format!(
            "{} bytes is shorter than a binary STL header and not ASCII STL",
            bytes.len()
        ),
    };
    CadError::Malformed {
        format: FORMAT,
        reason,
    }
}

fn read_f32(b: &[u8], at: usize) -> Result<f32, CadError> {
    let raw: [u8; 4] = b
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| CadError::Malformed {
            format: FORMAT,
            reason: "truncated facet".into(),
        })?;
    finite_f32(f64::from(f32::from_le_bytes(raw)), FORMAT)
}

fn load_binary(bytes: &[u8], count: u32, limits: &Limits) -> Result<Model, CadError> {
    check_triangles(u64::from(count), limits)?;
    // The count matches the file's length (binary_count), so it cannot over-reserve.
    let mut welder = MeshWelder::with_capacity(usize::try_from(count).unwrap_or(0));
    for facet in bytes[HEADER_LEN..].chunks_exact(FACET_LEN) {
        let mut corners = [[0.0f32; 3]; 3];
        for (k, corner) in corners.iter_mut().enumerate() {
            for (c, value) in corner.iter_mut().enumerate() {
                *value = read_f32(facet, 12 + 12 * k + 4 * c)?;
            }
        }
        welder.triangle(corners)?;
    }
    let name = header_name(&bytes[..80]);
    Ok(single_part_model(name, welder))
}

/// A name from the header when it reads like one (`solid name…`), else "STL".
fn header_name(header: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(header)
        .chars()
        .take_while(|c| *c != '\0')
        .collect();
    match text.trim().strip_prefix("solid") {
        Some(rest) if !rest.trim().is_empty() => rest.trim().to_owned(),
        _ => "STL".to_owned(),
    }
}

fn single_part_model(name: String, welder: MeshWelder) -> Model {
    Model {
        nodes: vec![Node {
            name: name.clone(),
            parent: None,
        }],
        parts: vec![Part {
            name,
            node: 0,
            mesh: welder.finish(),
            color: Part::DEFAULT_COLOR,
        }],
        unit: LengthUnit::Millimetre,
        unit_declared: false,
    }
}

fn malformed(line: usize, what: &str) -> CadError {
    CadError::Malformed {
        format: FORMAT,
        reason: format!("line {line}: {what}"),
    }
}

/// One `solid … endsolid` block being read.
struct OpenSolid {
    name: String,
    welder: MeshWelder,
    corners: Vec<[f32; 3]>,
    in_loop: bool,
}

fn load_ascii(bytes: &[u8], limits: &Limits) -> Result<Model, CadError> {
    let mut model = Model {
        nodes: Vec::new(),
        parts: Vec::new(),
        unit: LengthUnit::Millimetre,
        unit_declared: false,
    };
    let mut open: Option<OpenSolid> = None;
    let mut total: u64 = 0;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = String::from_utf8_lossy(raw);
        let mut words = line.split_ascii_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword {
            "solid" => {
                if open.is_some() {
                    return Err(malformed(line_no, "'solid' inside another solid"));
                }
                let rest = line.trim().strip_prefix("solid").unwrap_or("").trim();
                let name = if rest.is_empty() {
                    format!("solid {}", model.parts.len() + 1)
                } else {
                    rest.to_owned()
                };
                open = Some(OpenSolid {
                    name,
                    welder: MeshWelder::default(),
                    corners: Vec::new(),
                    in_loop: false,
                });
            }
            "endsolid" => {
                let solid = open
                    .take()
                    .ok_or_else(|| malformed(line_no, "'endsolid' without 'solid'"))?;
                push_solid(&mut model, solid);
            }
            "facet" | "endfacet" => {
                if open.is_none() {
                    return Err(malformed(line_no, "facet outside a solid"));
                }
            }
            "outer" => {
                let solid = open
                    .as_mut()
                    .ok_or_else(|| malformed(line_no, "loop outside a solid"))?;
                solid.in_loop = true;
                solid.corners.clear();
            }
            "vertex" => {
                let solid = open
                    .as_mut()
                    .filter(|s| s.in_loop)
                    .ok_or_else(|| malformed(line_no, "vertex outside a loop"))?;
                // A loop has three corners; a few exporters write polygons, which are bounded
                // by the line count and fanned below.
                let mut p = [0.0f32; 3];
                for c in &mut p {
                    let word = words
                        .next()
                        .ok_or_else(|| malformed(line_no, "vertex needs three coordinates"))?;
                    let v: f64 = word
                        .parse()
                        .map_err(|_| malformed(line_no, &format!("'{word}' is not a number")))?;
                    *c = finite_f32(v, FORMAT)
                        .map_err(|_| malformed(line_no, "coordinate is not a finite number"))?;
                }
                solid.corners.push(p);
            }
            "endloop" => {
                let solid = open
                    .as_mut()
                    .filter(|s| s.in_loop)
                    .ok_or_else(|| malformed(line_no, "'endloop' without 'outer loop'"))?;
                solid.in_loop = false;
                if solid.corners.len() < 3 {
                    return Err(malformed(line_no, "a loop needs at least three vertices"));
                }
                let first = solid.corners[0];
                for pair in solid.corners[1..].windows(2) {
                    total += 1;
                    check_triangles(total, limits)?;
                    solid.welder.triangle([first, pair[0], pair[1]])?;
                }
                solid.corners.clear();
            }
            _ => {
                return Err(malformed(
                    line_no,
                    &format!(
                        "unexpected '{}'",
                        keyword.chars().take(40).collect::<String>()
                    ),
                ));
            }
        }
    }
    // A file cut off after its last facet still shows what it has.
    if let Some(solid) = open.take() {
        push_solid(&mut model, solid);
    }
    Ok(model)
}

fn push_solid(model: &mut Model, solid: OpenSolid) {
    if solid.welder.triangle_count() == 0 {
        return;
    }
    let node = model.nodes.len();
    model.nodes.push(Node {
        name: solid.name.clone(),
        parent: None,
    });
    model.parts.push(Part {
        name: solid.name,
        node,
        mesh: solid.welder.finish(),
        color: Part::DEFAULT_COLOR,
    });
}
