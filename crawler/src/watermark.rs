//! The seam for Veilmark's forensic watermark decoder.
//!
//! The crawler only needs "pixels in, session code out". [`ForensicDecoder`] reads the codec in
//! `veilmark_shared::watermark` with the server's watermark key (from the data directory);
//! [`NoDecoder`] stands in when no key is available (a crawler run without a server).

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

/// Veilmark's forensic watermark (`veilmark_shared::watermark`), read with the server's key.
pub struct ForensicDecoder {
    detector: veilmark_shared::watermark::Detector,
}

impl ForensicDecoder {
    /// A decoder for marks embedded under `key` (the server's 32-byte watermark key).
    #[must_use]
    pub fn new(key: [u8; 32]) -> Self {
        let key = veilmark_shared::watermark::WatermarkKey::from_bytes(key);
        Self {
            detector: veilmark_shared::watermark::Detector::new(&key),
        }
    }

    /// The decoder for a server data directory: the watermark key the servers use, from
    /// `VEILMARK_WATERMARK_KEY` when set (how replicas share keys, docs/deploy.md#keys), else
    /// from the directory's key file; `None` when neither exists yet.
    pub fn from_data_dir(data: &veilmark_store::DataDir) -> anyhow::Result<Option<Self>> {
        Self::from_data_dir_with_env(data, &|name| std::env::var(name).ok())
    }

    /// [`ForensicDecoder::from_data_dir`] with `env` standing for the process environment.
    pub fn from_data_dir_with_env(
        data: &veilmark_store::DataDir,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<Self>> {
        let key = data.read_server_key(veilmark_store::KeyFile::Watermark, env)?;
        Ok(key.map(|k| Self::new(*k)))
    }
}

impl WatermarkDecoder for ForensicDecoder {
    fn decode(&self, rgba: &[u8], width: u32, height: u32) -> Option<DecodedWatermark> {
        let found = self.detector.detect(rgba, width, height).ok()??;
        Some(DecodedWatermark {
            session: found.code.to_string(),
            corrected_bits: found.bit_errors_corrected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veilmark_shared::watermark::{Embedder, SessionCode, WatermarkKey};

    #[test]
    fn forensic_decoder_reads_a_marked_frame_and_ignores_a_clean_one() {
        let key = [7u8; 32];
        let (w, h) = (384u32, 384u32);
        let clean: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = 120 + u8::try_from((i % w) * 60 / w).expect("below 60");
                [v, v, v, 255]
            })
            .collect();
        let mut marked = clean.clone();
        let code = SessionCode::new(0x00ab_cdef_1234).unwrap();
        Embedder::new(&WatermarkKey::from_bytes(key), code)
            .embed(&mut marked, w, h)
            .unwrap();
        let decoder = ForensicDecoder::new(key);
        let found = decoder.decode(&marked, w, h).expect("watermark found");
        assert_eq!(found.session, "00abcdef1234");
        assert!(decoder.decode(&clean, w, h).is_none());
        assert!(
            ForensicDecoder::new([8u8; 32])
                .decode(&marked, w, h)
                .is_none(),
            "another key reads nothing"
        );
    }

    #[test]
    fn the_key_comes_from_the_environment_first_as_the_servers_take_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = veilmark_store::DataDir::new(dir.path());
        let none = |_: &str| None;
        assert!(
            ForensicDecoder::from_data_dir_with_env(&data, &none)
                .unwrap()
                .is_none(),
            "no key file and no variable: no decoder"
        );
        let (w, h) = (384u32, 384u32);
        let mut marked: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = 120 + u8::try_from((i % w) * 60 / w).expect("below 60");
                [v, v, v, 255]
            })
            .collect();
        let code = SessionCode::new(0x0012_3456_789a).unwrap();
        Embedder::new(&WatermarkKey::from_bytes([9u8; 32]), code)
            .embed(&mut marked, w, h)
            .unwrap();
        let hex_key = "09".repeat(32);
        let env = |name: &str| (name == "VEILMARK_WATERMARK_KEY").then(|| hex_key.clone());
        let decoder = ForensicDecoder::from_data_dir_with_env(&data, &env)
            .unwrap()
            .expect("a decoder from the variable");
        assert_eq!(
            decoder.decode(&marked, w, h).unwrap().session,
            "00123456789a"
        );
        let bad = |_: &str| Some("not hex".to_owned());
        let err = ForensicDecoder::from_data_dir_with_env(&data, &bad)
            .err()
            .expect("a malformed variable is an error");
        assert!(
            format!("{err:#}").contains("VEILMARK_WATERMARK_KEY"),
            "{err:#}"
        );
    }
}
