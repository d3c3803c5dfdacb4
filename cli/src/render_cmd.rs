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
    let views: Vec<&str> = args.views.iter().map(String::as_str).collect();
    for path in render_files(&args.model, &args.out, &views, args.size, !args.no_edges)? {
        println!("{}", path.display());
    }
    Ok(())
}

/// Renders `model` from `views` into PNGs under `out` at `size`, with feature edges; returns
/// the files written.
pub fn render_views(
    model: &Path,
    out: &Path,
    views: &[&str],
    size: (u32, u32),
) -> anyhow::Result<Vec<PathBuf>> {
    render_files(model, out, views, size, true)
}

fn render_files(
    model_path: &Path,
    out: &Path,
    views: &[&str],
    (width, height): (u32, u32),
    edges_on: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let views = views
        .iter()
        .map(|v| {
            StandardView::parse(v).with_context(|| {
                format!(
                    "unknown view '{v}' (choose from iso, front, top, right, back, bottom, left)"
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes = std::fs::read(model_path)
        .with_context(|| format!("cannot read {}", model_path.display()))?;
    let media = match MediaType::detect(&bytes, bytes.len() as u64) {
        // The owner's own file: where the content says nothing, trust its extension.
        MediaType::OctetStream => by_extension(model_path),
        media => media,
    };
    let content = veilmark_cad::load(media, &bytes, &Limits::default())
        .with_context(|| format!("cannot load {}", model_path.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let stem = model_path
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let aspect = f64::from(width) / f64::from(height);
    let mut written = Vec::new();
    match content {
        Content::Drawing(drawing) => {
            let view = DrawingView::fit(&drawing.bounds(), width, height);
            let img = render_drawing(&drawing, &view, &[], width, height)?;
            let path = out.join(format!("{stem}.png"));
            save(&path, &img)?;
            eprintln!(
                "{}: drawing, {} paths, {} texts",
                model_path.display(),
                drawing.paths.len(),
                drawing.texts.len()
            );
            written.push(path);
        }
        Content::Model(model) => {
            let bounds = model.bounds();
            if bounds.is_empty() {
                bail!("{} holds no geometry", model_path.display());
            }
            let gpu = Gpu::native()?;
            eprintln!(
                "{}: {} parts, {} triangles; rendering on {}",
                model_path.display(),
                model.parts.len(),
                model.triangle_count(),
                gpu.description
            );
            let mut renderer = Renderer::new(&gpu);
            let edges: Vec<_> = if edges_on {
                model
                    .parts
                    .iter()
                    .map(|p| veilmark_cad::measure::feature_edges(&p.mesh, 30.0))
                    .collect()
            } else {
                Vec::new()
            };
            let scene = renderer.upload(&gpu, &model, &edges)?;
            for view in views {
                let mut state = ViewState::fit(&bounds, aspect);
                state.camera.set_view(view);
                state.camera.fit_all(&bounds, aspect);
                state.edges = edges_on;
                let img = pollster::block_on(renderer.render(&gpu, &scene, &state, width, height))?;
                let path = out.join(format!("{stem}-{}.png", view.name()));
                save(&path, &img)?;
                written.push(path);
            }
        }
    }
    Ok(written)
}

/// The media type a file name's extension names (`MediaType::OctetStream` for others).
fn by_extension(path: &Path) -> MediaType {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "stl" => MediaType::Stl,
        "obj" => MediaType::Obj,
        "gltf" => MediaType::Gltf,
        "glb" => MediaType::Glb,
        "step" | "stp" => MediaType::Step,
        "dxf" => MediaType::Dxf,
        _ => MediaType::OctetStream,
    }
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
