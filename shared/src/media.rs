//! Media-type detection from content.
//!
//! A file's name and extension are chosen by whoever sent it, so Veilmark decides what a file is
//! from its first bytes (and, for binary STL, its length) before sealing it, and records the
//! result in the envelope header. The viewer dispatches on that recorded type.

/// How many leading bytes [`MediaType::detect`] looks at. Callers may pass more; only this many
/// are read.
pub const SNIFF_LEN: usize = 8192;

/// The kinds of file Veilmark seals and renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaType {
    /// PDF document.
    Pdf,
    /// STL mesh, binary or ASCII.
    Stl,
    /// Wavefront OBJ mesh.
    Obj,
    /// glTF 2.0, JSON form.
    Gltf,
    /// glTF 2.0, binary container (GLB).
    Glb,
    /// STEP (ISO 10303-21) model, e.g. AP203/AP214.
    Step,
    /// AutoCAD DXF drawing, ASCII or binary.
    Dxf,
    /// Anything else: sealed as opaque bytes, not renderable.
    OctetStream,
}

impl MediaType {
    /// Every variant, for listings and tests.
    pub const ALL: [MediaType; 8] = [
        Self::Pdf,
        Self::Stl,
        Self::Obj,
        Self::Gltf,
        Self::Glb,
        Self::Step,
        Self::Dxf,
        Self::OctetStream,
    ];

    /// The MIME type recorded in envelope headers.
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Stl => "model/stl",
            Self::Obj => "model/obj",
            Self::Gltf => "model/gltf+json",
            Self::Glb => "model/gltf-binary",
            Self::Step => "model/step",
            Self::Dxf => "image/vnd.dxf",
            Self::OctetStream => "application/octet-stream",
        }
    }

    /// The media type for a MIME string from a header; unknown strings map to `OctetStream`.
    #[must_use]
    pub fn from_mime(mime: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|m| m.mime() == mime)
            .unwrap_or(Self::OctetStream)
    }

    /// A short human name ("PDF document", "STEP model", …).
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Pdf => "PDF document",
            Self::Stl => "STL mesh",
            Self::Obj => "OBJ mesh",
            Self::Gltf => "glTF model",
            Self::Glb => "glTF binary model",
            Self::Step => "STEP model",
            Self::Dxf => "DXF drawing",
            Self::OctetStream => "unrecognised file",
        }
    }

    /// Detects the media type from the first bytes of a file (at least [`SNIFF_LEN`] of them,
    /// or the whole file if shorter) and its total length.
    #[must_use]
    pub fn detect(prefix: &[u8], total_len: u64) -> Self {
        let head = &prefix[..prefix.len().min(SNIFF_LEN)];
        // Exact binary signatures first: they cannot be confused with text formats.
        if is_pdf(head) {
            return Self::Pdf;
        }
        if head.len() >= 8 && &head[..4] == b"glTF" {
            return Self::Glb;
        }
        if head.starts_with(b"AutoCAD Binary DXF\r\n\x1a\0") {
            return Self::Dxf;
        }
        if is_binary_stl(head, total_len) {
            return Self::Stl;
        }
        let text = skip_bom_and_space(head);
        if text.starts_with(b"ISO-10303-21;") {
            return Self::Step;
        }
        if is_ascii_stl(text) {
            return Self::Stl;
        }
        if is_gltf_json(text) {
            return Self::Gltf;
        }
        if is_ascii_dxf(text) {
            return Self::Dxf;
        }
        if is_obj(
            text,
            head.len() == prefix.len() && head.len() as u64 == total_len,
        ) {
            return Self::Obj;
        }
        Self::OctetStream
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mime())
    }
}

