//! CAD models and drawings in the viewer: loading the decrypted bytes, the view state the
//! page's controls change (orbit, pan, zoom, standard views, section, part visibility), and
//! measurement. Rendering itself is in `veilmark-render`; this module is plain Rust so that the
//! native tests drive exactly what the browser runs.
//!
//! Every frame — 3D or 2D — comes back from the renderer as RGBA in wasm memory and is marked
//! by [`crate::mark`] like a PDF page before the page's script can show it.
//!
//! Strings inside the file — part, node and layer names, and the bytes a loader error would
//! quote — are document content and stay here too (`docs/viewer.md#outline`): the page gets
//! outline entries with neutral labels ("Part 3"), measurements that name a part by its entry
//! id, errors that give the format and a line number ([`load_error`]), and the real name only
//! as pixels ([`CadView::draw_name`]).

use serde::Serialize;
use veilmark_cad::measure::{self, Plane};
use veilmark_cad::{CadError, Content, Drawing, Limits, Model};
use veilmark_render::drawing::{DrawingView, render_drawing};
use veilmark_render::{RgbaImage, SectionPlane, StandardView, ViewState};
use veilmark_shared::media::MediaType;
use zeroize::{Zeroize, Zeroizing};

use crate::render::Frame;
use crate::session::ViewerError;

/// Feature edges: faces meeting at more than this angle (degrees) get a dark line.
pub const CREASE_DEGREES: f32 = 30.0;
/// How close (in pixels) a click must be to a vertex to snap to it.
pub const SNAP_PIXELS: f64 = 10.0;

/// True for the media types this module opens.
#[must_use]
pub fn is_cad(media: MediaType) -> bool {
    matches!(
        media,
        MediaType::Stl
            | MediaType::Obj
            | MediaType::Gltf
            | MediaType::Glb
            | MediaType::Step
            | MediaType::Dxf
    )
}

/// What a measuring click produced, for the page's measurement panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// "point" (first point placed), "distance" (between two points), "edge" (length of an
    /// edge chain), or "none" (the click hit nothing).
    pub kind: &'static str,
    /// The distance or length, in `unit`s (0 for "point" and "none").
    pub value: f64,
    /// Unit symbol, e.g. "mm".
    pub unit: &'static str,
    /// False when the format does not declare its unit and `unit` is assumed.
    pub unit_declared: bool,
    /// The points involved, model coordinates.
    pub points: Vec<[f64; 3]>,
    /// The outline entry ([`OutlineEntry::id`]) of the part clicked, if any: never its name.
    pub part: Option<usize>,
}

/// What an outline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A tree node with geometry.
    Part,
    /// A tree node without geometry of its own (it groups others).
    Assembly,
    /// A drawing layer.
    Layer,
}

impl EntryKind {
    /// The word of the neutral label.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Part => "Part",
            Self::Assembly => "Assembly",
            Self::Layer => "Layer",
        }
    }
}

/// The part tree and layers, for the page's side panel. Nothing in it comes from a string in
/// the file: the real name is drawn by [`CadView::draw_name`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutlineEntry {
    /// Index to pass back to [`CadView::set_hidden`], [`CadView::select`] and
    /// [`CadView::draw_name`].
    pub id: usize,
    /// Part, assembly or layer.
    pub kind: EntryKind,
    /// Neutral label: the kind and its number in outline order ("Part 3", "Layer 2").
    pub label: String,
    /// Parent entry (tree nodes) or `None`.
    pub parent: Option<usize>,
    /// Steps from the root (0 for roots and layers).
    pub depth: usize,
    /// Part index when the node has geometry (the toggle acts on these).
    pub part: Option<usize>,
    /// Triangle count (parts) or entity count (layers).
    pub count: usize,
}

/// Numbers entries of each kind from 1, in outline order.
#[derive(Default)]
struct Labels {
    parts: usize,
    assemblies: usize,
    layers: usize,
}

