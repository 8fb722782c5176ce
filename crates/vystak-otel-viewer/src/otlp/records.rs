//! OTLP protobuf → plain records.

use std::collections::BTreeMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, AggregationTemporality};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status};

use crate::model::record::{
    AttrValue, EventRecord, IncomingPoint, LinkRecord, LogRecord, MetricPoint, PointValue,
    QuantileValue, SharedAttributes, SpanKind, SpanRecord, SpanStatus,
};

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

fn value(v: Option<&AnyValue>) -> AttrValue {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.clone()),
        Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(*b),
        Some(any_value::Value::IntValue(i)) => AttrValue::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => AttrValue::Double(*d),
        Some(any_value::Value::ArrayValue(a)) => {
            AttrValue::Array(a.values.iter().map(|v| value(Some(v))).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => AttrValue::Map(attributes(&kv.values)),
        Some(any_value::Value::BytesValue(b)) => AttrValue::Bytes(b.clone()),
        Some(any_value::Value::StringValueStrindex(i)) => AttrValue::Int(i64::from(*i)),
        None => AttrValue::Str(String::new()),
    }
}

pub(crate) fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, AttrValue> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), value(kv.value.as_ref())))
        .collect()
}

/// The resource's `service.name` and its attributes, converted once and shared by every record
/// of the resource.
fn resource_parts(resource: Option<&Resource>) -> (String, SharedAttributes) {
    let attrs: SharedAttributes = Arc::new(
        resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default(),
    );
    let service = attrs
        .get("service.name")
        .and_then(AttrValue::as_str)
        .unwrap_or_default()
        .to_owned();
    (service, attrs)
}

fn kind(k: i32) -> SpanKind {
    match span::SpanKind::try_from(k) {
        Ok(span::SpanKind::Internal) => SpanKind::Internal,
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

/// What a conversion kept and what it rejected (the OTLP partial-success fields).
#[derive(Debug)]
pub(crate) struct Converted<T> {
    pub(crate) items: Vec<T>,
    pub(crate) rejected: i64,
    pub(crate) error_message: String,
}

impl<T> Default for Converted<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            rejected: 0,
            error_message: String::new(),
        }
    }
}

impl<T> Converted<T> {
    fn reject(&mut self, why: String) {
        self.rejected = self.rejected.saturating_add(1);
        if self.error_message.is_empty() {
            self.error_message = why;
        }
    }
}

/// One day in nanoseconds.
const DAY_NANOS: u64 = 86_400_000_000_000;

/// The times a record may carry: from 1970-01-02 to a day from now. Anything outside is a clock
/// or encoding error of the sender; stored, it would poison retention, ordering and the samples'
/// age bound (a point stamped 2^63 ns once made every later sample be dropped), so it is rejected
/// in the partial-success reply instead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeWindow {
    min: u64,
    max: u64,
}

impl TimeWindow {
    pub(crate) fn around_now() -> Self {
        Self {
            min: DAY_NANOS,
            max: crate::storage::now_unix_nanos().saturating_add(DAY_NANOS),
        }
    }

    /// Why `nanos` is not a usable time, if it is not; `what` names the record (called only
    /// then: nothing is formatted for a good record).
    fn check(&self, nanos: u64, what: impl FnOnce() -> String) -> Option<String> {
        (!(self.min..=self.max).contains(&nanos)).then(|| {
            format!(
                "{}: time {nanos} ns is outside 1970-01-02 .. now + 1 day (Unix nanoseconds \
                 expected)",
                what()
            )
        })
    }
}

fn is_valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

/// Why a span's ids are unusable, if they are.
fn invalid_span_ids(s: &opentelemetry_proto::tonic::trace::v1::Span) -> Option<String> {
    if !is_valid_id(&s.trace_id, 16) {
        return Some(format!(
            "span {:?}: invalid trace id {:?} (must be 16 bytes, not all zero)",
            s.name,
            hex(&s.trace_id)
        ));
    }
    if !is_valid_id(&s.span_id, 8) {
        return Some(format!(
            "span {:?}: invalid span id {:?} (must be 8 bytes, not all zero)",
            s.name,
            hex(&s.span_id)
        ));
    }
    if !s.parent_span_id.is_empty() && s.parent_span_id.len() != 8 {
        return Some(format!(
            "span {:?}: invalid parent span id {:?} (must be empty or 8 bytes)",
            s.name,
            hex(&s.parent_span_id)
        ));
    }
    None
}

