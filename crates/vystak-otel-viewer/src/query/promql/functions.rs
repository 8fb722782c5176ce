//! Function calls: the dispatch, and the functions of instant vectors and scalars, ported from
//! Prometheus 3.x' `promql/functions.go` (math, trigonometry, `clamp*`, `round`, `sgn`,
//! `timestamp`, `time`, `vector`, `scalar`, `absent`, `sort*`, the date functions). Range-vector
//! functions are in `range_functions`, label rewriting in `label_functions`, and
//! `histogram_quantile` in `histogram`. Native-histogram functions answer that native
//! histograms are not stored.

use chrono::{DateTime, Datelike, Timelike};
use promql_parser::parser::{Call, Expr};

use super::eval::{merge_same_labels, Ctx, StepSeries, Val};
use super::label_functions::absent_labels_of;
use super::range_functions::{is_range_function, scalar_arg};
use super::{histogram, label_functions, range_functions, Labels, PromError};

/// Evaluates a function call.
pub(crate) fn call(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let name = call.func.name;
    if call.func.experimental && !ctx.experimental {
        return Err(PromError::BadData(format!(
            "function {name:?} is not enabled"
        )));
    }
    let args = &call.args.args;
    if is_range_function(name) {
        return range_functions::call(ctx, call);
    }
    match name {
        "histogram_quantile" => histogram::histogram_quantile(ctx, call),
        "histogram_fraction" => histogram::histogram_fraction(ctx, call),
        "histogram_avg"
        | "histogram_count"
        | "histogram_sum"
        | "histogram_stddev"
        | "histogram_stdvar"
        | "histogram_quantiles" => Err(PromError::BadData(format!(
            "{name}() reads native histograms, which this viewer does not store (OTLP \
                 exponential histograms keep only _sum and _count); use histogram_quantile() \
                 or histogram_fraction() over classic _bucket series"
        ))),
        "label_replace" | "label_join" => label_functions::call(ctx, call),
        "time" => Ok(Val::Scalar(ctx.steps.iter().map(|&t| seconds(t)).collect())),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; ctx.n()])),
        "vector" => {
            let v = scalar_arg(ctx, &args[0], name)?;
            Ok(Val::Vector(vec![StepSeries {
                labels: Labels::new(),
                values: v.into_iter().map(Some).collect(),
            }]))
        }
        "scalar" => {
            let input = vector_arg(ctx, &args[0], name)?;
            let values = (0..ctx.n())
                .map(|step| {
                    let mut present = input.iter().filter_map(|s| s.values[step]);
                    match (present.next(), present.next()) {
                        (Some(v), None) => v,
                        _ => f64::NAN,
                    }
                })
                .collect();
            Ok(Val::Scalar(values))
        }
        "timestamp" => timestamp(ctx, &args[0]),
        "absent" => {
            let input = vector_arg(ctx, &args[0], name)?;
            let values = (0..ctx.n())
                .map(|step| (!input.iter().any(|s| s.values[step].is_some())).then_some(1.0))
                .collect();
            Ok(Val::Vector(vec![StepSeries {
                labels: absent_labels_of(&args[0]),
                values,
            }]))
        }
        // The order is the instant query's business (see `query::order_instant_vector`).
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            Ok(Val::Vector(vector_arg(ctx, &args[0], name)?))
        }
        "clamp" | "clamp_min" | "clamp_max" => clamp(ctx, call),
        "round" => {
            let to_nearest = match args.get(1) {
                Some(a) => scalar_arg(ctx, a, name)?,
                None => vec![1.0; ctx.n()],
            };
            map_steps(ctx, &args[0], name, |v, step| {
                // Ties round up; the inverse has fewer accuracy issues (as Prometheus).
                let inverse = 1.0 / to_nearest[step];
                Some((v * inverse + 0.5).floor() / inverse)
            })
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => date_function(ctx, call),
        _ => match simple(name) {
            Some(f) => map_steps(ctx, &args[0], name, |v, _| Some(f(v))),
            None => Err(PromError::unsupported(format!("function \"{name}\""))),
        },
    }
}

#[allow(clippy::cast_precision_loss)]
fn seconds(t_ms: i64) -> f64 {
    t_ms as f64 / 1000.0
}