impl Labels {
    fn next(&mut self, kind: EntryKind) -> String {
        let n = match kind {
            EntryKind::Part => &mut self.parts,
            EntryKind::Assembly => &mut self.assemblies,
            EntryKind::Layer => &mut self.layers,
        };
        *n += 1;
        format!("{} {n}", kind.word())
    }
}

/// A loaded 3D model and its view.
pub struct ModelView {
    /// The model, in wasm memory only; wiped on drop.
    pub model: Model,
    /// Feature edges per part.
    pub edges: Vec<Vec<[u32; 2]>>,
    /// Camera, section, visibility, markers.
    pub state: ViewState,
    /// Fraction (0..1) along the section axis, and the axis (0 x, 1 y, 2 z).
    pub section: Option<(usize, f64)>,
}

/// A loaded drawing and its view.
pub struct DrawingDoc {
    /// The drawing.
    pub drawing: Drawing,
    /// Pan and zoom; `None` until the first frame fits it.
    pub view: Option<DrawingView>,
    /// Layers the user switched off.
    pub hidden_layers: Vec<usize>,
    /// Measurement points, drawing coordinates.
    pub markers: Vec<[f64; 2]>,
}

impl Drop for ModelView {
    fn drop(&mut self) {
        // Geometry and names are what is left of the decrypted file: wipe them, as the
        // plaintext buffer was.
        for part in &mut self.model.parts {
            part.mesh.positions.zeroize();
            part.mesh.triangles.zeroize();
            part.name.zeroize();
        }
        for node in &mut self.model.nodes {
            node.name.zeroize();
        }
        self.edges.zeroize();
    }
}

impl Drop for DrawingDoc {
    fn drop(&mut self) {
        for path in &mut self.drawing.paths {
            path.points.zeroize();
            path.bulges.zeroize();
        }
        for text in &mut self.drawing.texts {
            text.value.zeroize();
            text.position.zeroize();
        }
        for layer in &mut self.drawing.layers {
            layer.name.zeroize();
        }
    }
}

/// A CAD document in the viewer.
pub enum CadView {
    /// A 3D model.
    Model(Box<ModelView>),
    /// A 2D drawing.
    Drawing(Box<DrawingDoc>),
}

impl std::fmt::Debug for CadView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Model(m) => write!(f, "CadView::Model({} parts)", m.model.parts.len()),
            Self::Drawing(d) => write!(f, "CadView::Drawing({} paths)", d.drawing.paths.len()),
        }
    }
}

/// The error the page gets for a file that did not load: the format, what kind of problem, and
/// where (line and column when the loader knows them) — never a byte of the file. The
/// loader's own message quotes the offending token (a number that is not one, a block or
/// buffer name), which is document content.
#[must_use]
pub fn load_error(e: &CadError) -> ViewerError {
    let message = match e {
        CadError::Malformed { format, reason } => {
            format!("not a readable {format} file{}", location(reason))
        }
        CadError::Unsupported { format, what } => format!(
            "this {format} file uses something the viewer does not support{}",
            location(what)
        ),
        // `what` is the loader's own word ("triangles"), `limit` a number.
        CadError::TooLarge { what, limit } => {
            format!("the file is too large to view: more {what} than the limit of {limit}")
        }
        CadError::Empty { format } => format!("the {format} file holds no geometry"),
        _ => "the file could not be read".to_owned(),
    };
    ViewerError::Render(message)
}

