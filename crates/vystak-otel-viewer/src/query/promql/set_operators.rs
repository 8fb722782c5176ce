//! The set operators `and`, `or` and `unless` between instant vectors, ported from
//! Prometheus 3.x' `VectorAnd`, `VectorOr` and `VectorUnless` (`promql/engine.go`): matched on
//! the signature of `on (…)` / `ignoring (…)` (all labels but `__name__` by default), the
//! left side's labels and values kept.

use std::collections::HashMap;

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
    // Signatures become group ids once; each step then only marks which groups are present.
    let lsigs: Vec<Labels> = lhs.iter().map(|s| m.signature(&s.labels)).collect();
    let rsigs: Vec<Labels> = rhs.iter().map(|s| m.signature(&s.labels)).collect();
    let mut ids: HashMap<&Labels, usize> = HashMap::new();
    let mut id_of = |sig| {
        let next = ids.len();
        *ids.entry(sig).or_insert(next)
    };
    let lids: Vec<usize> = lsigs.iter().map(&mut id_of).collect();
    let rids: Vec<usize> = rsigs.iter().map(&mut id_of).collect();
    let mut present = vec![false; ids.len()];
    // The output series of each input series, found on its first value.
    let mut lout: Vec<Option<usize>> = vec![None; lhs.len()];
    let mut rout: Vec<Option<usize>> = vec![None; rhs.len()];
    let emit = |out: &mut Output, cache: &mut Option<usize>, s: &StepSeries, step, v| {
        let i = *cache.get_or_insert_with(|| out.index_of(s.labels.clone()));
        out.set(i, step, v)
    };
    for step in 0..n {
        ctx.check_deadline()?;
        present.iter_mut().for_each(|p| *p = false);
        // `and`/`unless` look the left side up in the right's groups, `or` the right in the left's.
        let (marked, marked_ids) = match op {
            Op::And | Op::Unless => (&rhs, &rids),
            _ => (&lhs, &lids),
        };
        for (s, &id) in marked.iter().zip(marked_ids) {
            if s.values[step].is_some() {
                present[id] = true;
            }
        }
        for (i, s) in lhs.iter().enumerate() {
            let Some(v) = s.values[step] else { continue };
            let keep = match op {
                Op::And => present[lids[i]],
                Op::Unless => !present[lids[i]],
                _ => true,
            };
            if keep {
                emit(&mut out, &mut lout[i], s, step, v)?;
            }
        }
        if !matches!(op, Op::And | Op::Unless) {
            for (i, s) in rhs.iter().enumerate() {
                let Some(v) = s.values[step] else { continue };
                if !present[rids[i]] {
                    emit(&mut out, &mut rout[i], s, step, v)?;
                }
            }
        }
    }
    Ok(Val::Vector(out.series))
}