/// Converts a trace export request into span records; spans with invalid ids are rejected.
pub(crate) fn spans(request: &ExportTraceServiceRequest) -> Converted<SpanRecord> {
    let mut converted = Converted::default();
    let window = TimeWindow::around_now();
    for rs in &request.resource_spans {
        let (service_name, resource) = resource_parts(rs.resource.as_ref());
        for ss in &rs.scope_spans {
            let scope_name = ss
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for s in &ss.spans {
                if let Some(why) = invalid_span_ids(s)
                    .or_else(|| {
                        window.check(s.start_time_unix_nano, || {
                            format!("span {:?} start", s.name)
                        })
                    })
                    .or_else(|| {
                        window.check(s.end_time_unix_nano, || format!("span {:?} end", s.name))
                    })
                {
                    converted.reject(why);
                    continue;
                }
                let out = &mut converted.items;
                let status = match s.status.as_ref() {
                    Some(st) if st.code == status::StatusCode::Error as i32 => SpanStatus::Error {
                        message: st.message.clone(),
                    },
                    Some(st) if st.code == status::StatusCode::Ok as i32 => SpanStatus::Ok,
                    _ => SpanStatus::Unset,
                };
                let parent = (!s.parent_span_id.is_empty()
                    && s.parent_span_id.iter().any(|b| *b != 0))
                .then(|| hex(&s.parent_span_id));
                out.push(SpanRecord {
                    service_name: service_name.clone(),
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: parent,
                    name: s.name.clone(),
                    kind: kind(s.kind),
                    status,
                    start_unix_nanos: s.start_time_unix_nano,
                    end_unix_nanos: s.end_time_unix_nano,
                    attributes: attributes(&s.attributes),
                    events: s
                        .events
                        .iter()
                        .map(|e| EventRecord {
                            name: e.name.clone(),
                            time_unix_nanos: e.time_unix_nano,
                            attributes: attributes(&e.attributes),
                        })
                        .collect(),
                    links: s
                        .links
                        .iter()
                        .map(|l| LinkRecord {
                            trace_id: hex(&l.trace_id),
                            span_id: hex(&l.span_id),
                            attributes: attributes(&l.attributes),
                        })
                        .collect(),
                });
            }
        }
    }
    converted
}

/// Converts a logs export request into log records; records with malformed trace/span ids are
/// rejected.
pub(crate) fn logs(request: &ExportLogsServiceRequest) -> Converted<LogRecord> {
    let mut converted = Converted::default();
    let window = TimeWindow::around_now();
    for rl in &request.resource_logs {
        let (service_name, resource) = resource_parts(rl.resource.as_ref());
        for sl in &rl.scope_logs {
            let scope_name = sl
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for r in &sl.log_records {
                let trace_ok = r.trace_id.is_empty() || r.trace_id.len() == 16;
                let span_ok = r.span_id.is_empty() || r.span_id.len() == 8;
                if !trace_ok || !span_ok {
                    converted.reject(format!(
                        "log record: invalid trace id {:?} or span id {:?}",
                        hex(&r.trace_id),
                        hex(&r.span_id)
                    ));
                    continue;
                }
                // Zero means "unknown" for both times (the observed time then stands in).
                let bad_time = [
                    ("time", r.time_unix_nano),
                    ("observed time", r.observed_time_unix_nano),
                ]
                .into_iter()
                .filter(|(_, t)| *t != 0)
                .find_map(|(what, t)| window.check(t, || format!("log record {what}")));
                if let Some(why) = bad_time {
                    converted.reject(why);
                    continue;
                }
                let id = |b: &[u8]| b.iter().any(|x| *x != 0).then(|| hex(b));
                converted.items.push(LogRecord {
                    service_name: service_name.clone(),
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    time_unix_nanos: r.time_unix_nano,
                    observed_unix_nanos: r.observed_time_unix_nano,
                    severity_number: r.severity_number,
                    severity_text: r.severity_text.clone(),
                    body: value(r.body.as_ref()),
                    attributes: attributes(&r.attributes),
                    trace_id: id(&r.trace_id),
                    span_id: id(&r.span_id),
                    event_name: r.event_name.clone(),
                });
            }
        }
    }
    converted
}

