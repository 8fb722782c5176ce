//! Rendering: a trace as an indented tree, and the token-usage summary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};

use crate::record::{MetricPoint, SpanRecord};

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
    "error.type",
];

/// Renders the spans of one trace as an indented tree with the default [`KEY_ATTRIBUTES`].
///
/// Children are ordered by start time. A span whose parent is not among `spans` is shown at the top
/// level, marked `(orphan: parent <id> missing)`.
pub fn trace_tree(spans: &[SpanRecord]) -> String {
    trace_tree_with(spans, KEY_ATTRIBUTES)
}

/// [`trace_tree`] with a chosen list of attribute keys.
pub fn trace_tree_with(spans: &[SpanRecord], keys: &[&str]) -> String {
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    let mut tops: Vec<&SpanRecord> = Vec::new();
    for span in spans {
        match span.parent_span_id.as_deref() {
            Some(parent) if ids.contains(parent) => children.entry(parent).or_default().push(span),
            _ => tops.push(span),
        }
    }
    let by_start = |a: &&SpanRecord, b: &&SpanRecord| {
        a.start_unix_nanos
            .cmp(&b.start_unix_nanos)
            .then_with(|| a.span_id.cmp(&b.span_id))
    };
    tops.sort_by(by_start);
    for list in children.values_mut() {
        list.sort_by(by_start);
    }
    let mut out = String::new();
    if let Some(first) = spans.first() {
        let _ = writeln!(out, "trace {}", first.trace_id);
    }
    let mut visited = HashSet::new();
    for top in tops {
        render_node(&mut out, top, &children, keys, 0, &mut visited);
    }
    out
}

fn render_node<'a>(
    out: &mut String,
    span: &'a SpanRecord,
    children: &HashMap<&str, Vec<&'a SpanRecord>>,
    keys: &[&str],
    depth: usize,
    visited: &mut HashSet<&'a str>,
) {
    if !visited.insert(span.span_id.as_str()) {
        return; // a cycle in bad input: never loop
    }
    let indent = "  ".repeat(depth);
    let status = match &span.status {
        crate::record::SpanStatus::Unset => "",
        crate::record::SpanStatus::Ok => " OK",
        crate::record::SpanStatus::Error { .. } => " ERROR",
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
        .filter_map(|k| span.attr(k).map(|v| format!("{k}={v}")))
        .collect();
    if !attrs.is_empty() {
        let _ = write!(out, " {}", attrs.join(" "));
    }
    if depth == 0 {
        if let Some(parent) = &span.parent_span_id {
            let _ = write!(out, " (orphan: parent {parent} missing)");
        }
    }
    out.push('\n');
    if let Some(kids) = children.get(span.span_id.as_str()) {
        for kid in kids {
            render_node(out, kid, children, keys, depth + 1, visited);
        }
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
                    if let crate::record::PointValue::Histogram { count, .. } = p.value {
                        row.calls += count;
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
                t.calls, t.input, t.output, t.cache_read, t.cache_creation
            )?;
        }
        write!(f, "total input tokens: {}", self.total_input())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::{AttrValue, PointValue, SpanKind, SpanStatus};

    fn span(id: &str, parent: Option<&str>, name: &str, start: u64, kind: SpanKind) -> SpanRecord {
        SpanRecord {
            service_name: "vystak-coordinator".into(),
            resource: BTreeMap::new(),
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

    fn point(service: &str, ty: &str, sum: f64, count: u64) -> MetricPoint {
        MetricPoint {
            service_name: service.into(),
            resource: BTreeMap::new(),
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
    }
}
