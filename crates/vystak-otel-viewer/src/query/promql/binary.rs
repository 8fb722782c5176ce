//! Binary operators, ported from Prometheus' `promql/engine.go` (`VectorBinop`, `VectorAnd`,
//! `VectorOr`, `VectorUnless`, `VectorscalarBinop`, `resultMetric`): arithmetic
//! `+ - * / % ^ atan2`, comparisons `== != > < >= <=` (with and without `bool`) and the set
//! operators `and or unless`, between scalars and vectors, with one-to-one, many-to-one
//! (`group_left`) and one-to-many (`group_right`) matching on `on (…)` / `ignoring (…)`.
//! A range query evaluates each step as Prometheus does an instant vector.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{merge_same_labels, Ctx, StepSeries, Val};
use super::{Labels, PromError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn from_token(
        id: promql_parser::parser::token::TokenId,
        text: &dyn std::fmt::Display,
    ) -> Result<Self, PromError> {
        Ok(match id {
            T_ADD => Op::Add,
            T_SUB => Op::Sub,
            T_MUL => Op::Mul,
            T_DIV => Op::Div,
            T_MOD => Op::Mod,
            T_POW => Op::Pow,
            T_ATAN2 => Op::Atan2,
            T_EQLC => Op::Eq,
            T_NEQ => Op::Ne,
            T_GTR => Op::Gt,
            T_LSS => Op::Lt,
            T_GTE => Op::Ge,
            T_LTE => Op::Le,
            T_LAND => Op::And,
            T_LOR => Op::Or,
            T_LUNLESS => Op::Unless,
            _ => {
                return Err(PromError::unsupported(format!(
                    "binary operator \"{text}\""
                )))
            }
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }

    /// Prometheus' `shouldDropMetricName`: arithmetic drops `__name__`, comparisons keep it.
    fn drops_name(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow | Op::Atan2
        )
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
            Op::Atan2 => (l.atan2(r), true),
            Op::Eq => (l, l == r),
            Op::Ne => (l, l != r),
            Op::Gt => (l, l > r),
            Op::Lt => (l, l < r),
            Op::Ge => (l, l >= r),
            Op::Le => (l, l <= r),
            // Set operators never reach element arithmetic.
            Op::And | Op::Or | Op::Unless => (l, true),
        }
    }
}

