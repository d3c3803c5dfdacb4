//! The AutoCAD Color Index (ACI): DXF's 256 numbered colours.

/// sRGB bytes for an ACI number. 1–9 are the standard colours, 10–249 follow the index's
/// pattern (24 hues 15° apart; within each group of ten, pairs of decreasing brightness, odd
/// members paler), 250–255 are greys. Colour 7 is "white on black, black on white": black,
/// since drawings are shown on white paper. Out-of-range numbers give black.
pub(super) fn aci_to_rgb(index: i64) -> [u8; 3] {
    match index.unsigned_abs() {
        1 => [255, 0, 0],
        2 => [255, 255, 0],
        3 => [0, 255, 0],
        4 => [0, 255, 255],
        5 => [0, 0, 255],
        6 => [255, 0, 255],
        8 => [65, 65, 65],
        9 => [128, 128, 128],
        n @ 10..=249 => {
            #[allow(clippy::cast_precision_loss, reason = "n is at most 249")]
            let hue = (n / 10 - 1) as f64 * 15.0;
            let shade = n % 10;
            let value = [1.0, 0.65, 0.5, 0.3, 0.15][usize::try_from(shade / 2).unwrap_or(0)];
            let saturation = if shade % 2 == 0 { 1.0 } else { 0.5 };
            hsv(hue, saturation, value)
        }
        n @ 250..=255 => {
            let level = [51u8, 91, 132, 173, 214, 255][usize::try_from(n - 250).unwrap_or(0)];
            [level; 3]
        }
        _ => [0, 0, 0],
    }
}

fn hsv(hue: f64, saturation: f64, value: f64) -> [u8; 3] {
    let sector = hue / 60.0;
    let f = sector - sector.floor();
    let (p, q, t) = (
        value * (1.0 - saturation),
        value * (1.0 - saturation * f),
        value * (1.0 - saturation * (1.0 - f)),
    );
    #[allow(clippy::cast_possible_truncation, reason = "sector is 0..6")]
    let (r, g, b) = match sector.floor() as i64 {
        0 => (value, t, p),
        1 => (q, value, p),
        2 => (p, value, t),
        3 => (p, q, value),
        4 => (t, p, value),
        _ => (value, p, q),
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=255"
    )]
    [r, g, b].map(|c| (c * 255.0).round().clamp(0.0, 255.0) as u8)
}
