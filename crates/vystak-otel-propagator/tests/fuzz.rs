//! Property tests: arbitrary input never panics; anything accepted re-serialises to a value the
//! parser accepts unchanged.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use proptest::prelude::*;
use vystak_otel_propagator::{
    format_traceparent, format_tracestate, parse_traceparent, parse_tracestate,
    W3cTraceContextPropagator,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn traceparent_arbitrary_strings_never_panic(s in "\\PC{0,80}") {
        if let Ok(t) = parse_traceparent(&s) {
            let again = format_traceparent(t.trace_id, t.parent_id, t.flags);
            let back = parse_traceparent(&again).unwrap();
            prop_assert_eq!(back.trace_id, t.trace_id);
            prop_assert_eq!(back.parent_id, t.parent_id);
            prop_assert_eq!(back.flags, t.flags);
            prop_assert_eq!(format_traceparent(back.trace_id, back.parent_id, back.flags), again);
        }
    }

    #[test]
    fn traceparent_near_valid_shapes(version in "[0-9a-fA-F]{1,3}", trace in "[0-9a-f]{30,34}",
                                     parent in "[0-9a-fA-F]{14,18}", flags in "[0-9a-f]{1,3}",
                                     tail in "(-[a-z]{0,4})?") {
        let s = format!("{version}-{trace}-{parent}-{flags}{tail}");
        if let Ok(t) = parse_traceparent(&s) {
            let again = format_traceparent(t.trace_id, t.parent_id, t.flags);
            prop_assert!(parse_traceparent(&again).is_ok());
            prop_assert_eq!(again.len(), 55);
        }
    }

    #[test]
    fn tracestate_arbitrary_bytes_never_panic(lines in proptest::collection::vec("\\PC{0,120}", 0..4)) {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        if let Ok(members) = parse_tracestate(&refs) {
            let header = format_tracestate(&members);
            let back = parse_tracestate(&[header.as_str()]).unwrap();
            prop_assert_eq!(&back, &members);
            prop_assert_eq!(format_tracestate(&back), header);
        }
    }

    #[test]
    fn tracestate_near_valid_shapes(members in proptest::collection::vec(("[a-z0-9@_*/-]{1,20}", "[ -~]{0,20}"), 0..40)) {
        let header: String = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        if let Ok(parsed) = parse_tracestate(&[header.as_str()]) {
            prop_assert!(parsed.len() <= 32);
            let again = format_tracestate(&parsed);
            prop_assert_eq!(parse_tracestate(&[again.as_str()]).unwrap(), parsed);
        }
    }

    #[test]
    fn accepted_tracestate_leaves_as_it_arrived(members in proptest::collection::vec(("[a-z0-9][a-z0-9@_*/-]{0,30}", "[!-+\\--<>-~][ !-+\\--<>-~]{0,20}[!-+\\--<>-~]"), 1..32)) {
        let header: String = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let parsed = parse_tracestate(&[header.as_str()]);
        prop_assert!(parsed.is_ok(), "{header}: {parsed:?}");
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned());
        carrier.insert("tracestate".to_owned(), header.clone());
        let p = W3cTraceContextPropagator::new();
        let cx = p.extract(&carrier);
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        prop_assert_eq!(&out["tracestate"], &header);
        prop_assert_eq!(&out["traceparent"], &carrier["traceparent"]);
    }
}