/// " (line N)" or " (line N, column M)" from a loader's message, else "". Only the digits are
/// taken: the message leads with "line N:" (OBJ, STL, DXF) or ends in "at line N" (STEP) or
/// "at line N column M" (glTF's JSON).
fn location(reason: &str) -> String {
    let digits = |s: &str| -> Option<(u64, usize)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        Some((s.get(..n)?.parse().ok()?, n))
    };
    let lead = reason.strip_prefix("line ").and_then(|rest| {
        let (line, n) = digits(rest)?;
        rest[n..].starts_with(':').then_some((line, None))
    });
    let tail = || {
        let rest = &reason[reason.rfind(" at line ")? + " at line ".len()..];
        let (line, n) = digits(rest)?;
        match &rest[n..] {
            "" => Some((line, None)),
            more => {
                let (column, m) = digits(more.strip_prefix(" column ")?)?;
                (more.len() == " column ".len() + m).then_some((line, Some(column)))
            }
        }
    };
    match lead.or_else(tail) {
        Some((line, Some(column))) => format!(" (line {line}, column {column})"),
        Some((line, None)) => format!(" (line {line})"),
        None => String::new(),
    }
}

fn render_error(e: veilmark_render::RenderError) -> ViewerError {
    ViewerError::Render(e.to_string())
}

impl CadView {
    /// Parses the decrypted file (wiped when this returns: the model keeps only geometry).
    pub fn open(media: MediaType, bytes: Zeroizing<Vec<u8>>) -> Result<Self, ViewerError> {
        let content =
            veilmark_cad::load(media, &bytes, &Limits::default()).map_err(|e| load_error(&e))?;
        drop(bytes);
        Ok(match content {
            Content::Model(model) => {
                let bounds = model.bounds();
                if bounds.is_empty() {
                    return Err(ViewerError::Render("the model holds no geometry".into()));
                }
                let edges = model
                    .parts
                    .iter()
                    .map(|p| measure::feature_edges(&p.mesh, CREASE_DEGREES))
                    .collect();
                let state = ViewState::fit(&bounds, 1.0);
                Self::Model(Box::new(ModelView {
                    model,
                    edges,
                    state,
                    section: None,
                }))
            }
            Content::Drawing(drawing) => Self::Drawing(Box::new(DrawingDoc {
                drawing,
                view: None,
                hidden_layers: Vec::new(),
                markers: Vec::new(),
            })),
        })
    }

