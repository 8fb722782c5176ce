//! Binary operators: arithmetic `+ - * / % ^` and comparisons `== != > < >= <=` (with and
//! without `bool`) between scalars and vectors, with one-to-one vector matching.

use std::collections::HashMap;

use promql_parser::parser::token::{
    T_ADD, T_DIV, T_EQLC, T_GTE, T_GTR, T_LSS, T_LTE, T_MOD, T_MUL, T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{merge_same_labels, Ctx, StepSeries, Val};
use super::{Labels, PromError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Op {
    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Prometheus' `vectorElemBinop` for floats: the value and whether to keep it.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Op::Add => (l + r, true),
            Op::Sub => (l - r, true),
            Op::Mul => (l * r, true),
            Op::Div => (l / r, true),
            Op::Mod => (l % r, true),
            Op::Pow => (l.powf(r), true),
            Op::Eq => (l, l == r),
            Op::Ne => (l, l != r),
            Op::Gt => (l, l > r),
            Op::Lt => (l, l < r),
            Op::Ge => (l, l >= r),
            Op::Le => (l, l <= r),
        }
    }
}

enum Matching<'a> {
    /// `on (…)`
    On(&'a [String]),
    /// `ignoring (…)`, or no modifier (ignoring nothing)
    Ignoring(&'a [String]),
}

impl Matching<'_> {
    fn signature(&self, labels: &Labels) -> Labels {
        match self {
            Matching::On(on) => labels
                .iter()
                .filter(|(k, _)| on.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Matching::Ignoring(ign) => labels
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__" && !ign.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Evaluates a binary expression.
pub(crate) fn binary(ctx: &Ctx<'_>, b: &BinaryExpr) -> Result<Val, PromError> {
    let op = match b.op.id() {
        T_ADD => Op::Add,
        T_SUB => Op::Sub,
        T_MUL => Op::Mul,
        T_DIV => Op::Div,
        T_MOD => Op::Mod,
        T_POW => Op::Pow,
        T_EQLC => Op::Eq,
        T_NEQ => Op::Ne,
        T_GTR => Op::Gt,
        T_LSS => Op::Lt,
        T_GTE => Op::Ge,
        T_LTE => Op::Le,
        _ => {
            return Err(PromError::unsupported(format!(
                "binary operator \"{}\"",
                b.op
            )))
        }
    };
    let return_bool = b.return_bool();
    let mut matching = Matching::Ignoring(&[]);
    if let Some(m) = &b.modifier {
        match &m.card {
            VectorMatchCardinality::OneToOne => {}
            VectorMatchCardinality::ManyToOne(_) => {
                return Err(PromError::unsupported("group_left"))
            }
            VectorMatchCardinality::OneToMany(_) => {
                return Err(PromError::unsupported("group_right"))
            }
            VectorMatchCardinality::ManyToMany => {
                return Err(PromError::unsupported("many-to-many vector matching"))
            }
        }
        if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
            return Err(PromError::unsupported("fill modifier"));
        }
        matching = match &m.matching {
            None => Matching::Ignoring(&[]),
            Some(LabelModifier::Include(l)) => Matching::On(&l.labels),
            Some(LabelModifier::Exclude(l)) => Matching::Ignoring(&l.labels),
        };
    }
    let lhs = ctx.eval(&b.lhs)?;
    let rhs = ctx.eval(&b.rhs)?;
    let drop_name = !op.is_comparison() || return_bool;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.iter()
                .zip(&r)
                .map(|(&l, &r)| {
                    let (v, keep) = op.apply(l, r);
                    if op.is_comparison() {
                        f64::from(u8::from(keep))
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(v, &s, op, false, return_bool, drop_name),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(v, &s, op, true, return_bool, drop_name),
        (Val::Vector(l), Val::Vector(r)) => {
            vector_vector(ctx, l, r, op, &matching, return_bool, drop_name)
        }
        _ => Err(PromError::BadData(
            "binary expression must contain only scalar and instant vector types".into(),
        )),
    }
}

fn vector_scalar(
    v: Vec<StepSeries>,
    s: &[f64],
    op: Op,
    swap: bool,
    return_bool: bool,
    drop_name: bool,
) -> Result<Val, PromError> {
    let out = v
        .into_iter()
        .map(|mut series| {
            for (x, &sv) in series.values.iter_mut().zip(s) {
                let Some(vv) = *x else { continue };
                let (l, r) = if swap { (sv, vv) } else { (vv, sv) };
                let (mut value, mut keep) = op.apply(l, r);
                if op.is_comparison() && swap {
                    value = r;
                }
                if return_bool {
                    value = f64::from(u8::from(keep));
                    keep = true;
                }
                *x = keep.then_some(value);
            }
            if drop_name {
                series.labels.remove("__name__");
            }
            series
        })
        .collect();
    merge_same_labels(out).map(Val::Vector)
}

fn vector_vector(
    ctx: &Ctx<'_>,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
    op: Op,
    matching: &Matching<'_>,
    return_bool: bool,
    drop_name: bool,
) -> Result<Val, PromError> {
    let n = ctx.n();
    // Right side: signature → series indices.
    let mut right: HashMap<Labels, Vec<usize>> = HashMap::new();
    for (i, s) in rhs.iter().enumerate() {
        right
            .entry(matching.signature(&s.labels))
            .or_default()
            .push(i);
    }
    // The right side is the "one" side: two of its series with one signature at one step.
    for (sig, members) in right.iter().filter(|(_, m)| m.len() > 1) {
        for step in 0..n {
            let present: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| rhs[i].values[step].is_some())
                .collect();
            if present.len() > 1 {
                return Err(PromError::Execution(format!(
                    "found duplicate series for the match group {} on the right hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    fmt_labels(sig),
                    fmt_labels(&rhs[present[0]].labels),
                    fmt_labels(&rhs[present[1]].labels),
                )));
            }
        }
    }
    let mut matched_steps: HashMap<Labels, Vec<bool>> = HashMap::new();
    let mut out = Vec::with_capacity(lhs.len());
    for ls in lhs {
        let sig = matching.signature(&ls.labels);
        let Some(members) = right.get(&sig) else {
            continue;
        };
        let seen = matched_steps.entry(sig).or_insert_with(|| vec![false; n]);
        let mut values = vec![None; n];
        for step in 0..n {
            let Some(lv) = ls.values[step] else { continue };
            let Some(rv) = members.iter().find_map(|&i| rhs[i].values[step]) else {
                continue;
            };
            if seen[step] {
                return Err(PromError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
            seen[step] = true;
            let (mut value, mut keep) = op.apply(lv, rv);
            if return_bool {
                value = f64::from(u8::from(keep));
                keep = true;
            }
            values[step] = keep.then_some(value);
        }
        let mut labels = ls.labels;
        if drop_name {
            labels.remove("__name__");
        }
        match matching {
            Matching::On(on) => labels.retain(|k, _| on.contains(k)),
            Matching::Ignoring(ign) => labels.retain(|k, _| !ign.contains(k)),
        }
        out.push(StepSeries { labels, values });
    }
    merge_same_labels(out).map(Val::Vector)
}

fn fmt_labels(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_ops_follow_ieee_like_go() {
        assert_eq!(Op::Div.apply(1.0, 0.0).0, f64::INFINITY);
        assert_eq!(Op::Div.apply(-1.0, 0.0).0, f64::NEG_INFINITY);
        assert!(Op::Div.apply(0.0, 0.0).0.is_nan());
        assert_eq!(Op::Mod.apply(-7.0, 3.0).0, -1.0); // Go math.Mod keeps the dividend's sign
        assert_eq!(Op::Pow.apply(2.0, 10.0).0, 1024.0);
        assert_eq!(Op::Gt.apply(3.0, 2.0), (3.0, true));
        let (v, keep) = Op::Eq.apply(f64::NAN, f64::NAN);
        assert!(v.is_nan() && !keep);
    }
}
