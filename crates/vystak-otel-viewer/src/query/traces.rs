//! Trace search and lookup over a [`TraceReader`] such as [`Store`](crate::Store): the logic
//! behind `GET /api/traces` and `GET /api/traces/{id}`, usable without HTTP.
//!
//! ```
//! use vystak_otel_viewer::query::traces::{self, TraceQuery};
//! use vystak_otel_viewer::Store;
//!
//! let store = Store::new();
//! let found = traces::search(
//!     &store,
//!     &TraceQuery::default()
//!         .with_service("vystak-channel-slack")
//!         .with_operation("slack.app_mention"),
//! );
//! assert!(found.is_empty());
//! ```

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::model::record::{AttrValue, SpanRecord};
use crate::model::semconv as sc;
use crate::storage::{TraceIdQuery, TraceReader};

/// Default number of traces a search returns.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 1_000;

/// What to search for. Every set field must hold; the result is newest first (by trace start).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceQuery {
    /// A span of the trace has this `service.name`.
    pub service: Option<String>,
    /// A span of the trace has this name — in `service` when that is set too.
    pub operation: Option<String>,
    /// The trace has at least one span with status ERROR.
    pub errors_only: bool,
    /// The trace lasts at least this long (first start → last end).
    pub min_duration: Option<Duration>,
    /// Span (or resource) attributes `key` = `value` (the value as displayed), each on some span.
    pub attributes: Vec<(String, String)>,
    /// The trace started at or after this time (Unix nanoseconds).
    pub since_unix_nanos: Option<u64>,
    /// Paging cursor: the trace started strictly before this time (Unix nanoseconds) — or, with
    /// [`before_trace_id`](Self::before_trace_id), at this time with a greater trace id. Pass
    /// [`next_cursor`] of the previous page (exact when many traces share one start time).
    pub before_unix_nanos: Option<u64>,
    /// The trace id half of the paging cursor (see [`before_unix_nanos`](Self::before_unix_nanos)).
    pub before_trace_id: Option<String>,
    /// At most this many traces (0: [`DEFAULT_LIMIT`]; capped at [`MAX_LIMIT`]).
    pub limit: usize,
}

impl TraceQuery {
    /// Sets [`TraceQuery::service`].
    #[must_use]
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Sets [`TraceQuery::operation`].
    #[must_use]
    pub fn with_operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// Sets [`TraceQuery::errors_only`].
    #[must_use]
    pub fn with_errors_only(mut self, errors_only: bool) -> Self {
        self.errors_only = errors_only;
        self
    }

    /// Sets [`TraceQuery::min_duration`].
    #[must_use]
    pub fn with_min_duration(mut self, d: Duration) -> Self {
        self.min_duration = Some(d);
        self
    }

    /// Adds an attribute condition.
    #[must_use]
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }

    /// Sets [`TraceQuery::since_unix_nanos`].
    #[must_use]
    pub fn with_since(mut self, unix_nanos: u64) -> Self {
        self.since_unix_nanos = Some(unix_nanos);
        self
    }

    /// Sets [`TraceQuery::before_unix_nanos`].
    #[must_use]
    pub fn with_before(mut self, unix_nanos: u64) -> Self {
        self.before_unix_nanos = Some(unix_nanos);
        self
    }

    /// Sets [`TraceQuery::limit`].
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The number of traces a search returns at most: [`TraceQuery::limit`], with 0 meaning
    /// [`DEFAULT_LIMIT`], capped at [`MAX_LIMIT`].
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        }
    }
}

/// Token usage summed over a trace's GenAI chat spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TokenTotals {
    /// `gen_ai.usage.input_tokens`.
    pub input: i64,
    /// `gen_ai.usage.output_tokens`.
    pub output: i64,
    /// `gen_ai.usage.cache_read_input_tokens` (or `gen_ai.usage.cache_read.input_tokens`).
    pub cache_read: i64,
    /// `gen_ai.usage.cache_creation_input_tokens` (or `gen_ai.usage.cache_creation.input_tokens`).
    pub cache_creation: i64,
}

impl TokenTotals {
    /// The sum of both (each count saturating): what `+=` does.
    #[must_use]
    pub fn plus(mut self, t: TokenTotals) -> TokenTotals {
        self.input = self.input.saturating_add(t.input);
        self.output = self.output.saturating_add(t.output);
        self.cache_read = self.cache_read.saturating_add(t.cache_read);
        self.cache_creation = self.cache_creation.saturating_add(t.cache_creation);
        self
    }

    /// Input plus output tokens (saturating: the counts come from clients).
    pub fn input_and_output(&self) -> i64 {
        self.input.saturating_add(self.output)
    }
}

