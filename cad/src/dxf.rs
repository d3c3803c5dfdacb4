//! DXF drawings (ASCII), read with a hand-rolled group-code reader.
//!
//! A DXF file is a flat list of (group code, value) pairs in sections. We read HEADER for
//! `$INSUNITS`, TABLES for layers, BLOCKS for block definitions and ENTITIES for what model
//! space shows; everything else is skipped. Entities become [`Path2d`]s in bulge form and
//! [`Text`]s; INSERTs place their block's entities (bounded nesting depth, a block that inserts
//! itself is refused, and a work budget stops exponential block fan-out). Binary DXF is not
//! supported. See `docs/cad.md` for the entities read and what is approximated.

mod color;
mod entity;
mod reader;
mod text;

/// Longest single text kept (longer ones are cut): a label, not a document.
pub const MAX_TEXT_CHARS: usize = 1000;
use std::collections::HashMap;

use crate::model::{CadError, Drawing, Layer, LengthUnit, Limits, Path2d, Text};
use color::aci_to_rgb;
use entity::{Entity, Shape, Skipped, read_entities};
use reader::GroupReader;

const FORMAT: &str = "DXF";
/// Deepest chain of blocks inserted in blocks that is followed.
const MAX_BLOCK_DEPTH: usize = 16;

/// A block definition: its base point and entities.
struct Block {
    base: [f64; 2],
    entities: Vec<Entity>,
}

/// Loads an ASCII DXF drawing.
///
/// # Errors
/// [`CadError::Unsupported`] for binary DXF; [`CadError::Malformed`] for unreadable groups,
/// non-finite coordinates or a block that inserts itself; [`CadError::TooLarge`] beyond
/// `limits.max_drawing_points`; [`CadError::Empty`] when nothing is drawn.
pub fn load_dxf(bytes: &[u8], limits: &Limits) -> Result<Drawing, CadError> {
    if bytes.starts_with(b"AutoCAD Binary DXF") {
        return Err(CadError::Unsupported {
            format: FORMAT,
            what: "binary DXF (save as ASCII DXF)".into(),
        });
    }
    // DXF before R2007 is in the drawing's code page; Latin-1 keeps every byte readable.
    let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => bytes
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into(),
    };
    let mut reader = GroupReader::new(&text);
    let mut unit = None;
    let mut layers = Vec::new();
    let mut blocks = HashMap::new();
    let mut entities = Vec::new();
    let mut skipped = Skipped::default();
    while let Some(g) = reader.next_group()? {
        if !g.is_marker("SECTION") {
            if g.is_marker("EOF") {
                break;
            }
            continue;
        }
        let name = match reader.peek()? {
            Some(n) if n.code == 2 => {
                reader.next_group()?;
                n.name().to_owned()
            }
            _ => String::new(),
        };
        match name.as_str() {
            "HEADER" => unit = read_header(&mut reader)?.or(unit),
            "TABLES" => layers.extend(read_layers(&mut reader)?),
            "BLOCKS" => read_blocks(&mut reader, &mut blocks, &mut skipped)?,
            "ENTITIES" => entities.extend(read_entities(&mut reader, &mut skipped)?),
            _ => skip_section(&mut reader)?,
        }
    }
    let mut placer = Placer::new(&blocks, layers, limits);
    let inherited = Inherited {
        layer: None,
        color: [0, 0, 0],
    };
    placer.place(&entities, &Affine::IDENTITY, inherited, &mut Vec::new())?;
    let drawing = Drawing {
        layers: placer.layers,
        paths: placer.paths,
        texts: placer.texts,
        unit,
    };
    if drawing.paths.is_empty() && drawing.texts.is_empty() {
        return Err(CadError::Empty { format: FORMAT });
    }
    Ok(drawing)
}

fn skip_section(reader: &mut GroupReader<'_>) -> Result<(), CadError> {
    while let Some(g) = reader.next_group()? {
        if g.is_marker("ENDSEC") {
            break;
        }
    }
    Ok(())
}

/// `$INSUNITS` from the HEADER section (1 in, 2 ft, 4 mm, 5 cm, 6 m; others are not shown).
fn read_header(reader: &mut GroupReader<'_>) -> Result<Option<LengthUnit>, CadError> {
    let mut unit = None;
    while let Some(g) = reader.next_group()? {
        if g.is_marker("ENDSEC") {
            break;
        }
        if g.code == 9
            && g.name() == "$INSUNITS"
            && let Some(v) = reader.peek()?.filter(|v| v.code == 70)
        {
            reader.next_group()?;
            unit = match v.integer()? {
                1 => Some(LengthUnit::Inch),
                2 => Some(LengthUnit::Foot),
                4 => Some(LengthUnit::Millimetre),
                5 => Some(LengthUnit::Centimetre),
                6 => Some(LengthUnit::Metre),
                _ => None,
            };
        }
    }
    Ok(unit)
}

