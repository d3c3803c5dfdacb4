//! The decoded forms every loader produces and every renderer consumes.

/// Why a file could not be turned into a model or a drawing.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum CadError {
    /// The bytes are not a well-formed file of the format (`format` names it).
    #[error("not a readable {format} file: {reason}")]
    Malformed {
        /// The format that was being read, e.g. "STL".
        format: &'static str,
        /// What is wrong, for the person who sent the file.
        reason: String,
    },
    /// A well-formed file that uses something this viewer does not support.
    #[error("{format} feature not supported: {what}")]
    Unsupported {
        /// The format that was being read.
        format: &'static str,
        /// The unsupported construct.
        what: String,
    },
    /// The file asks for more than [`Limits`] allows.
    #[error("the file is too large to view: {what} exceeds the limit of {limit}")]
    TooLarge {
        /// What was counted, e.g. "triangles".
        what: &'static str,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The file decodes but holds no geometry to show.
    #[error("the {format} file holds no geometry")]
    Empty {
        /// The format that was being read.
        format: &'static str,
    },
}

/// Resource limits for loading one file; defaults suit a browser tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most triangles in a model, all parts together.
    pub max_triangles: u64,
    /// Most nodes in a part tree.
    pub max_nodes: u64,
    /// Most vertices in a drawing, all paths together.
    pub max_drawing_points: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_triangles: 20_000_000,
            max_nodes: 100_000,
            max_drawing_points: 10_000_000,
        }
    }
}

/// The unit lengths in a model or drawing are expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// Millimetres.
    Millimetre,
    /// Centimetres.
    Centimetre,
    /// Metres.
    Metre,
    /// Inches.
    Inch,
    /// Feet.
    Foot,
}

impl LengthUnit {
    /// The unit's symbol, e.g. "mm".
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Millimetre => "mm",
            Self::Centimetre => "cm",
            Self::Metre => "m",
            Self::Inch => "in",
            Self::Foot => "ft",
        }
    }

    /// Length of one unit in millimetres.
    #[must_use]
    pub fn in_mm(self) -> f64 {
        match self {
            Self::Millimetre => 1.0,
            Self::Centimetre => 10.0,
            Self::Metre => 1000.0,
            Self::Inch => 25.4,
            Self::Foot => 304.8,
        }
    }
}

/// An axis-aligned bounding box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aabb {
    /// Smallest corner.
    pub min: [f64; 3],
    /// Largest corner.
    pub max: [f64; 3],
}

impl Aabb {
    /// The empty box (grows from the first point added).
    pub const EMPTY: Aabb = Aabb {
        min: [f64::INFINITY; 3],
        max: [f64::NEG_INFINITY; 3],
    };

    /// Grows the box to hold `p`.
    pub fn add(&mut self, p: [f64; 3]) {
        for (k, v) in p.into_iter().enumerate() {
            self.min[k] = self.min[k].min(v);
            self.max[k] = self.max[k].max(v);
        }
    }

    /// True when no point was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.min[0] > self.max[0]
    }

    /// Centre point.
    #[must_use]
    pub fn center(&self) -> [f64; 3] {
        std::array::from_fn(|k| 0.5 * (self.min[k] + self.max[k]))
    }

    /// Length of the diagonal.
    #[must_use]
    pub fn diagonal(&self) -> f64 {
        (0..3)
            .map(|k| (self.max[k] - self.min[k]).powi(2))
            .sum::<f64>()
            .sqrt()
    }
}

/// An indexed triangle mesh in world coordinates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    /// Vertex positions.
    pub positions: Vec<[f32; 3]>,
    /// Triangles as three indices into `positions`, counter-clockwise seen from outside.
    pub triangles: Vec<[u32; 3]>,
}

impl Mesh {
    /// Number of triangles.
    #[must_use]
    pub fn triangle_count(&self) -> usize {
        self.triangles.len()
    }

