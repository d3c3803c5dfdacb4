//! The chart of confirmed hits: per day and marketplace, as an inline SVG stacked bar chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::html::esc;
use super::model::Hit;

/// Confirmed hits per day and marketplace as an inline SVG stacked bar chart.
#[must_use]
pub fn chart(hits: &[Hit]) -> String {
    let mut days: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut markets: Vec<String> = Vec::new();
    for h in hits.iter().filter(|h| h.review_state == "confirmed") {
        let day = h.fetched_at.get(..10).unwrap_or(&h.fetched_at).to_owned();
        *days
            .entry(day)
            .or_default()
            .entry(h.marketplace.clone())
            .or_default() += 1;
        if !markets.contains(&h.marketplace) {
            markets.push(h.marketplace.clone());
        }
    }
    if days.is_empty() {
        return "<p class=\"empty\">No confirmed hits yet.</p>".to_owned();
    }
    markets.sort();
    const PALETTE: [&str; 6] = [
        "#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#4a5568",
    ];
    let days: Vec<_> = days.into_iter().rev().take(30).rev().collect();
    let max = days
        .iter()
        .map(|(_, m)| m.values().sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, h, left, bottom) = (320u32, 150u32, 24u32, 22u32);
    let n = u32::try_from(days.len()).unwrap_or(1);
    let slot = (w - left) / n.max(1);
    let bar = (slot * 7 / 10).max(2);
    let plot_h = h - bottom - 8;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"chart-t\">\
<title id=\"chart-t\">Confirmed hits per day by marketplace</title>\
<line x1=\"{left}\" y1=\"{y0}\" x2=\"{w}\" y2=\"{y0}\" stroke=\"#a0aec0\"/>\
<text x=\"{tx}\" y=\"14\" font-size=\"11\" text-anchor=\"end\" fill=\"#4a5568\">{max}</text>",
        y0 = h - bottom,
        tx = left - 4
    );
    for (i, (day, per)) in days.iter().enumerate() {
        let x = left + u32::try_from(i).unwrap_or(0) * slot + (slot - bar) / 2;
        let mut y = h - bottom;
        for (mi, m) in markets.iter().enumerate() {
            let c = per.get(m).copied().unwrap_or(0);
            if c == 0 {
                continue;
            }
            let bh = (c * plot_h / max).max(1);
            y -= bh;
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{bh}\" fill=\"{}\"><title>{} · {}: {c}</title></rect>",
                PALETTE[mi % PALETTE.len()],
                esc(day),
                esc(m)
            );
        }
        if days.len() <= 10 || i % (days.len() / 6).max(1) == 0 {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#4a5568\">{}</text>",
                x + bar / 2,
                h - bottom + 14,
                esc(day.get(5..).unwrap_or(day))
            );
        }
    }
    svg.push_str("</svg><ul class=\"legend\">");
    for (mi, m) in markets.iter().enumerate() {
        let _ = write!(
            svg,
            "<li><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"{}\"/></svg> {}</li>",
            PALETTE[mi % PALETTE.len()],
            esc(m)
        );
    }
    svg.push_str("</ul>");
    svg
}
