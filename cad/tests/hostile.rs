//! Hostile input for the mesh loaders: every answer is `Ok` or a `CadError`, quickly, never a
//! panic or a huge allocation.

use std::time::Instant;

use veilmark_cad::{CadError, Content, Limits, feature_edges, load, load_gltf, load_obj, load_stl};
use veilmark_shared::media::MediaType;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../tests/fixtures/cad/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn is_malformed(r: &Result<veilmark_cad::Model, CadError>) -> bool {
    matches!(r, Err(CadError::Malformed { .. }))
}

/// A binary STL of `n` triangles, all the same one.
fn binary_stl(n: u32) -> Vec<u8> {
    let mut out = vec![0u8; 80];
    out.extend(n.to_le_bytes());
    for _ in 0..n {
        out.extend([0u8; 12]);
        for v in [[0.0f32, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] {
            for c in v {
                out.extend(c.to_le_bytes());
            }
        }
        out.extend([0u8; 2]);
    }
    out
}

#[test]
fn every_prefix_of_small_files_is_handled() {
    let limits = Limits::default();
    let obj =
        b"o a\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\ng side\nf 1/1/1 2//2 3\nf -1 -2 -3 1\n".to_vec();
    let ascii = b"solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n".to_vec();
    let start = Instant::now();
    for (bytes, media) in [
        (binary_stl(3), MediaType::Stl),
        (ascii, MediaType::Stl),
        (obj, MediaType::Obj),
    ] {
        for len in 0..=bytes.len() {
            let _ = load(media, &bytes[..len], &limits);
        }
    }
    // glTF prefixes: every 7th of the JSON bracket, every one of the GLB's first 4 KiB.
    let gltf = fixture("bracket.gltf");
    for len in (0..gltf.len()).step_by(7) {
        let _ = load_gltf(&gltf[..len], &limits);
    }
    let glb = fixture("bracket.glb");
    for len in 0..4096.min(glb.len()) {
        let _ = load_gltf(&glb[..len], &limits);
    }
    assert!(start.elapsed().as_secs() < 60);
}

#[test]
fn stl_counts_must_match_the_bytes() {
    let limits = Limits::default();
    assert!(matches!(
        load_stl(b"", &limits),
        Err(CadError::Malformed { .. })
    ));
    let mut lying = binary_stl(2);
    lying[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(is_malformed(&load_stl(&lying, &limits)));
    // A binary STL whose header starts with "solid" is still binary (decided by length).
    let mut solid_header = binary_stl(2);
    solid_header[..5].copy_from_slice(b"solid");
    assert_eq!(
        load_stl(&solid_header, &limits).unwrap().triangle_count(),
        2
    );
    let few = Limits {
        max_triangles: 1,
        ..Limits::default()
    };
    assert!(matches!(
        load_stl(&binary_stl(2), &few),
        Err(CadError::TooLarge { .. })
    ));
    // NaN corners.
    let mut nan = binary_stl(1);
    nan[84 + 12..84 + 16].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(is_malformed(&load_stl(&nan, &limits)));
    assert!(is_malformed(&load_stl(b"solid x\nvertex 1 2 3\n", &limits)));
    assert!(is_malformed(&load_stl(
        b"solid x\nouter loop\nvertex nan 0 0\n",
        &limits
    )));
}

#[test]
fn obj_indices_out_of_range_name_the_line() {
    let limits = Limits::default();
    let r = load_obj(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", &limits);
    assert!(
        matches!(&r, Err(CadError::Malformed { reason, .. }) if reason.starts_with("line 4")),
        "{r:?}"
    );
    assert!(is_malformed(&load_obj(
        b"v 0 0 0\nf 1 1 99999999999999999999999\n",
        &limits
    )));
    assert!(is_malformed(&load_obj(
        b"v 0 0 0\nf -9223372036854775808 1 1\n",
        &limits
    )));
    assert!(is_malformed(&load_obj(b"v 0 0 0\nf 0 1 1\n", &limits)));
    assert!(matches!(
        load_obj(b"# nothing\n", &limits),
        Err(CadError::Empty { .. })
    ));
    let obj = load_obj(
        b"o A\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\ng g1\nf 1 2 3\ng g2\nf -3 -1 -2\n",
        &limits,
    )
    .unwrap();
    let names: Vec<&str> = obj.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["g1", "g2"]);
    assert_eq!(obj.nodes[obj.parts[0].node].parent, Some(0));
    assert_eq!(obj.nodes[0].name, "A");
}

/// A glTF document around one triangle, with `patch` applied to the JSON text.
fn gltf_with(patch: impl Fn(String) -> String) -> Vec<u8> {
    use base64::Engine as _;
    let mut bin = Vec::new();
    for c in [0.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0] {
        bin.extend(c.to_le_bytes());
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&bin);
    let json = format!(
        r#"{{"asset":{{"version":"2.0"}},"scene":0,"scenes":[{{"nodes":[0]}}],
        "nodes":[{{"name":"n0","mesh":0,"children":[]}}],
        "meshes":[{{"name":"m","primitives":[{{"attributes":{{"POSITION":0}}}}]}}],
        "accessors":[{{"bufferView":0,"componentType":5126,"count":3,"type":"VEC3"}}],
        "bufferViews":[{{"buffer":0,"byteLength":36}}],
        "buffers":[{{"byteLength":36,"uri":"data:application/octet-stream;base64,{data}"}}]}}"#
    );
    patch(json).into_bytes()
}