/// Saturating: a client's `i64::MAX` token count summed twice stays `i64::MAX`.
impl std::ops::AddAssign for TokenTotals {
    fn add_assign(&mut self, t: TokenTotals) {
        *self = self.plus(t);
    }
}

/// One row of a trace search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceSummary {
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// `service.name` of the root span (the earliest span without a parent in the trace).
    pub root_service: String,
    /// Name of the root span.
    pub root_name: String,
    /// `false` when the root span has not arrived: the root fields name the earliest span.
    pub has_root: bool,
    /// Earliest span start (Unix nanoseconds).
    pub start_unix_nanos: u64,
    /// Earliest start → latest end.
    pub duration_nanos: u64,
    /// Number of spans stored.
    pub span_count: usize,
    /// Distinct `service.name`s, sorted.
    pub services: Vec<String>,
    /// Number of spans with status ERROR.
    pub error_count: usize,
    /// Token usage over the `gen_ai` chat spans.
    pub tokens: TokenTotals,
}

impl TraceSummary {
    /// `true` when a span of the trace has status ERROR.
    pub fn has_error(&self) -> bool {
        self.error_count > 0
    }
}

/// `true` for a GenAI chat span: named `gen_ai.chat` or `chat {model}`, or with
/// `gen_ai.operation.name = chat`.
pub fn is_chat_span(span: &SpanRecord) -> bool {
    span.name == sc::GEN_AI_CHAT_SPAN
        || span.name.starts_with(sc::CHAT_SPAN_PREFIX)
        || span.str_attr(sc::GEN_AI_OPERATION_NAME) == Some("chat")
}

fn int_of(span: &SpanRecord, keys: &[&str]) -> i64 {
    keys.iter()
        .find_map(|k| span.attr(k).and_then(AttrValue::as_f64))
        // Saturating (`as` from f64 clamps, NaN becomes 0): a client's token count.
        .map(|v| {
            #[allow(clippy::cast_possible_truncation)]
            let n = v as i64;
            n
        })
        .unwrap_or(0)
}

/// The token usage of one span (zero for a span that is not a chat span).
pub fn span_tokens(span: &SpanRecord) -> TokenTotals {
    if !is_chat_span(span) {
        return TokenTotals::default();
    }
    TokenTotals {
        input: int_of(span, &[sc::GEN_AI_USAGE_INPUT_TOKENS]),
        output: int_of(span, &[sc::GEN_AI_USAGE_OUTPUT_TOKENS]),
        cache_read: int_of(
            span,
            &[
                sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                sc::GEN_AI_USAGE_CACHE_READ_DOTTED,
            ],
        ),
        cache_creation: int_of(
            span,
            &[
                sc::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                sc::GEN_AI_USAGE_CACHE_CREATION_DOTTED,
            ],
        ),
    }
}

/// Summarises the spans of one trace (`None` for no spans).
pub fn summarize<'a>(spans: impl IntoIterator<Item = &'a SpanRecord>) -> Option<TraceSummary> {
    let spans: Vec<&SpanRecord> = spans.into_iter().collect();
    let first = spans.first()?;
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let start = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0);
    fn key<'s>(s: &&&'s SpanRecord) -> (u64, &'s str) {
        (s.start_unix_nanos, s.span_id.as_str())
    }
    let true_root = spans
        .iter()
        .filter(|s| s.is_root())
        .min_by_key(key)
        .copied();
    let root = true_root
        .or_else(|| {
            spans
                .iter()
                .filter(|s| s.parent_span_id.as_deref().is_none_or(|p| !ids.contains(p)))
                .min_by_key(key)
                .copied()
        })
        .unwrap_or(first);
    let mut tokens = TokenTotals::default();
    for s in &spans {
        tokens = tokens.plus(span_tokens(s));
    }
    let services: BTreeSet<&str> = spans.iter().map(|s| s.service_name.as_str()).collect();
    Some(TraceSummary {
        trace_id: first.trace_id.clone(),
        root_service: root.service_name.clone(),
        root_name: root.name.clone(),
        has_root: true_root.is_some(),
        start_unix_nanos: start,
        duration_nanos: end.saturating_sub(start),
        span_count: spans.len(),
        services: services.into_iter().map(str::to_owned).collect(),
        error_count: spans.iter().filter(|s| s.status.is_error()).count(),
        tokens,
    })
}

fn attr_matches(span: &SpanRecord, key: &str, value: &str) -> bool {
    span.attributes
        .get(key)
        .or_else(|| span.resource.get(key))
        .is_some_and(|v| match v {
            AttrValue::Str(s) => s == value,
            other => other.to_string() == value,
        })
}

