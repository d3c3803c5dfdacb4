//! One entry point from a sniffed media type to a model or drawing, so callers (viewer, CLI)
//! never pick a loader themselves.

use veilmark_shared::media::MediaType;

use crate::model::{CadError, Drawing, Limits, Model};

/// What a CAD file decodes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A 3D model (STL, OBJ, glTF/GLB, STEP).
    Model(Model),
    /// A 2D drawing (DXF).
    Drawing(Drawing),
}

/// Loads a 3D model of the given media type.
///
/// # Errors
/// The loader's error; [`CadError::Unsupported`] for media types that are not 3D models.
pub fn load_model(media: MediaType, bytes: &[u8], limits: &Limits) -> Result<Model, CadError> {
    match media {
        MediaType::Stl => crate::stl::load_stl(bytes, limits),
        MediaType::Obj => crate::obj::load_obj(bytes, limits),
        MediaType::Gltf | MediaType::Glb => crate::gltf::load_gltf(bytes, limits),
        MediaType::Step => crate::step::load_step(bytes, limits),
        other => Err(CadError::Unsupported {
            format: "CAD",
            what: format!("{other:?} is not a 3D model"),
        }),
    }
}

/// Loads a model or a drawing, whichever the media type holds.
///
/// # Errors
/// The loader's error; [`CadError::Unsupported`] for media types that are not CAD files.
pub fn load(media: MediaType, bytes: &[u8], limits: &Limits) -> Result<Content, CadError> {
    match media {
        MediaType::Dxf => crate::dxf::load_dxf(bytes, limits).map(Content::Drawing),
        other => load_model(other, bytes, limits).map(Content::Model),
    }
}
