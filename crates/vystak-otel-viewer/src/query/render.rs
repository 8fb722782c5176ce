//! Rendering: a trace as an indented tree, and the token-usage summary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};

use crate::model::record::{AttrValue, MetricPoint, SpanRecord};

/// Attribute keys shown next to a span in the tree, in this order, when present.
pub const KEY_ATTRIBUTES: &[&str] = &[
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "server.address",
    "messaging.destination.name",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cost",
    "gen_ai.tool.call.id",
    "error.type",
];

/// Renders the spans of one trace as an indented tree with the default [`KEY_ATTRIBUTES`].
///
/// Children are ordered by start time. A span whose parent is not among `spans` (or that is only
/// reachable through a parent cycle in bad input) is shown at the top level, marked
/// `(orphan: parent <id> missing)`; no span is left out.
pub fn trace_tree(spans: &[SpanRecord]) -> String {
    trace_tree_with(spans, KEY_ATTRIBUTES)
}

/// One row of a trace tree: a span, its depth, whether it has children, whether its parent is
/// missing from the trace.
pub(crate) struct Row<'a> {
    pub(crate) span: &'a SpanRecord,
    /// The index of the parent's row (`None` at the top level).
    pub(crate) parent: Option<usize>,
    pub(crate) depth: usize,
    pub(crate) has_children: bool,
    pub(crate) orphan: bool,
}

/// The spans in tree order (depth first, children by start time): what the text tree and the
/// UI's waterfall both show. A span whose parent is not in the trace, or that only a parent
/// cycle reaches, is shown at the top level, marked as an orphan. Every span is visited once.
pub(crate) fn tree(spans: &[SpanRecord]) -> Vec<Row<'_>> {
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    let mut tops: Vec<&SpanRecord> = Vec::new();
    for s in spans {
        match s.parent_span_id.as_deref() {
            Some(p) if ids.contains(p) && p != s.span_id => children.entry(p).or_default().push(s),
            _ => tops.push(s),
        }
    }
    let order = |a: &&SpanRecord, b: &&SpanRecord| {
        a.start_unix_nanos
            .cmp(&b.start_unix_nanos)
            .then_with(|| a.span_id.cmp(&b.span_id))
    };
    tops.sort_by(order);
    for list in children.values_mut() {
        list.sort_by(order);
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut seen: HashSet<&str> = HashSet::with_capacity(spans.len());
    // The tops first; then any span not reached yet, which only a parent cycle in bad input
    // leaves: entered at its first span, so it is shown rather than lost.
    for start in tops.into_iter().chain(spans) {
        let mut stack = vec![(start, 0, None)];
        while let Some((s, depth, parent)) = stack.pop() {
            if !seen.insert(s.span_id.as_str()) {
                continue;
            }
            let kids = children.get(s.span_id.as_str());
            let index = out.len();
            out.push(Row {
                span: s,
                parent,
                depth,
                has_children: kids.is_some_and(|k| !k.is_empty()),
                orphan: depth == 0 && s.parent_span_id.is_some(),
            });
            if let Some(kids) = kids {
                stack.extend(
                    kids.iter()
                        .rev()
                        .map(|k| (*k, depth.saturating_add(1), Some(index))),
                );
            }
        }
    }
    out
}

/// Deepest level indented in the text tree; deeper rows print `[depth N]` at this indentation.
pub const MAX_INDENT: usize = 32;

/// [`trace_tree`] with a chosen list of attribute keys.
pub fn trace_tree_with(spans: &[SpanRecord], keys: &[&str]) -> String {
    let mut out = String::new();
    if let Some(first) = spans.first() {
        let _ = writeln!(out, "trace {}", first.trace_id);
    }
    for row in tree(spans) {
        render_row(&mut out, &row, keys);
    }
    out
}