/// Whether one trace's spans pass the span filters of `query` (service and operation on one
/// span, an error, every attribute); its first start and last end when they do.
fn trace_matches<'a>(
    query: &TraceQuery,
    spans: impl IntoIterator<Item = &'a SpanRecord>,
) -> Option<(u64, u64)> {
    let mut start = u64::MAX;
    let mut end = 0;
    let mut op_hit = query.service.is_none() && query.operation.is_none();
    let mut error_hit = !query.errors_only;
    let mut attr_hits = vec![false; query.attributes.len()];
    for s in spans {
        start = start.min(s.start_unix_nanos);
        end = end.max(s.end_unix_nanos);
        if !op_hit {
            op_hit = query.service.as_deref().is_none_or(|v| s.service_name == v)
                && query.operation.as_deref().is_none_or(|v| s.name == v);
        }
        if !error_hit {
            error_hit = s.status.is_error();
        }
        for (hit, (k, v)) in attr_hits.iter_mut().zip(&query.attributes) {
            if !*hit {
                *hit = attr_matches(s, k, v);
            }
        }
    }
    (start != u64::MAX && op_hit && error_hit && !attr_hits.contains(&false))
        .then_some((start, end))
}

/// Whether a trace starting at `start` and ending at `end` is in `query`'s time window, past
/// its paging cursor, and long enough.
fn in_window(query: &TraceQuery, trace_id: &str, start: u64, end: u64) -> bool {
    // Pages are ordered by (start descending, trace id ascending); the cursor is the last
    // (start, trace id) of the previous page, so ties on the start time page exactly.
    let after_cursor = |t: u64| match query.before_trace_id.as_deref() {
        Some(last) => start < t || (start == t && trace_id > last),
        None => start < t,
    };
    !(query.since_unix_nanos.is_some_and(|t| start < t)
        || query.before_unix_nanos.is_some_and(|t| !after_cursor(t))
        || query
            .min_duration
            .is_some_and(|d| u128::from(end.saturating_sub(start)) < d.as_nanos()))
}

/// Most traces of the file one search examines beyond memory (each costs reading its spans).
pub const MAX_FILE_CANDIDATES: usize = 10_000;

/// The traces matching `query`, newest first, at most `query.limit`.
///
/// Without a file, memory is searched. With a SQLite file (memory is then a cache of it), the
/// file's traces are walked too, newest first from the cursor, through its index on trace
/// start: service and operation are filtered in SQL, errors and attributes on each candidate's
/// spans, until a page of matches is found or [`MAX_FILE_CANDIDATES`] traces were examined. The
/// page is the newest of memory's matches (which include spans not yet committed) and the
/// file's, and each trace's summary is built from all its spans, memory's and the file's.
pub fn search(store: &impl TraceReader, query: &TraceQuery) -> Vec<TraceSummary> {
    let limit = query.effective_limit();
    let mut hits: Vec<(u64, String)> = Vec::new();
    store.for_each_recent_trace(&mut |trace_id, spans| {
        if let Some((start, end)) = trace_matches(query, spans) {
            if in_window(query, trace_id, start, end) {
                hits.push((start, trace_id.to_owned()));
            }
        }
    });
    let by_newest =
        |a: &(u64, String), b: &(u64, String)| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1));
    // Memory's newest `limit` matches first: only these can be on the page.
    if hits.len() > limit {
        hits.select_nth_unstable_by(limit.saturating_sub(1), by_newest);
        hits.truncate(limit);
    }
    let mut read = search_file(store, query, &mut hits);
    hits.sort_unstable_by(by_newest);
    hits.truncate(limit);
    hits.iter()
        .filter_map(|(_, id)| {
            read.remove(id)
                .or_else(|| summarize(store.get_trace(id).iter()))
        })
        .collect()
}

