//! [`PromError`]: the errors of the Prometheus HTTP API (`errorType` + `error`).

/// A query error, with the `errorType` Prometheus' HTTP API would report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PromError {
    /// `bad_data`: a parse error, a bad parameter or an unsupported construct (HTTP 400).
    #[error("{0}")]
    BadData(String),
    /// `execution`: the query is valid but cannot be evaluated on this data (HTTP 422).
    #[error("{0}")]
    Execution(String),
    /// `timeout`: the evaluation took too long (HTTP 503).
    #[error("{0}")]
    Timeout(String),
}

impl PromError {
    /// The Prometheus `errorType` string: `"bad_data"`, `"execution"` or `"timeout"`.
    ///
    /// ```
    /// use vystak_otel_viewer::query::promql::PromError;
    /// assert_eq!(PromError::BadData("x".into()).error_type(), "bad_data");
    /// ```
    pub fn error_type(&self) -> &'static str {
        match self {
            PromError::BadData(_) => "bad_data",
            PromError::Execution(_) => "execution",
            PromError::Timeout(_) => "timeout",
        }
    }

    /// The HTTP status Prometheus answers with for this error: 400, 422 or 503.
    pub fn http_status(&self) -> u16 {
        match self {
            PromError::BadData(_) => 400,
            PromError::Execution(_) => 422,
            PromError::Timeout(_) => 503,
        }
    }

    /// The message (the JSON `error` field).
    pub fn message(&self) -> &str {
        match self {
            PromError::BadData(m) | PromError::Execution(m) | PromError::Timeout(m) => m,
        }
    }

    pub(crate) fn unsupported(what: impl std::fmt::Display) -> Self {
        PromError::BadData(format!("unsupported PromQL: {what}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_and_statuses() {
        assert_eq!(PromError::BadData("a".into()).error_type(), "bad_data");
        assert_eq!(PromError::Execution("a".into()).error_type(), "execution");
        assert_eq!(PromError::Timeout("a".into()).error_type(), "timeout");
        assert_eq!(PromError::Execution("a".into()).http_status(), 422);
        assert_eq!(
            PromError::unsupported("function \"topk\"").to_string(),
            "unsupported PromQL: function \"topk\""
        );
    }
}
