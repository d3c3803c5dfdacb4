//! The renderer on the native device (lavapipe on CI): a box drawn from standard views lands
//! where the camera says, with shading, edges, section and overlay.

use veilmark_cad::{LengthUnit, Mesh, Model, Node, Part};
use veilmark_render::{Gpu, Renderer, SectionPlane, StandardView, ViewState};

fn cuboid(min: [f32; 3], max: [f32; 3]) -> Mesh {
    let p = |i: usize| {
        [
            if i & 1 == 0 { min[0] } else { max[0] },
            if i & 2 == 0 { min[1] } else { max[1] },
            if i & 4 == 0 { min[2] } else { max[2] },
        ]
    };
    let quads = [
        [0, 2, 3, 1],
        [4, 5, 7, 6],
        [0, 1, 5, 4],
        [2, 6, 7, 3],
        [0, 4, 6, 2],
        [1, 3, 7, 5],
    ];
    Mesh {
        positions: (0..8).map(p).collect(),
        triangles: quads
            .iter()
            .flat_map(|q| [[q[0], q[1], q[2]], [q[0], q[2], q[3]]])
            .collect(),
    }
}

fn model() -> Model {
    Model {
        nodes: vec![Node {
            name: "box".into(),
            parent: None,
        }],
        parts: vec![Part {
            name: "box".into(),
            node: 0,
            mesh: cuboid([0.0, 0.0, 0.0], [80.0, 40.0, 20.0]),
            color: [0.8, 0.3, 0.3],
        }],
        unit: LengthUnit::Millimetre,
        unit_declared: false,
    }
}

fn px(img: &veilmark_render::RgbaImage, x: u32, y: u32) -> [u8; 4] {
    let i = ((y * img.width + x) * 4) as usize;
    img.rgba[i..i + 4].try_into().unwrap()
}

#[test]
fn front_view_draws_the_box_in_the_middle_and_background_around() {
    let gpu = Gpu::native().expect("a Vulkan or GL adapter (lavapipe on CI)");
    eprintln!("device: {}", gpu.description);
    let mut renderer = Renderer::new(&gpu);
    let m = model();
    let scene = renderer.upload(&gpu, &m, &[]).unwrap();
    let mut view = ViewState::fit(&m.bounds(), 2.0);
    view.camera.set_view(StandardView::Front);
    view.camera.fit_all(&m.bounds(), 2.0);
    let img = pollster::block_on(renderer.render(&gpu, &scene, &view, 400, 200)).unwrap();
    assert_eq!(img.rgba.len(), 400 * 200 * 4);
    let centre = px(&img, 200, 100);
    assert!(
        centre[0] > centre[2] + 40,
        "box colour in the middle: {centre:?}"
    );
    let corner = px(&img, 2, 2);
    assert!(corner[0] > 230 && corner[1] > 230, "background: {corner:?}");
    // 80 × 20 mm box fills 1/1.08 of the width: the top edge lies at 100 − 0.5·200·(20/80)·… —
    // check the top rows are background.
    assert!(px(&img, 200, 20)[0] > 230);

    // A section plane that cuts away everything.
    view.section = Some(SectionPlane {
        normal: [0.0, 0.0, -1.0],
        offset: -30.0,
    });
    let cut = pollster::block_on(renderer.render(&gpu, &scene, &view, 400, 200)).unwrap();
    assert!(px(&cut, 200, 100)[1] > 230, "section removed the box");
}
