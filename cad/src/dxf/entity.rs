//! DXF entities turned into bulge-form paths, text and block references, still in the
//! coordinates of the block (or model space) they belong to.

use std::f64::consts::TAU;

use crate::model::CadError;

use super::reader::{Group, GroupReader};
use super::text::{mtext_lines, resolve_codes};

/// Most points one sampled curve (ELLIPSE, SPLINE) becomes.
const MAX_CURVE_POINTS: usize = 2048;

/// An entity's geometry before placement.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    /// A path in bulge form (see [`crate::Path2d`]).
    Path {
        points: Vec<[f64; 2]>,
        bulges: Vec<f64>,
        closed: bool,
    },
    /// One line of text.
    Text {
        position: [f64; 2],
        height: f64,
        rotation_deg: f64,
        value: String,
    },
    /// A block reference (INSERT, or the anonymous block drawing a DIMENSION).
    Insert {
        block: String,
        position: [f64; 2],
        scale: [f64; 2],
        rotation_deg: f64,
        columns: u32,
        rows: u32,
        spacing: [f64; 2],
    },
}

/// One drawable entity with the attributes that decide its layer and colour.
#[derive(Debug, Clone)]
pub(super) struct Entity {
    pub layer: String,
    /// Group 62: 256 (or absent) is BYLAYER, 0 BYBLOCK, else an ACI number.
    pub color: Option<i64>,
    pub shapes: Vec<Shape>,
}

/// What a whole entity list held besides drawable entities.
#[derive(Debug, Default)]
pub(super) struct Skipped {
    /// Entities of kinds this reader does not draw (HATCH, SOLID, 3DFACE, …).
    pub kinds: u64,
}

/// Reads entities until a `0` group that is not an entity of the list (ENDSEC, ENDBLK, EOF)
/// or the end of the file.
pub(super) fn read_entities(
    reader: &mut GroupReader<'_>,
    skipped: &mut Skipped,
) -> Result<Vec<Entity>, CadError> {
    let mut out = Vec::new();
    while let Some(start) = reader.peek()? {
        if start.code != 0
            || matches!(
                start.value.trim(),
                "ENDSEC" | "ENDBLK" | "EOF" | "SECTION" | "BLOCK"
            )
        {
            if start.code != 0 {
                reader.next_group()?; // stray group between entities
                continue;
            }
            break;
        }
        reader.next_group()?;
        let kind = start.value.trim();
        let body = reader.body()?;
        let shapes = match kind {
            "POLYLINE" => read_polyline(reader, &body)?,
            _ => shapes_of(kind, &body)?,
        };
        if shapes.is_none() {
            skipped.kinds += 1;
        }
        // Paper-space entities (group 67 = 1) belong to layouts, not to the model drawing.
        let paper_space = find(&body, 67).map(|g| g.integer()).transpose()? == Some(1);
        if let (Some(shapes), false) = (shapes, paper_space) {
            let layer = find(&body, 8).map_or("0", Group::name).to_owned();
            let color = find(&body, 62).map(|g| g.integer()).transpose()?;
            out.push(Entity {
                layer,
                color,
                shapes,
            });
        }
    }
    Ok(out)
}

fn find<'g, 'a>(body: &'g [Group<'a>], code: i32) -> Option<&'g Group<'a>> {
    body.iter().find(|g| g.code == code)
}

