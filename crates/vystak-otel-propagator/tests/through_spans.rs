//! What arrives is what leaves: `tracestate` and the `random` flag survive a child span started by
//! the SDK (sampled or not), and invalid header lines are never skipped silently.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use vystak_otel_propagator::{HeaderMapExtractor, W3cTraceContextPropagator};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn provider(sampler: Sampler) -> SdkTracerProvider {
    SdkTracerProvider::builder().with_sampler(sampler).build()
}

/// Extracts `headers`, starts a child span under the result with `sampler`, injects the child's
/// context and returns what was written.
fn through_child(
    p: &W3cTraceContextPropagator,
    headers: &http::HeaderMap,
    sampler: Sampler,
) -> HashMap<String, String> {
    let provider = provider(sampler);
    let tracer = provider.tracer("test");
    let parent = p.extract_with_context(&Context::new(), &HeaderMapExtractor(headers));
    let span = tracer.start_with_context("child", &parent);
    let cx = parent.with_span(span);
    let mut out = HashMap::new();
    p.inject_context(&cx, &mut out);
    out
}

fn headers(lines: &[(&str, &[u8])]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (name, value) in lines {
        h.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    h
}

fn samplers() -> Vec<(&'static str, Sampler)> {
    vec![
        ("AlwaysOn", Sampler::AlwaysOn),
        ("AlwaysOff", Sampler::AlwaysOff),
        (
            "ParentBased(ratio 0)",
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.0))),
        ),
    ]
}

#[test]
fn valid_keys_the_sdk_trace_state_rejects_are_still_propagated() {
    // Valid under the current key grammar; opentelemetry 0.33's TraceState rejects the first two.
    let long = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let state = format!("a@b@c=1,{long}=2,foo@=3,t@vvvvvvvvvvvvvvv=4,1foo=5");
    let p = W3cTraceContextPropagator::new();
    for (name, sampler) in samplers() {
        let h = headers(&[
            (
                "traceparent",
                format!("00-{TRACE}-00f067aa0ba902b7-00").as_bytes(),
            ),
            ("tracestate", state.as_bytes()),
        ]);
        let out = through_child(&p, &h, sampler);
        assert_eq!(out.get("tracestate"), Some(&state), "{name}");
        assert!(out["traceparent"].contains(TRACE), "{name}");
    }
}

#[test]
fn duplicated_keys_do_not_discard_the_header() {
    let p = W3cTraceContextPropagator::new();
    for lines in [
        vec![("tracestate", &b"foo=1,foo=1"[..])],
        vec![("tracestate", &b"foo=1"[..]), ("tracestate", &b"foo=1"[..])],
    ] {
        let tp = format!("00-{TRACE}-00f067aa0ba902b7-01");
        let mut all = vec![("traceparent", tp.as_bytes())];
        all.extend(lines);
        let out = through_child(&p, &headers(&all), Sampler::AlwaysOn);
        assert!(out["tracestate"].contains("foo=1"), "{out:?}");
    }
}

#[test]
fn the_random_flag_survives_an_unsampled_child() {
    let p = W3cTraceContextPropagator::new();
    for (flags, want) in [("02", "02"), ("03", "03"), ("00", "00"), ("01", "01")] {
        for (name, sampler) in samplers() {
            let tp = format!("00-{TRACE}-00f067aa0ba902b7-{flags}");
            let out = through_child(&p, &headers(&[("traceparent", tp.as_bytes())]), sampler);
            let got = &out["traceparent"][53..];
            // The sampled bit is the sampler's; the random bit is the trace's.
            let sampled = u8::from_str_radix(got, 16).unwrap() & 1;
            let random = u8::from_str_radix(got, 16).unwrap() & 2;
            assert_eq!(
                random,
                u8::from_str_radix(want, 16).unwrap() & 2,
                "{flags} via {name}: {got}"
            );
            if name == "AlwaysOn" {
                assert_eq!(sampled, 1, "{flags} via {name}");
            }
        }
    }
}

