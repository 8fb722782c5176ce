//! Functions of a range vector, ported from Prometheus 3.x' `promql/functions.go`: the rate
//! family, `delta`, `idelta`, `deriv`, `predict_linear`, `changes`, `resets`, every
//! `*_over_time`, `absent_over_time` and the experimental `double_exponential_smoothing`,
//! `mad_over_time` and `ts_of_*_over_time`.

use promql_parser::parser::{Call, Expr};

use super::aggregate::{kahan_sum_inc, quantile};
use super::eval::{merge_same_labels, Ctx, StepSeries, Val};
use super::label_functions::absent_labels;
use super::range::{range_arg, unparen};
use super::rate::{extrapolated_rate, instant_value};
use super::{PromError, Sample};

/// Whether `name` is a function of a range vector (its first or only range argument).
pub(crate) fn is_range_function(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "irate"
            | "delta"
            | "idelta"
            | "deriv"
            | "predict_linear"
            | "changes"
            | "resets"
            | "avg_over_time"
            | "min_over_time"
            | "max_over_time"
            | "sum_over_time"
            | "count_over_time"
            | "quantile_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "last_over_time"
            | "first_over_time"
            | "present_over_time"
            | "absent_over_time"
            | "mad_over_time"
            | "ts_of_max_over_time"
            | "ts_of_min_over_time"
            | "ts_of_first_over_time"
            | "ts_of_last_over_time"
            | "double_exponential_smoothing"
    )
}

/// A scalar argument's value at each step.
pub(crate) fn scalar_arg(ctx: &Ctx<'_>, e: &Expr, function: &str) -> Result<Vec<f64>, PromError> {
    match ctx.eval(e)? {
        Val::Scalar(v) => Ok(v),
        _ => Err(PromError::BadData(format!(
            "expected type scalar in call to function \"{function}\""
        ))),
    }
}

/// Evaluates a range-vector function.
// Ports of Prometheus' float arithmetic: f64 never panics (NaN and ±Inf propagate as in Go).
#[allow(
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::needless_range_loop
)]
pub(crate) fn call(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let name = call.func.name;
    let args = &call.args.args;
    // The range argument is the first, except for quantile_over_time(φ, v[…]).
    let (range_at, params): (usize, Vec<Vec<f64>>) = match name {
        "quantile_over_time" => (1, vec![scalar_arg(ctx, &args[0], name)?]),
        "predict_linear" => (0, vec![scalar_arg(ctx, &args[1], name)?]),
        "double_exponential_smoothing" => (
            0,
            vec![
                scalar_arg(ctx, &args[1], name)?,
                scalar_arg(ctx, &args[2], name)?,
            ],
        ),
        _ => (0, Vec::new()),
    };
    let arg = range_arg(ctx, &args[range_at], name)?;
    if name == "absent_over_time" {
        return absent_over_time(&arg, &args[0]);
    }
    // last_over_time and first_over_time keep the metric name; every other one drops it.
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let range_ms = arg.range_ms;
    let p = |i: usize, step: usize| params[i][step];
    // The window function, chosen once: (window, window start, window end, step) → value.
    type WindowFn<'f> =
        Box<dyn Fn(&[Sample], i64, i64, usize) -> Result<Option<f64>, PromError> + 'f>;
    let f: WindowFn<'_> = match name {
        "rate" => Box::new(|w, from, t, _| Ok(extrapolated_rate(w, from, t, range_ms, true, true))),
        "increase" => {
            Box::new(|w, from, t, _| Ok(extrapolated_rate(w, from, t, range_ms, true, false)))
        }
        "delta" => {
            Box::new(|w, from, t, _| Ok(extrapolated_rate(w, from, t, range_ms, false, false)))
        }
        "irate" => Box::new(|w, _, _, _| Ok(instant_value(w, true))),
        "idelta" => Box::new(|w, _, _, _| Ok(instant_value(w, false))),
        "deriv" => {
            Box::new(|w, _, _, _| Ok((w.len() >= 2).then(|| linear_regression(w, w[0].t_ms).0)))
        }
        "predict_linear" => Box::new(|w, _, t, step| {
            Ok((w.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(w, t);
                intercept + slope * p(0, step)
            }))
        }),
        "changes" => Box::new(|w, _, _, _| Ok(Some(changes(w)))),
        "resets" => Box::new(|w, _, _, _| Ok(Some(resets(w)))),
        "avg_over_time" => Box::new(|w, _, _, _| Ok(Some(average(w)))),
        "min_over_time" => {
            Box::new(|w, _, _, _| Ok(Some(extreme(w, |c, m| c < m || m.is_nan()).0)))
        }
        "max_over_time" => {
            Box::new(|w, _, _, _| Ok(Some(extreme(w, |c, m| c > m || m.is_nan()).0)))
        }
        "ts_of_min_over_time" => {
            Box::new(|w, _, _, _| Ok(Some(extreme(w, |c, m| c < m || m.is_nan()).1)))
        }
        "ts_of_max_over_time" => {
            Box::new(|w, _, _, _| Ok(Some(extreme(w, |c, m| c > m || m.is_nan()).1)))
        }
        "sum_over_time" => Box::new(|w, _, _, _| Ok(Some(sum(w)))),
        "count_over_time" => Box::new(|w, _, _, _| Ok(Some(w.len() as f64))),
        "quantile_over_time" => Box::new(|w, _, _, step| {
            let mut values: Vec<f64> = w.iter().map(|s| s.v).collect();
            Ok(Some(quantile(p(0, step), &mut values)))
        }),
        "stddev_over_time" => Box::new(|w, _, _, _| Ok(Some(variance(w).sqrt()))),
        "stdvar_over_time" => Box::new(|w, _, _, _| Ok(Some(variance(w)))),
        "mad_over_time" => Box::new(|w, _, _, _| Ok(Some(median_absolute_deviation(w)))),
        "last_over_time" => Box::new(|w, _, _, _| Ok(w.last().map(|s| s.v))),
        "first_over_time" => Box::new(|w, _, _, _| Ok(w.first().map(|s| s.v))),
        "ts_of_last_over_time" => {
            Box::new(|w, _, _, _| Ok(w.last().map(|s| s.t_ms as f64 / 1000.0)))
        }
        "ts_of_first_over_time" => {
            Box::new(|w, _, _, _| Ok(w.first().map(|s| s.t_ms as f64 / 1000.0)))
        }
        "present_over_time" => Box::new(|_, _, _, _| Ok(Some(1.0))),
        "double_exponential_smoothing" => {
            Box::new(|w, _, _, step| double_exponential_smoothing(w, p(0, step), p(1, step)))
        }
        other => return Err(PromError::unsupported(format!("function \"{other}\""))),
    };
    let mut out = Vec::with_capacity(arg.series.len());
    for s in &arg.series {
        ctx.charge(arg.times.len())?;
        let mut values = Vec::with_capacity(arg.times.len());
        for step in 0..arg.times.len() {
            let w = arg.window(s, step);
            let t = arg.times[step];
            values.push(if w.is_empty() {
                None
            } else {
                f(w, t.saturating_sub(range_ms), t, step)?
            });
        }
        let mut labels = s.labels.clone();
        if !keep_name {
            labels.remove("__name__");
        }
        out.push(StepSeries { labels, values });
    }
    merge_same_labels(out).map(Val::Vector)
}

