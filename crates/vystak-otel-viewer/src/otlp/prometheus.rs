//! [`PromConverter`]: OTLP metric points → Prometheus samples, as Prometheus' OTLP receiver
//! (the one inside `grafana/otel-lgtm`) stores them.
//!
//! The rules are documented on [`PromConverter`].

use std::collections::{BTreeMap, HashMap};

use super::naming::{format_float, prom_label_name, prom_metric_name, PromMetricType};
use crate::model::record::{AttrValue, PointValue};
use crate::model::{Labels, Sample};

/// The resource attributes otel-lgtm's `docker/prometheus.yaml` promotes to labels
/// (`otlp.promote_resource_attributes`).
pub const PROMOTED_RESOURCE_ATTRIBUTES: &[&str] = &[
    "service.instance.id",
    "service.name",
    "service.namespace",
    "service.version",
    "cloud.availability_zone",
    "cloud.region",
    "container.name",
    "deployment.environment",
    "deployment.environment.name",
    "k8s.cluster.name",
    "k8s.container.name",
    "k8s.cronjob.name",
    "k8s.daemonset.name",
    "k8s.deployment.name",
    "k8s.job.name",
    "k8s.namespace.name",
    "k8s.node.name",
    "k8s.pod.name",
    "k8s.replicaset.name",
    "k8s.statefulset.name",
    "host.name",
    "postgresql.database.name",
    "postgresql.schema.name",
    "postgresql.table.name",
    "postgresql.index.name",
    "database",
    "kafka.cluster.alias",
];

/// One OTLP metric data point, borrowed from wherever the receiver decoded it.
#[derive(Clone, Copy, Debug)]
pub struct OtlpPoint<'a> {
    /// Resource attributes.
    pub resource: &'a BTreeMap<String, AttrValue>,
    /// OTLP metric name, e.g. `gen_ai.client.token.usage`.
    pub metric_name: &'a str,
    /// UCUM unit, e.g. `s` or `{token}`.
    pub unit: &'a str,
    /// The value: histogram, sum or gauge.
    pub value: &'a PointValue,
    /// `true` for delta aggregation temporality (ignored for gauges).
    pub delta: bool,
    /// Point attributes.
    pub attributes: &'a BTreeMap<String, AttrValue>,
    /// Start time (0 when unknown).
    pub start_unix_nanos: u64,
    /// Time of the point.
    pub time_unix_nanos: u64,
}

#[derive(Clone, Copy, Debug)]
struct SeriesState {
    /// Start time of the current run, when known.
    start_ms: Option<i64>,
    /// Timestamp of the last emitted (or restored) sample.
    last_t_ms: i64,
    /// Running total of delta points.
    total: f64,
}

