//! The rest of the Prometheus HTTP API that Grafana and the Prometheus UI call, in Prometheus'
//! shapes (`web/api/v1/api.go`, `translate_ast.go`): `query_exemplars` (no exemplars are
//! stored: empty), `format_query`, `parse_query`, `status/runtimeinfo`, and `targets`,
//! `rules`, `alerts` (this backend scrapes and evaluates nothing: empty).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use promql_parser::label::MatchOp as ParserMatchOp;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{
    AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};
use serde_json::{json, Value};

use super::prom::{run, success, time_param, ApiError, Params, PromState, Reply, DEFAULT_TIMEOUT};
use crate::query::promql::{self as engine, PromError};

/// The `query` parameter, or Prometheus' error for its absence.
fn query_param(params: &Params) -> Result<String, ApiError> {
    params
        .get("query")
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": unknown position: parse error: no expression found in input"))
}

/// Parses `query` on a query thread (the parser recurses on nesting), then answers `f(expr)`.
async fn with_parsed(
    state: &PromState,
    params: &Params,
    f: impl FnOnce(&Expr) -> Value + Send + 'static,
) -> Response {
    let q = match query_param(params) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    run(state, DEFAULT_TIMEOUT, move |_, _| {
        let expr = engine::parse_expr(&q).map_err(|e| {
            PromError::BadData(format!("invalid parameter \"query\": {}", e.message()))
        })?;
        let data = f(&expr);
        drop(expr);
        Ok(Reply::Data(data))
    })
    .await
}

/// `GET|POST /api/v1/format_query`: the query, pretty-printed as Prometheus' `Pretty(0)`.
pub(super) async fn format_query(
    State(state): State<PromState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    with_parsed(&state, &params, |e| Value::String(e.prettify())).await
}

/// `GET|POST /api/v1/parse_query`: the query's syntax tree as Prometheus' `translateAST`.
pub(super) async fn parse_query(
    State(state): State<PromState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    with_parsed(&state, &params, translate).await
}

/// `GET|POST /api/v1/query_exemplars`: the window and the query are checked as Prometheus
/// does; no exemplars are stored, so the answer is `[]` (`null` for a query without a selector).
pub(super) async fn query_exemplars(
    State(state): State<PromState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    let window = (|| {
        let start = time_param(&params, "start", i64::MIN)
            .map_err(|_| ApiError::bad_data("invalid parameter \"start\": cannot parse"))?;
        let end = time_param(&params, "end", i64::MAX)
            .map_err(|_| ApiError::bad_data("invalid parameter \"end\": cannot parse"))?;
        if end < start {
            return Err(ApiError::bad_data(
                "end timestamp must not be before start timestamp",
            ));
        }
        Ok(())
    })();
    if let Err(e) = window {
        return e.into_response();
    }
    with_parsed(&state, &params, |e| {
        if has_selector(e) {
            json!([])
        } else {
            Value::Null
        }
    })
    .await
}

fn has_selector(expr: &Expr) -> bool {
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        if matches!(e, Expr::VectorSelector(_) | Expr::MatrixSelector(_)) {
            return true;
        }
        stack.extend(engine::children(e));
    }
    false
}

/// `GET /api/v1/status/runtimeinfo`, with this process' facts where Prometheus reports Go's.
pub(super) async fn runtime_info(State(state): State<PromState>) -> Response {
    let rfc3339 = |t: std::time::SystemTime| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339();
    let retention = state
        .store
        .retention()
        .map(|d| format!("{}s", d.as_secs()))
        .unwrap_or_else(|| "unlimited".into());
    success(json!({
        "startTime": rfc3339(state.started),
        "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
        "hostname": std::env::var("HOSTNAME").unwrap_or_default(),
        "serverTime": rfc3339(std::time::SystemTime::now()),
        "reloadConfigSuccess": true,
        "lastConfigTime": rfc3339(state.started),
        "corruptionCount": 0,
        "goroutineCount": 0,
        "GOMAXPROCS": std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        "GOMEMLIMIT": i64::MAX,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": retention,
    }))
}

/// `GET /api/v1/targets`: nothing is scraped.
pub(super) async fn targets() -> Response {
    success(json!({ "activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {} }))
}

/// `GET /api/v1/rules`: no rules are evaluated.
pub(super) async fn rules() -> Response {
    success(json!({ "groups": [] }))
}

/// `GET /api/v1/alerts`: no alerts fire.
pub(super) async fn alerts() -> Response {
    success(json!({ "alerts": [] }))
}

fn value_type(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "vector",
        ValueType::Scalar => "scalar",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}

#[allow(clippy::cast_possible_truncation)]
fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => millis(*d),
        Some(Offset::Neg(d)) => millis(*d).saturating_neg(),
    }
}

fn at_fields(at: &Option<AtModifier>) -> (Value, Value) {
    match at {
        None => (Value::Null, Value::Null),
        Some(AtModifier::Start) => (Value::Null, json!("start")),
        Some(AtModifier::End) => (Value::Null, json!("end")),
        Some(AtModifier::At(t)) => {
            let ms = match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => millis(d),
                Err(e) => millis(e.duration()).saturating_neg(),
            };
            (json!(ms), Value::Null)
        }
    }
}

