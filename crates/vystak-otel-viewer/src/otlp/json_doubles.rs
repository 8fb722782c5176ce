//! OTLP/JSON doubles written as `"NaN"`, `"Infinity"` and `"-Infinity"`.
//!
//! The proto3 JSON mapping writes a non-finite `double` as one of those strings, and OTLP/JSON
//! follows it; upstream `opentelemetry-proto` (0.33) reads a double only from a JSON number
//! (except a summary's quantile values), so such a batch was rejected whole with `400`
//! (upstream: open-telemetry/opentelemetry-rust#3442, fix proposed in #3496).
//!
//! The workaround, used only when a body contains one of the three strings: the body is read as
//! a JSON tree, each such string in a double field (`doubleValue`, `asDouble`, `sum`, `min`,
//! `max`, `zeroThreshold`, `quantile`, `value`, `explicitBounds`) becomes a stand-in number,
//! the request is decoded from the tree, and the stand-ins are turned back into NaN and the
//! infinities. The stand-ins are the three smallest positive subnormal doubles (`5e-324`,
//! `1e-323`, `1.5e-323`): a body that carries one of the strings *and* one of those exact
//! values would read that value as non-finite too.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, number_data_point, Exemplar};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The JSON names of OTLP's `double` fields.
const DOUBLE_FIELDS: [&str; 9] = [
    "doubleValue",
    "asDouble",
    "sum",
    "min",
    "max",
    "zeroThreshold",
    "quantile",
    "value",
    "explicitBounds",
];

/// (JSON string, value, stand-in).
const SPECIALS: [(&str, f64, u64); 3] = [
    ("NaN", f64::NAN, 1),
    ("Infinity", f64::INFINITY, 2),
    ("-Infinity", f64::NEG_INFINITY, 3),
];

/// `true` when `body` may hold a non-finite double as a string (a cheap byte search).
pub(crate) fn may_have_specials(body: &[u8]) -> bool {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    has(b"\"NaN\"") || has(b"Infinity\"")
}

/// A request type whose doubles can be walked to restore the stand-ins.
pub(crate) trait Doubles {
    /// Calls `f` on every `double` of the request.
    fn for_each_double(&mut self, f: &mut dyn FnMut(&mut f64));
}

/// Decodes `body` as `T`, reading `"NaN"`, `"Infinity"` and `"-Infinity"` in double fields.
pub(crate) fn decode<T: DeserializeOwned + Doubles>(body: &[u8]) -> Result<T, serde_json::Error> {
    let mut tree: Value = serde_json::from_slice(body)?;
    replace_specials(&mut tree);
    let mut request: T = serde_json::from_value(tree)?;
    request.for_each_double(&mut |d| {
        if let Some((_, value, _)) = SPECIALS.iter().find(|(_, _, bits)| d.to_bits() == *bits) {
            *d = *value;
        }
    });
    Ok(request)
}

/// Replaces the special strings in double fields with their stand-ins (an explicit stack: no
/// recursion on the client's nesting).
fn replace_specials(tree: &mut Value) {
    let stand_in = |v: &mut Value| {
        if let Value::String(s) = v {
            if let Some((_, _, bits)) = SPECIALS.iter().find(|(name, _, _)| name == s) {
                if let Some(n) = serde_json::Number::from_f64(f64::from_bits(*bits)) {
                    *v = Value::Number(n);
                }
            }
        }
    };
    let mut stack = vec![tree];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if DOUBLE_FIELDS.contains(&key.as_str()) {
                        match &mut *child {
                            Value::Array(items) => items.iter_mut().for_each(stand_in),
                            other => stand_in(other),
                        }
                    }
                    stack.push(child);
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// Every double in these attributes, nested arrays and maps included.
fn attributes(list: &mut [KeyValue], f: &mut dyn FnMut(&mut f64)) {
    any_values(list.iter_mut().filter_map(|kv| kv.value.as_mut()), f);
}

/// Every double in these values, nested arrays and maps included (explicit stack).
fn any_values<'a>(roots: impl IntoIterator<Item = &'a mut AnyValue>, f: &mut dyn FnMut(&mut f64)) {
    let mut stack: Vec<&mut AnyValue> = roots.into_iter().collect();
    while let Some(v) = stack.pop() {
        match v.value.as_mut() {
            Some(any_value::Value::DoubleValue(d)) => f(d),
            Some(any_value::Value::ArrayValue(a)) => stack.extend(a.values.iter_mut()),
            Some(any_value::Value::KvlistValue(l)) => {
                stack.extend(l.values.iter_mut().filter_map(|kv| kv.value.as_mut()));
            }
            _ => {}
        }
    }
}

fn exemplars(list: &mut [Exemplar], f: &mut dyn FnMut(&mut f64)) {
    for e in list {
        if let Some(exemplar::Value::AsDouble(d)) = e.value.as_mut() {
            f(d);
        }
        attributes(&mut e.filtered_attributes, f);
    }
}

impl Doubles for ExportTraceServiceRequest {
    fn for_each_double(&mut self, f: &mut dyn FnMut(&mut f64)) {
        for rs in &mut self.resource_spans {
            if let Some(r) = rs.resource.as_mut() {
                attributes(&mut r.attributes, f);
            }
            for ss in &mut rs.scope_spans {
                if let Some(scope) = ss.scope.as_mut() {
                    attributes(&mut scope.attributes, f);
                }
                for span in &mut ss.spans {
                    attributes(&mut span.attributes, f);
                    for e in &mut span.events {
                        attributes(&mut e.attributes, f);
                    }
                    for l in &mut span.links {
                        attributes(&mut l.attributes, f);
                    }
                }
            }
        }
    }
}

