//! The viewer's pipeline run natively: the open sequence against a real server, PDF and CAD frames with both watermarks.
//!
//! One test binary for the crate (each module was its own binary before): the workspace
//! links once per crate instead of once per file. Run one group with `cargo test -p
//! veilmark-viewer-wasm --test native MODULE::`.

mod cad;
mod cad_strings;
mod open;
mod pipeline;
mod support;
