//! The report's charts as inline SVG, drawn here (no library, no script, no network): grouped
//! vertical bars, horizontal bars with count and share, and a rate per month. Every bar is a
//! `<rect class="bar">` carrying its value in `data-value`, with a `<title>` the browser shows
//! on hover; every text is XML-escaped, since labels (override reasons) come from the EHR.

use std::fmt::Write as _;

/// XML/HTML text and attribute escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no place in a page (XML 1.0 forbids most of them).
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// One series of a grouped bar chart.
pub struct Series<'a> {
    pub label: &'a str,
    /// Fill colour (`#rrggbb`).
    pub color: &'static str,
    /// One value per category.
    pub values: Vec<u64>,
}

/// The series colours, readable for the common colour blindnesses (Okabe–Ito).
pub const BLUE: &str = "#0072b2";
pub const VERMILION: &str = "#d55e00";
pub const ORANGE: &str = "#e69f00";
pub const GREEN: &str = "#009e73";
pub const PURPLE: &str = "#cc79a7";

/// A round axis step for values up to `max`, aiming at about five ticks.
fn axis_step(max: u64) -> u64 {
    let raw = max.div_ceil(5).max(1);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    for m in [1, 2, 5, 10] {
        let step = magnitude.saturating_mul(m);
        if step >= raw {
            return step;
        }
    }
    magnitude.saturating_mul(10)
}

const HEIGHT: u64 = 260;
const TOP: u64 = 40;
const BOTTOM: u64 = 44;
const LEFT: u64 = 52;
const RIGHT: u64 = 16;

fn open_svg(out: &mut String, id: &str, title: &str, width: u64, height: u64) {
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><title>{t}</title>"#,
        id = escape(id),
        t = escape(title),
    );
}

/// The y axis with its grid lines from 0 to `top` by `step`; `label` writes a tick's value.
fn y_axis(out: &mut String, width: u64, top: u64, step: u64, label: impl Fn(u64) -> String) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut v = 0;
    while v <= top {
        let y = HEIGHT - BOTTOM - v * plot_h / top.max(1);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y}" y2="{y}" stroke="#d0d7de" stroke-width="1"/><text x="{tx}" y="{ty}" text-anchor="end" font-size="11" fill="#444">{l}</text>"##,
            x2 = width - RIGHT,
            tx = LEFT - 6,
            ty = y + 4,
            l = escape(&label(v)),
        );
        v += step;
    }
}

fn x_labels(out: &mut String, categories: &[String], group_w: u64) {
    for (i, c) in categories.iter().enumerate() {
        let x = LEFT + i as u64 * group_w + group_w / 2;
        let _ = write!(
            out,
            r##"<text x="{x}" y="{y}" text-anchor="middle" font-size="11" fill="#444">{c}</text>"##,
            y = HEIGHT - BOTTOM + 16,
            c = escape(c),
        );
    }
}

/// Grouped vertical bars: per category (month), one bar per series.
pub fn grouped_bars(id: &str, title: &str, categories: &[String], series: &[Series]) -> String {
    let n = series.len().max(1) as u64;
    let bar_w = 14;
    let group_w = (n * bar_w + 18).max(64);
    let width = (LEFT + RIGHT + group_w * categories.len() as u64).max(560);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let step = axis_step(max);
    let top = max.div_ceil(step).max(1) * step;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut out = String::new();
    open_svg(&mut out, id, title, width, HEIGHT);
    y_axis(&mut out, width, top, step, |v| v.to_string());
    // Legend along the top.
    let mut lx = LEFT;
    for s in series {
        let _ = write!(
            out,
            r##"<rect class="legend" x="{lx}" y="12" width="12" height="12" fill="{c}"/><text x="{tx}" y="22" font-size="12" fill="#222">{l}</text>"##,
            c = s.color,
            tx = lx + 16,
            l = escape(s.label),
        );
        lx += 24 + 7 * s.label.chars().count() as u64;
    }
    for (i, _) in categories.iter().enumerate() {
        let gx = LEFT + i as u64 * group_w + (group_w - n * bar_w) / 2;
        for (j, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0);
            let h = v * plot_h / top;
            let _ = write!(
                out,
                r#"<rect class="bar" data-series="{sl}" data-category="{cat}" data-value="{v}" x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}"><title>{sl} — {cat}: {v}</title></rect>"#,
                sl = escape(s.label),
                cat = escape(&categories[i]),
                x = gx + j as u64 * bar_w,
                y = HEIGHT - BOTTOM - h,
                w = bar_w - 2,
                c = s.color,
            );
        }
    }
    x_labels(&mut out, categories, group_w);
    out.push_str("</svg>");
    out
}

/// One horizontal bar: a label, its count and its share as written in the page.
pub struct HBar {
    pub label: String,
    pub count: u64,
    pub share: String,
}