fn matchers(vs: &VectorSelector) -> Value {
    let mut out: Vec<Value> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| {
            let kind = match &m.op {
                ParserMatchOp::Equal => "=",
                ParserMatchOp::NotEqual => "!=",
                ParserMatchOp::Re(_) => "=~",
                ParserMatchOp::NotRe(_) => "!~",
            };
            json!({ "name": m.name, "value": m.value, "type": kind })
        })
        .collect();
    if let Some(name) = &vs.name {
        out.push(json!({ "name": "__name__", "value": name, "type": "=" }));
    }
    Value::Array(out)
}

fn is_vector(e: &Expr) -> bool {
    matches!(e.value_type(), ValueType::Vector)
}

/// Prometheus' `translateAST`. The tree is at most `MAX_EXPRESSION_DEPTH` deep (the parser
/// adapter refuses deeper ones), and this runs on a query thread.
fn translate(expr: &Expr) -> Value {
    match expr {
        Expr::Aggregate(a) => {
            let (grouping, without) = match &a.modifier {
                None => (Vec::new(), false),
                Some(LabelModifier::Include(l)) => (l.labels.clone(), false),
                Some(LabelModifier::Exclude(l)) => (l.labels.clone(), true),
            };
            json!({
                "type": "aggregation",
                "op": a.op.to_string(),
                "expr": translate(&a.expr),
                "param": a.param.as_deref().map_or(Value::Null, translate),
                "grouping": grouping,
                "without": without,
            })
        }
        Expr::Binary(b) => {
            let matching = if is_vector(&b.lhs) && is_vector(&b.rhs) {
                let (card, include) = match b.modifier.as_ref().map(|m| &m.card) {
                    None | Some(VectorMatchCardinality::OneToOne) => {
                        if b.op.is_set_operator() {
                            ("many-to-many", Vec::new())
                        } else {
                            ("one-to-one", Vec::new())
                        }
                    }
                    Some(VectorMatchCardinality::ManyToOne(l)) => ("many-to-one", l.labels.clone()),
                    Some(VectorMatchCardinality::OneToMany(l)) => ("one-to-many", l.labels.clone()),
                    Some(VectorMatchCardinality::ManyToMany) => ("many-to-many", Vec::new()),
                };
                let (labels, on) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                    None => (Vec::new(), false),
                    Some(LabelModifier::Include(l)) => (l.labels.clone(), true),
                    Some(LabelModifier::Exclude(l)) => (l.labels.clone(), false),
                };
                json!({
                    "card": card,
                    "labels": labels,
                    "on": on,
                    "include": include,
                    "fillValues": { "lhs": null, "rhs": null },
                })
            } else {
                Value::Null
            };
            json!({
                "type": "binaryExpr",
                "op": b.op.to_string(),
                "lhs": translate(&b.lhs),
                "rhs": translate(&b.rhs),
                "matching": matching,
                "bool": b.return_bool(),
            })
        }
        Expr::Call(c) => json!({
            "type": "call",
            "func": {
                "name": c.func.name,
                "argTypes": c.func.arg_types.iter().map(|t| value_type(*t)).collect::<Vec<_>>(),
                "variadic": c.func.variadic,
                "returnType": value_type(c.func.return_type),
            },
            "args": c.args.args.iter().map(|a| translate(a)).collect::<Vec<_>>(),
        }),
        Expr::MatrixSelector(m) => {
            let (timestamp, start_or_end) = at_fields(&m.vs.at);
            json!({
                "type": "matrixSelector",
                "name": m.vs.name.clone().unwrap_or_default(),
                "range": millis(m.range),
                "rangeExpr": null,
                "offset": offset_ms(&m.vs.offset),
                "offsetExpr": null,
                "matchers": matchers(&m.vs),
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
                "anchored": false,
                "smoothed": false,
            })
        }
        Expr::Subquery(s) => {
            let (timestamp, start_or_end) = at_fields(&s.at);
            json!({
                "type": "subquery",
                "expr": translate(&s.expr),
                "range": millis(s.range),
                "rangeExpr": null,
                "offset": offset_ms(&s.offset),
                "offsetExpr": null,
                "step": s.step.map_or(0, millis),
                "stepExpr": null,
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
            })
        }
        Expr::NumberLiteral(n) => json!({
            "type": "numberLiteral",
            "val": engine::format_float(n.val),
        }),
        Expr::Paren(p) => json!({ "type": "parenExpr", "expr": translate(&p.expr) }),
        Expr::StringLiteral(s) => json!({ "type": "stringLiteral", "val": s.val }),
        Expr::Unary(u) => json!({ "type": "unaryExpr", "op": "-", "expr": translate(&u.expr) }),
        Expr::VectorSelector(vs) => {
            let (timestamp, start_or_end) = at_fields(&vs.at);
            json!({
                "type": "vectorSelector",
                "name": vs.name.clone().unwrap_or_default(),
                "offset": offset_ms(&vs.offset),
                "offsetExpr": null,
                "matchers": matchers(vs),
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
                "anchored": false,
                "smoothed": false,
            })
        }
        Expr::Extension(_) => Value::Null,
    }
}