    /// "model" or "drawing".
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Model(_) => "model",
            Self::Drawing(_) => "drawing",
        }
    }

    /// The part tree (models) or the layer list (drawings).
    #[must_use]
    pub fn outline(&self) -> Vec<OutlineEntry> {
        match self {
            Self::Model(m) => {
                // One pass from nodes to their first part (files can have 100 000 parts).
                let mut part_of = vec![None; m.model.nodes.len()];
                for (i, p) in m.model.parts.iter().enumerate().rev() {
                    if let Some(slot) = part_of.get_mut(p.node) {
                        *slot = Some(i);
                    }
                }
                // Parents come before children: one pass gives every depth.
                let mut depths: Vec<usize> = Vec::with_capacity(m.model.nodes.len());
                let mut labels = Labels::default();
                m.model
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(id, n)| {
                        let part = part_of[id];
                        let depth = n.parent.and_then(|p| depths.get(p)).map_or(0, |d| d + 1);
                        depths.push(depth);
                        let kind = if part.is_some() {
                            EntryKind::Part
                        } else {
                            EntryKind::Assembly
                        };
                        OutlineEntry {
                            id,
                            kind,
                            label: labels.next(kind),
                            parent: n.parent,
                            depth,
                            part,
                            count: part.map_or(0, |p| m.model.parts[p].mesh.triangle_count()),
                        }
                    })
                    .collect()
            }
            Self::Drawing(d) => {
                let mut labels = Labels::default();
                let mut counts = vec![0usize; d.drawing.layers.len()];
                let layers = d.drawing.paths.iter().map(|p| p.layer);
                for layer in layers.chain(d.drawing.texts.iter().map(|t| t.layer)) {
                    if let Some(c) = counts.get_mut(layer) {
                        *c += 1;
                    }
                }
                d.drawing
                    .layers
                    .iter()
                    .enumerate()
                    // Layers the file switches off are not drawn and not listed.
                    .filter(|(_, l)| l.visible)
                    .map(|(id, _)| OutlineEntry {
                        id,
                        kind: EntryKind::Layer,
                        label: labels.next(EntryKind::Layer),
                        parent: None,
                        depth: 0,
                        part: Some(id),
                        count: counts[id],
                    })
                    .collect()
            }
        }
    }

    /// The outline as the JSON the page's script gets.
    #[must_use]
    pub fn outline_json(&self) -> String {
        serde_json::to_string(&self.outline()).unwrap_or_else(|_| "[]".into())
    }

    /// A measurement as the JSON the page's script gets.
    #[must_use]
    pub fn measurement_json(&self, m: &Measurement) -> String {
        serde_json::to_string(m).unwrap_or_else(|_| "{\"kind\":\"none\"}".into())
    }

    /// The real name of outline entry `id` (a tree node or a layer) drawn in colour `rgb`
    /// (`0xRRGGBB`) on a transparent `width × height` image: the only form in which a name
    /// from the file leaves this module. `None` for an unknown id, a blank name (the page
    /// shows the neutral label) or a size beyond [`crate::name::MAX_WIDTH`] ×
    /// [`crate::name::MAX_HEIGHT`].
    #[must_use]
    pub fn draw_name(&self, id: usize, width: u32, height: u32, rgb: u32) -> Option<RgbaImage> {
        let name = match self {
            Self::Model(m) => &m.model.nodes.get(id)?.name,
            Self::Drawing(d) => &d.drawing.layers.get(id)?.name,
        };
        if name.trim().is_empty() {
            return None;
        }
        crate::name::draw_text(name, width, height, rgb)
    }

    /// Shows or hides tree node `id` with everything under it (models), or layer `id`
    /// (drawings).
    pub fn set_hidden(&mut self, id: usize, hidden: bool) {
        match self {
            Self::Model(m) => {
                let nodes = &m.model.nodes;
                let under = |mut n: usize| loop {
                    if n == id {
                        return true;
                    }
                    match nodes.get(n).and_then(|x| x.parent) {
                        Some(p) if p != n => n = p,
                        _ => return false,
                    }
                };
                let parts = m.model.parts.len();
                m.state.hidden.resize(parts, false);
                for (i, part) in m.model.parts.iter().enumerate() {
                    if under(part.node) {
                        m.state.hidden[i] = hidden;
                    }
                }
            }
            Self::Drawing(d) => {
                d.hidden_layers.retain(|&l| l != id);
                if hidden {
                    d.hidden_layers.push(id);
                }
            }
        }
    }

    /// Highlights tree node `id`'s first part (models); `None` clears.
    pub fn select(&mut self, id: Option<usize>) {
        if let Self::Model(m) = self {
            m.state.selected = id.and_then(|n| m.model.parts.iter().position(|p| p.node == n));
        }
    }

    /// Orbits by a drag of `(dx, dy)` pixels in a frame `height` pixels tall (models; drawings
    /// pan instead).
    pub fn orbit(&mut self, dx: f64, dy: f64, height: f64) {
        match self {
            Self::Model(m) => {
                let k = std::f64::consts::PI / height.max(1.0);
                m.state.camera.orbit(-dx * k, dy * k);
            }
            Self::Drawing(_) => self.pan(dx, dy, 1.0, height),
        }
    }

    /// Pans by a drag of `(dx, dy)` pixels.
    pub fn pan(&mut self, dx: f64, dy: f64, width: f64, height: f64) {
        match self {
            Self::Model(m) => {
                let aspect = width / height.max(1.0);
                m.state.camera.pan(
                    2.0 * dx / width.max(1.0),
                    -2.0 * dy / height.max(1.0),
                    aspect,
                );
            }
            Self::Drawing(d) => {
                if let Some(v) = &mut d.view {
                    v.pan(dx, dy);
                }
            }
        }
    }

    /// Zooms by `factor` (> 1 in) around pixel `(x, y)` of a `width × height` frame.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // frame sizes
    pub fn zoom(&mut self, factor: f64, x: f64, y: f64, width: f64, height: f64) {
        match self {
            Self::Model(m) => {
                let (nx, ny) = ndc(x, y, width, height);
                m.state
                    .camera
                    .zoom_at(factor, nx, ny, width / height.max(1.0));
            }
            Self::Drawing(d) => {
                if let Some(v) = &mut d.view {
                    v.zoom_at(factor, x, y, width as u32, height as u32);
                }
            }
        }
    }

    /// Turns to a standard view and fits (models), or fits (drawings).
    pub fn set_view(&mut self, view: StandardView, width: f64, height: f64) {
        if let Self::Model(m) = self {
            m.state.camera.set_view(view);
        }
        self.fit(width, height);
    }

    /// Fits everything visible into the frame.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // frame sizes
    pub fn fit(&mut self, width: f64, height: f64) {
        match self {
            Self::Model(m) => {
                let bounds = m.model.bounds();
                m.state.camera.fit_all(&bounds, width / height.max(1.0));
            }
            Self::Drawing(d) => {
                d.view = Some(DrawingView::fit(
                    &d.drawing.bounds(),
                    width as u32,
                    height as u32,
                ));
            }
        }
    }

    /// Section plane across `axis` (0 x, 1 y, 2 z) at `fraction` (0..1) of the model's extent,
    /// or off with `None`.
    pub fn set_section(&mut self, section: Option<(usize, f64)>) {
        if let Self::Model(m) = self {
            let b = m.model.bounds();
            m.section = section.filter(|(axis, _)| *axis < 3);
            m.state.section = m.section.map(|(axis, f)| {
                let mut normal = [0.0; 3];
                normal[axis] = 1.0;
                SectionPlane {
                    normal,
                    offset: b.min[axis] + f.clamp(0.0, 1.0) * (b.max[axis] - b.min[axis]),
                }
            });
        }
    }

    /// Shows or hides the feature edges.
    pub fn set_edges(&mut self, on: bool) {
        if let Self::Model(m) = self {
            m.state.edges = on;
        }
    }

    /// Clears measurement markers.
    pub fn clear_measure(&mut self) {
        match self {
            Self::Model(m) => {
                m.state.markers.clear();
                m.state.highlight.clear();
                m.state.measure_line = false;
            }
            Self::Drawing(d) => d.markers.clear(),
        }
    }

    /// Window coordinates of model point `p` in a `width × height` frame (for annotations and
    /// tests); `None` for drawings.
    #[must_use]
    pub fn project(&self, p: [f64; 3], width: f64, height: f64) -> Option<[f64; 2]> {
        match self {
            Self::Model(m) => {
                let vp = m.state.camera.view_projection(width / height.max(1.0));
                let q = veilmark_render::math::transform(&vp, p);
                Some([(q[0] + 1.0) * 0.5 * width, (1.0 - q[1]) * 0.5 * height])
            }
            Self::Drawing(d) => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let v = d.view?.to_pixels(width as u32, height as u32)
                    * veilmark_render::drawing::Point::new(p[0], p[1]);
                Some([v.x, v.y])
            }
        }
    }

    /// A measuring click at pixel `(x, y)`: `edge` measures the edge chain under the cursor,
    /// otherwise points are placed (snapped to the nearest vertex within [`SNAP_PIXELS`]) and
    /// every second point gives a distance.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // frame sizes
    pub fn measure_click(
        &mut self,
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        edge: bool,
    ) -> Measurement {
        match self {
            Self::Model(m) => m.measure_click(x, y, width, height, edge),
            Self::Drawing(d) => {
                let Some(view) = d.view else {
                    return none_measurement("mm", false);
                };
                let p = view.to_drawing(x, y, width as u32, height as u32);
                let snap = SNAP_PIXELS / view.scale;
                let p = d
                    .drawing
                    .paths
                    .iter()
                    .filter(|path| {
                        !d.hidden_layers.contains(&path.layer)
                            && d.drawing.layers.get(path.layer).is_none_or(|l| l.visible)
                    })
                    .flat_map(|path| path.points.iter())
                    .map(|q| (q, (q[0] - p[0]).hypot(q[1] - p[1])))
                    .filter(|(_, dist)| *dist <= snap)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(p, |(q, _)| *q);
                if d.markers.len() >= 2 {
                    d.markers.clear();
                }
                d.markers.push(p);
                let (unit, declared) = d.drawing.unit.map_or(("mm", false), |u| (u.symbol(), true));
                let points = d.markers.iter().map(|q| [q[0], q[1], 0.0]).collect();
                placed_points(points, unit, declared, None)
            }
        }
    }

    /// Renders a drawing's frame for the current view (models render on the GPU, from
    /// [`CadView::model_state`] and a [`veilmark_render::Scene`] made by [`CadView::upload`]).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // frame sizes
    pub fn render_drawing(&mut self, width: u32, height: u32) -> Result<Frame, ViewerError> {
        let Self::Drawing(d) = self else {
            return Err(ViewerError::Render("not a drawing".into()));
        };
        let view = *d
            .view
            .get_or_insert_with(|| DrawingView::fit(&d.drawing.bounds(), width, height));
        let mut img = render_drawing(&d.drawing, &view, &d.hidden_layers, width, height)
            .map_err(render_error)?;
        draw_markers_2d(&mut img, &view, &d.markers);
        Ok(img)
    }

    /// Uploads the model to `gpu` (models only).
    pub fn upload(
        &self,
        gpu: &veilmark_render::Gpu,
        renderer: &veilmark_render::Renderer,
    ) -> Result<veilmark_render::Scene, ViewerError> {
        let Self::Model(m) = self else {
            return Err(ViewerError::Render("not a 3D model".into()));
        };
        renderer
            .upload(gpu, &m.model, &m.edges)
            .map_err(render_error)
    }

    /// The 3D view state (models only): what [`veilmark_render::Renderer::render`] draws.
    #[must_use]
    pub fn model_state(&self) -> Option<&ViewState> {
        match self {
            Self::Model(m) => Some(&m.state),
            Self::Drawing(_) => None,
        }
    }

    /// Model statistics for the page: `(triangles, parts, unit symbol)`.
    #[must_use]
    pub fn stats(&self) -> (usize, usize, &'static str) {
        match self {
            Self::Model(m) => (
                m.model.triangle_count(),
                m.model.parts.len(),
                m.model.unit.symbol(),
            ),
            Self::Drawing(d) => (
                d.drawing.paths.len() + d.drawing.texts.len(),
                d.drawing.layers.len(),
                d.drawing.unit.map_or("", |u| u.symbol()),
            ),
        }
    }
}

