//! The environment plan: each signal's exporter — protocol, endpoint, compression, headers,
//! on/off — resolved as a pure function of the builder and an environment snapshot (so every
//! rule is testable), with a warning for every value it cannot use.

use super::config::{Compression, ExportOptions, Protocol, Signal, SignalPlan};
use crate::semconv::{
    COMPRESSION_GZIP, COMPRESSION_NONE, DEFAULT_ENDPOINT, DEFAULT_HTTP_ENDPOINT,
    ENV_OTLP_COMPRESSION, ENV_OTLP_ENDPOINT, ENV_OTLP_HEADERS, ENV_OTLP_INSECURE,
    ENV_OTLP_METRICS_ENDPOINT, ENV_OTLP_PROTOCOL, ENV_OTLP_TRACES_ENDPOINT, EXPORTER_NONE,
    EXPORTER_OTLP,
};

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `base` + the signal path, with exactly one `/` between them (the OTLP exporter spec's rule for
/// the generic endpoint).
fn with_signal_path(base: &str, signal: Signal) -> String {
    format!("{}{}", base.trim_end_matches('/'), signal.path())
}

/// Resolves one signal's plan. Precedence: code per-signal endpoint > code endpoint >
/// `OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT` (used as is) > `OTEL_EXPORTER_OTLP_ENDPOINT` (for HTTP
/// with `/v1/{signal}` appended) > the protocol's default. Protocol and compression: code >
/// per-signal variable > generic variable > `grpc` / none; unknown values are warnings.
pub(crate) fn plan_signal(
    signal: Signal,
    opts: &ExportOptions,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> SignalPlan {
    let protocol = opts
        .protocol
        .unwrap_or_else(|| protocol_from_env(signal, env, warnings));
    let (endpoint, endpoint_source) = endpoint_and_source(signal, protocol, opts, env);
    let endpoint = with_scheme(endpoint, signal, protocol, opts, env, warnings);
    let headers = headers_from_env(signal, &opts.headers, env, warnings);
    let compression = opts
        .compression
        .unwrap_or_else(|| compression_from_env(signal, env, warnings));
    let off = off(signal, opts, env, warnings);
    SignalPlan {
        signal,
        off,
        protocol,
        endpoint,
        endpoint_source,
        compression,
        headers,
    }
}

/// `OTEL_EXPORTER_OTLP_{SIGNAL}_{suffix}`.
fn signal_var(signal: Signal, suffix: &str) -> String {
    format!("OTEL_EXPORTER_OTLP_{}_{suffix}", signal.upper())
}

/// `OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else gRPC; the
/// first one set decides, and an unknown value is a warning and gRPC.
fn protocol_from_env(
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Protocol {
    for name in [signal_var(signal, "PROTOCOL"), ENV_OTLP_PROTOCOL.to_owned()] {
        if let Some(v) = non_empty(env(&name)) {
            match Protocol::parse(&v) {
                Some(p) => return p,
                None => warnings.push(format!(
                    "{name}={v:?} is not a protocol (grpc, http/protobuf, http/json): using grpc"
                )),
            }
            return Protocol::Grpc;
        }
    }
    Protocol::Grpc
}

/// The endpoint, as given, and where it came from: code per-signal endpoint > code endpoint >
/// `OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT` (used as is) > `OTEL_EXPORTER_OTLP_ENDPOINT` (for HTTP
/// with `/v1/{signal}` appended) > the protocol's default.
fn endpoint_and_source(
    signal: Signal,
    protocol: Protocol,
    opts: &ExportOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> (String, &'static str) {
    let code_signal = match signal {
        Signal::Traces => opts.traces_endpoint.clone(),
        Signal::Metrics => opts.metrics_endpoint.clone(),
    };
    let generic = |base: String| {
        if protocol.is_http() {
            with_signal_path(&base, signal)
        } else {
            base
        }
    };
    if let Some(e) = non_empty(code_signal) {
        (e, "code")
    } else if let Some(e) = non_empty(opts.endpoint.clone()) {
        (generic(e), "code")
    } else if let Some(e) = non_empty(env(&signal_var(signal, "ENDPOINT"))) {
        (
            e,
            match signal {
                Signal::Traces => ENV_OTLP_TRACES_ENDPOINT,
                Signal::Metrics => ENV_OTLP_METRICS_ENDPOINT,
            },
        )
    } else if let Some(e) = non_empty(env(ENV_OTLP_ENDPOINT)) {
        (generic(e), ENV_OTLP_ENDPOINT)
    } else if protocol.is_http() {
        (with_signal_path(DEFAULT_HTTP_ENDPOINT, signal), "default")
    } else {
        (DEFAULT_ENDPOINT.to_owned(), "default")
    }
}

/// The endpoint with its scheme: a schemeless gRPC endpoint gets `http://` or `https://` from
/// `INSECURE` (code, else the environment); an endpoint still without `http://` or `https://` is
/// a warning, since the exporter will refuse it.
fn with_scheme(
    endpoint: String,
    signal: Signal,
    protocol: Protocol,
    opts: &ExportOptions,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> String {
    let endpoint = if has_scheme(&endpoint) || protocol.is_http() {
        endpoint
    } else {
        // The OTLP exporter spec: `INSECURE` decides the scheme of a schemeless gRPC endpoint.
        let insecure = opts
            .insecure
            .unwrap_or_else(|| insecure_from_env(signal, env, warnings));
        format!("{}://{endpoint}", if insecure { "http" } else { "https" })
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        warnings.push(format!(
            "the {} endpoint {endpoint:?} has no http:// or https:// scheme; the exporter will \
             refuse it",
            signal.as_str()
        ));
    }
    endpoint
}

/// `OTEL_EXPORTER_OTLP_{SIGNAL}_COMPRESSION`, else `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip` or
/// `none` (any case); the first one set decides, and anything else is a warning and none.
fn compression_from_env(
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Compression {
    for name in [
        signal_var(signal, "COMPRESSION"),
        ENV_OTLP_COMPRESSION.to_owned(),
    ] {
        if let Some(v) = non_empty(env(&name)) {
            return match v.to_ascii_lowercase().as_str() {
                COMPRESSION_GZIP => Compression::Gzip,
                COMPRESSION_NONE => Compression::None,
                _ => {
                    warnings.push(format!(
                        "{name}={v:?} is not a supported compression (gzip, none): sending \
                         uncompressed"
                    ));
                    Compression::None
                }
            };
        }
    }
    Compression::None
}

/// `None` when the signal is exported, else why not: code wins over `OTEL_{SIGNAL}_EXPORTER`.
fn off(
    signal: Signal,
    opts: &ExportOptions,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let code_on = match signal {
        Signal::Traces => opts.traces,
        Signal::Metrics => opts.metrics,
    };
    match code_on {
        Some(false) => Some("turned off in code".to_owned()),
        Some(true) => None,
        None => exporter_from_env(signal, env, warnings),
    }
}

/// Whether `endpoint` starts with a scheme (`://` before any path, query or fragment).
fn has_scheme(endpoint: &str) -> bool {
    endpoint
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.contains(['/', '?', '#']))
}

/// `OTEL_EXPORTER_OTLP_{SIGNAL}_INSECURE`, else `OTEL_EXPORTER_OTLP_INSECURE`: `true` / `false`
/// (any case); anything else is a warning and `false`.
fn insecure_from_env(
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> bool {
    for name in [
        format!("OTEL_EXPORTER_OTLP_{}_INSECURE", signal.upper()),
        ENV_OTLP_INSECURE.to_owned(),
    ] {
        if let Some(v) = non_empty(env(&name)) {
            return match v.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    warnings.push(format!(
                        "{name}={v:?} is not true or false: using TLS (https://)"
                    ));
                    false
                }
            };
        }
    }
    false
}

/// The header names of `OTEL_EXPORTER_OTLP_{SIGNAL}_HEADERS` when it is set (it replaces the
/// generic variable, as in the SDK), else `OTEL_EXPORTER_OTLP_HEADERS`, after `code`'s.
/// Entries that are not `key=value` with a valid header name and (percent-decoded) value are
/// warnings: the exporter skips them. Values are never quoted in a warning.
fn headers_from_env(
    signal: Signal,
    code: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let mut names: Vec<String> = code.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let signal_var = format!("OTEL_EXPORTER_OTLP_{}_HEADERS", signal.upper());
    let (name, value) = match env(&signal_var) {
        Some(v) => (signal_var, v),
        None => match env(ENV_OTLP_HEADERS) {
            Some(v) => (ENV_OTLP_HEADERS.to_owned(), v),
            None => return names,
        },
    };
    for (i, entry) in value.split(',').enumerate() {
        if entry.trim().is_empty() {
            continue;
        }
        let Some((key, raw)) = entry.split_once('=') else {
            warnings.push(format!("{name}: entry {} is not key=value; skipped", i + 1));
            continue;
        };
        let key = key.trim();
        let decoded = percent_encoding::percent_decode_str(raw.trim()).decode_utf8();
        let valid_value = decoded
            .as_ref()
            .is_ok_and(|v| http::HeaderValue::from_str(v).is_ok());
        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            warnings.push(format!(
                "{name}: entry {} has an invalid header name {key:?}; skipped",
                i + 1
            ));
        } else if !valid_value {
            warnings.push(format!(
                "{name}: the value of header {key:?} is not a valid (percent-encoded) header \
                 value; skipped"
            ));
        } else {
            let key = key.to_ascii_lowercase();
            if !names.contains(&key) {
                names.push(key);
            }
        }
    }
    names
}

/// `OTEL_{SIGNAL}_EXPORTER`: `otlp` (default) or `none`; a list is read entry by entry; other
/// names (`console`, `zipkin`, …) are warnings and ignored.
fn exporter_from_env(
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let name = signal.exporter_var();
    let value = non_empty(env(name))?;
    let mut otlp = false;
    let mut none = false;
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry {
            EXPORTER_OTLP => otlp = true,
            EXPORTER_NONE => none = true,
            other => warnings.push(format!(
                "{name}: exporter {other:?} is not supported (otlp, none); ignored"
            )),
        }
    }
    (none && !otlp).then(|| format!("{name}=none"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn plan(
        signal: Signal,
        opts: &ExportOptions,
        pairs: &'static [(&'static str, &'static str)],
    ) -> (SignalPlan, Vec<String>) {
        let mut w = Vec::new();
        let p = plan_signal(signal, opts, &env(pairs), &mut w);
        (p, w)
    }

    #[test]
    fn defaults_are_grpc_on_4317_uncompressed_and_on() {
        let (p, w) = plan(Signal::Traces, &ExportOptions::default(), &[]);
        assert_eq!(
            (p.protocol, p.endpoint.as_str(), p.compression, p.off),
            (
                Protocol::Grpc,
                "http://localhost:4317",
                Compression::None,
                None
            )
        );
        assert!(w.is_empty());
    }

    #[test]
    fn endpoint_code_beats_signal_env_beats_generic_env_beats_default() {
        let generic = &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317")];
        let code = ExportOptions {
            endpoint: Some("http://code:4317".into()),
            ..ExportOptions::default()
        };
        let (p, _) = plan(Signal::Traces, &code, generic);
        assert_eq!(
            (p.endpoint.as_str(), p.endpoint_source),
            ("http://code:4317", "code")
        );
        let (p, _) = plan(Signal::Traces, &ExportOptions::default(), generic);
        assert_eq!(
            (p.endpoint.as_str(), p.endpoint_source),
            ("http://env:4317", "OTEL_EXPORTER_OTLP_ENDPOINT")
        );
        let both = &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ];
        let (p, _) = plan(Signal::Traces, &ExportOptions::default(), both);
        assert_eq!(p.endpoint, "http://traces:4317");
        let (p, _) = plan(Signal::Traces, &ExportOptions::default(), &[]);
        assert_eq!(
            (p.endpoint.as_str(), p.endpoint_source),
            ("http://localhost:4317", "default")
        );
    }

    #[test]
    fn an_empty_code_endpoint_counts_as_unset() {
        let code = ExportOptions {
            endpoint: Some("  ".into()),
            ..ExportOptions::default()
        };
        let (p, _) = plan(
            Signal::Traces,
            &code,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317")],
        );
        assert_eq!(p.endpoint, "http://env:4317");
    }

    #[test]
    fn http_appends_the_signal_path_to_the_generic_endpoint_only() {
        let pairs = &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://mimir:9009/otlp/v1/metrics",
            ),
        ];
        let (t, _) = plan(Signal::Traces, &ExportOptions::default(), pairs);
        assert_eq!(t.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(t.endpoint_source, "OTEL_EXPORTER_OTLP_ENDPOINT");
        let (m, _) = plan(Signal::Metrics, &ExportOptions::default(), pairs);
        assert_eq!(m.endpoint, "http://mimir:9009/otlp/v1/metrics", "as is");
        assert_eq!(m.endpoint_source, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        // The HTTP default is 4318 with the path.
        let (d, _) = plan(
            Signal::Metrics,
            &ExportOptions::default(),
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
        );
        assert_eq!(
            (d.protocol, d.endpoint.as_str()),
            (Protocol::HttpJson, "http://localhost:4318/v1/metrics")
        );
        // gRPC never appends.
        let (g, _) = plan(
            Signal::Traces,
            &ExportOptions::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")],
        );
        assert_eq!(g.endpoint, "http://collector:4317");
    }

    #[test]
    fn per_signal_protocol_wins_over_generic_and_code_wins_over_both() {
        let pairs = &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ];
        let (t, _) = plan(Signal::Traces, &ExportOptions::default(), pairs);
        let (m, _) = plan(Signal::Metrics, &ExportOptions::default(), pairs);
        assert_eq!(
            (t.protocol, m.protocol),
            (Protocol::HttpProtobuf, Protocol::Grpc)
        );
        let code = ExportOptions {
            protocol: Some(Protocol::HttpJson),
            endpoint: Some("http://code:4318".into()),
            ..ExportOptions::default()
        };
        let (t, _) = plan(Signal::Traces, &code, pairs);
        assert_eq!(
            (t.protocol, t.endpoint.as_str(), t.endpoint_source),
            (Protocol::HttpJson, "http://code:4318/v1/traces", "code")
        );
        let code = ExportOptions {
            traces_endpoint: Some("http://phoenix:6006/v1/traces".into()),
            endpoint: Some("http://code:4318".into()),
            protocol: Some(Protocol::HttpProtobuf),
            ..ExportOptions::default()
        };
        assert_eq!(
            plan(Signal::Traces, &code, &[]).0.endpoint,
            "http://phoenix:6006/v1/traces"
        );
    }

    #[test]
    fn unknown_values_are_warnings_with_the_documented_fallback() {
        let (p, w) = plan(
            Signal::Traces,
            &ExportOptions::default(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
                ("OTEL_TRACES_EXPORTER", "console"),
            ],
        );
        assert_eq!(
            (p.protocol, p.compression, p.off),
            (Protocol::Grpc, Compression::None, None)
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\""));
        assert!(w[1].contains("brotli"));
        assert!(w[2].contains("console"));
    }

    #[test]
    fn compression_and_exporters() {
        let pairs = &[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ];
        let (t, _) = plan(Signal::Traces, &ExportOptions::default(), pairs);
        let (m, _) = plan(Signal::Metrics, &ExportOptions::default(), pairs);
        assert_eq!((t.compression, t.off.as_deref()), (Compression::Gzip, None));
        assert_eq!(
            (m.compression, m.off.as_deref()),
            (Compression::None, Some("OTEL_METRICS_EXPORTER=none"))
        );
        let on = ExportOptions {
            metrics: Some(true),
            ..ExportOptions::default()
        };
        assert_eq!(plan(Signal::Metrics, &on, pairs).0.off, None, "code wins");
    }

    #[test]
    fn https_and_schemeless_endpoints_are_reported() {
        let (_, w) = plan(
            Signal::Traces,
            &ExportOptions::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io")],
        );
        assert!(w.is_empty(), "https is supported: {w:?}");
        let (_, w) = plan(
            Signal::Traces,
            &ExportOptions {
                protocol: Some(Protocol::HttpProtobuf),
                ..ExportOptions::default()
            },
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
        );
        assert!(w[0].contains("no http:// or https:// scheme"), "{w:?}");
    }

    #[test]
    fn insecure_decides_the_scheme_of_a_schemeless_grpc_endpoint() {
        let d = ExportOptions::default();
        let endpoint = |pairs| plan(Signal::Traces, &d, pairs).0.endpoint;
        assert_eq!(
            endpoint(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")]),
            "https://collector:4317"
        );
        assert_eq!(
            endpoint(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", "TRUE"),
            ]),
            "http://collector:4317"
        );
        // Per signal wins; a scheme always wins over INSECURE.
        assert_eq!(
            endpoint(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
                ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "false"),
            ]),
            "https://collector:4317"
        );
        assert_eq!(
            endpoint(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ]),
            "https://collector:4317"
        );
        let code = ExportOptions {
            insecure: Some(true),
            endpoint: Some("collector:4317".into()),
            ..ExportOptions::default()
        };
        assert_eq!(
            plan(Signal::Metrics, &code, &[]).0.endpoint,
            "http://collector:4317"
        );
        let (p, w) = plan(
            Signal::Traces,
            &d,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", "yes"),
            ],
        );
        assert_eq!(p.endpoint, "https://collector:4317");
        assert!(
            w[0].contains("OTEL_EXPORTER_OTLP_INSECURE=\"yes\""),
            "{w:?}"
        );
    }

    #[test]
    fn per_signal_headers_replace_the_generic_ones_and_bad_entries_are_named() {
        let pairs = &[
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret1,x-team=ai"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "Authorization=Basic%20c2VjcmV0Mg==,broken,bad name=x,x-ok=%FF",
            ),
        ];
        let code = ExportOptions {
            headers: vec![("X-Code".into(), "code-secret".into())],
            ..ExportOptions::default()
        };
        let (t, w) = plan(Signal::Traces, &code, pairs);
        assert_eq!(t.headers, ["x-code", "authorization"]);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("entry 2 is not key=value"), "{w:?}");
        assert!(w[1].contains("invalid header name \"bad name\""), "{w:?}");
        assert!(w[2].contains("\"x-ok\""), "{w:?}");
        assert!(
            !w.iter()
                .any(|w| w.contains("secret") || w.contains("c2VjcmV0")),
            "no value is quoted: {w:?}"
        );
        let (m, w) = plan(Signal::Metrics, &code, pairs);
        assert_eq!(m.headers, ["x-code", "x-api-key", "x-team"]);
        assert!(w.is_empty(), "{w:?}");
        assert!(
            m.to_string().contains("headers x-code, x-api-key, x-team"),
            "{m}"
        );
    }
}