#[test]
fn new_traces_are_marked_random_when_the_ids_are_random() {
    let p = W3cTraceContextPropagator::new().with_random_trace_ids(true);
    for (name, sampler, want) in [
        ("AlwaysOn", Sampler::AlwaysOn, "03"),
        ("AlwaysOff", Sampler::AlwaysOff, "02"),
    ] {
        let provider = provider(sampler);
        let span = provider
            .tracer("t")
            .start_with_context("root", &Context::new());
        let cx = Context::new().with_span(span);
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(&out["traceparent"][53..], want, "{name}");
    }
    // Without the promise, a local root is not marked (the ids might come from anywhere).
    let provider = provider(Sampler::AlwaysOn);
    let span = provider
        .tracer("t")
        .start_with_context("root", &Context::new());
    let mut out = HashMap::new();
    W3cTraceContextPropagator::new().inject_context(&Context::new().with_span(span), &mut out);
    assert_eq!(&out["traceparent"][53..], "01");
}

#[test]
fn an_invalid_header_line_counts_as_an_invalid_value() {
    let p = W3cTraceContextPropagator::new();
    let good = format!("00-{TRACE}-00f067aa0ba902b7-01");
    // Two traceparent lines, one not visible ASCII: still two lines, so the trace restarts.
    let h = headers(&[
        ("traceparent", b"00-\xe9"),
        ("traceparent", good.as_bytes()),
    ]);
    assert!(p.extract_span_context(&HeaderMapExtractor(&h)).is_err());
    let h = headers(&[
        ("traceparent", good.as_bytes()),
        ("traceparent", b"00-\xe9"),
    ]);
    assert!(p.extract_span_context(&HeaderMapExtractor(&h)).is_err());
    // A tracestate line that is not visible ASCII discards the whole tracestate.
    let h = headers(&[
        ("traceparent", good.as_bytes()),
        ("tracestate", b"foo=1"),
        ("tracestate", b"bar=\xe9"),
    ]);
    let sc = p.extract_span_context(&HeaderMapExtractor(&h)).unwrap();
    assert_eq!(sc.trace_state().header(), "");
    let out = through_child(&p, &h, Sampler::AlwaysOn);
    assert!(!out.contains_key("tracestate"), "{out:?}");
}

#[test]
fn a_span_of_another_trace_does_not_get_the_inbound_tracestate() {
    let p = W3cTraceContextPropagator::new();
    let h = headers(&[
        (
            "traceparent",
            format!("00-{TRACE}-00f067aa0ba902b7-03").as_bytes(),
        ),
        ("tracestate", b"a@b@c=1"),
    ]);
    let parent = p.extract_with_context(&Context::new(), &HeaderMapExtractor(&h));
    // A new root started under the inbound context (e.g. `NewRootWithLink`): not that trace.
    let provider = provider(Sampler::AlwaysOn);
    let root = provider
        .tracer("t")
        .start_with_context("root", &Context::new());
    let cx = parent.with_span(root);
    let mut out = HashMap::new();
    p.inject_context(&cx, &mut out);
    assert!(!out.contains_key("tracestate"), "{out:?}");
    assert!(!out["traceparent"].contains(TRACE));
    assert_eq!(&out["traceparent"][53..], "01");
}

#[test]
fn a_sampler_that_edits_the_sdk_trace_state_is_honoured() {
    // The SDK-side TraceState can be edited (here by hand, as a sampler would): its additions go
    // to the left of the inbound list, its deletions are applied, the rest is kept as received.
    let p = W3cTraceContextPropagator::new();
    let h = headers(&[
        (
            "traceparent",
            format!("00-{TRACE}-00f067aa0ba902b7-01").as_bytes(),
        ),
        ("tracestate", b"a@b@c=1,rojo=2,congo=3"),
    ]);
    let parent = p.extract_with_context(&Context::new(), &HeaderMapExtractor(&h));
    let sc = parent.span().span_context().clone();
    // The SDK type holds what it can: rojo and congo (a@b@c is beyond it).
    assert_eq!(sc.trace_state().header(), "rojo=2,congo=3");
    let edited = sc
        .trace_state()
        .insert("vendor", "x")
        .unwrap()
        .delete("congo")
        .unwrap();
    let child = opentelemetry::trace::SpanContext::new(
        sc.trace_id(),
        opentelemetry::trace::SpanId::from_hex("1111111111111111").unwrap(),
        sc.trace_flags(),
        false,
        edited,
    );
    let cx = parent.with_remote_span_context(child);
    let mut out = HashMap::new();
    p.inject_context(&cx, &mut out);
    assert_eq!(out["tracestate"], "vendor=x,a@b@c=1,rojo=2");
}