/// The measurement after placing a point: the distance once there are two, else "point".
fn placed_points(
    points: Vec<[f64; 3]>,
    unit: &'static str,
    unit_declared: bool,
    part: Option<usize>,
) -> Measurement {
    let (kind, value) = match points[..] {
        [a, b] => ("distance", veilmark_cad::vec3::dist(a, b)),
        _ => ("point", 0.0),
    };
    Measurement {
        kind,
        value,
        unit,
        unit_declared,
        points,
        part,
    }
}

fn none_measurement(unit: &'static str, declared: bool) -> Measurement {
    Measurement {
        kind: "none",
        value: 0.0,
        unit,
        unit_declared: declared,
        points: Vec::new(),
        part: None,
    }
}

fn ndc(x: f64, y: f64, width: f64, height: f64) -> (f64, f64) {
    (
        2.0 * x / width.max(1.0) - 1.0,
        1.0 - 2.0 * y / height.max(1.0),
    )
}

impl ModelView {
    fn measure_click(
        &mut self,
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        edge: bool,
    ) -> Measurement {
        let unit = self.model.unit.symbol();
        let declared = self.model.unit_declared;
        let aspect = width / height.max(1.0);
        let (nx, ny) = ndc(x, y, width, height);
        let ray = self.state.camera.ray(nx, ny, aspect);
        let visible: Vec<bool> = (0..self.model.parts.len())
            .map(|i| !self.state.hidden.get(i).copied().unwrap_or(false))
            .collect();
        let plane = self.state.section.map(|s| Plane {
            normal: s.normal,
            offset: s.offset,
        });
        let ray = measure::Ray {
            origin: ray.origin,
            dir: ray.dir,
        };
        let Some(hit) = measure::pick(&self.model, &visible, &ray, plane) else {
            return none_measurement(unit, declared);
        };
        // The part's outline entry: the page draws its name with `draw_name` if it wants it.
        let part_entry = self.model.parts.get(hit.part).map(|p| p.node);
        // World units per pixel: the orthographic frame is 2·half_height tall.
        let per_pixel = 2.0 * self.state.camera.half_height / height.max(1.0);
        if edge {
            let mesh = &self.model.parts[hit.part].mesh;
            let edges = &self.edges[hit.part];
            let Some(start) =
                measure::nearest_feature_edge(mesh, edges, hit.point, SNAP_PIXELS * per_pixel)
            else {
                return none_measurement(unit, declared);
            };
            let (length, chain) = measure::edge_chain_length(mesh, edges, start);
            self.state.markers.clear();
            self.state.measure_line = false;
            self.state.highlight = chain
                .iter()
                .filter_map(|&i| mesh.positions.get(i as usize))
                .map(|p| p.map(f64::from))
                .collect();
            // A closed chain (a hole's rim) comes back to its start: draw the last segment too.
            if chain.len() > 2
                && edges.iter().any(|e| {
                    let (a, b) = (chain[0], chain[chain.len() - 1]);
                    (e[0] == a && e[1] == b) || (e[0] == b && e[1] == a)
                })
                && let Some(&first) = self.state.highlight.first()
            {
                self.state.highlight.push(first);
            }
            return Measurement {
                kind: "edge",
                value: length,
                unit,
                unit_declared: declared,
                points: self.state.highlight.clone(),
                part: part_entry,
            };
        }
        let p = measure::snap_to_vertex(&self.model, &hit, SNAP_PIXELS * per_pixel);
        self.state.highlight.clear();
        if self.state.markers.len() >= 2 {
            self.state.markers.clear();
        }
        self.state.markers.push(p);
        self.state.measure_line = self.state.markers.len() == 2;
        placed_points(self.state.markers.clone(), unit, declared, part_entry)
    }
}

/// Small red crosses at 2D measurement points, and the line between two.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // pixel positions, clamped
fn draw_markers_2d(img: &mut RgbaImage, view: &DrawingView, markers: &[[f64; 2]]) {
    let to_px = view.to_pixels(img.width, img.height);
    let pts: Vec<_> = markers
        .iter()
        .map(|m| to_px * veilmark_render::drawing::Point::new(m[0], m[1]))
        .collect();
    let mut plot = |x: f64, y: f64| {
        if x >= 0.0 && y >= 0.0 && x < f64::from(img.width) && y < f64::from(img.height) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = ((y as usize) * img.width as usize + x as usize) * 4;
            img.rgba[i..i + 4].copy_from_slice(&[230, 56, 28, 255]);
        }
    };
    for p in &pts {
        for k in -6..=6 {
            let k = f64::from(k);
            plot(p.x + k, p.y + k);
            plot(p.x + k, p.y - k);
        }
    }
    if let [a, b] = pts[..] {
        let steps = (a.distance(b).ceil() as usize).min(20_000);
        for s in 0..=steps {
            let t = s as f64 / steps.max(1) as f64;
            plot(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t);
        }
    }
}