impl Doubles for ExportLogsServiceRequest {
    fn for_each_double(&mut self, f: &mut dyn FnMut(&mut f64)) {
        for rl in &mut self.resource_logs {
            if let Some(r) = rl.resource.as_mut() {
                attributes(&mut r.attributes, f);
            }
            for sl in &mut rl.scope_logs {
                if let Some(scope) = sl.scope.as_mut() {
                    attributes(&mut scope.attributes, f);
                }
                for log in &mut sl.log_records {
                    attributes(&mut log.attributes, f);
                    any_values(log.body.as_mut(), f);
                }
            }
        }
    }
}

impl Doubles for ExportMetricsServiceRequest {
    fn for_each_double(&mut self, f: &mut dyn FnMut(&mut f64)) {
        for rm in &mut self.resource_metrics {
            if let Some(r) = rm.resource.as_mut() {
                attributes(&mut r.attributes, f);
            }
            for sm in &mut rm.scope_metrics {
                if let Some(scope) = sm.scope.as_mut() {
                    attributes(&mut scope.attributes, f);
                }
                for m in &mut sm.metrics {
                    metric_doubles(m.data.as_mut(), f);
                }
            }
        }
    }
}

fn metric_doubles(data: Option<&mut metric::Data>, f: &mut dyn FnMut(&mut f64)) {
    let number_points =
        |points: &mut [opentelemetry_proto::tonic::metrics::v1::NumberDataPoint],
         f: &mut dyn FnMut(&mut f64)| {
            for p in points {
                if let Some(number_data_point::Value::AsDouble(d)) = p.value.as_mut() {
                    f(d);
                }
                attributes(&mut p.attributes, f);
                exemplars(&mut p.exemplars, f);
            }
        };
    match data {
        Some(metric::Data::Gauge(g)) => number_points(&mut g.data_points, f),
        Some(metric::Data::Sum(s)) => number_points(&mut s.data_points, f),
        Some(metric::Data::Histogram(h)) => {
            for p in &mut h.data_points {
                p.sum
                    .iter_mut()
                    .chain(&mut p.min)
                    .chain(&mut p.max)
                    .for_each(&mut *f);
                p.explicit_bounds.iter_mut().for_each(&mut *f);
                attributes(&mut p.attributes, f);
                exemplars(&mut p.exemplars, f);
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for p in &mut h.data_points {
                p.sum
                    .iter_mut()
                    .chain(&mut p.min)
                    .chain(&mut p.max)
                    .for_each(&mut *f);
                f(&mut p.zero_threshold);
                attributes(&mut p.attributes, f);
                exemplars(&mut p.exemplars, f);
            }
        }
        Some(metric::Data::Summary(s)) => {
            for p in &mut s.data_points {
                f(&mut p.sum);
                for q in &mut p.quantile_values {
                    f(&mut q.quantile);
                    f(&mut q.value);
                }
                attributes(&mut p.attributes, f);
            }
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_strings_in_double_fields_become_non_finite_and_strings_stay_strings() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202","name":"s","attributes":[
            {"key":"a","value":{"doubleValue":"NaN"}},
            {"key":"b","value":{"doubleValue":"Infinity"}},
            {"key":"c","value":{"arrayValue":{"values":[{"doubleValue":"-Infinity"},{"doubleValue":1.5}]}}},
            {"key":"d","value":{"stringValue":"NaN"}}]}]}]}]}"#;
        assert!(may_have_specials(body));
        let r: ExportTraceServiceRequest = decode(body).unwrap();
        let attrs = &r.resource_spans[0].scope_spans[0].spans[0].attributes;
        let double = |i: usize| match attrs[i].value.as_ref().unwrap().value.as_ref().unwrap() {
            any_value::Value::DoubleValue(d) => *d,
            other => panic!("{other:?}"),
        };
        assert!(double(0).is_nan());
        assert_eq!(double(1), f64::INFINITY);
        let Some(any_value::Value::ArrayValue(a)) = attrs[2].value.as_ref().unwrap().value.as_ref()
        else {
            panic!()
        };
        assert_eq!(
            a.values[0].value,
            Some(any_value::Value::DoubleValue(f64::NEG_INFINITY))
        );
        assert_eq!(a.values[1].value, Some(any_value::Value::DoubleValue(1.5)));
        assert_eq!(
            attrs[3].value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("NaN".into()))
        );
    }

    #[test]
    fn a_log_body_double_is_read_too() {
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"body":{"arrayValue":{"values":[{"doubleValue":"-Infinity"}]}}}]}]}]}"#;
        let r: ExportLogsServiceRequest = decode(body).unwrap();
        let log = &r.resource_logs[0].scope_logs[0].log_records[0];
        let Some(any_value::Value::ArrayValue(a)) = log.body.as_ref().unwrap().value.as_ref()
        else {
            panic!()
        };
        assert_eq!(
            a.values[0].value,
            Some(any_value::Value::DoubleValue(f64::NEG_INFINITY))
        );
    }
}