/// Converts a metrics export request into metric points (one per data point). Points with a time
/// outside [`TimeWindow`] are rejected, with the reason in the partial-success message; an
/// exponential histogram is kept without its buckets, which the message says (not rejected).
pub(crate) fn points(request: &ExportMetricsServiceRequest) -> Converted<IncomingPoint> {
    let mut converted = Converted::default();
    let window = TimeWindow::around_now();
    let mut refused = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let out = &mut converted.items;
    for rm in &request.resource_metrics {
        let (service_name, resource) = resource_parts(rm.resource.as_ref());
        for sm in &rm.scope_metrics {
            let scope_name = sm
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for m in &sm.metrics {
                let mut push =
                    |attrs: &[KeyValue], start: u64, time: u64, value: PointValue, delta: bool| {
                        if let Some(why) =
                            window.check(time, || format!("metric {:?} point", m.name))
                        {
                            refused.push(why);
                            return;
                        }
                        out.push(IncomingPoint {
                            point: MetricPoint {
                                service_name: service_name.clone(),
                                resource: resource.clone(),
                                scope_name: scope_name.clone(),
                                metric_name: m.name.clone(),
                                unit: m.unit.clone(),
                                description: m.description.clone(),
                                attributes: attributes(attrs),
                                value,
                                time_unix_nanos: time,
                            },
                            delta,
                            start_unix_nanos: start,
                        });
                    };
                let number =
                    |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| match p.value {
                        Some(number_data_point::Value::AsDouble(d)) => d,
                        Some(number_data_point::Value::AsInt(i)) => i as f64,
                        None => 0.0,
                    };
                match &m.data {
                    Some(metric::Data::Histogram(h)) => {
                        let delta =
                            h.aggregation_temporality == AggregationTemporality::Delta as i32;
                        for p in &h.data_points {
                            push(
                                &p.attributes,
                                p.start_time_unix_nano,
                                p.time_unix_nano,
                                PointValue::Histogram {
                                    count: p.count,
                                    sum: p.sum.unwrap_or_default(),
                                    bounds: p.explicit_bounds.clone(),
                                    bucket_counts: p.bucket_counts.clone(),
                                    min: p.min,
                                    max: p.max,
                                },
                                delta,
                            );
                        }
                    }
                    Some(metric::Data::Sum(s)) => {
                        let delta =
                            s.aggregation_temporality == AggregationTemporality::Delta as i32;
                        for p in &s.data_points {
                            push(
                                &p.attributes,
                                p.start_time_unix_nano,
                                p.time_unix_nano,
                                PointValue::Sum {
                                    value: number(p),
                                    monotonic: s.is_monotonic,
                                },
                                delta,
                            );
                        }
                    }
                    Some(metric::Data::Gauge(g)) => {
                        for p in &g.data_points {
                            push(
                                &p.attributes,
                                p.start_time_unix_nano,
                                p.time_unix_nano,
                                PointValue::Gauge { value: number(p) },
                                false,
                            );
                        }
                    }
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        let delta =
                            h.aggregation_temporality == AggregationTemporality::Delta as i32;
                        for p in &h.data_points {
                            push(
                                &p.attributes,
                                p.start_time_unix_nano,
                                p.time_unix_nano,
                                PointValue::ExponentialHistogram {
                                    count: p.count,
                                    sum: p.sum.unwrap_or_default(),
                                    min: p.min,
                                    max: p.max,
                                },
                                delta,
                            );
                        }
                        if !h.data_points.is_empty() {
                            warnings.push(format!(
                                "metric {:?}: exponential histogram buckets are not stored (its \
                                 count, sum, min and max are: {}_sum and _count in PromQL)",
                                m.name, m.name
                            ));
                        }
                    }
                    Some(metric::Data::Summary(h)) => {
                        for p in &h.data_points {
                            push(
                                &p.attributes,
                                p.start_time_unix_nano,
                                p.time_unix_nano,
                                PointValue::Summary {
                                    count: p.count,
                                    sum: p.sum,
                                    quantiles: p
                                        .quantile_values
                                        .iter()
                                        .map(|q| QuantileValue {
                                            quantile: q.quantile,
                                            value: q.value,
                                        })
                                        .collect(),
                                },
                                false,
                            );
                        }
                    }
                    None => {}
                }
            }
        }
    }
    for why in refused {
        converted.reject(why);
    }
    // A warning does not count as a rejection (the OTLP specification allows a partial-success
    // message with zero rejected): it follows any rejection's reason.
    if let Some(first) = warnings.into_iter().next() {
        if converted.error_message.is_empty() {
            converted.error_message = first;
        } else {
            converted.error_message = format!("{}; {first}", converted.error_message);
        }
    }
    converted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0x00, 0x0a, 0xff]), "000aff");
    }
}