/// Converts OTLP points to Prometheus samples, keeping the per-series state that zero samples
/// and delta accumulation need.
///
/// # Rules
/// - **Names** follow [`prom_metric_name`](super::prom_metric_name): `gen_ai.client.token.usage`
///   (unit `{token}`) → `gen_ai_client_token_usage`, `http.server.request.duration` (unit `s`) →
///   `http_server_request_duration_seconds`; monotonic sums get `_total`, unit-`1` gauges `_ratio`.
/// - **Histograms** become `<name>_bucket{le="…"}` with *cumulative* counts (`le` formatted as Go's
///   `FormatFloat(b, 'f', -1, 64)`: `"0.01"`, `"1"`, and `"+Inf"` = the point's count),
///   `<name>_sum` and `<name>_count`. Min and max are not exported (Prometheus doesn't either).
/// - **Labels**: point attributes, names through [`prom_label_name`](super::prom_label_name)
///   (`gen_ai.token.type` → `gen_ai_token_type`; two keys that collide are joined with `;` in key
///   order); then the resource attributes otel-lgtm promotes ([`PROMOTED_RESOURCE_ATTRIBUTES`],
///   e.g. `service.name` → `service_name`; a point attribute of the same name wins); then `job` =
///   `service.namespace/service.name` (or `service.name`) and `instance` = `service.instance.id`
///   when present. Other resource attributes are not labels (Prometheus puts them on `target_info`,
///   which this converter does not emit). Labels with an empty value are dropped. Non-string
///   attribute values use their `Display` form.
/// - **Timestamps**: ms = nanos / 1 000 000 (truncated).
/// - **Cumulative** points pass through. When the start time of a cumulative monotonic sum or
///   histogram is new for a series (first point seen, or a changed start = a restart), a zero
///   sample is emitted first at the start time, for every `_total`/`_sum`/`_count`/`_bucket`
///   series — Prometheus' "created timestamp zero ingestion". Only when `0 < start < time` and
///   the start is after the last sample of that series (so a restored or replayed series never
///   gets a zero in its past). Gauges and non-monotonic sums get no zero sample.
/// - **Delta** points (sums and histograms) are accumulated into a running cumulative total per
///   series, like the collector's `deltatocumulative` processor, with a zero sample at the first
///   delta's start time (monotonic sums and histograms only). A persistent store restores the
///   totals after a restart with [`PromConverter::restore`].
///
/// # Example
///
/// ```
/// use std::collections::BTreeMap;
/// use vystak_otel_viewer::{AttrValue, PointValue};
/// use vystak_otel_viewer::query::promql::{OtlpPoint, PromConverter};
///
/// let resource = BTreeMap::from([("service.name".to_string(), AttrValue::Str("api".into()))]);
/// let attributes = BTreeMap::new();
/// let value = PointValue::Sum { value: 5.0, monotonic: true };
/// let point = OtlpPoint {
///     resource: &resource, metric_name: "http.requests", unit: "{request}", value: &value,
///     delta: false, attributes: &attributes,
///     start_unix_nanos: 1_000_000_000, time_unix_nanos: 11_000_000_000,
/// };
/// let mut converter = PromConverter::new();
/// let samples = converter.convert(&point);
/// // A zero at the start time, then the value.
/// assert_eq!(samples.len(), 2);
/// assert_eq!(samples[0].0["__name__"], "http_requests_total");
/// assert_eq!(samples[0].0["service_name"], "api");
/// assert_eq!(samples[0].0["job"], "api");
/// assert_eq!((samples[0].1.t_ms, samples[0].1.v), (1_000, 0.0));
/// assert_eq!((samples[1].1.t_ms, samples[1].1.v), (11_000, 5.0));
/// ```
#[derive(Clone, Debug)]
pub struct PromConverter {
    promoted: Vec<String>,
    states: HashMap<Labels, SeriesState>,
}

impl Default for PromConverter {
    fn default() -> Self {
        Self::new()
    }
}

impl PromConverter {
    /// A converter that promotes [`PROMOTED_RESOURCE_ATTRIBUTES`], like otel-lgtm.
    pub fn new() -> Self {
        Self {
            promoted: PROMOTED_RESOURCE_ATTRIBUTES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            states: HashMap::new(),
        }
    }

    /// Replaces the list of resource attributes promoted to labels (`job` and `instance` are
    /// always derived).
    #[must_use]
    pub fn with_promoted_resource_attributes<I, S>(mut self, attrs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.promoted = attrs.into_iter().map(Into::into).collect();
        self
    }

    /// Restores the state of one series after a restart: `last` is the last sample stored for
    /// `labels` (a delta series continues from `last.v`; no zero sample is ever emitted at or
    /// before `last.t_ms`).
    pub fn restore(&mut self, labels: Labels, last: Sample) {
        self.states.insert(
            labels,
            SeriesState {
                start_ms: None,
                last_t_ms: last.t_ms,
                total: last.v,
            },
        );
    }

    /// Forgets the state of series whose last sample is older than `t_ms` (call it when the
    /// store evicts them).
    pub fn forget_before(&mut self, t_ms: i64) {
        self.states.retain(|_, s| s.last_t_ms >= t_ms);
    }

    /// Number of series with state.
    pub fn state_len(&self) -> usize {
        self.states.len()
    }

    /// The labels every series of `p` shares (everything but `__name__` and `le`).
    fn base_labels(&self, p: &OtlpPoint<'_>) -> Labels {
        let mut labels = Labels::new();
        for (k, v) in p.attributes {
            let value = v.to_string();
            if value.is_empty() {
                continue;
            }
            labels
                .entry(prom_label_name(k))
                .and_modify(|existing: &mut String| {
                    existing.push(';');
                    existing.push_str(&value);
                })
                .or_insert(value);
        }
        for key in &self.promoted {
            if let Some(v) = p.resource.get(key) {
                let value = v.to_string();
                if !value.is_empty() {
                    labels.entry(prom_label_name(key)).or_insert(value);
                }
            }
        }
        let res = |k: &str| {
            p.resource
                .get(k)
                .map(ToString::to_string)
                .filter(|s| !s.is_empty())
        };
        if let Some(name) = res("service.name") {
            let job = match res("service.namespace") {
                Some(ns) => format!("{ns}/{name}"),
                None => name,
            };
            labels.insert("job".to_string(), job);
        }
        if let Some(instance) = res("service.instance.id") {
            labels.insert("instance".to_string(), instance);
        }
        labels
    }

