//! The Veilmark browser viewer (WebAssembly).
//!
//! This crate will hold the only client-side code that sees plaintext: licence request, key
//! unwrap, chunked decryption with `veilmark_shared::envelope::Opener`, rendering and watermarks.
//! It is a thin layer over fetch, canvas and events; formats and algorithms live in
//! `veilmark-shared`. Until the viewer issue lands it only exposes the library version, which
//! the build uses to check that the wasm toolchain and the shared crate link for wasm32.

use wasm_bindgen::prelude::wasm_bindgen;

/// The viewer's version, as shown in the page footer.
#[wasm_bindgen]
#[must_use]
pub fn viewer_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
