//! `veilmark render`: native, headless renders of a CAD model or drawing from standard views.
//!
//! The crawler matches marketplace pictures against reference images; for parts that exist
//! only as CAD, this makes those images (`veilmark catalog add OUT/*.png --product SKU`). The
//! frames come from the same renderer as the browser viewer (wgpu; Mesa's lavapipe where
//! there is no GPU), without watermarks: they are the owner's own references.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use veilmark_cad::{Content, Limits};
use veilmark_render::drawing::{DrawingView, render_drawing};
use veilmark_render::{Gpu, Renderer, RgbaImage, StandardView, ViewState};
use veilmark_shared::media::MediaType;

/// Arguments of `veilmark render`.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  veilmark render bracket.step --out refs/\n  veilmark render assembly.glb --out refs/ --views iso,front,top --size 2048\n  veilmark catalog add refs/*.png --product BR-80\n\nModels: STEP (AP203/AP214), glTF/GLB, STL, OBJ. Drawings (DXF) render once, fitted to the frame.\nWithout a GPU set up, install Mesa's software Vulkan driver: apt-get install mesa-vulkan-drivers"
)]
pub struct RenderArgs {
    /// The model or drawing file.
    model: PathBuf,
    /// Folder for the PNG files (created if missing); each is named MODEL-VIEW.png.
    #[arg(long)]
    out: PathBuf,
    /// Standard views, comma-separated: iso, front, top, right, back, bottom, left.
    #[arg(long, value_delimiter = ',', default_value = "iso,front,top,right")]
    views: Vec<String>,
    /// Frame size in pixels: one number for a square (1024) or WIDTHxHEIGHT (1280x800).
    #[arg(long, default_value = "1024", value_parser = parse_size)]
    size: (u32, u32),
    /// Leave out the dark feature edges.
    #[arg(long)]
    no_edges: bool,
}

/// Runs `veilmark render`.
pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let views = args
        .views
        .iter()
        .map(|v| {
            StandardView::parse(v).with_context(|| {
                format!(
                    "unknown view '{v}' (choose from iso, front, top, right, back, bottom, left)"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let media = MediaType::detect(&bytes, bytes.len() as u64);
    let content = veilmark_cad::load(media, &bytes, &Limits::default())
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = args
        .model
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let (width, height) = args.size;
    let aspect = f64::from(width) / f64::from(height);
    match content {
        Content::Drawing(drawing) => {
            let view = DrawingView::fit(&drawing.bounds(), width, height);
            let img = render_drawing(&drawing, &view, &[], width, height)?;
            let path = args.out.join(format!("{stem}.png"));
            save(&path, &img)?;
            println!(
                "{}  drawing, {} paths, {} texts",
                path.display(),
                drawing.paths.len(),
                drawing.texts.len()
            );
        }
        Content::Model(model) => {
            let gpu = Gpu::native()?;
            eprintln!(
                "{}: {} parts, {} triangles; rendering on {}",
                args.model.display(),
                model.parts.len(),
                model.triangle_count(),
                gpu.description
            );
            let mut renderer = Renderer::new(&gpu);
            let edges: Vec<_> = if args.no_edges {
                Vec::new()
            } else {
                model
                    .parts
                    .iter()
                    .map(|p| veilmark_cad::measure::feature_edges(&p.mesh, 30.0))
                    .collect()
            };
            let scene = renderer.upload(&gpu, &model, &edges)?;
            let bounds = model.bounds();
            if bounds.is_empty() {
                bail!("{} holds no geometry", args.model.display());
            }
            for view in views {
                let mut state = ViewState::fit(&bounds, aspect);
                state.camera.set_view(view);
                state.camera.fit_all(&bounds, aspect);
                state.edges = !args.no_edges;
                let img = pollster::block_on(renderer.render(&gpu, &scene, &state, width, height))?;
                let path = args.out.join(format!("{stem}-{}.png", view.name()));
                save(&path, &img)?;
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

fn save(path: &Path, img: &RgbaImage) -> anyhow::Result<()> {
    image::save_buffer(
        path,
        &img.rgba,
        img.width,
        img.height,
        image::ExtendedColorType::Rgba8,
    )
    .with_context(|| format!("cannot write {}", path.display()))
}

/// `1024` or `1280x800`, each side 16..=8192.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let side = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=8192).contains(n))
            .ok_or_else(|| format!("'{v}' is not a size from 16 to 8192 pixels"))
    };
    match s.split_once(['x', 'X']) {
        Some((w, h)) => Ok((side(w)?, side(h)?)),
        None => side(s).map(|n| (n, n)),
    }
}