fn render_row(out: &mut String, row: &Row<'_>, keys: &[&str]) {
    let span = row.span;
    // Indentation is capped: a 20,000-deep chain printed 401 MB of spaces (quadratic). Deeper
    // rows say their depth instead.
    let indent = if row.depth <= MAX_INDENT {
        "  ".repeat(row.depth)
    } else {
        format!("{}[depth {}] ", "  ".repeat(MAX_INDENT), row.depth)
    };
    let status = match &span.status {
        crate::model::record::SpanStatus::Unset => "",
        crate::model::record::SpanStatus::Ok => " OK",
        crate::model::record::SpanStatus::Error { .. } => " ERROR",
    };
    let duration = span.duration().as_secs_f64() * 1000.0;
    let _ = write!(
        out,
        "{indent}{} {} [{}{status}] {duration:.1}ms",
        span.service_name,
        span.name,
        span.kind.as_str()
    );
    let attrs: Vec<String> = keys
        .iter()
        .filter_map(|k| span.attr(k).map(|v| format!("{k}={}", human_value(v))))
        .collect();
    if !attrs.is_empty() {
        let _ = write!(out, " {}", attrs.join(" "));
    }
    if row.orphan {
        if let Some(parent) = &span.parent_span_id {
            let _ = write!(out, " (orphan: parent {parent} missing)");
        }
    }
    out.push('\n');
}