/// `absent_over_time(v[…])`: 1 at the steps where no series has a sample in the window, with
/// the labels of the selector's equality matchers.
fn absent_over_time(arg: &super::range::RangeArg, expr: &Expr) -> Result<Val, PromError> {
    let values: Vec<Option<f64>> = (0..arg.times.len())
        .map(|step| {
            let any = arg.series.iter().any(|s| !arg.window(s, step).is_empty());
            (!any).then_some(1.0)
        })
        .collect();
    let labels = match unparen(expr) {
        Expr::MatrixSelector(ms) => absent_labels(&ms.vs),
        _ => super::Labels::new(),
    };
    Ok(Val::Vector(vec![StepSeries { labels, values }]))
}

/// Prometheus' `linearRegression` (Kahan sums; a constant series has slope 0).
#[allow(clippy::arithmetic_side_effects, clippy::cast_precision_loss)]
pub(crate) fn linear_regression(w: &[Sample], intercept_ms: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = w[0].v;
    let mut const_y = true;
    for (i, s) in w.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t_ms as f64 - intercept_ms as f64) / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(s.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * s.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn changes(w: &[Sample]) -> f64 {
    let mut n = 0u32;
    for pair in w.windows(2) {
        let (prev, cur) = (pair[0].v, pair[1].v);
        if cur != prev && !(cur.is_nan() && prev.is_nan()) {
            n = n.saturating_add(1);
        }
    }
    f64::from(n)
}

fn resets(w: &[Sample]) -> f64 {
    let n = w.windows(2).filter(|p| p[1].v < p[0].v).count();
    u32::try_from(n).map_or(f64::INFINITY, f64::from)
}

/// Prometheus 3.x' `avg_over_time`: a Kahan-compensated sum while it stays finite, then an
/// incremental mean.
#[allow(clippy::arithmetic_side_effects)]
fn average(w: &[Sample]) -> f64 {
    let (mut sum, mut count) = (w[0].v, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, s) in w[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan_sum_inc(s.v, sum, c);
            if !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(s.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// The first value `better` than all before it, and its time in seconds.
#[allow(clippy::cast_precision_loss)]
fn extreme(w: &[Sample], better: impl Fn(f64, f64) -> bool) -> (f64, f64) {
    let (mut best, mut at) = (w[0].v, w[0].t_ms);
    for s in w {
        if better(s.v, best) {
            best = s.v;
            at = s.t_ms;
        }
    }
    (best, at as f64 / 1000.0)
}

#[allow(clippy::arithmetic_side_effects)]
fn sum(w: &[Sample]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for s in w {
        (sum, c) = kahan_sum_inc(s.v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// Prometheus 3.x' `varianceOverTime`: Welford's algorithm with Kahan-compensated terms.
#[allow(clippy::arithmetic_side_effects)]
fn variance(w: &[Sample]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for s in w {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// `mad_over_time`: the median of the absolute deviations from the median.
#[allow(clippy::arithmetic_side_effects)]
fn median_absolute_deviation(w: &[Sample]) -> f64 {
    let mut values: Vec<f64> = w.iter().map(|s| s.v).collect();
    let median = quantile(0.5, &mut values);
    let mut deviations: Vec<f64> = w.iter().map(|s| (s.v - median).abs()).collect();
    quantile(0.5, &mut deviations)
}

/// Prometheus' `funcDoubleExponentialSmoothing` (formerly `holt_winters`).
#[allow(clippy::arithmetic_side_effects)]
fn double_exponential_smoothing(w: &[Sample], sf: f64, tf: f64) -> Result<Option<f64>, PromError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(PromError::Execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(PromError::Execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    if w.len() < 2 {
        return Ok(None);
    }
    let trend = |i: usize, s0: f64, s1: f64, b: f64| {
        if i == 0 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        }
    };
    let (mut s0, mut s1, mut b) = (0.0, w[0].v, w[1].v - w[0].v);
    for (i, s) in w.iter().enumerate().skip(1) {
        let x = sf * s.v;
        b = trend(i - 1, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Ok(Some(s1))
}
