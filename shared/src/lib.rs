//! Veilmark's formats and algorithms, with no I/O and no async runtime.
//!
//! This crate is shared by every other part of Veilmark — the `veilmark` command line, the
//! server, the crawler and the WebAssembly viewer — so it compiles for native targets and for
//! `wasm32-unknown-unknown` alike. It never touches files, sockets, clocks or the system's random
//! number generator: callers hand it bytes and randomness, it hands back bytes or a typed error.
//!
//! - [`civil`]: calendar dates from Unix days (UTC stamps without a time-zone database).
//! - [`envelope`]: the sealed-file format (AES-256-GCM in a STREAM construction), specified in
//!   `docs/envelope.md`.
//! - [`hash`]: perceptual hashes on decoded pixels (PDQ) and a Hamming-radius index.
//! - [`licence`]: the signed licence a viewer needs to open a document, specified in
//!   `docs/licence.md`.
//! - [`media`]: media-type detection from content, so that a file's name is never trusted.
//! - [`text`]: untrusted text bounded and cleaned for storage, and escaped for terminals.
//! - [`totp`]: time-based one-time passwords (RFC 6238) and recovery codes for an owner's
//!   second factor, specified in `docs/totp.md`.
//! - [`visible`]: the visible watermark (recipient, time, session) drawn over every frame.
//! - [`watermark`]: the invisible forensic watermark that names the viewing session in every
//!   frame, specified in `docs/watermark.md`.
//! - [`wire`]: the viewer API's JSON messages (licence request and answer, renewal, revocation
//!   event, error body with its machine-readable [`wire::ErrorCode`]), shown in
//!   `docs/licence.md#wire`; the server and the viewer both use these types.
//! - [`xorshift`]: a small deterministic pseudo-random generator for tests and test data (never
//!   for secrets).
#![forbid(unsafe_code)]

pub mod civil;
pub mod envelope;
pub mod form;
pub mod hash;
pub mod licence;
pub mod media;
pub mod net;
pub mod text;
pub mod totp;
pub mod visible;
pub mod watermark;
pub mod wire;
pub mod xorshift;