/// LAYER records from the TABLES section: name (2), colour (62, negative when off), flags
/// (70, bit 1 frozen).
fn read_layers(reader: &mut GroupReader<'_>) -> Result<Vec<Layer>, CadError> {
    let mut layers: Vec<Layer> = Vec::new();
    while let Some(g) = reader.next_group()? {
        if g.is_marker("ENDSEC") {
            break;
        }
        if !g.is_marker("LAYER") {
            continue;
        }
        let body = reader.body()?;
        let Some(name) = body
            .iter()
            .find(|g| g.code == 2)
            .map(|g| g.name().to_owned())
        else {
            continue;
        };
        let color = body
            .iter()
            .find(|g| g.code == 62)
            .map(|g| g.integer())
            .transpose()?
            .unwrap_or(7);
        let flags = body
            .iter()
            .find(|g| g.code == 70)
            .map(|g| g.integer())
            .transpose()?
            .unwrap_or(0);
        if layers.iter().any(|l| l.name == name) {
            continue;
        }
        layers.push(Layer {
            name,
            color: aci_to_rgb(color),
            visible: color >= 0 && flags & 1 == 0,
        });
    }
    Ok(layers)
}

fn read_blocks(
    reader: &mut GroupReader<'_>,
    blocks: &mut HashMap<String, Block>,
    skipped: &mut Skipped,
) -> Result<(), CadError> {
    while let Some(g) = reader.next_group()? {
        if g.is_marker("ENDSEC") {
            break;
        }
        if !g.is_marker("BLOCK") {
            continue;
        }
        let head = reader.body()?;
        let name = head
            .iter()
            .find(|g| g.code == 2)
            .map_or("", |g| g.name())
            .to_owned();
        let base = [
            head.iter()
                .find(|g| g.code == 10)
                .map_or(Ok(0.0), |g| g.number())?,
            head.iter()
                .find(|g| g.code == 20)
                .map_or(Ok(0.0), |g| g.number())?,
        ];
        let entities = read_entities(reader, skipped)?;
        if let Some(end) = reader.peek()?
            && end.is_marker("ENDBLK")
        {
            reader.next_group()?;
            reader.body()?;
        }
        blocks.insert(name, Block { base, entities });
    }
    Ok(())
}

/// A 2D affine map: x' = a·x + c·y + e, y' = b·x + d·y + f.
#[derive(Debug, Clone, Copy)]
struct Affine([f64; 6]);

impl Affine {
    const IDENTITY: Affine = Affine([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let [a, b, c, d, e, f] = self.0;
        [a * p[0] + c * p[1] + e, b * p[0] + d * p[1] + f]
    }

    /// `self` after `other` (other is applied first).
    fn then(&self, other: &Affine) -> Affine {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = other.0;
        Affine([
            a * a2 + c * b2,
            b * a2 + d * b2,
            a * c2 + c * d2,
            b * c2 + d * d2,
            a * e2 + c * f2 + e,
            b * e2 + d * f2 + f,
        ])
    }

    fn translate(t: [f64; 2]) -> Affine {
        Affine([1.0, 0.0, 0.0, 1.0, t[0], t[1]])
    }

    fn determinant(&self) -> f64 {
        self.0[0] * self.0[3] - self.0[1] * self.0[2]
    }
}

/// What an entity inside a block takes from the INSERT that placed it: layer 0 entities go
/// on the insert's layer, BYBLOCK colours become the insert's colour.
#[derive(Clone, Copy)]
struct Inherited {
    layer: Option<usize>,
    color: [u8; 3],
}

/// Places entities (and the blocks they insert) into the drawing's world coordinates.
struct Placer<'b> {
    blocks: &'b HashMap<String, Block>,
    layers: Vec<Layer>,
    paths: Vec<Path2d>,
    texts: Vec<Text>,
    limits: &'b Limits,
    points: u64,
    work: u64,
}

impl<'b> Placer<'b> {
    fn new(blocks: &'b HashMap<String, Block>, layers: Vec<Layer>, limits: &'b Limits) -> Self {
        Self {
            blocks,
            layers,
            paths: Vec::new(),
            texts: Vec::new(),
            limits,
            points: 0,
            work: 0,
        }
    }

    fn layer_index(&mut self, name: &str) -> usize {
        if let Some(i) = self.layers.iter().position(|l| l.name == name) {
            return i;
        }
        self.layers.push(Layer {
            name: name.to_owned(),
            color: [0, 0, 0],
            visible: true,
        });
        self.layers.len() - 1
    }

