//! Rendering for the CAD viewer and `veilmark render`: 3D models with wgpu and 2D drawings with
//! vello_cpu, both to plain RGBA frames.
//!
//! Why frames and not a swap chain: every pixel a viewer shows must carry the visible and the
//! forensic watermark, applied on the CPU by the same code as for PDF pages, whichever way the
//! model is turned. So the GPU renders offscreen, the frame is read back, marked, and only
//! then shown. The same renderer runs natively (Vulkan; Mesa's lavapipe where there is no GPU)
//! to build the crawler's reference catalog and the tests' reference images, and in the
//! browser on WebGPU or WebGL2.

pub mod camera;
pub mod drawing;
mod frame;
mod gpu;
pub mod math;
mod scene;

pub use camera::{Camera, Ray, StandardView};
pub use frame::{BACKGROUND, MAX_SIDE, Renderer, RgbaImage, SectionPlane, ViewState};
pub use gpu::Gpu;
pub use scene::Scene;

/// Why a frame could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// No usable GPU adapter or device.
    #[error("no graphics device: {0}")]
    NoDevice(String),
    /// The model or frame is larger than the device or the limits allow.
    #[error("too large to render: {0}")]
    TooLarge(String),
    /// The device failed while rendering.
    #[error("graphics device error: {0}")]
    Gpu(String),
}
