//! Native tests of the formats and algorithms: envelope and its vectors, licence vectors, the wire contract's docs, TOTP and recovery codes, the watermark and its vectors.
//!
//! One test binary for the crate (each module was its own binary before): the workspace
//! links once per crate instead of once per file. Run one group with `cargo test -p
//! veilmark-shared --test shared MODULE::`.

mod common;
mod envelope;
mod envelope_vectors;
mod licence_vectors;
mod totp;
mod vectors;
mod watermark;
mod watermark_vectors;
mod wire_docs;