/// A number as a person reads it: at most six significant digits, no trailing zeros, no exponent
/// between 1e-6 and 1e15: `0.00039139999999999997` → `0.0003914`, `19.078888888888887` →
/// `19.0789`, `400.0` → `400`. For printing only; the stored value stays exact.
///
/// ```
/// use vystak_otel_viewer::render::human_number;
/// assert_eq!(human_number(0.00039139999999999997), "0.0003914");
/// assert_eq!(human_number(1234.0), "1234");
/// assert_eq!(human_number(f64::NAN), "NaN");
/// ```
pub fn human_number(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".to_owned()
        } else if x > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        };
    }
    let abs = x.abs();
    if x == x.trunc() && abs < 1e15 {
        return format!("{x:.0}");
    }
    if !(1e-6..1e15).contains(&abs) {
        let text = format!("{x:.5e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    // Six significant digits: 5 − ⌊log10 |x|⌋ decimals (0 to 11 in this range).
    // abs is in [1e-6, 1e15): ⌊log10⌋ is in [-6, 14].
    #[allow(clippy::cast_possible_truncation)]
    let magnitude = abs.log10().floor() as i32;
    let decimals = usize::try_from(5i32.saturating_sub(magnitude)).unwrap_or(0);
    let text = format!("{x:.decimals$}");
    trim_zeros(&text).to_owned()
}

/// `1.500` → `1.5`, `2.000` → `2`; text without a `.` is returned as it is.
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// An attribute value for the text tree: doubles (and doubles in arrays) as
/// [`human_number`]s, everything else as it is.
fn human_value(value: &AttrValue) -> String {
    match value {
        AttrValue::Double(d) => human_number(*d),
        AttrValue::Array(items) => {
            let items: Vec<String> = items.iter().map(human_value).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// Token metric name read by [`TokenSummary`] (the seed's histogram).
pub const TOKEN_USAGE_METRIC: &str = "gen_ai.client.token.usage";
/// Token-type attribute key.
pub const TOKEN_TYPE: &str = "gen_ai.token.type";

/// Token totals of one service, from `gen_ai.client.token.usage` histogram sums.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceTokens {
    /// `gen_ai.token.type = input`.
    pub input: f64,
    /// `gen_ai.token.type = output`.
    pub output: f64,
    /// `gen_ai.token.type = cache_read`.
    pub cache_read: f64,
    /// `gen_ai.token.type = cache_creation`.
    pub cache_creation: f64,
    /// Number of model calls seen (the `count` of the input histogram).
    pub calls: u64,
}

impl ServiceTokens {
    /// The seed's "cache hit ratio per agent": cache_read ÷ input (`None` without input tokens).
    pub fn cache_hit_ratio(&self) -> Option<f64> {
        (self.input > 0.0).then(|| self.cache_read / self.input)
    }
}

/// Token usage per `service.name`, the seed's two PromQL examples as numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenSummary {
    /// Per service, sorted by name.
    pub services: BTreeMap<String, ServiceTokens>,
}

impl TokenSummary {
    /// Builds the summary from metric points (other metrics are ignored).
    pub fn from_points(points: &[MetricPoint]) -> Self {
        let mut services: BTreeMap<String, ServiceTokens> = BTreeMap::new();
        for p in points
            .iter()
            .filter(|p| p.metric_name == TOKEN_USAGE_METRIC)
        {
            let row = services.entry(p.service_name.clone()).or_default();
            let sum = p.value_sum();
            match p.str_attr(TOKEN_TYPE) {
                Some("input") => {
                    row.input += sum;
                    if let crate::model::record::PointValue::Histogram { count, .. } = p.value {
                        row.calls = row.calls.saturating_add(count);
                    }
                }
                Some("output") => row.output += sum,
                Some("cache_read") => row.cache_read += sum,
                Some("cache_creation") => row.cache_creation += sum,
                _ => {}
            }
        }
        Self { services }
    }

    /// The seed's first query: total input tokens across all services.
    pub fn total_input(&self) -> f64 {
        self.services.values().map(|s| s.input).sum()
    }
}

impl fmt::Display for TokenSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<28} {:>6} {:>8} {:>8} {:>10} {:>14} {:>10}",
            "service.name", "calls", "input", "output", "cache_read", "cache_creation", "cache-hit"
        )?;
        for (service, t) in &self.services {
            let ratio = t
                .cache_hit_ratio()
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
            writeln!(
                f,
                "{service:<28} {:>6} {:>8} {:>8} {:>10} {:>14} {ratio:>10}",
                t.calls,
                human_number(t.input),
                human_number(t.output),
                human_number(t.cache_read),
                human_number(t.cache_creation)
            )?;
        }
        write!(
            f,
            "total input tokens: {}",
            human_number(self.total_input())
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::record::{PointValue, SpanKind, SpanStatus};

    fn span(id: &str, parent: Option<&str>, name: &str, start: u64, kind: SpanKind) -> SpanRecord {
        SpanRecord {
            service_name: "vystak-coordinator".into(),
            resource: Default::default(),
            scope_name: "s".into(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: name.into(),
            kind,
            status: SpanStatus::Unset,
            start_unix_nanos: start,
            end_unix_nanos: start + 2_500_000,
            attributes: BTreeMap::new(),
            events: vec![],
            links: vec![],
        }
    }

    #[test]
    fn renders_an_indented_tree_ordered_by_start_with_orphans_marked() {
        let mut server = span("a", None, "POST /a2a", 0, SpanKind::Server);
        server
            .attributes
            .insert("http.route".into(), AttrValue::Str("/a2a".into()));
        let mut chat = span("c", Some("a"), "gen_ai.chat", 20, SpanKind::Client);
        chat.status = SpanStatus::Error {
            message: "boom".into(),
        };
        chat.attributes
            .insert("gen_ai.usage.input_tokens".into(), AttrValue::Int(12));
        let post = span("b", Some("a"), "POST", 10, SpanKind::Client);
        let orphan = span("d", Some("zz"), "process x", 30, SpanKind::Consumer);
        let text = trace_tree(&[chat, orphan, server, post]);
        assert_eq!(
            text,
            "trace 0af7651916cd43dd8448eb211c80319c\n\
             vystak-coordinator POST /a2a [SERVER] 2.5ms http.route=/a2a\n\
             \x20 vystak-coordinator POST [CLIENT] 2.5ms\n\
             \x20 vystak-coordinator gen_ai.chat [CLIENT ERROR] 2.5ms gen_ai.usage.input_tokens=12\n\
             vystak-coordinator process x [CONSUMER] 2.5ms (orphan: parent zz missing)\n"
        );
    }

    #[test]
    fn spans_in_a_parent_cycle_are_shown_not_lost() {
        // x ↔ y point at each other; z is its own parent: bad input, but every span is shown.
        let x = span("x", Some("y"), "x", 0, SpanKind::Internal);
        let y = span("y", Some("x"), "y", 10, SpanKind::Internal);
        let z = span("z", Some("z"), "z", 20, SpanKind::Internal);
        let spans = [x, y, z];
        let rows = tree(&spans);
        let names: Vec<(&str, usize, bool)> = rows
            .iter()
            .map(|r| (r.span.name.as_str(), r.depth, r.orphan))
            .collect();
        assert_eq!(names, vec![("z", 0, true), ("x", 0, true), ("y", 1, false)]);
        let text = trace_tree(&spans);
        assert_eq!(text.lines().count(), 4, "{text}");
    }

    /// Regression (issue 25): the tree printed `gen_ai.usage.cost=0.00039139999999999997`.
    #[test]
    fn the_tree_prints_costs_as_people_read_them() {
        let mut chat = span("c", None, "chat claude", 0, SpanKind::Client);
        chat.attributes.insert(
            "gen_ai.usage.cost".into(),
            AttrValue::Double(0.00039139999999999997),
        );
        let text = trace_tree(&[chat.clone()]);
        assert!(text.contains(" gen_ai.usage.cost=0.0003914\n"), "{text}");
        assert_eq!(
            chat.attributes["gen_ai.usage.cost"],
            AttrValue::Double(0.00039139999999999997),
            "the value itself stays exact"
        );
    }

    /// Regression (issue 26): the tree of a 20,000-deep chain was 401 MB (each row indented by
    /// its depth). Now the output is linear in the number of spans.
    #[test]
    fn a_deep_chain_prints_in_linear_size() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("{i:016x}")).collect();
        let spans: Vec<SpanRecord> = (0..20_000)
            .map(|i| {
                let parent = (i > 0).then(|| ids[i - 1].as_str());
                span(&ids[i], parent, "hop", i as u64, SpanKind::Internal)
            })
            .collect();
        let text = trace_tree(&spans);
        assert_eq!(text.lines().count(), 20_001);
        assert!(text.len() < 5_000_000, "{} bytes", text.len());
        assert!(text.contains("[depth 19999] vystak-coordinator hop"));
    }

    #[test]
    fn human_numbers() {
        for (x, text) in [
            (0.00039139999999999997, "0.0003914"),
            (19.078888888888887, "19.0789"),
            (400.0, "400"),
            (-2.5, "-2.5"),
            (0.1 + 0.2, "0.3"),
            (123_456.789, "123457"),
            (1e-9, "1e-9"),
            (1.5e20, "1.5e20"),
            (0.0, "0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(human_number(x), text, "{x:?}");
        }
    }

    fn point(service: &str, ty: &str, sum: f64, count: u64) -> MetricPoint {
        MetricPoint {
            service_name: service.into(),
            resource: Default::default(),
            scope_name: "s".into(),
            metric_name: TOKEN_USAGE_METRIC.into(),
            unit: "{token}".into(),
            description: String::new(),
            attributes: BTreeMap::from([(TOKEN_TYPE.to_owned(), AttrValue::Str(ty.into()))]),
            value: PointValue::Histogram {
                count,
                sum,
                bounds: vec![],
                bucket_counts: vec![count],
                min: None,
                max: None,
            },
            time_unix_nanos: 0,
        }
    }

    #[test]
    fn token_summary_gives_totals_and_cache_hit_ratio_per_service() {
        let summary = TokenSummary::from_points(&[
            point("vystak-a", "input", 100.0, 2),
            point("vystak-a", "cache_read", 50.0, 2),
            point("vystak-a", "output", 10.0, 2),
            point("vystak-b", "input", 300.0, 1),
            point("vystak-b", "cache_creation", 7.0, 1),
        ]);
        assert_eq!(summary.total_input(), 400.0);
        let a = &summary.services["vystak-a"];
        assert_eq!(
            (a.calls, a.output, a.cache_hit_ratio()),
            (2, 10.0, Some(0.5))
        );
        let b = &summary.services["vystak-b"];
        assert_eq!((b.cache_creation, b.cache_hit_ratio()), (7.0, Some(0.0)));
        let text = summary.to_string();
        assert!(text.contains("vystak-a"), "{text}");
        assert!(text.ends_with("total input tokens: 400"), "{text}");
        let uneven =
            TokenSummary::from_points(&[point("vystak-c", "input", 19.078888888888887, 1)]);
        assert!(
            uneven.to_string().ends_with("total input tokens: 19.0789"),
            "{uneven}"
        );
    }
}