    /// Sum of the triangles' areas.
    #[must_use]
    pub fn surface_area(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.positions[i as usize].map(f64::from));
                let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
                let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
                let n = [
                    u[1] * v[2] - u[2] * v[1],
                    u[2] * v[0] - u[0] * v[2],
                    u[0] * v[1] - u[1] * v[0],
                ];
                0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt()
            })
            .sum()
    }

    /// Bounding box of the vertices that triangles use.
    #[must_use]
    pub fn bounds(&self) -> Aabb {
        let mut b = Aabb::EMPTY;
        for t in &self.triangles {
            for &i in t {
                b.add(self.positions[i as usize].map(f64::from));
            }
        }
        b
    }
}

/// A leaf of the part tree that has geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Display name (from the file, or made up from the format and an index).
    pub name: String,
    /// The tree node this part hangs from (index into [`Model::nodes`]).
    pub node: usize,
    /// Geometry, already transformed into world coordinates.
    pub mesh: Mesh,
    /// Base colour, sRGB components in 0..=1 (a neutral grey when the file gives none).
    pub color: [f32; 3],
}

impl Part {
    /// The neutral grey a part gets when the file gives no colour.
    pub const DEFAULT_COLOR: [f32; 3] = [0.72, 0.72, 0.72];
}

/// A node of the part tree (assemblies, sub-assemblies and parts).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Display name.
    pub name: String,
    /// Parent node, `None` for a root.
    pub parent: Option<usize>,
}

/// A 3D model: parts in a tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Tree nodes, parents before children.
    pub nodes: Vec<Node>,
    /// Parts with geometry; each names its node.
    pub parts: Vec<Part>,
    /// The unit of every coordinate.
    pub unit: LengthUnit,
    /// False when the format does not say (STL, OBJ) and [`Model::unit`] is an assumption.
    pub unit_declared: bool,
}

impl Model {
    /// Triangles over all parts.
    #[must_use]
    pub fn triangle_count(&self) -> usize {
        self.parts.iter().map(|p| p.mesh.triangle_count()).sum()
    }

    /// Surface area over all parts, in square [`Model::unit`]s.
    #[must_use]
    pub fn surface_area(&self) -> f64 {
        self.parts.iter().map(|p| p.mesh.surface_area()).sum()
    }

    /// Bounding box over all parts.
    #[must_use]
    pub fn bounds(&self) -> Aabb {
        let mut b = Aabb::EMPTY;
        for p in &self.parts {
            let pb = p.mesh.bounds();
            if !pb.is_empty() {
                b.add(pb.min);
                b.add(pb.max);
            }
        }
        b
    }
}

/// A drawing layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Layer name as in the file.
    pub name: String,
    /// Default colour of the layer's entities, sRGB bytes (black for DXF colour 7 on paper).
    pub color: [u8; 3],
    /// False when the file marks the layer off or frozen.
    pub visible: bool,
}

/// A 2D polyline whose segments may be circular arcs (DXF's bulge form).
///
/// Segment `i` runs from `points[i]` to `points[i + 1]` (or back to `points[0]` for the last
/// segment of a closed path) and bulges by `bulges[i]`: 0 is straight, otherwise the tangent of a
/// quarter of the arc's included angle, positive counter-clockwise. A full circle is a closed
/// path of two points with bulges 1 and 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Path2d {
    /// Index into [`Drawing::layers`].
    pub layer: usize,
    /// Stroke colour, sRGB bytes.
    pub color: [u8; 3],
    /// Vertices.
    pub points: Vec<[f64; 2]>,
    /// One bulge per vertex (the last is used only when `closed`).
    pub bulges: Vec<f64>,
    /// True when the last vertex joins the first.
    pub closed: bool,
}

/// A single-line text entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// Index into [`Drawing::layers`].
    pub layer: usize,
    /// Fill colour, sRGB bytes.
    pub color: [u8; 3],
    /// Insertion point: the left end of the baseline.
    pub position: [f64; 2],
    /// Cap height in drawing units.
    pub height: f64,
    /// Rotation in degrees, counter-clockwise.
    pub rotation_deg: f64,
    /// The text, with DXF control codes already resolved.
    pub value: String,
}

