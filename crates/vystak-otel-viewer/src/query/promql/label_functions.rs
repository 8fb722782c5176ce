//! Functions that rewrite labels, ported from Prometheus 3.x: `label_replace` and `label_join`
//! (`evalLabelReplace`, `evalLabelJoin`, with Go's `Regexp.Expand` templates), and the labels
//! of `absent`/`absent_over_time` (`createLabelsForAbsentFunction`).

use std::collections::HashSet;

use promql_parser::parser::{Call, Expr, VectorSelector};
use regex::Regex;

use super::eval::{merge_same_labels, selector_matchers, Ctx, Val};
use super::range::unparen;
use super::{Labels, MatchOp, PromError};

/// The labels `absent(v)` answers with: those of `v`'s equality matchers (a name matched twice
/// is left out, as Prometheus does).
pub(crate) fn absent_labels(vs: &VectorSelector) -> Labels {
    let mut out = Labels::new();
    let mut seen = HashSet::new();
    let Ok(matchers) = selector_matchers(vs) else {
        return out;
    };
    for m in matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.op == MatchOp::Equal && seen.insert(m.name.clone()) {
            out.insert(m.name, m.value);
        } else {
            out.remove(&m.name);
        }
    }
    out
}

/// The labels of `absent(expr)`.
pub(crate) fn absent_labels_of(expr: &Expr) -> Labels {
    match unparen(expr) {
        Expr::VectorSelector(vs) => absent_labels(vs),
        Expr::MatrixSelector(ms) => absent_labels(&ms.vs),
        _ => Labels::new(),
    }
}

fn string_arg(call: &Call, i: usize) -> Result<&str, PromError> {
    match call.args.args.get(i).map(|a| unparen(a)) {
        Some(Expr::StringLiteral(s)) => Ok(&s.val),
        _ => Err(PromError::BadData(format!(
            "expected a string literal as argument {} of \"{}\"",
            i.saturating_add(1),
            call.func.name
        ))),
    }
}

/// A label name Prometheus 3 accepts (any valid UTF-8, not empty).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// `label_replace(v, dst, replacement, src, regex)` and `label_join(v, dst, sep, src…)`.
pub(crate) fn call(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let name = call.func.name;
    let dst = string_arg(call, 1)?;
    let Val::Vector(input) = ctx.eval(&call.args.args[0])? else {
        return Err(PromError::BadData(format!(
            "expected type instant vector in call to function \"{name}\""
        )));
    };
    let mut out = input;
    if name == "label_replace" {
        let replacement = string_arg(call, 2)?;
        let src = string_arg(call, 3)?;
        let pattern = string_arg(call, 4)?;
        let regex = Regex::new(&format!("^(?s:{pattern})$")).map_err(|_| {
            PromError::BadData(format!(
                "invalid regular expression in label_replace(): {pattern}"
            ))
        })?;
        if !valid_label_name(dst) {
            return Err(PromError::BadData(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        for s in &mut out {
            let value = s.labels.get(src).map(String::as_str).unwrap_or("");
            if let Some(caps) = regex.captures(value) {
                let replaced = expand(&regex, &caps, replacement);
                set_label(&mut s.labels, dst, replaced);
            }
        }
    } else {
        let sep = string_arg(call, 2)?;
        let mut sources = Vec::new();
        for i in 3..call.args.args.len() {
            let src = string_arg(call, i)?;
            if !valid_label_name(src) {
                return Err(PromError::BadData(format!(
                    "invalid source label name in label_join(): {src}"
                )));
            }
            sources.push(src);
        }
        if !valid_label_name(dst) {
            return Err(PromError::BadData(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        for s in &mut out {
            let joined: Vec<&str> = sources
                .iter()
                .map(|src| s.labels.get(*src).map(String::as_str).unwrap_or(""))
                .collect();
            let joined = joined.join(sep);
            set_label(&mut s.labels, dst, joined);
        }
    }
    merge_same_labels(out).map(Val::Vector)
}

/// Prometheus' label builder: an empty value deletes the label.
fn set_label(labels: &mut Labels, name: &str, value: String) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.insert(name.to_owned(), value);
    }
}

/// Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}` and `$$`; a name is the longest run
/// of letters, digits and `_` (so `$1x` is the group named `1x`, empty); an unknown group or
/// a malformed `${` expands to nothing / is kept as Go keeps it.
fn expand(regex: &Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at.saturating_add(1)..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
            match braced.find('}') {
                Some(end)
                    if end > 0
                        && braced[..end]
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_') =>
                {
                    (&braced[..end], &braced[end.saturating_add(1)..])
                }
                // Malformed: Go writes the `$` out and goes on.
                _ => {
                    out.push('$');
                    continue;
                }
            }
        } else {
            let end = rest
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map_or(rest.len(), |(i, _)| i);
            if end == 0 {
                out.push('$');
                continue;
            }
            (&rest[..end], &rest[end..])
        };
        let group = match name.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => regex
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, value: &str, template: &str) -> String {
        let re = Regex::new(&format!("^(?s:{pattern})$")).unwrap();
        let caps = re.captures(value).unwrap();
        expand(&re, &caps, template)
    }

    #[test]
    fn templates_expand_like_go() {
        assert_eq!(run("(.*):(.*)", "host:9090", "$1"), "host");
        assert_eq!(run("(.*):(.*)", "host:9090", "${2}-$1"), "9090-host");
        // `$1x` names the group "1x", which does not exist: empty, as in Go.
        assert_eq!(run("(.*):(.*)", "host:9090", "$1x"), "");
        assert_eq!(run("(.*):(.*)", "host:9090", "${1}x"), "hostx");
        assert_eq!(run("(?P<h>.*):.*", "host:9090", "$h!"), "host!");
        assert_eq!(run("(.*)", "a", "$$1"), "$1");
        assert_eq!(run("(.*)", "a", "cost: $"), "cost: $");
    }
}
