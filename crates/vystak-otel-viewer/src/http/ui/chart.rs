//! Charts as inline SVG, drawn on the server: a time-series line chart and a bar chart.
//! Every label goes through maud, so it is escaped like the rest of the page.

use maud::{html, Markup};

use crate::query::promql::{format_float, Labels, QueryResult};

/// Line colours, in legend order.
const COLOURS: [&str; 8] = [
    "#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#9c755f", "#edc948",
];

const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One line: its legend label and its points (ms since the epoch, value).
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub(crate) label: String,
    pub(crate) points: Vec<(i64, f64)>,
}

/// A label set as PromQL writes it: `{service_name="a", le="1"}` (`{}` when empty).
pub(crate) fn labels_text(labels: &Labels) -> String {
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    let name = labels.get("__name__").map(String::as_str).unwrap_or("");
    format!("{name}{{{}}}", inner.join(", "))
}

/// The lines of a range query's result (a matrix), labelled by their label sets, with
/// `prefix` before each label.
pub(crate) fn lines_of(result: &QueryResult, prefix: &str) -> Vec<Line> {
    match result {
        QueryResult::Matrix(m) => m
            .iter()
            .map(|s| Line {
                label: format!("{prefix}{}", labels_text(&s.labels)),
                points: s.samples.iter().map(|p| (p.t_ms, p.v)).collect(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// "Nice" tick values covering `[lo, hi]`: steps of 1, 2 or 5 × 10^k.
/// The colour of the `i`th line.
fn colour(i: usize) -> &'static str {
    COLOURS
        .get(i.checked_rem(COLOURS.len()).unwrap_or(0))
        .copied()
        .unwrap_or("#4e79a7")
}

fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let span = hi - lo;
    if span <= 0.0 || !span.is_finite() {
        return vec![lo];
    }
    let raw = span / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..=want.saturating_mul(2).saturating_add(2))
        .map(|i| first + i as f64 * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .collect()
}

/// A tick value for an axis: short, without float noise (`0.25`, `2k`, `1.5M`).
fn axis_number(v: f64) -> String {
    fn trim(s: String) -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.2}", v / 1e6)) + "M"
    } else if a >= 1e3 {
        trim(format!("{:.2}", v / 1e3)) + "k"
    } else {
        trim(format!("{v:.4}"))
    }
}

/// `HH:MM:SS` (UTC) of a time in ms.
fn clock(t_ms: i64) -> String {
    let s = t_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// A line chart of `lines` over `[start_ms, end_ms]`, with a legend. Non-finite values break a
/// line; a point alone is drawn as a dot.
pub(crate) fn line_chart(title: &str, lines: &[Line], start_ms: i64, end_ms: i64) -> Markup {
    let values = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = values.fold((0f64, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let empty = !hi.is_finite();
    if empty {
        hi = 1.0;
    }
    if hi <= lo {
        hi = lo + if lo == 0.0 { 1.0 } else { lo.abs() };
    }
    let y_ticks = ticks(lo, hi, 4);
    if let Some(top) = y_ticks.last() {
        hi = hi.max(*top);
    }
    lo = lo.min(y_ticks.first().copied().unwrap_or(lo));
    // In f64: a window as wide as the timestamps allow must not overflow.
    let span_ms = (end_ms as f64 - start_ms as f64).max(1.0);
    let x = |t: i64| LEFT + (t as f64 - start_ms as f64) / span_ms * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);
    let x_ticks: Vec<i64> = (0..=4)
        .map(|i| {
            // `as` from f64 saturates; the sum saturates too.
            #[allow(clippy::cast_possible_truncation)]
            let offset = (span_ms * f64::from(i) / 4.0) as i64;
            start_ms.saturating_add(offset)
        })
        .collect();
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) } role="img"
                aria-label=(title) {
                title { (title) }
                @for v in &y_ticks {
                    line.grid x1=(LEFT) x2=(W - RIGHT) y1=(y(*v)) y2=(y(*v)) {}
                    text.ylabel x=(LEFT - 6.0) y=(y(*v) + 4.0) text-anchor="end" { (axis_number(*v)) }
                }
                @for t in &x_ticks {
                    text.xlabel x=(x(*t)) y=(H - 8.0) text-anchor="middle" { (clock(*t)) }
                }
                line.axis x1=(LEFT) x2=(W - RIGHT) y1=(H - BOTTOM) y2=(H - BOTTOM) {}
                @if empty {
                    text.nodata x=((LEFT + W - RIGHT) / 2.0) y=((TOP + H - BOTTOM) / 2.0)
                        text-anchor="middle" { "no data in this window" }
                }
                @for (i, l) in lines.iter().enumerate() {
                    @let colour = colour(i);
                    g.series data-label=(l.label) {
                        @for run in runs(&l.points) {
                            @if run.len() == 1 {
                                circle cx=(x(run[0].0)) cy=(y(run[0].1)) r="2.5" fill=(colour) {}
                            } @else {
                                polyline fill="none" stroke=(colour) stroke-width="1.8"
                                    points=(run.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect::<Vec<_>>().join(" ")) {}
                            }
                        }
                    }
                }
            }
            @if !lines.is_empty() {
                figcaption.legend {
                    @for (i, l) in lines.iter().enumerate() {
                        span.item { span.swatch style={ "background:" (colour(i)) } {} (l.label) }
                    }
                }
            }
        }
    }
}

