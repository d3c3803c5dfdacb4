//! The viewer's CAD path natively (wgpu on lavapipe here, WebGPU or WebGL2 in the browser):
//! the fixtures open, render, take both watermarks, and measure what they should.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use veilmark_render::{Gpu, Renderer};
use veilmark_shared::media::MediaType;
use veilmark_shared::watermark::{Detector, Embedder, SessionCode, WatermarkKey};
use veilmark_viewer_wasm::cad::CadView;
use veilmark_viewer_wasm::mark::mark_frame;
use zeroize::Zeroizing;

fn fixture(name: &str) -> (MediaType, Zeroizing<Vec<u8>>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/cad")
        .join(name);
    let bytes = std::fs::read(&path).expect("fixture");
    (
        MediaType::detect(&bytes, bytes.len() as u64),
        Zeroizing::new(bytes),
    )
}

fn open(name: &str) -> CadView {
    let (media, bytes) = fixture(name);
    CadView::open(media, bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const W: f64 = 800.0;
const H: f64 = 600.0;

/// Clicks `p` (model coordinates) a few pixels towards `toward`, as a user aiming at a corner.
fn click(
    view: &mut CadView,
    p: [f64; 3],
    toward: [f64; 3],
    edge: bool,
) -> veilmark_viewer_wasm::cad::Measurement {
    let a = view.project(p, W, H).unwrap();
    let b = view.project(toward, W, H).unwrap();
    let len = (b[0] - a[0]).hypot(b[1] - a[1]).max(1e-9);
    view.measure_click(
        a[0] + 4.0 * (b[0] - a[0]) / len,
        a[1] + 4.0 * (b[1] - a[1]) / len,
        W,
        H,
        edge,
    )
}

#[test]
fn bracket_measures_its_base_edge_as_a_distance_and_as_an_edge() {
    for file in ["bracket.stl", "bracket.step", "bracket.obj"] {
        let mut view = open(file);
        view.fit(W, H);
        let first = click(&mut view, [0.0, 0.0, 0.0], [40.0, 0.0, 5.0], false);
        assert_eq!(first.kind, "point", "{file}");
        let m = click(&mut view, [80.0, 0.0, 0.0], [40.0, 0.0, 5.0], false);
        assert_eq!(m.kind, "distance", "{file}");
        assert!((m.value - 80.0).abs() < 1e-4, "{file}: {}", m.value);
        assert_eq!(m.unit, "mm");
        let e = click(&mut view, [40.0, 0.0, 0.0], [40.0, 0.0, 3.0], true);
        assert_eq!(e.kind, "edge", "{file}");
        assert!((e.value - 80.0).abs() < 1e-4, "{file}: edge {}", e.value);
        // A click on empty background measures nothing.
        assert_eq!(view.measure_click(2.0, 2.0, W, H, false).kind, "none");
    }
}

#[test]
fn step_assembly_has_its_part_tree_and_hides_parts() {
    let mut view = open("assembly.step");
    let outline = view.outline();
    // Names reach the page only as pixels: find each part by its drawn name.
    let drawn = |id: usize| view.draw_name(id, 300, 20, 0).map(|img| img.rgba.to_vec());
    let find = |name: &str| {
        let want =
            veilmark_viewer_wasm::name::draw_text(name, 300, 20, 0).map(|img| img.rgba.to_vec());
        outline.iter().find(|e| drawn(e.id) == want)
    };
    for part in ["base-plate", "bracket-left", "bracket-right", "shaft"] {
        let entry = find(part).unwrap_or_else(|| panic!("{part} in {outline:?}"));
        assert_eq!(entry.kind, veilmark_viewer_wasm::cad::EntryKind::Part);
    }
    let shaft = find("shaft").unwrap().clone();
    view.set_hidden(shaft.id, true);
    let state = view.model_state().unwrap();
    assert_eq!(state.hidden.iter().filter(|h| **h).count(), 1);
    // Hiding the root hides everything.
    let root = outline.iter().find(|e| e.parent.is_none()).unwrap();
    view.set_hidden(root.id, true);
    assert!(view.model_state().unwrap().hidden.iter().all(|h| *h));
}

#[test]
fn model_frames_render_natively_and_carry_both_watermarks() {
    let gpu = Gpu::native()
        .expect("a Vulkan adapter (lavapipe on CI: apt-get install mesa-vulkan-drivers)");
    let mut renderer = Renderer::new(&gpu);
    let mut view = open("assembly.step");
    view.fit(W, H);
    let scene = view.upload(&gpu, &renderer).unwrap();
    let state = view.model_state().unwrap().clone();
    let img = pollster::block_on(renderer.render(&gpu, &scene, &state, 800, 600)).unwrap();
    let mut frame = img;
    let shaded = frame.rgba.chunks_exact(4).filter(|p| p[0] < 200).count();
    assert!(
        shaded > 40_000,
        "the assembly covers the frame: {shaded} pixels"
    );

    let unmarked = frame.rgba.clone();
    let key = WatermarkKey::from_bytes([7; 32]);
    let code = SessionCode::new(0x1234_5678_9abc).unwrap();
    let embedder = Embedder::new(&key, code);
    mark_frame(
        &mut frame,
        "alice@supplier.example",
        1_800_000_000,
        veilmark_shared::licence::SessionCode::new(0x1234_5678_9abc).unwrap(),
        &embedder,
    )
    .unwrap();
    let found = Detector::new(&key)
        .detect(&frame.rgba, frame.width, frame.height)
        .unwrap();
    assert_eq!(
        found.map(|d| d.code),
        Some(code),
        "the forensic mark decodes from the frame"
    );
    let text = frame
        .rgba
        .chunks_exact(4)
        .zip(unmarked.chunks_exact(4))
        .filter(|(a, b)| a[0].abs_diff(b[0]) > 24)
        .count();
    assert!(
        text > 800 * 600 / 50,
        "the visible mark's text covers the frame: {text} pixels"
    );

    // A section through the middle removes pixels; turning it off brings them back.
    view.set_section(Some((0, 0.5)));
    let cut =
        pollster::block_on(renderer.render(&gpu, &scene, view.model_state().unwrap(), 800, 600))
            .unwrap();
    assert_ne!(*cut.rgba, *frame.rgba);
}

#[test]
fn drawing_renders_pans_zooms_and_measures() {
    let mut view = open("plate.dxf");
    assert_eq!(view.kind(), "drawing");
    let frame = view.render_drawing(800, 600).unwrap();
    let ink = frame
        .rgba
        .chunks_exact(4)
        .filter(|p| p[0] < 128 || p[1] < 128 || p[2] < 128)
        .count();
    assert!(ink > 3000, "lines and text: {ink} pixels");
    // Hole centres are not vertices; the hole circles' points are: (11, 15) and (101, 15)
    // sit on the left of the Ø8 holes at (15, 15) and (105, 15).
    let m1 = {
        let p = view.project([11.0, 15.0, 0.0], W, H).unwrap();
        view.measure_click(p[0] + 2.0, p[1], W, H, false)
    };
    assert_eq!(m1.kind, "point");
    let p = view.project([101.0, 15.0, 0.0], W, H).unwrap();
    let m = view.measure_click(p[0] + 2.0, p[1], W, H, false);
    assert_eq!(m.kind, "distance");
    assert!((m.value - 90.0).abs() < 1e-6, "{}", m.value);
    assert_eq!(m.unit, "mm");
    let before = view.project([0.0, 0.0, 0.0], W, H).unwrap();
    view.pan(10.0, 5.0, W, H);
    view.zoom(2.0, 400.0, 300.0, W, H);
    let after = view.project([0.0, 0.0, 0.0], W, H).unwrap();
    assert_ne!(before, after);
}

#[test]
fn damaged_models_give_a_render_error() {
    let (media, bytes) = fixture("bracket.step");
    let cut = Zeroizing::new(bytes[..bytes.len() / 3].to_vec());
    let err = CadView::open(media, cut).unwrap_err();
    assert_eq!(err.kind(), "render", "{err}");
    let err = CadView::open(
        MediaType::Stl,
        Zeroizing::new(b"solid x\nfacet normal 0 0 0\n".to_vec()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("STL"), "{err}");
}
