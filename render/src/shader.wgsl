// Veilmark's CAD shader: flat-shaded faces with a headlight, dark feature edges, a section
// plane, and an overlay of measurement markers. Normals come from screen-space derivatives of
// the world position, so meshes need positions only (half the memory of position + normal for
// 2 M-triangle models) and every face is shaded flat, as CAD faces should be.

struct Globals {
    view_proj: mat4x4<f32>,
    // xyz: direction towards the viewer (orthographic), w: unused.
    view_dir: vec4<f32>,
    // xyz: section plane normal, w: offset; points with dot(n, p) > offset are cut away.
    section: vec4<f32>,
    // x: 1 when the section plane is on. y: depth offset for edges in clip units.
    flags: vec4<f32>,
};

struct Part {
    color: vec4<f32>,
    edge_color: vec4<f32>,
};

@group(0) @binding(0) var<uniform> g: Globals;
@group(1) @binding(0) var<uniform> part: Part;

struct MeshOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
};

@vertex
fn vs_mesh(@location(0) pos: vec3<f32>) -> MeshOut {
    var out: MeshOut;
    out.clip = g.view_proj * vec4<f32>(pos, 1.0);
    out.world = pos;
    return out;
}

@fragment
fn fs_mesh(in: MeshOut, @builtin(front_facing) front: bool) -> @location(0) vec4<f32> {
    // Derivatives first: they must run in uniform control flow, before any discard.
    let n_raw = cross(dpdx(in.world), dpdy(in.world));
    if (g.flags.x > 0.5 && dot(g.section.xyz, in.world) > g.section.w) {
        discard;
    }
    let len = length(n_raw);
    var n = g.view_dir.xyz;
    if (len > 0.0) {
        n = n_raw / len;
    }
    // Face the viewer: lighting is two-sided.
    if (dot(n, g.view_dir.xyz) < 0.0) {
        n = -n;
    }
    if (!front && g.flags.x > 0.5) {
        // Inside of a cut solid: the section face, in a flat hatch-like colour.
        return vec4<f32>(0.86, 0.42, 0.33, 1.0);
    }
    // Headlight from over the viewer's shoulder, plus a soft fill.
    let key = normalize(g.view_dir.xyz + vec3<f32>(0.25, 0.15, 0.45));
    let diffuse = max(dot(n, key), 0.0);
    let fill = 0.5 + 0.5 * n.z;
    let shade = 0.30 + 0.55 * diffuse + 0.15 * fill;
    return vec4<f32>(part.color.rgb * shade, 1.0);
}

@vertex
fn vs_edge(@location(0) pos: vec3<f32>) -> MeshOut {
    var out: MeshOut;
    var clip = g.view_proj * vec4<f32>(pos, 1.0);
    // Pull edges slightly towards the viewer so they win the depth test against their faces.
    clip.z = clip.z - g.flags.y * clip.w;
    out.clip = clip;
    out.world = pos;
    return out;
}

@fragment
fn fs_edge(in: MeshOut) -> @location(0) vec4<f32> {
    if (g.flags.x > 0.5 && dot(g.section.xyz, in.world) > g.section.w) {
        discard;
    }
    return part.edge_color;
}

struct OverlayOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) color: vec4<f32>,
};

// Overlay vertices are already in clip space (markers and measurement lines, drawn on top).
@vertex
fn vs_overlay(@location(0) clip: vec4<f32>, @location(1) color: vec4<f32>) -> OverlayOut {
    var out: OverlayOut;
    out.clip = clip;
    out.color = color;
    return out;
}

@fragment
fn fs_overlay(in: OverlayOut) -> @location(0) vec4<f32> {
    return in.color;
}