/// A 2D drawing: paths and text on layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    /// Layers in file order.
    pub layers: Vec<Layer>,
    /// Lines, arcs, circles and polylines.
    pub paths: Vec<Path2d>,
    /// Text entities.
    pub texts: Vec<Text>,
    /// The unit of every coordinate, when the file declares one.
    pub unit: Option<LengthUnit>,
}

impl Drawing {
    /// Bounding box of the paths (arcs' bulges included) and of the texts' estimated boxes
    /// (z is 0).
    #[must_use]
    pub fn bounds(&self) -> Aabb {
        let mut b = Aabb::EMPTY;
        for p in &self.paths {
            let n = p.points.len();
            for (i, q) in p.points.iter().enumerate() {
                b.add([q[0], q[1], 0.0]);
                let next = if i + 1 < n {
                    i + 1
                } else if p.closed && n > 1 {
                    0
                } else {
                    continue;
                };
                let bulge = p.bulges.get(i).copied().unwrap_or(0.0);
                for e in arc_extremes(*q, p.points[next], bulge)
                    .into_iter()
                    .flatten()
                {
                    b.add([e[0], e[1], 0.0]);
                }
            }
        }
        for t in &self.texts {
            // The text's box, estimated for the viewer's monospaced font (advance 0.83 of the
            // cap height), descenders and accents included, rotated with the text.
            let width = 0.82 * t.height * t.value.chars().count() as f64;
            let (sin, cos) = t.rotation_deg.to_radians().sin_cos();
            for (dx, dy) in [(0.0, -0.25), (width, -0.25), (0.0, 1.1), (width, 1.1)] {
                let dy = dy * t.height;
                let p = [
                    t.position[0] + dx * cos - dy * sin,
                    t.position[1] + dx * sin + dy * cos,
                    0.0,
                ];
                if p.iter().all(|v| v.is_finite()) {
                    b.add(p);
                }
            }
        }
        b
    }
}

/// The axis-extreme points (east, north, west, south of the centre) that the arc from `a` to
/// `b` with `bulge` passes through; `None` where the arc does not reach that side.
fn arc_extremes(a: [f64; 2], b: [f64; 2], bulge: f64) -> [Option<[f64; 2]>; 4] {
    let mut out = [None; 4];
    let chord = [b[0] - a[0], b[1] - a[1]];
    let len = chord[0].hypot(chord[1]);
    if bulge == 0.0 || !bulge.is_finite() || len == 0.0 {
        return out;
    }
    // Included angle 4·atan(bulge), positive counter-clockwise; the centre sits on the chord's
    // perpendicular bisector at distance (len/2)·(1/bulge - bulge)/2.
    let sweep = 4.0 * bulge.atan();
    let offset = 0.25 * len * (1.0 / bulge - bulge);
    let mid = [0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1])];
    let left = [-chord[1] / len, chord[0] / len];
    let c = [mid[0] + offset * left[0], mid[1] + offset * left[1]];
    let r = (a[0] - c[0]).hypot(a[1] - c[1]);
    let start = (a[1] - c[1]).atan2(a[0] - c[0]);
    let tau = std::f64::consts::TAU;
    for (k, slot) in out.iter_mut().enumerate() {
        #[allow(clippy::cast_precision_loss, reason = "k is 0..4")]
        let angle = k as f64 * std::f64::consts::FRAC_PI_2;
        // How far along the sweep (in its direction) the extreme lies.
        let along = if sweep > 0.0 {
            (angle - start).rem_euclid(tau)
        } else {
            (start - angle).rem_euclid(tau)
        };
        if along <= sweep.abs() {
            *slot = Some([c[0] + r * angle.cos(), c[1] + r * angle.sin()]);
        }
    }
    out
}
