//! The set operators `and`, `or` and `unless` between instant vectors, ported from
//! Prometheus 3.x' `VectorAnd`, `VectorOr` and `VectorUnless` (`promql/engine.go`): matched on
//! the signature of `on (…)` / `ignoring (…)` (all labels but `__name__` by default), the
//! left side's labels and values kept.

use std::collections::HashSet;

use super::binary::{Matching, Op, Output};
use super::eval::{Ctx, StepSeries, Val};
use super::{Labels, PromError};

/// Prometheus' `VectorAnd`, `VectorOr` and `VectorUnless`, at each step.
pub(super) fn set_operation(
    ctx: &Ctx<'_>,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
    op: Op,
    m: &Matching<'_>,
) -> Result<Val, PromError> {
    let n = ctx.n();
    let mut out = Output::new(n);
    let lsigs: Vec<Labels> = lhs.iter().map(|s| m.signature(&s.labels)).collect();
    let rsigs: Vec<Labels> = rhs.iter().map(|s| m.signature(&s.labels)).collect();
    for step in 0..n {
        ctx.check_deadline()?;
        let present = |side: &[StepSeries], sigs: &'_ [Labels]| -> HashSet<Labels> {
            side.iter()
                .zip(sigs)
                .filter(|(s, _)| s.values[step].is_some())
                .map(|(_, sig)| sig.clone())
                .collect()
        };
        match op {
            Op::And | Op::Unless => {
                let right = present(&rhs, &rsigs);
                for (s, sig) in lhs.iter().zip(&lsigs) {
                    let Some(v) = s.values[step] else { continue };
                    if right.contains(sig) == (op == Op::And) {
                        out.push(s.labels.clone(), step, v)?;
                    }
                }
            }
            _ => {
                let left = present(&lhs, &lsigs);
                for s in &lhs {
                    if let Some(v) = s.values[step] {
                        out.push(s.labels.clone(), step, v)?;
                    }
                }
                for (s, sig) in rhs.iter().zip(&rsigs) {
                    let Some(v) = s.values[step] else { continue };
                    if !left.contains(sig) {
                        out.push(s.labels.clone(), step, v)?;
                    }
                }
            }
        }
    }
    Ok(Val::Vector(out.series))
}
