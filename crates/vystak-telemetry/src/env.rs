//! Environment resolution: which endpoint, whether telemetry is on, the resource — as a pure
//! function of the builder and an environment snapshot, so every rule is testable.

use opentelemetry::KeyValue;

use crate::semconv::{
    ENV_OTLP_ENDPOINT, ENV_RESOURCE_ATTRIBUTES, ENV_SDK_DISABLED, ENV_SERVICE_NAME, SERVICE_NAME,
};

/// Why telemetry is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisabledReason {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set to the empty string: the seed's per-environment kill
    /// switch. It wins over an endpoint set in code, so one environment can turn telemetry off
    /// without a code change. Nothing is installed, not even a propagator.
    EmptyEndpoint,
    /// `OTEL_SDK_DISABLED=true`. As the OpenTelemetry specification requires, the propagator is
    /// still installed by [`crate::Telemetry::init`]; no providers are.
    SdkDisabled,
}

impl std::fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DisabledReason::EmptyEndpoint => {
                "OTEL_EXPORTER_OTLP_ENDPOINT is set to the empty string"
            }
            DisabledReason::SdkDisabled => "OTEL_SDK_DISABLED=true",
        })
    }
}

/// The outcome of resolution.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub(crate) disabled: Option<DisabledReason>,
    pub(crate) service_name: String,
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) warnings: Vec<String>,
}

/// Resolves whether telemetry is on, the service name and the resource for
/// `explicit_service_name` against `env`. (Each signal's endpoint, protocol and compression:
/// [`crate::exporters::plan_signal`].)
pub(crate) fn resolve(
    explicit_service_name: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Plan {
    let mut warnings = Vec::new();
    let env_endpoint = env(ENV_OTLP_ENDPOINT);
    let disabled = if env_endpoint.as_deref() == Some("") {
        Some(DisabledReason::EmptyEndpoint)
    } else if env(ENV_SDK_DISABLED).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        Some(DisabledReason::SdkDisabled)
    } else {
        None
    };
    let mut resource_attributes = match env(ENV_RESOURCE_ATTRIBUTES) {
        Some(raw) if !raw.trim().is_empty() => match parse_resource_attributes(&raw) {
            Ok(attrs) => attrs,
            Err(e) => {
                warnings.push(format!("{ENV_RESOURCE_ATTRIBUTES} ignored: {e}"));
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    let from_attributes = resource_attributes
        .iter()
        .find(|kv| kv.key.as_str() == SERVICE_NAME)
        .map(|kv| kv.value.as_str().into_owned());
    resource_attributes.retain(|kv| kv.key.as_str() != SERVICE_NAME);
    let service_name = explicit_service_name
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| env(ENV_SERVICE_NAME).filter(|s| !s.trim().is_empty()))
        .or(from_attributes.filter(|s| !s.is_empty()))
        .unwrap_or_else(unknown_service);
    Plan {
        disabled,
        service_name,
        resource_attributes,
        warnings,
    }
}

/// `unknown_service:<executable name>` as the resource specification says.
fn unknown_service() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map_or_else(
            || "unknown_service".to_owned(),
            |exe| format!("unknown_service:{exe}"),
        )
}

/// Parses `key1=value1,key2=value2` with percent-decoding. Any malformed member fails the whole
/// variable, as the specification asks ("discard the whole variable and report").
pub(crate) fn parse_resource_attributes(raw: &str) -> Result<Vec<KeyValue>, String> {
    let mut out = Vec::new();
    for member in raw.split(',') {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let (key, value) = member
            .split_once('=')
            .ok_or_else(|| format!("member {member:?} has no '='"))?;
        let key = decode(key.trim())?;
        if key.is_empty() {
            return Err(format!("member {member:?} has an empty key"));
        }
        let value = decode(value.trim())?;
        out.push(KeyValue::new(key, value));
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    if let Some(i) = bytes.iter().position(|b| *b == b'%') {
        let tail = &bytes[i..];
        let valid = tail
            .split(|b| *b == b'%')
            .skip(1)
            .all(|chunk| chunk.len() >= 2 && chunk[..2].iter().all(u8::is_ascii_hexdigit));
        if !valid {
            return Err(format!("{s:?} has an invalid percent-encoding"));
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("{s:?} is not UTF-8 after percent-decoding"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn empty_env_endpoint_turns_telemetry_off() {
        // Whatever the code sets (the builder-level test:
        // `empty_endpoint_env_builds_nothing_even_outside_a_runtime`).
        let plan = resolve(None, &env(&[(ENV_OTLP_ENDPOINT, "")]));
        assert_eq!(plan.disabled, Some(DisabledReason::EmptyEndpoint));
    }

    #[test]
    fn sdk_disabled_true_in_any_case_turns_telemetry_off() {
        for v in ["true", "TRUE", "True", " true "] {
            let plan = resolve(None, &env(&[(ENV_SDK_DISABLED, v)]));
            assert_eq!(plan.disabled, Some(DisabledReason::SdkDisabled), "{v:?}");
        }
        for v in ["false", "", "1", "yes"] {
            let plan = resolve(None, &env(&[(ENV_SDK_DISABLED, v)]));
            assert_eq!(plan.disabled, None, "{v:?}");
        }
    }

    #[test]
    fn service_name_precedence() {
        let all = env(&[
            (ENV_SERVICE_NAME, "from-env"),
            (ENV_RESOURCE_ATTRIBUTES, "service.name=from-attrs,team=ai"),
        ]);
        assert_eq!(resolve(Some("from-code"), &all).service_name, "from-code");
        assert_eq!(resolve(None, &all).service_name, "from-env");
        let attrs_only = env(&[(ENV_RESOURCE_ATTRIBUTES, "service.name=from-attrs")]);
        assert_eq!(resolve(None, &attrs_only).service_name, "from-attrs");
        let none = resolve(None, &env(&[])).service_name;
        assert!(none.starts_with("unknown_service"), "{none}");
    }

    #[test]
    fn resource_attributes_are_percent_decoded() {
        let attrs =
            parse_resource_attributes("deployment.environment=prod, note=a%2Cb%3Dc , empty=")
                .unwrap();
        let pairs: Vec<(String, String)> = attrs
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("deployment.environment".to_owned(), "prod".to_owned()),
                ("note".to_owned(), "a,b=c".to_owned()),
                ("empty".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn malformed_resource_attributes_are_discarded_whole_with_a_warning() {
        for bad in ["a=1,broken", "a=%zz", "=x", "a=%E2%28"] {
            let plan = resolve(None, &env(&[(ENV_RESOURCE_ATTRIBUTES, bad)]));
            assert!(plan.resource_attributes.is_empty(), "{bad}");
            assert_eq!(plan.warnings.len(), 1, "{bad}");
        }
    }
}