fn vector_arg(ctx: &Ctx<'_>, e: &Expr, function: &str) -> Result<Vec<StepSeries>, PromError> {
    match ctx.eval(e)? {
        Val::Vector(v) => Ok(v),
        _ => Err(PromError::BadData(format!(
            "expected type instant vector in call to function \"{function}\""
        ))),
    }
}

/// Applies `f(value, step)` to every value of an instant vector, dropping `__name__`.
fn map_steps(
    ctx: &Ctx<'_>,
    e: &Expr,
    function: &str,
    f: impl Fn(f64, usize) -> Option<f64>,
) -> Result<Val, PromError> {
    let mut input = vector_arg(ctx, e, function)?;
    for s in &mut input {
        s.labels.remove("__name__");
        for (step, v) in s.values.iter_mut().enumerate() {
            *v = v.and_then(|v| f(v, step));
        }
    }
    merge_same_labels(input).map(Val::Vector)
}

/// The functions of one value (Go's `math` semantics: NaN and ±Inf propagate).
#[allow(clippy::arithmetic_side_effects)]
fn simple(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                // 0, -0 and NaN are returned as they are.
                v
            }
        },
        _ => return None,
    })
}

/// `clamp(v, min, max)`, `clamp_min(v, min)`, `clamp_max(v, max)`: Go's `math.Max(min,
/// math.Min(max, v))` (NaN in, NaN out); `clamp` with `max < min` is empty at that step.
fn clamp(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let name = call.func.name;
    let args = &call.args.args;
    let n = ctx.n();
    let (lo, hi) = match name {
        "clamp" => (
            scalar_arg(ctx, &args[1], name)?,
            scalar_arg(ctx, &args[2], name)?,
        ),
        "clamp_min" => (scalar_arg(ctx, &args[1], name)?, vec![f64::INFINITY; n]),
        _ => (vec![f64::NEG_INFINITY; n], scalar_arg(ctx, &args[1], name)?),
    };
    map_steps(ctx, &args[0], name, |v, step| {
        let (lo, hi) = (lo[step], hi[step]);
        (hi >= lo || lo.is_nan() || hi.is_nan()).then(|| go_max(lo, go_min(hi, v)))
    })
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// `timestamp(v)`: the time of each sample — for a selector written directly as the argument
/// the sample's own timestamp (as Prometheus 3.x; not through parentheses), else the step's
/// time — in seconds, without `__name__`.
fn timestamp(ctx: &Ctx<'_>, e: &Expr) -> Result<Val, PromError> {
    let mut out = match e {
        Expr::VectorSelector(vs) => ctx.eval_selector_with(vs, |s, _| seconds(s.t_ms))?,
        other => {
            let mut input = vector_arg(ctx, other, "timestamp")?;
            for s in &mut input {
                for (step, v) in s.values.iter_mut().enumerate() {
                    *v = v.map(|_| seconds(ctx.steps[step]));
                }
            }
            input
        }
    };
    for s in &mut out {
        s.labels.remove("__name__");
    }
    merge_same_labels(out).map(Val::Vector)
}

/// The date functions: the UTC calendar field of each value (Unix seconds), or of the step's
/// time without an argument.
fn date_function(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let name = call.func.name;
    let field = |secs: f64| -> f64 {
        // Go's int64(f) then time.Unix: out-of-range values have no date (NaN here).
        if !secs.is_finite() {
            return f64::NAN;
        }
        #[allow(clippy::cast_possible_truncation)]
        let whole = secs.trunc() as i64;
        let Some(t) = DateTime::from_timestamp(whole, 0) else {
            return f64::NAN;
        };
        f64::from(match name {
            "day_of_month" => t.day(),
            "day_of_week" => t.weekday().num_days_from_sunday(),
            "day_of_year" => t.ordinal(),
            "days_in_month" => days_in_month(t.year(), t.month()),
            "hour" => t.hour(),
            "minute" => t.minute(),
            "month" => t.month(),
            _ => return f64::from(t.year()),
        })
    };
    match call.args.args.first() {
        None => Ok(Val::Vector(vec![StepSeries {
            labels: Labels::new(),
            values: ctx
                .steps
                .iter()
                .map(|&t| Some(field(t.div_euclid(1000) as f64)))
                .collect(),
        }])),
        Some(arg) => map_steps(ctx, arg, name, |v, _| Some(field(v))),
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if chrono::NaiveDate::from_ymd_opt(year, 2, 29).is_some() => 29,
        2 => 28,
        _ => 31,
    }
}
