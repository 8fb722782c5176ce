//! Label matching: [`LabelMatcher::matches`] and the compiled [`MatcherSet`].

use regex::Regex;

use super::{LabelMatcher, Labels, MatchOp};

/// A matcher's regular expression does not compile (PromQL answers it as `bad_data`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidMatcher(pub String);

impl std::fmt::Display for InvalidMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidMatcher {}

/// Escapes every `{` that does not start a repetition (`{n}`, `{n,}`, `{n,m}`): Go's RE2 reads
/// such a brace as a literal, Rust's regex rejects it.
fn escape_literal_braces(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len().saturating_add(4));
    let mut chars = pattern.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '{' => {
                let rest = &pattern[i.saturating_add(1)..];
                let close = rest.find('}');
                let is_repeat = close.is_some_and(|end| {
                    let body = &rest[..end];
                    let (min, max) = body.split_once(',').unwrap_or((body, "0"));
                    !min.is_empty()
                        && min.bytes().all(|b| b.is_ascii_digit())
                        && max.bytes().all(|b| b.is_ascii_digit())
                });
                if !is_repeat {
                    out.push('\\');
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Compiles `pattern` the way Prometheus 3 does: fully anchored, `.` matching newlines.
fn compile(pattern: &str) -> Result<Regex, InvalidMatcher> {
    Regex::new(&format!("^(?s:{pattern})$"))
        .or_else(|_| Regex::new(&format!("^(?s:{})$", escape_literal_braces(pattern))))
        .map_err(|e| InvalidMatcher(format!("invalid regular expression {pattern:?}: {e}")))
}

impl LabelMatcher {
    /// A matcher; `op` is one of the four PromQL kinds.
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    /// Whether `value` (the label's value, `""` when the label is missing) satisfies the matcher.
    ///
    /// Regexes are fully anchored (`^(?s:re)$`, as in Prometheus 3); an invalid regex matches
    /// nothing. This compiles the regex on each call: to match many series, compile once with
    /// [`MatcherSet::new`].
    ///
    /// ```
    /// use vystak_otel_viewer::query::promql::{LabelMatcher, MatchOp};
    /// let m = LabelMatcher::new("job", MatchOp::Regex, "api|web");
    /// assert!(m.matches("api"));
    /// assert!(!m.matches("api2"));
    /// assert!(LabelMatcher::new("job", MatchOp::Equal, "").matches(""));
    /// ```
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => self.value == value,
            MatchOp::NotEqual => self.value != value,
            MatchOp::Regex => compile(&self.value).is_ok_and(|re| re.is_match(value)),
            MatchOp::NotRegex => compile(&self.value).is_ok_and(|re| !re.is_match(value)),
        }
    }

    /// Converts one of promql-parser's matchers.
    pub fn from_parser(m: &promql_parser::label::Matcher) -> Self {
        use promql_parser::label::MatchOp as P;
        let op = match m.op {
            P::Equal => MatchOp::Equal,
            P::NotEqual => MatchOp::NotEqual,
            P::Re(_) => MatchOp::Regex,
            P::NotRe(_) => MatchOp::NotRegex,
        };
        Self::new(m.name.clone(), op, m.value.clone())
    }
}

impl From<&promql_parser::label::Matcher> for LabelMatcher {
    fn from(m: &promql_parser::label::Matcher) -> Self {
        Self::from_parser(m)
    }
}

#[derive(Debug)]
enum Compiled {
    Equal(String),
    NotEqual(String),
    Regex(Regex),
    NotRegex(Regex),
}

impl Compiled {
    fn matches(&self, value: &str) -> bool {
        match self {
            Compiled::Equal(v) => v == value,
            Compiled::NotEqual(v) => v != value,
            Compiled::Regex(re) => re.is_match(value),
            Compiled::NotRegex(re) => !re.is_match(value),
        }
    }
}

/// A conjunction of label matchers with their regexes compiled once.
///
/// ```
/// use vystak_otel_viewer::query::promql::{LabelMatcher, Labels, MatchOp, MatcherSet};
/// let set = MatcherSet::new(&[
///     LabelMatcher::new("__name__", MatchOp::Equal, "up"),
///     LabelMatcher::new("job", MatchOp::NotRegex, "db.*"),
/// ]).unwrap();
/// let mut labels = Labels::new();
/// labels.insert("__name__".into(), "up".into());
/// assert!(set.matches(&labels)); // a missing `job` is "", which is not db.*
/// ```
#[derive(Debug)]
pub struct MatcherSet {
    matchers: Vec<(String, Compiled)>,
}