/// The runs of finite points of a line.
fn runs(points: &[(i64, f64)]) -> Vec<&[(i64, f64)]> {
    points
        .split(|(_, v)| !v.is_finite())
        .filter(|r| !r.is_empty())
        .collect()
}

/// A vertical bar chart: one bar per `(label, value)`.
pub(crate) fn bar_chart(title: &str, bars: &[(String, f64)]) -> Markup {
    let hi = bars
        .iter()
        .map(|b| b.1)
        .filter(|v| v.is_finite())
        .fold(0f64, f64::max);
    let hi = if hi > 0.0 { hi } else { 1.0 };
    let n = bars.len().max(1) as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let y = |v: f64| TOP + (hi - v) / hi * (H - TOP - BOTTOM);
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (W) " " (H) } role="img"
                aria-label=(title) {
                title { (title) }
                @for v in ticks(0.0, hi, 4) {
                    line.grid x1=(LEFT) x2=(W - RIGHT) y1=(y(v)) y2=(y(v)) {}
                    text.ylabel x=(LEFT - 6.0) y=(y(v) + 4.0) text-anchor="end" { (axis_number(v)) }
                }
                @for (i, (label, v)) in bars.iter().enumerate() {
                    @let v = if v.is_finite() { *v } else { 0.0 };
                    @let bx = LEFT + i as f64 * slot + slot * 0.1;
                    rect.histbar x=(bx) y=(y(v)) width=(slot * 0.8) height=((H - BOTTOM) - y(v)) {
                        title { "le " (label) ": " (format_float(v)) }
                    }
                    @if bars.len() <= 24 || i.is_multiple_of((bars.len() / 12).saturating_add(1)) {
                        text.xlabel x=(bx + slot * 0.4) y=(H - 8.0) text-anchor="middle" { (label) }
                    }
                }
                line.axis x1=(LEFT) x2=(W - RIGHT) y1=(H - BOTTOM) y2=(H - BOTTOM) {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        // 1, 2 or 5 × 10^k: a quarter is not a step, a half is.
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.5, 1.0]);
        assert_eq!(ticks(0.0, 1000.0, 4), vec![0.0, 500.0, 1000.0]);
        assert_eq!(ticks(0.0, 7.0, 4), vec![0.0, 2.0, 4.0, 6.0]);
        assert_eq!(axis_number(0.25), "0.25");
        assert_eq!(axis_number(2000.0), "2k");
    }

    #[test]
    fn a_line_with_a_gap_is_two_runs_and_labels_are_escaped() {
        let line = Line {
            label: "<b>x</b>".into(),
            points: vec![(0, 1.0), (1, f64::NAN), (2, 2.0), (3, 3.0)],
        };
        assert_eq!(runs(&line.points).len(), 2);
        let svg = line_chart("t", &[line], 0, 3).into_string();
        assert!(svg.contains("&lt;b&gt;x&lt;/b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 1);
    }
}