    /// Counts one unit of work (an entity placed) and `points` points against the limits.
    fn spend(&mut self, points: usize) -> Result<(), CadError> {
        self.work += 1;
        self.points += points as u64;
        if self.points > self.limits.max_drawing_points
            || self.work > self.limits.max_drawing_points
        {
            return Err(CadError::TooLarge {
                what: "drawing points",
                limit: self.limits.max_drawing_points,
            });
        }
        Ok(())
    }

    fn place(
        &mut self,
        entities: &[Entity],
        xf: &Affine,
        inherited: Inherited,
        stack: &mut Vec<String>,
    ) -> Result<(), CadError> {
        let mirrored = xf.determinant() < 0.0;
        let scale = xf.determinant().abs().sqrt();
        let x_axis = xf.apply([1.0, 0.0]);
        let origin = xf.apply([0.0, 0.0]);
        let turn_deg = (x_axis[1] - origin[1])
            .atan2(x_axis[0] - origin[0])
            .to_degrees();
        for entity in entities {
            let layer = match (entity.layer.as_str(), inherited.layer) {
                ("0", Some(l)) => l,
                (name, _) => self.layer_index(name),
            };
            let color = match entity.color {
                None | Some(256) => self.layers[layer].color,
                Some(0) => inherited.color,
                Some(n) => aci_to_rgb(n),
            };
            for shape in &entity.shapes {
                match shape {
                    Shape::Path {
                        points,
                        bulges,
                        closed,
                    } => {
                        self.spend(points.len())?;
                        let points: Vec<[f64; 2]> = points.iter().map(|&p| xf.apply(p)).collect();
                        check_finite(points.iter().flatten())?;
                        let bulges = bulges
                            .iter()
                            .map(|&b| if mirrored { -b } else { b })
                            .collect();
                        self.paths.push(Path2d {
                            layer,
                            color,
                            points,
                            bulges,
                            closed: *closed,
                        });
                    }
                    Shape::Text {
                        position,
                        height,
                        rotation_deg,
                        value,
                    } => {
                        // Text becomes glyph outlines when drawn: charge each character, and
                        // keep single texts to a length a drawing label can have.
                        let value: String = value.chars().take(MAX_TEXT_CHARS).collect();
                        self.spend(value.chars().count())?;
                        let position = xf.apply(*position);
                        let (height, rotation_deg) = (height * scale, rotation_deg + turn_deg);
                        check_finite(position.iter().chain([&height, &rotation_deg]))?;
                        self.texts.push(Text {
                            layer,
                            color,
                            position,
                            height,
                            rotation_deg,
                            value,
                        });
                    }
                    Shape::Insert {
                        block,
                        position,
                        scale,
                        rotation_deg,
                        columns,
                        rows,
                        spacing,
                    } => {
                        let Some(definition) = self.blocks.get(block) else {
                            continue;
                        };
                        if stack.iter().any(|b| b == block) {
                            return Err(CadError::Malformed {
                                format: FORMAT,
                                reason: format!("block '{block}' inserts itself"),
                            });
                        }
                        if stack.len() >= MAX_BLOCK_DEPTH {
                            return Err(CadError::Unsupported {
                                format: FORMAT,
                                what: format!("blocks nested more than {MAX_BLOCK_DEPTH} deep"),
                            });
                        }
                        let (sin, cos) = rotation_deg.to_radians().sin_cos();
                        let rotate = Affine([cos, sin, -sin, cos, 0.0, 0.0]);
                        let stretch = Affine([scale[0], 0.0, 0.0, scale[1], 0.0, 0.0]);
                        let inner = Inherited {
                            layer: Some(layer),
                            color,
                        };
                        stack.push(block.clone());
                        for row in 0..*rows {
                            for column in 0..*columns {
                                self.spend(0)?;
                                let cell =
                                    [f64::from(column) * spacing[0], f64::from(row) * spacing[1]];
                                let local = Affine::translate(*position)
                                    .then(&rotate)
                                    .then(&Affine::translate(cell))
                                    .then(&stretch)
                                    .then(&Affine::translate([
                                        -definition.base[0],
                                        -definition.base[1],
                                    ]));
                                self.place(&definition.entities, &xf.then(&local), inner, stack)?;
                            }
                        }
                        stack.pop();
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_finite<'a>(mut values: impl Iterator<Item = &'a f64>) -> Result<(), CadError> {
    if values.all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(CadError::Malformed {
            format: FORMAT,
            reason: "a placed coordinate is not a finite number".into(),
        })
    }
}