    /// Converts one point into samples (zero samples first, in time order per series).
    pub fn convert(&mut self, p: &OtlpPoint<'_>) -> Vec<(Labels, Sample)> {
        // u64 nanoseconds / 10^6 < 2^45: always fits i64.
        let to_ms = |ns: u64| i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX);
        let t_ms = to_ms(p.time_unix_nanos);
        let start_ms = (p.start_unix_nanos > 0).then(|| to_ms(p.start_unix_nanos));
        let base = self.base_labels(p);
        let with_name = |name: &str, le: Option<String>| {
            let mut l = base.clone();
            if let Some(le) = le {
                l.insert("le".to_string(), le);
            }
            l.insert("__name__".to_string(), name.to_string());
            l
        };

        // (labels, value, counter-like?)
        let mut values: Vec<(Labels, f64, bool)> = Vec::new();
        let accumulate = !matches!(p.value, PointValue::Gauge { .. }) && p.delta;
        match p.value {
            PointValue::Gauge { value } => {
                let name = prom_metric_name(p.metric_name, p.unit, PromMetricType::Gauge);
                values.push((with_name(&name, None), *value, false));
            }
            PointValue::Sum { value, monotonic } => {
                let kind = if *monotonic {
                    PromMetricType::Counter
                } else {
                    PromMetricType::Gauge
                };
                let name = prom_metric_name(p.metric_name, p.unit, kind);
                values.push((with_name(&name, None), *value, *monotonic));
            }
            PointValue::Histogram {
                count,
                sum,
                bounds,
                bucket_counts,
                ..
            } => {
                let name = prom_metric_name(p.metric_name, p.unit, PromMetricType::Histogram);
                let mut cumulative = 0u64;
                for (i, bound) in bounds.iter().enumerate() {
                    cumulative =
                        cumulative.saturating_add(bucket_counts.get(i).copied().unwrap_or(0));
                    let labels = with_name(&format!("{name}_bucket"), Some(format_float(*bound)));
                    values.push((labels, cumulative as f64, true));
                }
                let inf = with_name(&format!("{name}_bucket"), Some("+Inf".to_string()));
                values.push((inf, *count as f64, true));
                values.push((with_name(&format!("{name}_sum"), None), *sum, true));
                values.push((
                    with_name(&format!("{name}_count"), None),
                    *count as f64,
                    true,
                ));
            }
            // Prometheus' OTLP translation of a summary: one series per quantile (label
            // `quantile`), then `_sum` and `_count`; named like a histogram (unit suffix, no
            // `_total`).
            PointValue::Summary {
                count,
                sum,
                quantiles,
            } => {
                let name = prom_metric_name(p.metric_name, p.unit, PromMetricType::Histogram);
                for q in quantiles {
                    let mut labels = with_name(&name, None);
                    labels.insert("quantile".to_string(), format_float(q.quantile));
                    values.push((labels, q.value, false));
                }
                values.push((with_name(&format!("{name}_sum"), None), *sum, true));
                values.push((
                    with_name(&format!("{name}_count"), None),
                    *count as f64,
                    true,
                ));
            }
            // Without native histograms, an exponential histogram keeps `_sum` and `_count`.
            PointValue::ExponentialHistogram { count, sum, .. } => {
                let name = prom_metric_name(p.metric_name, p.unit, PromMetricType::Histogram);
                values.push((with_name(&format!("{name}_sum"), None), *sum, true));
                values.push((
                    with_name(&format!("{name}_count"), None),
                    *count as f64,
                    true,
                ));
            }
        }

