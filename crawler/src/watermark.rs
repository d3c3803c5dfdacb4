//! The seam for Veilmark's forensic watermark decoder.
//!
//! The decoder lives in `veilmark-shared` and is being written in parallel; the crawler only
//! needs "pixels in, session code out". [`NoDecoder`] is the default until it lands; wiring the
//! real one in is a one-line `impl WatermarkDecoder` over the shared codec.

/// A watermark found in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedWatermark {
    /// The session code the server maps back to link, recipient and time.
    pub session: String,
    /// Bit errors corrected while decoding (lower is more certain).
    pub corrected_bits: u32,
}

/// Tries to read Veilmark's forensic watermark from RGBA pixels.
pub trait WatermarkDecoder: Send + Sync {
    /// `rgba` is `width * height * 4` bytes, row-major. `None` when no watermark is found.
    fn decode(&self, rgba: &[u8], width: u32, height: u32) -> Option<DecodedWatermark>;
}

/// Finds nothing; the default until the shared decoder exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDecoder;

impl WatermarkDecoder for NoDecoder {
    fn decode(&self, _rgba: &[u8], _width: u32, _height: u32) -> Option<DecodedWatermark> {
        None
    }
}