/// `%PDF-` within the first 1024 bytes, as PDF readers accept.
fn is_pdf(head: &[u8]) -> bool {
    head[..head.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
}

/// 80-byte header, u32 triangle count, 50 bytes per triangle, and the length agrees exactly.
fn is_binary_stl(head: &[u8], total_len: u64) -> bool {
    if head.len() < 84 {
        return false;
    }
    let n = u32::from_le_bytes([head[80], head[81], head[82], head[83]]);
    total_len == 84 + 50 * u64::from(n) && (n > 0 || total_len == 84)
}

fn skip_bom_and_space(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    &head[start..]
}

/// `solid` followed by facets (binary STLs sometimes start with "solid" too, but those were
/// caught by their exact length before this check).
fn is_ascii_stl(text: &[u8]) -> bool {
    text.len() >= 5
        && text[..5].eq_ignore_ascii_case(b"solid")
        && (contains(text, b"facet") || contains(text, b"endsolid"))
}

/// A JSON object with an `"asset"` member, as every glTF 2.0 file has.
fn is_gltf_json(text: &[u8]) -> bool {
    text.first() == Some(&b'{') && contains(text, b"\"asset\"")
}

/// Group code 0 then `SECTION`, optionally after 999 comment pairs.
fn is_ascii_dxf(text: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(&text[..text.len().min(4096)])
        .or_else(|e| std::str::from_utf8(&text[..e.valid_up_to()]).map_err(|_| ()))
    else {
        return false;
    };
    let mut lines = text.lines().map(str::trim);
    for _ in 0..16 {
        let (Some(code), Some(value)) = (lines.next(), lines.next()) else {
            return false;
        };
        match code {
            "999" => continue,
            "0" => return value == "SECTION",
            _ => return false,
        }
    }
    false
}

/// Every complete line is an OBJ statement, and there is at least one vertex.
fn is_obj(text: &[u8], whole_file: bool) -> bool {
    if text.contains(&0) {
        return false;
    }
    let Ok(text) = std::str::from_utf8(text)
        .or_else(|e| std::str::from_utf8(&text[..e.valid_up_to()]).map_err(|_| ()))
    else {
        return false;
    };
    const KEYWORDS: &[&str] = &[
        "v",
        "vt",
        "vn",
        "vp",
        "f",
        "l",
        "p",
        "o",
        "g",
        "s",
        "usemtl",
        "mtllib",
        "cstype",
        "deg",
        "bmat",
        "step",
        "curv",
        "curv2",
        "surf",
        "parm",
        "trim",
        "hole",
        "scrv",
        "sp",
        "end",
        "con",
        "mg",
        "lod",
        "shadow_obj",
        "trace_obj",
        "ctech",
        "stech",
        "bevel",
        "c_interp",
        "d_interp",
    ];
    let mut lines: Vec<&str> = text.lines().collect();
    if !whole_file && !text.ends_with('\n') {
        lines.pop(); // the last line may be cut off by the sniff window
    }
    let mut vertices = 0;
    for line in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.ends_with('\\') {
            continue;
        }
        let word = line.split_ascii_whitespace().next().unwrap_or("");
        if !KEYWORDS.contains(&word) {
            return false;
        }
        if word == "v" {
            vertices += 1;
        }
    }
    vertices > 0
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::MediaType;

    fn detect(bytes: &[u8]) -> MediaType {
        MediaType::detect(bytes, bytes.len() as u64)
    }

    #[test]
    fn detects_each_format_from_content() {
        assert_eq!(
            detect(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
            MediaType::Pdf
        );
        let mut glb = b"glTF\x02\x00\x00\x00".to_vec();
        glb.extend_from_slice(&[0; 12]);
        assert_eq!(detect(&glb), MediaType::Glb);
        assert_eq!(
            detect(b"\xEF\xBB\xBF ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION"),
            MediaType::Step
        );
        assert_eq!(
            detect(b"solid part\n facet normal 0 0 1\n  outer loop\n"),
            MediaType::Stl
        );
        assert_eq!(
            detect(b"{\n  \"asset\": {\"version\": \"2.0\"}, \"scenes\": []}"),
            MediaType::Gltf
        );
        assert_eq!(
            detect(b"999\nmade by hand\n  0\nSECTION\n  2\nHEADER\n"),
            MediaType::Dxf
        );
        assert_eq!(
            detect(b"# cube\nmtllib a.mtl\no Cube\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"),
            MediaType::Obj
        );
        assert_eq!(detect(b"hello world"), MediaType::OctetStream);
        assert_eq!(detect(b""), MediaType::OctetStream);
    }

    #[test]
    fn binary_stl_is_recognised_by_length_even_when_header_says_solid() {
        let mut stl = b"solid but actually binary".to_vec();
        stl.resize(80, b' ');
        stl.extend_from_slice(&2u32.to_le_bytes());
        stl.extend_from_slice(&[0u8; 100]);
        assert_eq!(detect(&stl), MediaType::Stl);
        // One byte short: no longer a consistent binary STL, and no facets as text either.
        stl.pop();
        assert_eq!(detect(&stl), MediaType::OctetStream);
    }

    #[test]
    fn name_like_text_is_not_trusted() {
        // A text file that merely mentions formats is not any of them.
        assert_eq!(
            detect(b"this is not a pdf, see file.step and file.stl\n"),
            MediaType::OctetStream
        );
        // An OBJ-looking file with a foreign statement is not OBJ.
        assert_eq!(detect(b"v 0 0 0\nrm -rf /\n"), MediaType::OctetStream);
    }

    #[test]
    fn mime_round_trips() {
        for m in MediaType::ALL {
            assert_eq!(MediaType::from_mime(m.mime()), m);
        }
        assert_eq!(MediaType::from_mime("text/html"), MediaType::OctetStream);
    }
}