        let mut out = Vec::with_capacity(values.len().saturating_add(4));
        for (labels, value, counter) in values {
            let state = self.states.get(&labels).copied();
            // A delta point no newer than the series' last one is an exporter's retry of a
            // point already added: adding it again would double the total.
            if accumulate && state.is_some_and(|st| t_ms <= st.last_t_ms) {
                continue;
            }
            let zero_at = start_ms.filter(|&s| {
                counter
                    && s < t_ms
                    && state.is_none_or(|st| st.start_ms != Some(s) && s > st.last_t_ms)
                    && (!accumulate || state.is_none())
            });
            if let Some(s) = zero_at {
                out.push((labels.clone(), Sample { t_ms: s, v: 0.0 }));
            }
            let v = if accumulate {
                state.map_or(0.0, |s| s.total) + value
            } else {
                value
            };
            let new_start = if accumulate {
                state.and_then(|s| s.start_ms).or(start_ms)
            } else {
                start_ms
            };
            let last_t_ms = state.map_or(t_ms, |s| s.last_t_ms.max(t_ms));
            out.push((labels.clone(), Sample { t_ms, v }));
            self.states.insert(
                labels,
                SeriesState {
                    start_ms: new_start,
                    last_t_ms,
                    total: v,
                },
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, AttrValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttrValue::Str(v.to_string())))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn point<'a>(
        resource: &'a BTreeMap<String, AttrValue>,
        attributes: &'a BTreeMap<String, AttrValue>,
        name: &'a str,
        unit: &'a str,
        value: &'a PointValue,
        delta: bool,
        start_s: u64,
        time_s: u64,
    ) -> OtlpPoint<'a> {
        OtlpPoint {
            resource,
            metric_name: name,
            unit,
            value,
            delta,
            attributes,
            start_unix_nanos: start_s * S,
            time_unix_nanos: time_s * S,
        }
    }

    fn compact(out: &[(Labels, Sample)]) -> Vec<(String, Option<String>, i64, f64)> {
        out.iter()
            .map(|(l, s)| (l["__name__"].clone(), l.get("le").cloned(), s.t_ms, s.v))
            .collect()
    }

    #[test]
    fn token_histogram_names_labels_and_buckets() {
        let resource = attrs(&[
            ("service.name", "vystak-assistant-agent"),
            ("service.namespace", "vystak"),
            ("service.instance.id", "i-1"),
            ("telemetry.sdk.language", "rust"),
        ]);
        let attributes = attrs(&[
            ("gen_ai.token.type", "input"),
            ("gen_ai.system", "anthropic"),
        ]);
        let value = PointValue::Histogram {
            count: 3,
            sum: 1_500.0,
            bounds: vec![1.0, 1_000.0],
            bucket_counts: vec![0, 2, 1],
            min: None,
            max: None,
        };
        let mut c = PromConverter::new();
        let p = point(
            &resource,
            &attributes,
            "gen_ai.client.token.usage",
            "{token}",
            &value,
            false,
            100,
            110,
        );
        let out = c.convert(&p);
        let labels = &out[0].0;
        assert_eq!(labels["gen_ai_token_type"], "input");
        assert_eq!(labels["gen_ai_system"], "anthropic");
        assert_eq!(labels["service_name"], "vystak-assistant-agent");
        assert_eq!(labels["service_namespace"], "vystak");
        assert_eq!(labels["job"], "vystak/vystak-assistant-agent");
        assert_eq!(labels["instance"], "i-1");
        assert!(!labels.contains_key("telemetry_sdk_language"));
        let n = "gen_ai_client_token_usage";
        let b = |le: &str, t, v| (format!("{n}_bucket"), Some(le.to_string()), t, v);
        // Cumulative buckets: le=1 → 0, le=1000 → 0+2 = 2, +Inf → count 3; each preceded by a
        // zero sample at the start (100 s).
        assert_eq!(
            compact(&out),
            vec![
                b("1", 100_000, 0.0),
                b("1", 110_000, 0.0),
                b("1000", 100_000, 0.0),
                b("1000", 110_000, 2.0),
                b("+Inf", 100_000, 0.0),
                b("+Inf", 110_000, 3.0),
                (format!("{n}_sum"), None, 100_000, 0.0),
                (format!("{n}_sum"), None, 110_000, 1_500.0),
                (format!("{n}_count"), None, 100_000, 0.0),
                (format!("{n}_count"), None, 110_000, 3.0),
            ]
        );
        // Same start again: no new zero sample.
        let p = point(
            &resource,
            &attributes,
            "gen_ai.client.token.usage",
            "{token}",
            &value,
            false,
            100,
            120,
        );
        assert_eq!(c.convert(&p).len(), 5);
        // A restart (new start time after the last sample): zeros again.
        let p = point(
            &resource,
            &attributes,
            "gen_ai.client.token.usage",
            "{token}",
            &value,
            false,
            125,
            130,
        );
        assert_eq!(c.convert(&p).len(), 10);
    }

    #[test]
    fn gauges_and_updown_sums_get_no_zero_and_duration_gets_seconds() {
        let resource = attrs(&[("service.name", "a")]);
        let attributes = attrs(&[]);
        let mut c = PromConverter::new();
        let g = PointValue::Gauge { value: 0.5 };
        let out = c.convert(&point(
            &resource,
            &attributes,
            "cpu.utilization",
            "1",
            &g,
            false,
            1,
            10,
        ));
        assert_eq!(
            compact(&out),
            vec![("cpu_utilization_ratio".into(), None, 10_000, 0.5)]
        );
        let s = PointValue::Sum {
            value: -2.0,
            monotonic: false,
        };
        let out = c.convert(&point(
            &resource,
            &attributes,
            "queue.depth",
            "{item}",
            &s,
            false,
            1,
            10,
        ));
        assert_eq!(
            compact(&out),
            vec![("queue_depth".into(), None, 10_000, -2.0)]
        );
        let h = PointValue::Histogram {
            count: 1,
            sum: 0.2,
            bounds: vec![],
            bucket_counts: vec![1],
            min: None,
            max: None,
        };
        let out = c.convert(&point(
            &resource,
            &attributes,
            "gen_ai.client.operation.duration",
            "s",
            &h,
            false,
            0,
            10,
        ));
        // Start time unknown (0): no zero sample; no bounds: only the +Inf bucket.
        assert_eq!(
            compact(&out),
            vec![
                (
                    "gen_ai_client_operation_duration_seconds_bucket".into(),
                    Some("+Inf".into()),
                    10_000,
                    1.0
                ),
                (
                    "gen_ai_client_operation_duration_seconds_sum".into(),
                    None,
                    10_000,
                    0.2
                ),
                (
                    "gen_ai_client_operation_duration_seconds_count".into(),
                    None,
                    10_000,
                    1.0
                ),
            ]
        );
    }

    #[test]
    fn deltas_accumulate_and_restore() {
        let resource = attrs(&[("service.name", "a")]);
        let attributes = attrs(&[("k", "v")]);
        let mut c = PromConverter::new();
        let d = |v| PointValue::Sum {
            value: v,
            monotonic: true,
        };
        let (v1, v2, v3) = (d(3.0), d(4.0), d(1.0));
        let out = c.convert(&point(&resource, &attributes, "x", "", &v1, true, 50, 60));
        // zero at 50 s, then 0 + 3 = 3 at 60 s
        assert_eq!(
            compact(&out),
            vec![
                ("x_total".into(), None, 50_000, 0.0),
                ("x_total".into(), None, 60_000, 3.0)
            ]
        );
        let out = c.convert(&point(&resource, &attributes, "x", "", &v2, true, 60, 70));
        // 3 + 4 = 7, no zero
        assert_eq!(compact(&out), vec![("x_total".into(), None, 70_000, 7.0)]);
        // A new converter restored from the store continues at 7: 7 + 1 = 8, no zero.
        let labels = out[0].0.clone();
        let mut c2 = PromConverter::new();
        c2.restore(
            labels,
            Sample {
                t_ms: 70_000,
                v: 7.0,
            },
        );
        let out = c2.convert(&point(&resource, &attributes, "x", "", &v3, true, 70, 80));
        assert_eq!(compact(&out), vec![("x_total".into(), None, 80_000, 8.0)]);
    }

    #[test]
    fn restored_cumulative_series_gets_no_zero_in_its_past() {
        let resource = attrs(&[("service.name", "a")]);
        let attributes = attrs(&[]);
        let v = PointValue::Sum {
            value: 9.0,
            monotonic: true,
        };
        let mut c = PromConverter::new();
        let first = c.convert(&point(&resource, &attributes, "x", "", &v, false, 10, 20));
        let labels = first[0].0.clone();
        let mut c2 = PromConverter::new();
        c2.restore(
            labels,
            Sample {
                t_ms: 20_000,
                v: 9.0,
            },
        );
        // Same process, start 10 s < last sample 20 s: only the value.
        let out = c2.convert(&point(&resource, &attributes, "x", "", &v, false, 10, 30));
        assert_eq!(compact(&out), vec![("x_total".into(), None, 30_000, 9.0)]);
    }

    #[test]
    fn colliding_attribute_names_are_joined() {
        let resource = attrs(&[]);
        let attributes = attrs(&[("a.b", "1"), ("a_b", "2")]);
        let v = PointValue::Gauge { value: 1.0 };
        let out =
            PromConverter::new().convert(&point(&resource, &attributes, "g", "", &v, false, 0, 1));
        assert_eq!(out[0].0["a_b"], "1;2");
        assert!(!out[0].0.contains_key("job"));
    }
}