/// Adds to `hits` (memory's) the first page of the file's matches for `query`, newest first
/// from the query's cursor: with both, the page is exact (any trace of the true page is in
/// memory's matches or among the file's first `limit`). Returns the summaries of the file's
/// matches, built from the spans read to check them (they are not read again).
fn search_file(
    store: &impl TraceReader,
    query: &TraceQuery,
    hits: &mut Vec<(u64, String)>,
) -> HashMap<String, TraceSummary> {
    let mut read = HashMap::new();
    let limit = query.effective_limit();
    let to_i64 = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    let known: std::collections::HashSet<String> = hits.iter().map(|(_, id)| id.clone()).collect();
    // `~` sorts after every hex digit: with no trace id, the cursor excludes its start time.
    let mut cursor: (i64, String) = match (query.before_unix_nanos, &query.before_trace_id) {
        (Some(t), Some(id)) => (to_i64(t), id.clone()),
        (Some(t), None) => (to_i64(t), "~".into()),
        (None, _) => (i64::MAX, "~".into()),
    };
    let mut found = 0;
    let mut examined = 0;
    while found < limit && examined < MAX_FILE_CANDIDATES {
        let chunk = MAX_FILE_CANDIDATES.saturating_sub(examined).min(200);
        let q = TraceIdQuery {
            before: (cursor.0, &cursor.1),
            since: query.since_unix_nanos.map_or(0, to_i64),
            min_duration_ns: query
                .min_duration
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            service: query.service.as_deref(),
            operation: query.operation.as_deref(),
            errors_only: query.errors_only,
            limit: chunk,
        };
        let candidates = match store.find_trace_ids(&q) {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                eprintln!("vystak-otel-viewer: warning: the trace search of the file failed: {e}");
                return read;
            }
            None => return read,
        };
        let Some(last) = candidates.last() else {
            return read;
        };
        cursor = (to_i64(last.1), last.0.clone());
        examined = examined.saturating_add(candidates.len());
        let full = candidates.len() < chunk;
        for (trace_id, _) in candidates {
            if known.contains(&trace_id) {
                found = found.saturating_add(1);
            } else {
                let spans = store.get_trace(&trace_id);
                if let Some((start, end)) = trace_matches(query, spans.iter()) {
                    if in_window(query, &trace_id, start, end) {
                        if let Some(summary) = summarize(spans.iter()) {
                            read.insert(trace_id.clone(), summary);
                        }
                        hits.push((start, trace_id));
                        found = found.saturating_add(1);
                    }
                }
            }
            if found >= limit {
                return read;
            }
        }
        if full {
            return read;
        }
    }
    read
}

/// The paging cursor after `found`, the result of [`search`] for `query`: the start of its
/// oldest trace when the page is full (pass it as [`TraceQuery::before_unix_nanos`]), `None`
/// on the last page.
pub fn next_before(found: &[TraceSummary], query: &TraceQuery) -> Option<u64> {
    if found.len() == query.effective_limit() {
        found.last().map(|t| t.start_unix_nanos)
    } else {
        None
    }
}

/// The exact paging cursor after `found` (the result of [`search`] for `query`) when the page is
/// full: `START_NS:TRACE_ID` of its last trace, which [`parse_cursor`] reads back into
/// [`TraceQuery::before_unix_nanos`] and [`TraceQuery::before_trace_id`]; `None` on the last
/// page. Unlike [`next_before`], traces that share a start time across pages are all reached.
pub fn next_cursor(found: &[TraceSummary], query: &TraceQuery) -> Option<String> {
    if found.len() == query.effective_limit() {
        found
            .last()
            .map(|t| format!("{}:{}", t.start_unix_nanos, t.trace_id))
    } else {
        None
    }
}

/// Reads a [`next_cursor`] (`START_NS:TRACE_ID`); `None` for anything else.
pub fn parse_cursor(text: &str) -> Option<(u64, String)> {
    let (start, trace_id) = text.split_once(':')?;
    let start = start.parse().ok()?;
    (trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| (start, trace_id.to_ascii_lowercase()))
}

/// Why [`get`] found no trace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The id is not 32 hex digits.
    #[error("malformed trace id {0:?}: expected 32 hex digits")]
    Malformed(String),
    /// No span of this trace is stored.
    #[error("trace {0} not found")]
    NotFound(String),
}

/// Normalises a trace id: 32 hex digits (any case) → lowercase.
///
/// # Errors
/// [`LookupError::Malformed`] for anything else.
pub fn parse_trace_id(id: &str) -> Result<String, LookupError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(LookupError::Malformed(id.to_owned()))
    }
}

/// The spans of one trace, ordered by start time.
///
/// # Errors
/// [`LookupError::Malformed`] for an id that is not 32 hex digits, [`LookupError::NotFound`]
/// when no span of it is stored.
pub fn get(store: &impl TraceReader, trace_id: &str) -> Result<Vec<SpanRecord>, LookupError> {
    let id = parse_trace_id(trace_id)?;
    let mut spans = store.get_trace(&id);
    if spans.is_empty() {
        return Err(LookupError::NotFound(id));
    }
    spans.sort_by(|a, b| {
        a.start_unix_nanos
            .cmp(&b.start_unix_nanos)
            .then_with(|| a.span_id.cmp(&b.span_id))
    });
    Ok(spans)
}

/// Distinct span names per service, sorted (the `operations` lists of a search form).
pub fn operations_by_service(store: &impl TraceReader) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, BTreeSet<String>> = HashMap::new();
    store.for_each_recent_trace(&mut |_, spans| {
        for s in spans {
            if !map
                .get(&s.service_name)
                .is_some_and(|set| set.contains(&s.name))
            {
                map.entry(s.service_name.clone())
                    .or_default()
                    .insert(s.name.clone());
            }
        }
    });
    map.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}
