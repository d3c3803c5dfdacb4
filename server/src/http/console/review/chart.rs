//! The chart of confirmed hits: per day and marketplace, a stacked bar chart drawn as inline SVG
//! by `templates/review/chart.html` from the numbers computed here (no markup is built in Rust,
//! so nothing here needs escaping and the template needs no `|safe`).

use std::collections::BTreeMap;

use askama::Template;

use super::model::Hit;

const PALETTE: [&str; 6] = [
    "#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#4a5568",
];

/// The chart's geometry, ready to draw.
pub struct Chart {
    /// Width of the view box.
    pub width: u32,
    /// Height of the view box.
    pub height: u32,
    /// Left margin (where the baseline starts).
    pub left: u32,
    /// y of the baseline.
    pub baseline: u32,
    /// x of the maximum's label.
    pub max_x: u32,
    /// The largest day's count.
    pub max: u32,
    /// The days, oldest first (the last 30 with confirmed hits).
    pub days: Vec<Day>,
    /// Colour per marketplace.
    pub legend: Vec<Legend>,
}

/// One day's stacked bar.
pub struct Day {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// One segment per marketplace with hits that day.
    pub bars: Vec<Bar>,
    /// The axis label under the bar, when there is room.
    pub label: Option<Label>,
}

/// One segment of a day's bar.
pub struct Bar {
    /// Left.
    pub x: u32,
    /// Top.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Colour (from the palette).
    pub fill: &'static str,
    /// Marketplace.
    pub marketplace: String,
    /// Confirmed hits.
    pub count: u32,
}

/// An axis label.
pub struct Label {
    /// Centre.
    pub x: u32,
    /// Baseline.
    pub y: u32,
    /// `MM-DD`.
    pub text: String,
}

/// One legend entry.
pub struct Legend {
    /// Colour.
    pub fill: &'static str,
    /// Marketplace.
    pub marketplace: String,
}

impl Chart {
    /// Confirmed hits per day and marketplace; `None` when nothing is confirmed.
    #[must_use]
    pub fn of(hits: &[Hit]) -> Option<Self> {
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
            return None;
        }
        markets.sort();
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
        let mut out = Vec::with_capacity(days.len());
        for (i, (day, per)) in days.iter().enumerate() {
            let x = left + u32::try_from(i).unwrap_or(0) * slot + (slot - bar) / 2;
            let mut y = h - bottom;
            let mut bars = Vec::new();
            for (mi, m) in markets.iter().enumerate() {
                let c = per.get(m).copied().unwrap_or(0);
                if c == 0 {
                    continue;
                }
                let bh = (c * plot_h / max).max(1);
                y -= bh;
                bars.push(Bar {
                    x,
                    y,
                    width: bar,
                    height: bh,
                    fill: PALETTE[mi % PALETTE.len()],
                    marketplace: m.clone(),
                    count: c,
                });
            }
            let label = (days.len() <= 10 || i % (days.len() / 6).max(1) == 0).then(|| Label {
                x: x + bar / 2,
                y: h - bottom + 14,
                text: day.get(5..).unwrap_or(day).to_owned(),
            });
            out.push(Day {
                day: day.clone(),
                bars,
                label,
            });
        }
        Some(Self {
            width: w,
            height: h,
            left,
            baseline: h - bottom,
            max_x: left - 4,
            max,
            days: out,
            legend: markets
                .into_iter()
                .enumerate()
                .map(|(mi, marketplace)| Legend {
                    fill: PALETTE[mi % PALETTE.len()],
                    marketplace,
                })
                .collect(),
        })
    }
}

/// The chart on its own (the review page includes the same template).
#[derive(Template)]
#[template(path = "review/chart.html")]
struct ChartOnly {
    chart: Option<Chart>,
}

/// Confirmed hits per day and marketplace as an inline SVG stacked bar chart (HTML), or a
/// "no confirmed hits" paragraph.
#[must_use]
pub fn chart(hits: &[Hit]) -> String {
    ChartOnly {
        chart: Chart::of(hits),
    }
    .render()
    .unwrap_or_default()
}