#[test]
fn gltf_bounds_cycles_and_external_buffers() {
    let limits = Limits::default();
    assert_eq!(
        load_gltf(&gltf_with(|j| j), &limits)
            .unwrap()
            .triangle_count(),
        1
    );
    let past = gltf_with(|j| j.replace(r#""count":3"#, r#""count":4"#));
    assert!(matches!(
        load_gltf(&past, &limits),
        Err(CadError::Malformed { .. })
    ));
    let absurd = gltf_with(|j| j.replace(r#""count":3"#, r#""count":18446744073709551615"#));
    assert!(matches!(
        load_gltf(&absurd, &limits),
        Err(CadError::Malformed { .. })
    ));
    let offset = gltf_with(|j| {
        j.replace(
            r#""bufferView":0,"#,
            r#""bufferView":0,"byteOffset":4294967295,"#,
        )
    });
    assert!(matches!(
        load_gltf(&offset, &limits),
        Err(CadError::Malformed { .. })
    ));
    let cycle = gltf_with(|j| j.replace(r#""children":[]"#, r#""children":[0]"#));
    assert!(matches!(
        load_gltf(&cycle, &limits),
        Err(CadError::Malformed { .. })
    ));
    let external = gltf_with(|j| {
        let start = j.find("data:").unwrap();
        let end = j[start..].find('"').unwrap() + start;
        format!("{}x.bin{}", &j[..start], &j[end..])
    });
    let r = load_gltf(&external, &limits);
    assert_eq!(
        r,
        Err(CadError::Unsupported {
            format: "glTF",
            what: "external buffer 'x.bin': a sealed file must be self-contained".into()
        })
    );
    let sparse = gltf_with(|j| j.replace(r#""type":"VEC3"}"#, r#""type":"VEC3","sparse":{}}"#));
    assert!(matches!(
        load_gltf(&sparse, &limits),
        Err(CadError::Unsupported { .. })
    ));
    let missing = gltf_with(|j| j.replace(r#""mesh":0"#, r#""mesh":7"#));
    assert!(matches!(
        load_gltf(&missing, &limits),
        Err(CadError::Malformed { .. })
    ));
    let strip = gltf_with(|j| {
        j.replace(
            r#""attributes":{"POSITION":0}"#,
            r#""attributes":{"POSITION":0},"mode":5"#,
        )
    });
    assert_eq!(load_gltf(&strip, &limits).unwrap().triangle_count(), 1);
    let lines = gltf_with(|j| {
        j.replace(
            r#""attributes":{"POSITION":0}"#,
            r#""attributes":{"POSITION":0},"mode":1"#,
        )
    });
    assert!(matches!(
        load_gltf(&lines, &limits),
        Err(CadError::Empty { .. })
    ));
    let nan = gltf_with(|j| {
        j.replace(
            r#""name":"n0""#,
            r#""name":"n0","scale":[1e300,1e300,1e300]"#,
        )
    });
    assert!(matches!(
        load_gltf(&nan, &limits),
        Err(CadError::Malformed { .. })
    ));
    assert!(load_gltf(b"glTF\x02\0\0\0\xff\xff\xff\xff", &limits).is_err());
    assert!(load_gltf(b"", &limits).is_err());
}

#[test]
fn load_dispatches_on_media_type() {
    let limits = Limits::default();
    assert!(matches!(
        load(MediaType::Stl, &fixture("bracket.stl"), &limits),
        Ok(Content::Model(_))
    ));
    assert!(matches!(
        load(MediaType::Glb, &fixture("bracket.glb"), &limits),
        Ok(Content::Model(_))
    ));
    assert!(matches!(
        load(MediaType::Dxf, &fixture("plate.dxf"), &limits),
        Ok(Content::Drawing(_))
    ));
    assert!(matches!(
        load(MediaType::Pdf, b"%PDF", &limits),
        Err(CadError::Unsupported { .. })
    ));
}

#[test]
fn feature_edges_of_every_fixture_mesh() {
    for name in ["bracket.stl", "flange.stl", "assembly.glb"] {
        let media = if name.ends_with("glb") {
            MediaType::Glb
        } else {
            MediaType::Stl
        };
        let Ok(Content::Model(model)) = load(media, &fixture(name), &Limits::default()) else {
            panic!("{name}")
        };
        for part in &model.parts {
            assert!(
                !feature_edges(&part.mesh, 30.0).is_empty(),
                "{name}: {}",
                part.name
            );
        }
    }
}
