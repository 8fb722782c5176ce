//! [`QueryResult`] and the JSON of Prometheus' HTTP API.

use serde_json::{json, Map, Value};

use super::{Labels, PromError, Sample, Series};
use crate::otlp::format_float;

/// The value of a query, as Prometheus' HTTP API types it.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult {
    /// `resultType: "vector"`: one sample per series, stamped with the evaluation time.
    Vector(Vec<(Labels, Sample)>),
    /// `resultType: "matrix"`: series of samples (range queries, or a range selector).
    Matrix(Vec<Series>),
    /// `resultType: "scalar"`.
    Scalar(Sample),
    /// `resultType: "string"`: the evaluation time (ms) and the string.
    String(i64, String),
}

/// A timestamp as Prometheus writes it: seconds, with ms precision, as a JSON number.
fn timestamp(t_ms: i64) -> Value {
    if t_ms % 1000 == 0 {
        Value::from(t_ms / 1000)
    } else {
        Value::from(t_ms as f64 / 1000.0)
    }
}

fn point(s: &Sample) -> Value {
    Value::Array(vec![timestamp(s.t_ms), Value::String(format_float(s.v))])
}

fn metric(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

impl QueryResult {
    /// The `data` object of `/api/v1/query` and `/api/v1/query_range`, e.g.
    /// `{"resultType":"vector","result":[{"metric":{…},"value":[1712345678.123,"42"]}]}`.
    ///
    /// ```
    /// use vystak_otel_viewer::query::promql::{QueryResult, Sample};
    /// let r = QueryResult::Scalar(Sample { t_ms: 1_500, v: f64::INFINITY });
    /// assert_eq!(r.to_json().to_string(), r#"{"result":[1.5,"+Inf"],"resultType":"scalar"}"#);
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            QueryResult::Vector(v) => json!({
                "resultType": "vector",
                "result": v.iter().map(|(l, s)| json!({"metric": metric(l), "value": point(s)})).collect::<Vec<_>>(),
            }),
            QueryResult::Matrix(m) => json!({
                "resultType": "matrix",
                "result": m.iter().map(|s| json!({
                    "metric": metric(&s.labels),
                    "values": s.samples.iter().map(point).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }),
            QueryResult::Scalar(s) => json!({"resultType": "scalar", "result": point(s)}),
            QueryResult::String(t, s) => {
                json!({"resultType": "string", "result": [timestamp(*t), s]})
            }
        }
    }

    /// The same `data` object as [`QueryResult::to_json`], serialised straight to a string
    /// (several times faster for large matrices).
    ///
    /// ```
    /// use vystak_otel_viewer::query::promql::{QueryResult, Sample};
    /// let r = QueryResult::Scalar(Sample { t_ms: 1_500, v: 2.0 });
    /// assert_eq!(r.to_json_string(), r.to_json().to_string());
    /// ```
    pub fn to_json_string(&self) -> String {
        use std::fmt::Write as _;
        fn ts(out: &mut String, t_ms: i64) {
            let _ = write!(out, "{}", timestamp(t_ms));
        }
        fn pt(out: &mut String, s: &Sample) {
            out.push('[');
            ts(out, s.t_ms);
            out.push_str(",\"");
            out.push_str(&format_float(s.v));
            out.push_str("\"]");
        }
        fn met(out: &mut String, labels: &Labels) {
            out.push_str("{\"metric\":");
            out.push_str(&metric(labels).to_string());
        }
        let mut out = String::new();
        match self {
            QueryResult::Vector(v) => {
                out.push_str("{\"result\":[");
                for (i, (l, s)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    met(&mut out, l);
                    out.push_str(",\"value\":");
                    pt(&mut out, s);
                    out.push('}');
                }
                out.push_str("],\"resultType\":\"vector\"}");
            }
            QueryResult::Matrix(m) => {
                out.reserve(
                    m.iter()
                        .map(|s| s.samples.len().saturating_mul(24).saturating_add(64))
                        .fold(0usize, usize::saturating_add),
                );
                out.push_str("{\"result\":[");
                for (i, series) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    met(&mut out, &series.labels);
                    out.push_str(",\"values\":[");
                    for (j, s) in series.samples.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        pt(&mut out, s);
                    }
                    out.push_str("]}");
                }
                out.push_str("],\"resultType\":\"matrix\"}");
            }
            QueryResult::Scalar(_) | QueryResult::String(..) => out = self.to_json().to_string(),
        }
        out
    }

    /// The `resultType` string.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryResult::Vector(_) => "vector",
            QueryResult::Matrix(_) => "matrix",
            QueryResult::Scalar(_) => "scalar",
            QueryResult::String(..) => "string",
        }
    }
}

/// `{"status":"success","data":data}`.
pub fn success_json(data: Value) -> Value {
    json!({"status": "success", "data": data})
}

/// `{"status":"error","errorType":"bad_data","error":"…"}`.
///
/// ```
/// use vystak_otel_viewer::query::promql::{error_json, PromError};
/// let j = error_json(&PromError::BadData("oops".into()));
/// assert_eq!(j["errorType"], "bad_data");
/// ```
pub fn error_json(err: &PromError) -> Value {
    json!({"status": "error", "errorType": err.error_type(), "error": err.message()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_and_matrix_shapes() {
        let labels = Labels::from([
            ("__name__".to_string(), "up".to_string()),
            ("job".to_string(), "a".to_string()),
        ]);
        let v = QueryResult::Vector(vec![(
            labels.clone(),
            Sample {
                t_ms: 1_712_345_678_123,
                v: 42.0,
            },
        )]);
        assert_eq!(
            success_json(v.to_json()).to_string(),
            r#"{"data":{"result":[{"metric":{"__name__":"up","job":"a"},"value":[1712345678.123,"42"]}],"resultType":"vector"},"status":"success"}"#
        );
        let m = QueryResult::Matrix(vec![Series {
            labels: Labels::new(),
            samples: vec![
                Sample {
                    t_ms: 1_000,
                    v: 0.25,
                },
                Sample {
                    t_ms: 2_050,
                    v: f64::NAN,
                },
            ],
        }]);
        assert_eq!(
            m.to_json().to_string(),
            r#"{"result":[{"metric":{},"values":[[1,"0.25"],[2.05,"NaN"]]}],"resultType":"matrix"}"#
        );
        assert_eq!(m.to_json_string(), m.to_json().to_string());
        assert_eq!(v.to_json_string(), v.to_json().to_string());
        let s = QueryResult::String(3_000, "hi".into());
        assert_eq!(
            s.to_json().to_string(),
            r#"{"result":[3,"hi"],"resultType":"string"}"#
        );
        let e = error_json(&PromError::Execution("boom".into()));
        assert_eq!(
            e.to_string(),
            r#"{"error":"boom","errorType":"execution","status":"error"}"#
        );
        assert_eq!(
            QueryResult::Vector(vec![]).to_json().to_string(),
            r#"{"result":[],"resultType":"vector"}"#
        );
    }
}
