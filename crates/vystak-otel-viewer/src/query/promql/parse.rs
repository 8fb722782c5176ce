//! The parser adapter: `promql_parser` with the guards the HTTP API needs (its panics on
//! oversized number durations, the nesting depth) and Prometheus' experimental-function gate.

use std::time::Duration;

use promql_parser::parser::token::{T_ADD, T_COLON, T_LEFT_BRACKET, T_NUMBER, T_OFFSET, T_SUB};
use promql_parser::parser::{self, Expr};

use super::PromError;

/// The deepest expression evaluated (nested calls, aggregations, operators, parentheses). A
/// query nested deeper is refused with `bad_data` before any evaluation (one `GET` nested 1,000
/// deep used to abort the whole viewer); the evaluator counts its depth as well, and the HTTP
/// API runs it on a thread whose stack holds this depth many times over. Real dashboards nest
/// a handful of levels.
pub const MAX_EXPRESSION_DEPTH: usize = 128;

/// Parses a query: upstream `promql_parser` panics on a number duration that does not fit a
/// `Duration` (`x[1e30]`, `offset 1e400`), so those are refused first; any other panic of the
/// parser is caught and answered as `bad_data`; then the depth limit.
/// Parses `query` as the engine does: Prometheus 3.x' syntax (through `promql_parser`), with
/// its panics on oversized number durations caught and at most [`MAX_EXPRESSION_DEPTH`]
/// levels of nesting.
///
/// # Errors
/// [`PromError::BadData`] with the parser's message.
pub fn parse_expr(query: &str) -> Result<Expr, PromError> {
    parse(query)
}

pub(crate) fn parse(query: &str) -> Result<Expr, PromError> {
    check_number_durations(query)?;
    let parsed = std::panic::catch_unwind(|| parser::parse(query))
        .map_err(|_| PromError::BadData(format!("cannot parse the query {query:?}")))?;
    let expr = parsed.map_err(PromError::BadData)?;
    let depth = expression_depth(&expr);
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(PromError::BadData(format!(
            "the query is nested {depth} levels deep; at most {MAX_EXPRESSION_DEPTH} are evaluated"
        )));
    }
    Ok(expr)
}

/// Refuses a plain number used as a duration (after `[`, a subquery's `:` or `offset`) that is
/// negative, not finite or too large for a duration.
fn check_number_durations(query: &str) -> Result<(), PromError> {
    use lrpar::{Lexeme, Lexer, NonStreamingLexer};
    let Ok(lexer) = parser::lexer(query) else {
        return Ok(()); // the parser reports the lexing error
    };
    let mut previous: [Option<parser::token::TokenId>; 2] = [None, None];
    for lexeme in lexer.iter().flatten() {
        let tok = lexeme.tok_id();
        let is_duration_context = matches!(
            previous,
            [_, Some(T_LEFT_BRACKET | T_COLON | T_OFFSET)] | [Some(T_OFFSET), Some(T_ADD | T_SUB)]
        );
        if tok == T_NUMBER && is_duration_context {
            let text = lexer.span_str(lexeme.span());
            let fits = promql_parser::util::parse_str_radix(text)
                .is_ok_and(|secs| Duration::try_from_secs_f64(secs).is_ok());
            if !fits {
                return Err(PromError::BadData(format!(
                    "invalid duration {text:?}: not a number of seconds a duration can hold"
                )));
            }
        }
        previous = [previous[1], Some(tok)];
    }
    Ok(())
}

/// The direct sub-expressions of `e` (what every walk over a query visits).
pub(crate) fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Aggregate(a) => {
            let mut v = vec![&*a.expr];
            if let Some(p) = &a.param {
                v.push(p);
            }
            v
        }
        Expr::Unary(u) => vec![&u.expr],
        Expr::Binary(b) => vec![&b.lhs, &b.rhs],
        Expr::Paren(p) => vec![&p.expr],
        Expr::Subquery(q) => vec![&q.expr],
        Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
        _ => Vec::new(),
    }
}

/// The depth of `expr`'s tree, walked with an explicit stack (no recursion on client depth).
fn expression_depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 1usize)];
    while let Some((e, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let next = depth.saturating_add(1);
        stack.extend(children(e).into_iter().map(|c| (c, next)));
    }
    deepest
}

/// Prometheus' gate on experimental functions and aggregations (its
/// `--enable-feature=promql-experimental-functions`; here
/// [`QueryLimits::with_experimental_functions`](super::QueryLimits::with_experimental_functions)),
/// with its parse errors.
pub(crate) fn check_experimental(expr: &Expr, enabled: bool) -> Result<(), PromError> {
    use promql_parser::parser::token::{T_LIMITK, T_LIMIT_RATIO};
    if enabled {
        return Ok(());
    }
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Call(c) if c.func.experimental => {
                return Err(PromError::BadData(format!(
                    "function {:?} is not enabled",
                    c.func.name
                )));
            }
            Expr::Aggregate(a) if matches!(a.op.id(), T_LIMITK | T_LIMIT_RATIO) => {
                return Err(PromError::BadData(format!(
                    "{}() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                    a.op
                )));
            }
            _ => stack.extend(children(e)),
        }
    }
    Ok(())
}