fn number(body: &[Group<'_>], code: i32, default: f64) -> Result<f64, CadError> {
    find(body, code).map_or(Ok(default), Group::number)
}

fn point(body: &[Group<'_>], x: i32) -> Result<[f64; 2], CadError> {
    Ok([number(body, x, 0.0)?, number(body, x + 10, 0.0)?])
}

/// The shapes of a one-record entity, `None` for kinds that are not drawn.
fn shapes_of(kind: &str, body: &[Group<'_>]) -> Result<Option<Vec<Shape>>, CadError> {
    let shape = match kind {
        "LINE" => vec![Shape::Path {
            points: vec![point(body, 10)?, point(body, 11)?],
            bulges: vec![0.0, 0.0],
            closed: false,
        }],
        "CIRCLE" => circle(point(body, 10)?, number(body, 40, 0.0)?)
            .into_iter()
            .collect(),
        "ARC" => arc(
            point(body, 10)?,
            number(body, 40, 0.0)?,
            number(body, 50, 0.0)?,
            number(body, 51, 360.0)?,
        )
        .into_iter()
        .collect(),
        "LWPOLYLINE" => vec![lwpolyline(body)?],
        "TEXT" | "ATTRIB" => text(body)?,
        "MTEXT" => mtext(body)?,
        "ELLIPSE" => ellipse(body)?.into_iter().collect(),
        "SPLINE" => spline(body)?.into_iter().collect(),
        "INSERT" => vec![insert(body)?],
        // A dimension's picture is an anonymous block drawn at the origin.
        "DIMENSION" => match find(body, 2) {
            Some(block) => vec![Shape::Insert {
                block: block.name().to_owned(),
                position: [0.0, 0.0],
                scale: [1.0, 1.0],
                rotation_deg: 0.0,
                columns: 1,
                rows: 1,
                spacing: [0.0, 0.0],
            }],
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(shape))
}

/// A full circle: two points on the horizontal diameter, two half-turn bulges.
fn circle(c: [f64; 2], r: f64) -> Option<Shape> {
    (r > 0.0).then(|| Shape::Path {
        points: vec![[c[0] + r, c[1]], [c[0] - r, c[1]]],
        bulges: vec![1.0, 1.0],
        closed: true,
    })
}

/// An arc counter-clockwise from `start` to `end` degrees: its two end points and one bulge,
/// tan(θ/4) of the included angle θ.
fn arc(c: [f64; 2], r: f64, start: f64, end: f64) -> Option<Shape> {
    if r <= 0.0 {
        return None;
    }
    let sweep = (end - start).rem_euclid(360.0);
    if sweep == 0.0 {
        return circle(c, r);
    }
    let at = |deg: f64| {
        [
            c[0] + r * deg.to_radians().cos(),
            c[1] + r * deg.to_radians().sin(),
        ]
    };
    Some(Shape::Path {
        points: vec![at(start), at(end)],
        bulges: vec![(sweep.to_radians() / 4.0).tan(), 0.0],
        closed: false,
    })
}

fn lwpolyline(body: &[Group<'_>]) -> Result<Shape, CadError> {
    let mut points = Vec::new();
    let mut bulges: Vec<f64> = Vec::new();
    for g in body {
        match g.code {
            10 => {
                points.push([g.number()?, 0.0]);
                bulges.push(0.0);
            }
            20 => {
                if let Some(p) = points.last_mut() {
                    p[1] = g.number()?;
                }
            }
            42 => {
                if let Some(b) = bulges.last_mut() {
                    *b = g.number()?;
                }
            }
            _ => {}
        }
    }
    let closed = find(body, 70)
        .map(|g| g.integer())
        .transpose()?
        .unwrap_or(0)
        & 1
        == 1;
    Ok(Shape::Path {
        points,
        bulges,
        closed,
    })
}

/// POLYLINE followed by its VERTEX records and SEQEND. 3D meshes and polyface meshes (flags
/// 16 and 64) are skipped.
fn read_polyline(
    reader: &mut GroupReader<'_>,
    head: &[Group<'_>],
) -> Result<Option<Vec<Shape>>, CadError> {
    let flags = find(head, 70)
        .map(|g| g.integer())
        .transpose()?
        .unwrap_or(0);
    let mut points = Vec::new();
    let mut bulges = Vec::new();
    while let Some(g) = reader.peek()? {
        if g.is_marker("VERTEX") {
            reader.next_group()?;
            let body = reader.body()?;
            let vertex_flags = find(&body, 70)
                .map(|g| g.integer())
                .transpose()?
                .unwrap_or(0);
            // Spline frame control points (16) and polyface face records (128) are not vertices.
            if vertex_flags & (16 | 128) == 0 {
                points.push(point(&body, 10)?);
                bulges.push(number(&body, 42, 0.0)?);
            }
        } else if g.is_marker("SEQEND") {
            reader.next_group()?;
            reader.body()?;
            break;
        } else {
            break; // a missing SEQEND: the polyline ends here
        }
    }
    if flags & (16 | 64) != 0 {
        return Ok(None);
    }
    Ok(Some(vec![Shape::Path {
        points,
        bulges,
        closed: flags & 1 == 1,
    }]))
}

fn text(body: &[Group<'_>]) -> Result<Vec<Shape>, CadError> {
    let raw = find(body, 1).map_or("", |g| g.value);
    let aligned = find(body, 72)
        .map(|g| g.integer())
        .transpose()?
        .unwrap_or(0)
        != 0
        || find(body, 73)
            .map(|g| g.integer())
            .transpose()?
            .unwrap_or(0)
            != 0;
    // With a justification other than left/baseline, 11/21 is where the text really sits.
    let position = if aligned && find(body, 11).is_some() {
        point(body, 11)?
    } else {
        point(body, 10)?
    };
    Ok(vec![Shape::Text {
        position,
        height: number(body, 40, 1.0)?,
        rotation_deg: number(body, 50, 0.0)?,
        value: resolve_codes(raw),
    }])
}

/// MTEXT as one [`Shape::Text`] per line, placed from the top-left insertion point downwards
/// (other attachment points are treated as top-left).
fn mtext(body: &[Group<'_>]) -> Result<Vec<Shape>, CadError> {
    let mut raw = String::new();
    for g in body.iter().filter(|g| g.code == 3) {
        raw.push_str(g.value);
    }
    raw.push_str(find(body, 1).map_or("", |g| g.value));
    let origin = point(body, 10)?;
    let height = number(body, 40, 1.0)?;
    let rotation_deg = match find(body, 11) {
        Some(_) => {
            let d = point(body, 11)?;
            d[1].atan2(d[0]).to_degrees()
        }
        None => number(body, 50, 0.0)?,
    };
    let (sin, cos) = rotation_deg.to_radians().sin_cos();
    let mut out = Vec::new();
    let mut k = 0.0;
    for line in mtext_lines(&raw) {
        let down = height * (1.0 + 1.667 * k);
        k += 1.0;
        if line.trim().is_empty() {
            continue;
        }
        out.push(Shape::Text {
            position: [origin[0] + down * sin, origin[1] - down * cos],
            height,
            rotation_deg,
            value: line,
        });
    }
    Ok(out)
}

fn insert(body: &[Group<'_>]) -> Result<Shape, CadError> {
    let count = |code: i32| -> Result<u32, CadError> {
        Ok(find(body, code)
            .map(|g| g.integer())
            .transpose()?
            .map_or(1, |n| u32::try_from(n.clamp(1, 32_767)).unwrap_or(1)))
    };
    Ok(Shape::Insert {
        block: find(body, 2).map_or("", Group::name).to_owned(),
        position: point(body, 10)?,
        scale: [number(body, 41, 1.0)?, number(body, 42, 1.0)?],
        rotation_deg: number(body, 50, 0.0)?,
        columns: count(70)?,
        rows: count(71)?,
        spacing: [number(body, 44, 0.0)?, number(body, 45, 0.0)?],
    })
}

/// An ELLIPSE sampled as a polyline (up to 64 segments a turn).
fn ellipse(body: &[Group<'_>]) -> Result<Option<Shape>, CadError> {
    let c = point(body, 10)?;
    let major = point(body, 11)?;
    let ratio = number(body, 40, 1.0)?;
    let start = number(body, 41, 0.0)?;
    let mut end = number(body, 42, TAU)?;
    if major[0].hypot(major[1]) == 0.0 || ratio <= 0.0 {
        return Ok(None);
    }
    while end <= start {
        end += TAU;
    }
    let sweep = (end - start).min(TAU);
    let full = (sweep - TAU).abs() < 1e-9;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "sweep/TAU is in (0, 1]"
    )]
    let segments = ((64.0 * sweep / TAU).ceil() as usize).clamp(8, 64);
    let minor = [-major[1] * ratio, major[0] * ratio];
    let count = if full { segments } else { segments + 1 };
    #[allow(clippy::cast_precision_loss, reason = "at most 65 samples")]
    let points: Vec<[f64; 2]> = (0..count)
        .map(|i| {
            let t = start + sweep * i as f64 / segments as f64;
            [
                c[0] + major[0] * t.cos() + minor[0] * t.sin(),
                c[1] + major[1] * t.cos() + minor[1] * t.sin(),
            ]
        })
        .collect();
    let bulges = vec![0.0; points.len()];
    Ok(Some(Shape::Path {
        points,
        bulges,
        closed: full,
    }))
}

/// A SPLINE sampled with de Boor's algorithm from its control points and knots (weights of
/// rational splines are ignored), or its fit points joined straight when the knots do not fit.
fn spline(body: &[Group<'_>]) -> Result<Option<Shape>, CadError> {
    let degree = usize::try_from(
        find(body, 71)
            .map(|g| g.integer())
            .transpose()?
            .unwrap_or(3),
    )
    .unwrap_or(0);
    let closed = find(body, 70)
        .map(|g| g.integer())
        .transpose()?
        .unwrap_or(0)
        & 1
        == 1;
    let knots: Vec<f64> = body
        .iter()
        .filter(|g| g.code == 40)
        .map(Group::number)
        .collect::<Result<_, _>>()?;
    let control = pairs(body, 10)?;
    let fit = pairs(body, 11)?;
    let n = control.len();
    let valid = (1..=10).contains(&degree)
        && n > degree
        && knots.len() == n + degree + 1
        && knots.windows(2).all(|w| w[0] <= w[1]);
    let points = if valid && knots[degree] < knots[n] {
        let samples = (n * 8).clamp(16, MAX_CURVE_POINTS);
        let (t0, t1) = (knots[degree], knots[n]);
        #[allow(clippy::cast_precision_loss, reason = "at most 2048 samples")]
        (0..=samples)
            .map(|i| {
                de_boor(
                    t0 + (t1 - t0) * i as f64 / samples as f64,
                    degree,
                    &knots,
                    &control,
                )
            })
            .collect()
    } else if fit.len() >= 2 {
        fit.into_iter().take(MAX_CURVE_POINTS).collect()
    } else if n >= 2 {
        control.into_iter().take(MAX_CURVE_POINTS).collect()
    } else {
        return Ok(None);
    };
    let points: Vec<[f64; 2]> = points;
    let bulges = vec![0.0; points.len()];
    Ok(Some(Shape::Path {
        points,
        bulges,
        closed,
    }))
}

/// Repeated x/y pairs (codes `x` and `x + 10`).
fn pairs(body: &[Group<'_>], x: i32) -> Result<Vec<[f64; 2]>, CadError> {
    let mut out: Vec<[f64; 2]> = Vec::new();
    for g in body {
        if g.code == x {
            out.push([g.number()?, 0.0]);
        } else if g.code == x + 10
            && let Some(p) = out.last_mut()
        {
            p[1] = g.number()?;
        }
    }
    Ok(out)
}

fn de_boor(t: f64, p: usize, knots: &[f64], control: &[[f64; 2]]) -> [f64; 2] {
    let n = control.len();
    let mut k = p;
    while k + 1 < n && knots[k + 1] <= t {
        k += 1;
    }
    let mut d: Vec<[f64; 2]> = control[k - p..=k].to_vec();
    for r in 1..=p {
        for j in (r..=p).rev() {
            let i = j + k - p;
            let denom = knots[i + p + 1 - r] - knots[i];
            let alpha = if denom == 0.0 {
                0.0
            } else {
                (t - knots[i]) / denom
            };
            d[j] = [
                (1.0 - alpha) * d[j - 1][0] + alpha * d[j][0],
                (1.0 - alpha) * d[j - 1][1] + alpha * d[j][1],
            ];
        }
    }
    d[p]
}
