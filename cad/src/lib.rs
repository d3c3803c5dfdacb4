//! CAD models and 2D drawings, decoded from untrusted bytes.
//!
//! The viewer (in wasm) and `veilmark render` (native) both turn a decrypted file into one of two
//! things: a [`Model`] — triangle meshes in a part tree, in world coordinates — or a
//! [`Drawing`] — 2D paths and text on layers. Everything here is pure computation on byte
//! slices, so the same code runs in the browser, in the CLI and under `cargo fuzz`.
//!
//! Every loader treats its input as hostile: counts and indices are checked against the bytes
//! actually present and against [`Limits`], recursion is bounded, and a bad file gives a
//! [`CadError`] that says what is wrong, never a panic or an unbounded allocation.

pub mod dxf;
pub mod gltf;
pub mod load;
pub mod measure;
pub mod model;
pub mod obj;
pub mod step;
pub mod stl;
pub mod subset;
pub mod vec3;
mod weld;

pub use dxf::load_dxf;
pub use gltf::load_gltf;
pub use load::{Content, load, load_model};
pub use measure::{
    Hit, Plane, Ray, edge_chain_length, feature_edges, nearest_feature_edge, pick, snap_to_vertex,
};
pub use model::{
    Aabb, CadError, Drawing, Layer, LengthUnit, Limits, Mesh, Model, Node, Part, Path2d, Text,
};
pub use obj::load_obj;
pub use stl::load_stl;
