//! OTLP → Prometheus names, as Prometheus' OTLP receiver builds them with its default
//! `UnderscoreEscapingWithSuffixes` translation strategy (the `otlptranslator` rules), and
//! Prometheus' float formatting.
//!
//! Metric names: the name is split into tokens at every character outside `[a-zA-Z0-9:]`
//! (so `.`, `-`, `/` and runs of `_` all become one `_`); the unit adds a suffix (`s` →
//! `seconds`, `ms` → `milliseconds`, `By` → `bytes`, `1` → nothing, `%` → `percent`, …;
//! `X/Y` adds `X_per_Y`; a unit in braces such as `{token}` adds nothing), unless the name
//! already has that token; monotonic counters end in `_total`; gauges with unit `1` end in
//! `_ratio`; a leading digit gets a `_` prefix. Histograms get `_bucket`/`_sum`/`_count`
//! appended to the result by the converter.
//!
//! Label names: every character outside `[a-zA-Z0-9_]` becomes `_`; a leading digit gets a
//! `key_` prefix; a single leading `_` gets a `key` prefix (`__` names are kept).

/// The Prometheus metric type an OTLP metric translates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromMetricType {
    /// A monotonic sum: gets `_total`.
    Counter,
    /// A gauge or a non-monotonic sum: gets `_ratio` for unit `1`.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
}

fn unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// Tokens of a unit word after mapping: unknown units are kept, cleaned of invalid characters.
fn unit_tokens(unit: &str, mapped: Option<&'static str>) -> Vec<String> {
    let unit = unit.trim();
    if unit.is_empty() || unit.contains(['{', '}']) {
        return Vec::new();
    }
    let word = mapped
        .map(str::to_string)
        .unwrap_or_else(|| unit.to_string());
    word.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The Prometheus base name of an OTLP metric (without `_bucket`/`_sum`/`_count`).
///
/// ```
/// use vystak_otel_viewer::query::promql::{prom_metric_name, PromMetricType};
/// assert_eq!(
///     prom_metric_name("gen_ai.client.token.usage", "{token}", PromMetricType::Histogram),
///     "gen_ai_client_token_usage"
/// );
/// assert_eq!(
///     prom_metric_name("http.server.request.duration", "s", PromMetricType::Histogram),
///     "http_server_request_duration_seconds"
/// );
/// assert_eq!(prom_metric_name("cpu.utilization", "1", PromMetricType::Gauge), "cpu_utilization_ratio");
/// assert_eq!(prom_metric_name("requests", "{request}", PromMetricType::Counter), "requests_total");
/// ```
pub fn prom_metric_name(name: &str, unit: &str, kind: PromMetricType) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();

    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m, Some(p)),
        None => (unit, None),
    };
    let main_tokens = unit_tokens(main, unit_word(main.trim()));
    let per_tokens = per
        .map(|p| unit_tokens(p, per_unit_word(p.trim())))
        .unwrap_or_default();
    let contains = |tokens: &[String], seq: &[String]| {
        !seq.is_empty() && tokens.windows(seq.len()).any(|w| w == seq)
    };
    if !contains(&tokens, &main_tokens) {
        tokens.extend(main_tokens);
    }
    if !per_tokens.is_empty() && !contains(&tokens, &per_tokens) {
        tokens.push("per".to_string());
        tokens.extend(per_tokens);
    }
    match kind {
        PromMetricType::Counter => {
            tokens.retain(|t| t != "total");
            tokens.push("total".to_string());
        }
        PromMetricType::Gauge if unit == "1" => {
            tokens.retain(|t| t != "ratio");
            tokens.push("ratio".to_string());
        }
        _ => {}
    }
    let joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{joined}")
    } else {
        joined
    }
}

/// The Prometheus label name of an OTLP attribute key (`gen_ai.token.type` → `gen_ai_token_type`).
///
/// ```
/// use vystak_otel_viewer::query::promql::prom_label_name;
/// assert_eq!(prom_label_name("gen_ai.token.type"), "gen_ai_token_type");
/// assert_eq!(prom_label_name("service.name"), "service_name");
/// assert_eq!(prom_label_name("2xx"), "key_2xx");
/// ```
pub fn prom_label_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    out
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`, which Prometheus uses for
/// sample values and `le` labels: the shortest decimal that round-trips, no exponent, no
/// trailing `.0`, and `+Inf`, `-Inf`, `NaN`.
///
/// ```
/// use vystak_otel_viewer::query::promql::format_float;
/// assert_eq!(format_float(42.0), "42");
/// assert_eq!(format_float(0.1), "0.1");
/// assert_eq!(format_float(f64::INFINITY), "+Inf");
/// ```
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's `Display` for f64 is the shortest round-trip decimal, never in exponent form.
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PromMetricType::*;

    #[test]
    fn metric_names_of_the_seed_and_semconv() {
        assert_eq!(
            prom_metric_name("gen_ai.client.token.usage", "{token}", Histogram),
            "gen_ai_client_token_usage"
        );
        assert_eq!(
            prom_metric_name("gen_ai.client.operation.duration", "s", Histogram),
            "gen_ai_client_operation_duration_seconds"
        );
        assert_eq!(
            prom_metric_name("http.server.request.duration", "s", Histogram),
            "http_server_request_duration_seconds"
        );
        assert_eq!(
            prom_metric_name("rpc.server.duration", "ms", Histogram),
            "rpc_server_duration_milliseconds"
        );
        assert_eq!(
            prom_metric_name("http.body.size", "By", Histogram),
            "http_body_size_bytes"
        );
        assert_eq!(
            prom_metric_name("system.memory.utilization", "1", Gauge),
            "system_memory_utilization_ratio"
        );
        // `_ratio` only for gauges; counters with unit 1 get nothing but `_total`.
        assert_eq!(
            prom_metric_name("jobs.done", "1", Counter),
            "jobs_done_total"
        );
        assert_eq!(
            prom_metric_name("messaging.client.sent.messages", "{message}", Counter),
            "messaging_client_sent_messages_total"
        );
        // Non-monotonic sums are gauges: no `_total`.
        assert_eq!(
            prom_metric_name("queue.depth", "{item}", Gauge),
            "queue_depth"
        );
        // `_total` is not doubled, and unit words already present are not repeated.
        assert_eq!(
            prom_metric_name("requests_total", "", Counter),
            "requests_total"
        );
        assert_eq!(
            prom_metric_name("duration.seconds", "s", Histogram),
            "duration_seconds"
        );
        assert_eq!(
            prom_metric_name("net.io", "By/s", Gauge),
            "net_io_bytes_per_second"
        );
        assert_eq!(
            prom_metric_name("weird--name..x", "", Gauge),
            "weird_name_x"
        );
        assert_eq!(prom_metric_name("1st", "", Gauge), "_1st");
        assert_eq!(prom_metric_name("temp", "kWh", Gauge), "temp_kWh");
    }

    #[test]
    fn label_names() {
        assert_eq!(
            prom_label_name("gen_ai.request.model"),
            "gen_ai_request_model"
        );
        assert_eq!(
            prom_label_name("http.response.status_code"),
            "http_response_status_code"
        );
        assert_eq!(prom_label_name("_private"), "key_private");
        assert_eq!(prom_label_name("__keep"), "__keep");
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(-0.5), "-0.5");
        assert_eq!(format_float(0.01), "0.01");
        assert_eq!(format_float(2.5e-7), "0.00000025");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
    }
}
