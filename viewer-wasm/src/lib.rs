//! The Veilmark browser viewer (WebAssembly): the only client-side code that sees plaintext.
//!
//! Layout, as ruffle does it: the pipeline is plain Rust that runs natively in tests —
//! [`open`] (the open sequence: licence, envelope, decryption, marked frames, renewals,
//! revocation, over a [`open::Transport`]), [`session`] (ephemeral key, licence check, content
//! key), [`envelope`] (chunked decryption into wasm memory), [`render`] (PDF pages to pixels
//! with hayro) and [`mark`] (visible and forensic watermarks) — and `web` is a thin wasm-only
//! layer (the `fetch` transport and the canvas) that the page's script drives. JavaScript never receives plaintext: it gets page counts, sizes,
//! progress and errors; pixels go straight from wasm memory to a canvas. Strings inside a CAD
//! file (part and layer names) count as plaintext: [`cad`] hands out ids and neutral labels,
//! and [`name`] draws the real names as pixels.

pub mod cad;
pub mod envelope;
pub mod mark;
pub mod name;
pub mod open;
pub mod render;
pub mod session;
#[cfg(target_arch = "wasm32")]
mod web;

use wasm_bindgen::prelude::wasm_bindgen;

/// The viewer's version, as shown in the page footer.
#[wasm_bindgen]
#[must_use]
pub fn viewer_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