impl MatcherSet {
    /// Compiles `matchers`.
    ///
    /// # Errors
    /// [`InvalidMatcher`] when a regex does not compile.
    pub fn new(matchers: &[LabelMatcher]) -> Result<Self, InvalidMatcher> {
        let matchers = matchers
            .iter()
            .map(|m| {
                let c = match m.op {
                    MatchOp::Equal => Compiled::Equal(m.value.clone()),
                    MatchOp::NotEqual => Compiled::NotEqual(m.value.clone()),
                    MatchOp::Regex => Compiled::Regex(compile(&m.value)?),
                    MatchOp::NotRegex => Compiled::NotRegex(compile(&m.value)?),
                };
                Ok((m.name.clone(), c))
            })
            .collect::<Result<_, InvalidMatcher>>()?;
        Ok(Self { matchers })
    }

    /// Whether `labels` satisfy every matcher (a missing label is `""`).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|(name, c)| c.matches(labels.get(name).map(String::as_str).unwrap_or("")))
    }

    /// Whether a metric name satisfies every `__name__` matcher (other matchers are ignored).
    pub fn matches_name(&self, metric_name: &str) -> bool {
        self.matchers
            .iter()
            .filter(|(name, _)| name == "__name__")
            .all(|(_, c)| c.matches(metric_name))
    }

    /// The metric name, when a matcher pins it with `__name__="…"`.
    pub fn exact_name(&self) -> Option<&str> {
        self.matchers.iter().find_map(|(name, c)| match c {
            Compiled::Equal(v) if name == "__name__" => Some(v.as_str()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_four_kinds_and_missing_labels() {
        let l = labels(&[("__name__", "x"), ("job", "api")]);
        let m =
            |name: &str, op, v: &str| MatcherSet::new(&[LabelMatcher::new(name, op, v)]).unwrap();
        assert!(m("job", MatchOp::Equal, "api").matches(&l));
        assert!(!m("job", MatchOp::NotEqual, "api").matches(&l));
        assert!(m("job", MatchOp::Regex, "a.*").matches(&l));
        assert!(!m("job", MatchOp::Regex, "p").matches(&l)); // anchored: "p" is not "api"
        assert!(m("job", MatchOp::NotRegex, "web|db").matches(&l));
        // A missing label is "": `x=""` matches, `x!=""` does not, `x=~".*"` matches.
        assert!(m("zone", MatchOp::Equal, "").matches(&l));
        assert!(!m("zone", MatchOp::NotEqual, "").matches(&l));
        assert!(m("zone", MatchOp::Regex, ".*").matches(&l));
        assert!(!m("zone", MatchOp::Regex, ".+").matches(&l));
    }

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = LabelMatcher::new("a", MatchOp::Regex, "foo|bar");
        assert!(m.matches("bar"));
        assert!(!m.matches("foobar"));
        assert!(!m.matches("xbar"));
        assert!(LabelMatcher::new("a", MatchOp::Regex, "a.b").matches("a\nb"));
        assert!(MatcherSet::new(&[LabelMatcher::new("a", MatchOp::Regex, "(")]).is_err());
    }

    #[test]
    fn literal_braces_like_re2() {
        assert!(LabelMatcher::new("u", MatchOp::Regex, "{token}").matches("{token}"));
        assert!(LabelMatcher::new("u", MatchOp::Regex, "a{b").matches("a{b"));
        assert!(LabelMatcher::new("u", MatchOp::Regex, "a{2}").matches("aa"));
        assert!(LabelMatcher::new("u", MatchOp::Regex, "a{1,}b").matches("aaab"));
        assert!(!LabelMatcher::new("u", MatchOp::Regex, "a{2}").matches("a{2}"));
    }

    #[test]
    fn from_parser_matcher() {
        let expr = promql_parser::parser::parse(r#"x{a!~"b.*"}"#).unwrap();
        let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
            panic!("not a selector")
        };
        let m = LabelMatcher::from(&vs.matchers.matchers[0]);
        assert_eq!(
            (m.name.as_str(), m.op, m.value.as_str()),
            ("a", MatchOp::NotRegex, "b.*")
        );
    }
}