/// Prometheus' `VectorMatching`.
pub(super) struct Matching<'a> {
    card: Card,
    /// `on (…)` (else `ignoring (…)` or no modifier).
    on: bool,
    labels: &'a [String],
    /// `group_left (…)` / `group_right (…)` labels copied from the "one" side.
    include: &'a [String],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Matching<'_> {
    /// The match signature: the `on` labels, or every label but `__name__` and the ignored ones.
    pub(super) fn signature(&self, labels: &Labels) -> Labels {
        labels
            .iter()
            .filter(|(k, _)| {
                if self.on {
                    self.labels.contains(k)
                } else {
                    k.as_str() != "__name__" && !self.labels.contains(k)
                }
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Prometheus' `resultMetric`: the labels of a matched pair's result.
    fn result_labels(&self, many: &Labels, one: &Labels, op: Op, return_bool: bool) -> Labels {
        let mut out = many.clone();
        if op.drops_name() || return_bool {
            out.remove("__name__");
        }
        if self.card == Card::OneToOne {
            if self.on {
                out.retain(|k, _| self.labels.contains(k));
            } else {
                out.retain(|k, _| !self.labels.contains(k));
            }
        }
        for name in self.include {
            match one.get(name).filter(|v| !v.is_empty()) {
                Some(v) => {
                    out.insert(name.clone(), v.clone());
                }
                None => {
                    out.remove(name);
                }
            }
        }
        out
    }
}

/// Evaluates a binary expression.
pub(crate) fn binary(ctx: &Ctx<'_>, b: &BinaryExpr) -> Result<Val, PromError> {
    let op = Op::from_token(b.op.id(), &b.op)?;
    let return_bool = b.return_bool();
    let mut matching = Matching {
        card: if op.is_set() {
            Card::ManyToMany
        } else {
            Card::OneToOne
        },
        on: false,
        labels: &[],
        include: &[],
    };
    if let Some(m) = &b.modifier {
        if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
            return Err(PromError::unsupported("fill modifier"));
        }
        match &m.card {
            VectorMatchCardinality::OneToOne => {}
            VectorMatchCardinality::ManyToOne(l) => {
                matching.card = Card::ManyToOne;
                matching.include = &l.labels;
            }
            VectorMatchCardinality::OneToMany(l) => {
                matching.card = Card::OneToMany;
                matching.include = &l.labels;
            }
            VectorMatchCardinality::ManyToMany => matching.card = Card::ManyToMany,
        }
        match &m.matching {
            None => {}
            Some(LabelModifier::Include(l)) => {
                matching.on = true;
                matching.labels = &l.labels;
            }
            Some(LabelModifier::Exclude(l)) => matching.labels = &l.labels,
        }
    }
    let lhs = ctx.eval(&b.lhs)?;
    let rhs = ctx.eval(&b.rhs)?;
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
        (Val::Vector(v), Val::Scalar(s)) => vector_scalar(v, &s, op, false, return_bool),
        (Val::Scalar(s), Val::Vector(v)) => vector_scalar(v, &s, op, true, return_bool),
        (Val::Vector(l), Val::Vector(r)) if op.is_set() => {
            super::set_operators::set_operation(ctx, l, r, op, &matching)
        }
        (Val::Vector(l), Val::Vector(r)) => vector_vector(ctx, l, r, op, &matching, return_bool),
        _ => Err(PromError::BadData(
            "binary expression must contain only scalar and instant vector types".into(),
        )),
    }
}

/// Prometheus' `VectorscalarBinop`.
fn vector_scalar(
    v: Vec<StepSeries>,
    s: &[f64],
    op: Op,
    swap: bool,
    return_bool: bool,
) -> Result<Val, PromError> {
    if op.is_set() {
        return Err(PromError::BadData(
            "set operator not allowed in binary scalar expression".into(),
        ));
    }
    let out = v
        .into_iter()
        .map(|mut series| {
            for (x, &sv) in series.values.iter_mut().zip(s) {
                let Some(vv) = *x else { continue };
                let (l, r) = if swap { (sv, vv) } else { (vv, sv) };
                let (mut value, mut keep) = op.apply(l, r);
                // The vector's value is kept even when it is on the right of a comparison.
                if op.is_comparison() && swap {
                    value = r;
                }
                if return_bool {
                    value = f64::from(u8::from(keep));
                    keep = true;
                }
                *x = keep.then_some(value);
            }
            if op.drops_name() || return_bool {
                series.labels.remove("__name__");
            }
            series
        })
        .collect();
    merge_same_labels(out).map(Val::Vector)
}

/// Collects one step's output samples into series over all steps.
pub(super) struct Output {
    steps: usize,
    index: HashMap<Labels, usize>,
    pub(super) series: Vec<StepSeries>,
}

impl Output {
    pub(super) fn new(steps: usize) -> Self {
        Self {
            steps,
            index: HashMap::new(),
            series: Vec::new(),
        }
    }

    /// The index of the output series with `labels`, added when new.
    pub(super) fn index_of(&mut self, labels: Labels) -> usize {
        match self.index.get(&labels) {
            Some(&i) => i,
            None => {
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(StepSeries {
                    labels,
                    values: vec![None; self.steps],
                });
                self.series.len().saturating_sub(1)
            }
        }
    }

    /// Sets output series `i` at `step`; a second value there is Prometheus' duplicate error.
    pub(super) fn set(&mut self, i: usize, step: usize, value: f64) -> Result<(), PromError> {
        let slot = &mut self.series[i].values[step];
        if slot.is_some() {
            return Err(PromError::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
        *slot = Some(value);
        Ok(())
    }
}

/// Prometheus' `VectorBinop`, at each step: the "one" side is hashed by signature, each
/// element of the "many" side finds its match, filtered comparisons are dropped before the
/// match is recorded, and a match group used twice is an error. Signatures, match groups and
/// result labels are computed once per series (pair), not once per step.
fn vector_vector(
    ctx: &Ctx<'_>,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
    op: Op,
    m: &Matching<'_>,
    return_bool: bool,
) -> Result<Val, PromError> {
    let n = ctx.n();
    let mut out = Output::new(n);
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Val::Vector(Vec::new()));
    }
    // For one-to-many, the sides swap: the right is the "many" side.
    let swapped = m.card == Card::OneToMany;
    let (many, one) = if swapped { (&rhs, &lhs) } else { (&lhs, &rhs) };
    let one_sigs: Vec<Labels> = one.iter().map(|s| m.signature(&s.labels)).collect();
    let mut group_of_sig: HashMap<&Labels, usize> = HashMap::new();
    let one_group: Vec<usize> = one_sigs
        .iter()
        .map(|sig| {
            let next = group_of_sig.len();
            *group_of_sig.entry(sig).or_insert(next)
        })
        .collect();
    let groups = group_of_sig.len();
    let many_group: Vec<Option<usize>> = many
        .iter()
        .map(|s| group_of_sig.get(&m.signature(&s.labels)).copied())
        .collect();
    let one_side = if swapped { "left" } else { "right" };
    // Per step: the present "one" member of each group, and the groups / results matched.
    let mut one_at: Vec<Option<usize>> = vec![None; groups];
    let mut matched: Vec<bool> = vec![false; groups];
    let mut matched_results: HashSet<(usize, usize)> = HashSet::new();
    let mut result_of: HashMap<(usize, usize), usize> = HashMap::new();
    for step in 0..n {
        ctx.check_deadline()?;
        // Short-circuit, as Prometheus: with one side empty at this step nothing matches.
        if !lhs.iter().any(|s| s.values[step].is_some())
            || !rhs.iter().any(|s| s.values[step].is_some())
        {
            continue;
        }
        one_at.iter_mut().for_each(|x| *x = None);
        matched.iter_mut().for_each(|x| *x = false);
        matched_results.clear();
        for (j, s) in one.iter().enumerate() {
            if s.values[step].is_none() {
                continue;
            }
            let slot = &mut one_at[one_group[j]];
            if let Some(first) = *slot {
                return Err(PromError::Execution(format!(
                    "found duplicate series for the match group {} on the {one_side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    fmt_labels(&match_labels(m, &s.labels)),
                    fmt_labels(&s.labels),
                    fmt_labels(&one[first].labels),
                )));
            }
            *slot = Some(j);
        }
        for (i, s) in many.iter().enumerate() {
            let Some(mv) = s.values[step] else { continue };
            let Some(g) = many_group[i] else { continue };
            let Some(j) = one_at[g] else { continue };
            let Some(ov) = one[j].values[step] else {
                continue;
            };
            let (l, r) = if swapped { (ov, mv) } else { (mv, ov) };
            let (mut value, keep) = op.apply(l, r);
            if return_bool {
                value = f64::from(u8::from(keep));
            } else if !keep {
                continue;
            }
            let result = match result_of.get(&(i, j)) {
                Some(&r) => r,
                None => {
                    let labels = m.result_labels(&s.labels, &one[j].labels, op, return_bool);
                    let r = out.index_of(labels);
                    result_of.insert((i, j), r);
                    r
                }
            };
            if m.card == Card::OneToOne {
                if matched[g] {
                    return Err(PromError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                matched[g] = true;
            } else if !matched_results.insert((g, result)) {
                return Err(PromError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
            out.set(result, step, value)?;
        }
    }
    // A pair whose every step was filtered out left an empty series.
    out.series.retain(|s| s.values.iter().any(Option::is_some));
    Ok(Val::Vector(out.series))
}

/// Prometheus' `MatchLabels`: the labels a match group is named by in errors.
fn match_labels(m: &Matching<'_>, labels: &Labels) -> Labels {
    m.signature(labels)
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