/// Horizontal bars, one per item, longest first as given, with `count (share)` after each.
pub fn hbars(id: &str, title: &str, items: &[HBar]) -> String {
    let row_h = 26;
    let label_w = 300;
    let bar_max = 320;
    let width = label_w + bar_max + 140;
    let height = 16 + row_h * items.len().max(1) as u64;
    let max = items.iter().map(|i| i.count).max().unwrap_or(0).max(1);
    let mut out = String::new();
    open_svg(&mut out, id, title, width, height);
    for (i, item) in items.iter().enumerate() {
        let y = 8 + i as u64 * row_h;
        let w = item.count * bar_max / max;
        let _ = write!(
            out,
            r##"<text x="{lx}" y="{ty}" text-anchor="end" font-size="12" fill="#222"><title>{full}</title>{short}</text><rect class="bar" data-label="{full}" data-value="{v}" x="{bx}" y="{y}" width="{w}" height="18" fill="{c}"><title>{full}: {v} ({share})</title></rect><text x="{vx}" y="{ty}" font-size="12" fill="#222">{v} ({share})</text>"##,
            lx = label_w - 8,
            ty = y + 13,
            full = escape(&item.label),
            short = escape(&cut(&item.label, 46)),
            v = item.count,
            bx = label_w,
            c = VERMILION,
            vx = label_w + w + 6,
            share = escape(&item.share),
        );
    }
    out.push_str("</svg>");
    out
}

/// A rate per category: a bar per category with a known rate (`Some((numerator,
/// denominator))`), its percentage written above it; `None` (no denominator) is written as
/// `missing` under the axis. `percent` writes a share.
pub fn rate_bars(
    id: &str,
    title: &str,
    categories: &[String],
    rates: &[Option<(u64, u64)>],
    percent: impl Fn(u64, u64) -> String,
    missing: &str,
) -> String {
    let group_w = 72;
    let width = (LEFT + RIGHT + group_w * categories.len() as u64).max(560);
    // Per mille; a month's overrides can exceed its cards (feedback received after the month).
    let max = rates
        .iter()
        .flatten()
        .map(|&(n, d)| n * 1000 / d.max(1))
        .max()
        .unwrap_or(0);
    let top = max.max(1000).div_ceil(250) * 250;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut out = String::new();
    open_svg(&mut out, id, title, width, HEIGHT);
    y_axis(&mut out, width, top, 250, |v| format!("{}%", v / 10));
    let mut points = Vec::new();
    for (i, rate) in rates.iter().enumerate() {
        let cx = LEFT + i as u64 * group_w + group_w / 2;
        let cat = categories.get(i).map(String::as_str).unwrap_or("");
        match rate {
            Some((n, d)) if *d > 0 => {
                let pm = n * 1000 / d;
                let h = pm * plot_h / top;
                let y = HEIGHT - BOTTOM - h;
                let p = percent(*n, *d);
                let _ = write!(
                    out,
                    r##"<rect class="bar" data-category="{c}" data-value="{n}/{d}" x="{x}" y="{y}" width="28" height="{h}" fill="{col}" fill-opacity="0.85"><title>{c}: {n}/{d} = {p}</title></rect><text x="{cx}" y="{ty}" text-anchor="middle" font-size="11" fill="#222">{p}</text>"##,
                    c = escape(cat),
                    x = cx - 14,
                    col = VERMILION,
                    ty = y.saturating_sub(4),
                    p = escape(&p),
                );
                points.push(format!("{cx},{y}"));
            }
            _ => {
                let _ = write!(
                    out,
                    r##"<text class="no-rate" x="{cx}" y="{y}" text-anchor="middle" font-size="10" fill="#777">{m}</text>"##,
                    y = HEIGHT - BOTTOM - 4,
                    m = escape(missing),
                );
            }
        }
    }
    if points.len() > 1 {
        let _ = write!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#222" stroke-width="1.5"/>"##,
            points.join(" ")
        );
    }
    x_labels(&mut out, categories, group_w);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(axis_step(0), 1);
        assert_eq!(axis_step(4), 1);
        assert_eq!(axis_step(7), 2);
        assert_eq!(axis_step(23), 5);
        assert_eq!(axis_step(99), 20);
        assert_eq!(axis_step(1234), 500);
    }

    #[test]
    fn every_value_is_one_bar_and_labels_are_escaped() {
        let months = vec!["Oct 2026".to_owned(), "Nov 2026".to_owned()];
        let svg = grouped_bars(
            "m",
            "t",
            &months,
            &[
                Series {
                    label: "Cards <shown>",
                    color: BLUE,
                    values: vec![3, 0],
                },
                Series {
                    label: "Overrides",
                    color: VERMILION,
                    values: vec![1, 2],
                },
            ],
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 4);
        assert!(svg.contains("data-value=\"3\""), "{svg}");
        assert!(svg.contains("Cards &lt;shown&gt;"), "{svg}");
        assert!(!svg.contains("<shown>"), "{svg}");

        let h = hbars(
            "r",
            "t",
            &[HBar {
                label: "<script>alert(1)</script>".into(),
                count: 2,
                share: "66.7%".into(),
            }],
        );
        assert_eq!(h.matches("class=\"bar\"").count(), 1);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("2 (66.7%)"), "{h}");

        let r = rate_bars(
            "rate",
            "t",
            &months,
            &[Some((1, 4)), None],
            |n, d| format!("{}%", n * 100 / d),
            "none",
        );
        assert_eq!(r.matches("class=\"bar\"").count(), 1);
        assert!(r.contains("data-value=\"1/4\""), "{r}");
        assert!(r.contains(">none<"), "{r}");
    }
}
