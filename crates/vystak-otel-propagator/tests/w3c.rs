//! Table-driven tests for W3C Trace Context Level 2, each case citing its section, plus the
//! deviations of the stock `TraceContextPropagator` that this propagator fixes.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use vystak_otel_propagator::{
    insert_member, parse_traceparent, parse_tracestate, HeaderMapExtractor, HeaderMapInjector,
    TraceparentError as E, TracestateError, W3cTraceContextPropagator, MAX_HEADER_LEN,
};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

fn tp(version: &str, trace: &str, parent: &str, flags: &str) -> String {
    format!("{version}-{trace}-{parent}-{flags}")
}

#[test]
fn traceparent_table() {
    let ok = |s: &str| parse_traceparent(s).map(|t| (t.version, t.flags.to_u8()));
    type Case = (&'static str, String, Result<(u8, u8), E>);
    let cases: Vec<Case> = vec![
        (
            "§3.2.2 valid, sampled",
            tp("00", TID, PID, "01"),
            Ok((0, 1)),
        ),
        (
            "§3.2.2 valid, not sampled",
            tp("00", TID, PID, "00"),
            Ok((0, 0)),
        ),
        (
            "§3.2.2.5.2 random flag kept",
            tp("00", TID, PID, "03"),
            Ok((0, 3)),
        ),
        (
            "§3.2.2.5 unknown flag bits dropped",
            tp("00", TID, PID, "ff"),
            Ok((0, 3)),
        ),
        (
            "§3.2.2.1 version is 2 hex digits: '0'",
            format!("0-{TID}-{PID}-01"),
            Err(E::TooShort),
        ),
        (
            "§3.2.2.1 version 000",
            format!("000-{TID}-{PID}-01"),
            Err(E::BadLength),
        ),
        (
            "§3.2.2.1 version ff forbidden",
            tp("ff", TID, PID, "01"),
            Err(E::ForbiddenVersion),
        ),
        (
            "§3.2.2.1 version uppercase",
            tp("0A", TID, PID, "01"),
            Err(E::BadVersion),
        ),
        (
            "§3.2.2.1 version not hex",
            tp("0g", TID, PID, "01"),
            Err(E::BadVersion),
        ),
        (
            "§3.2.2.3 trace-id 31 digits",
            tp("00", &TID[1..], PID, "01"),
            Err(E::TooShort),
        ),
        (
            "§3.2.2.3 trace-id uppercase",
            tp("00", &TID.to_uppercase(), PID, "01"),
            Err(E::BadTraceId),
        ),
        (
            "§3.2.2.3 trace-id all zeros",
            tp("00", &"0".repeat(32), PID, "01"),
            Err(E::ZeroTraceId),
        ),
        (
            "§3.2.2.4 parent-id 15 digits",
            tp("00", TID, &PID[1..], "01"),
            Err(E::TooShort),
        ),
        (
            "§3.2.2.4 parent-id 15 digits + 1-digit flags (55 chars)",
            tp("00", TID, &PID[1..], "001"),
            Err(E::BadDelimiter),
        ),
        (
            "§3.2.2.4 parent-id all zeros",
            tp("00", TID, &"0".repeat(16), "01"),
            Err(E::ZeroParentId),
        ),
        (
            "§3.2.2.4 parent-id uppercase",
            tp("00", TID, "00F067AA0BA902B7", "01"),
            Err(E::BadParentId),
        ),
        (
            "§3.2.2.5 flags 1 digit",
            tp("00", TID, PID, "1"),
            Err(E::TooShort),
        ),
        (
            "§3.2.2.5 flags 3 digits",
            tp("00", TID, PID, "001"),
            Err(E::BadLength),
        ),
        (
            "§3.2.2.5 flags not hex",
            tp("00", TID, PID, "0x"),
            Err(E::BadFlags),
        ),
        (
            "§3.2.2 wrong delimiter",
            format!("00_{TID}-{PID}-01"),
            Err(E::BadDelimiter),
        ),
        (
            "§3.2.2 version 00 with a suffix",
            format!("{}-extra", tp("00", TID, PID, "01")),
            Err(E::BadLength),
        ),
        (
            "§3.2.4 future version with a suffix",
            format!("{}-what-the-future-holds", tp("cc", TID, PID, "01")),
            Ok((0xcc, 1)),
        ),
        (
            "§3.2.4 future version, exactly 55",
            tp("01", TID, PID, "01"),
            Ok((1, 1)),
        ),
        (
            "§3.2.4 future version, flags not followed by a dash",
            format!("{}x", tp("cc", TID, PID, "01")),
            Err(E::BadDelimiter),
        ),
        (
            "§3.2.4 step 1: shorter than 55",
            "00-abc".to_owned(),
            Err(E::TooShort),
        ),
        (
            "RFC 9110 §5.6.3 OWS around the value",
            format!(" \t{} ", tp("00", TID, PID, "01")),
            Ok((0, 1)),
        ),
        (
            "§3.2.2 whitespace inside",
            tp("00", TID, PID, "01").replace('-', " "),
            Err(E::BadDelimiter),
        ),
        ("empty", String::new(), Err(E::TooShort)),
    ];
    for (section, value, expected) in cases {
        assert_eq!(ok(&value), expected, "{section}: {value:?}");
    }
}

#[test]
fn tracestate_table() {
    let long_value = "v".repeat(256);
    let too_long_value = "v".repeat(257);
    let tenant241 = format!("{}@sys", "t".repeat(241));
    let tenant242 = format!("{}@sys", "t".repeat(242));
    let members33: String = (0..33)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let members32: String = (0..32)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let cases: Vec<(&str, Vec<String>, Result<usize, &str>)> = vec![
        (
            "§3.3.1.3 simple members",
            vec!["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()],
            Ok(2),
        ),
        (
            "§3.3.1.3.1 multi-tenant key",
            vec!["fw529a3039@dt=-2".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 tenant may start with a digit",
            vec!["1tenant@vendor=x".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 tenant-id 241 chars",
            vec![format!("{tenant241}=x")],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 (current grammar) a 246-char key with '@' in it",
            vec![format!("{tenant242}=x")],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 system-id 14 chars",
            vec!["t@abcdefghijklmn=x".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 (current grammar) 15 chars after '@'",
            vec!["t@abcdefghijklmno=x".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 (current grammar) a digit after '@'",
            vec!["t@1sys=x".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 a key may start with a digit",
            vec!["1abc=x".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 uppercase key",
            vec!["Rojo=x".into()],
            Err("key"),
        ),
        ("§3.3.1.3.1 two @", vec!["a@b@c=x".into()], Ok(1)),
        ("§3.3.1.3.1 trailing @", vec!["foo@=x".into()], Ok(1)),
        ("§3.3.1.3.1 leading @", vec!["@foo=x".into()], Err("key")),
        (
            "§3.3.1.3.1 key starts with '_'",
            vec!["_foo=x".into()],
            Err("key"),
        ),
        (
            "§3.3.1.3.1 key 256 chars",
            vec![format!("{}=x", "k".repeat(256))],
            Ok(1),
        ),
        (
            "§3.3.1.3.1 key 257 chars",
            vec![format!("{}=x", "k".repeat(257))],
            Err("key"),
        ),
        (
            "§3.3.1.3.2 value 256 chars",
            vec![format!("a={long_value}")],
            Ok(1),
        ),
        (
            "§3.3.1.3.2 value 257 chars",
            vec![format!("a={too_long_value}")],
            Err("value"),
        ),
        ("§3.3.1.3.2 empty value", vec!["a=".into()], Err("value")),
        (
            "§3.3.1.3.2 inner space allowed",
            vec!["a=b c".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.2 trailing space is OWS",
            vec!["a=bc ".into()],
            Ok(1),
        ),
        (
            "§3.3.1.3.2 '=' in a value",
            vec!["a=b=c".into()],
            Err("value"),
        ),
        (
            "§3.3.1.3.2 non-ASCII value",
            vec!["a=é".into()],
            Err("value"),
        ),
        (
            "§3.3.1.3.2 control character",
            vec!["a=b\u{1}".into()],
            Err("value"),
        ),
        ("§3.3.1 missing '='", vec!["abc".into()], Err("equals")),
        (
            "§3.3.1 empty list members are allowed",
            vec![" , a=1 ,, b=2 , ".into()],
            Ok(2),
        ),
        (
            "§3.3.1 OWS around members",
            vec!["a=1 \t,\tb=2".into()],
            Ok(2),
        ),
        ("§3.3.1.1 32 members", vec![members32], Ok(32)),
        (
            "§3.3.1.1 33 members: the whole header is invalid",
            vec![members33],
            Err("many"),
        ),
        (
            "§3.3.1.1 duplicate keys are the sender's fault: kept as received (w3c#477, #552)",
            vec!["a=1,a=2".into()],
            Ok(2),
        ),
        (
            "§3.3.1.5 repeated header lines are combined",
            vec!["a=1".into(), "b=2".into()],
            Ok(2),
        ),
        (
            "§3.3.1.5 duplicates across lines are kept as received",
            vec!["a=1".into(), "a=2".into()],
            Ok(2),
        ),
        (
            "§3.3.1 one bad member discards all",
            vec!["a=1,B=2,c=3".into()],
            Err("key"),
        ),
        ("empty header", vec![String::new()], Ok(0)),
    ];
    for (section, lines, expected) in cases {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let got = parse_tracestate(&refs)
            .map(|m| m.len())
            .map_err(|e| match e {
                TracestateError::BadKey(_) => "key",
                TracestateError::BadValue(_) => "value",
                TracestateError::MissingEquals(_) => "equals",
                TracestateError::TooManyMembers(_) => "many",
                _ => "other",
            });
        assert_eq!(got, expected, "{section}: {lines:?}");
    }
}

#[test]
fn mutation_rules_of_section_3_5() {
    let members = parse_tracestate(&["a=1,b=2,c=3"]).unwrap();
    // §3.5 update: the modified member moves to the left, the old one is removed.
    let updated = insert_member(&members, "b", "9").unwrap();
    assert_eq!(
        vystak_otel_propagator::format_tracestate(&updated),
        "b=9,a=1,c=3"
    );
    // §3.5 add: a new member goes on the left.
    let added = insert_member(&members, "me", "x").unwrap();
    assert_eq!(
        vystak_otel_propagator::format_tracestate(&added),
        "me=x,a=1,b=2,c=3"
    );
    // §3.3.1.1: adding to a full list removes the right-most member.
    let full = parse_tracestate(&[(0..32)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",")
        .as_str()])
    .unwrap();
    let added = insert_member(&full, "me", "x").unwrap();
    assert_eq!(added.len(), 32);
    assert_eq!(added[0].0, "me");
    assert_eq!(added[31].0, "k30", "k31 was removed from the right");
    // §3.3.1.5: over 512 characters, members longer than 128 are removed first.
    let big = "x".repeat(200);
    let mut members = vec![("big".to_owned(), big.clone())];
    for i in 0..20 {
        members.push((format!("m{i}"), "y".repeat(10)));
    }
    members.push(("big2".to_owned(), big));
    let trimmed = insert_member(&members, "me", "1").unwrap();
    let header = vystak_otel_propagator::format_tracestate(&trimmed);
    assert!(header.len() <= MAX_HEADER_LEN, "{}", header.len());
    assert!(
        trimmed.iter().any(|(k, _)| k == "big"),
        "only as many large members as needed go"
    );
    assert!(
        !trimmed.iter().any(|(k, _)| k == "big2"),
        "the right-most large member goes first"
    );
    assert_eq!(
        trimmed
            .iter()
            .filter(|(k, _)| k.starts_with('m') && k != "me")
            .count(),
        20,
        "small members stay"
    );
    assert!(insert_member(&[], "Bad", "x").is_err());
}

fn extract_both(headers: &http::HeaderMap) -> (Option<SpanContext>, Option<SpanContext>) {
    let ours = W3cTraceContextPropagator::new().extract(&HeaderMapExtractor(headers));
    let stock = TraceContextPropagator::new().extract(&HeaderMapExtractor(headers));
    let valid = |cx: Context| {
        let sc = cx.span().span_context().clone();
        sc.is_valid().then_some(sc)
    };
    (valid(ours), valid(stock))
}

#[test]
fn the_stock_propagator_deviations_are_fixed() {
    let mut two = http::HeaderMap::new();
    two.append("traceparent", tp("00", TID, PID, "01").parse().unwrap());
    two.append(
        "traceparent",
        tp("00", "11111111111111111111111111111111", PID, "01")
            .parse()
            .unwrap(),
    );
    let (ours, stock) = extract_both(&two);
    assert!(
        ours.is_none(),
        "§3.2: two traceparent headers restart the trace"
    );
    assert!(
        stock.is_some(),
        "the stock propagator continues the first one"
    );

    for (section, value) in [
        ("§3.2.2.1 one-digit version", format!("0-{TID}-{PID}-01")),
        (
            "§3.2.2.4 15-digit parent-id, padded flags",
            tp("00", TID, &PID[1..], "001"),
        ),
        ("§3.2.2.5 flags '1'", format!("00-{TID}-{PID}-1")),
    ] {
        let mut h = http::HeaderMap::new();
        h.insert("traceparent", value.parse().unwrap());
        let (ours, _stock) = extract_both(&h);
        assert!(ours.is_none(), "{section}: {value}");
    }

    let mut random = http::HeaderMap::new();
    random.insert("traceparent", tp("00", TID, PID, "03").parse().unwrap());
    let (ours, _) = extract_both(&random);
    assert_eq!(
        ours.unwrap().trace_flags().to_u8(),
        3,
        "§3.2.2.5.2 random flag kept"
    );

    let mut lines = http::HeaderMap::new();
    lines.insert("traceparent", tp("00", TID, PID, "01").parse().unwrap());
    lines.append("tracestate", "a=1".parse().unwrap());
    lines.append("tracestate", "b=2".parse().unwrap());
    let (ours, _) = extract_both(&lines);
    assert_eq!(
        ours.unwrap().trace_state().header(),
        "a=1,b=2",
        "§3.3.1.5 lines combined"
    );

    // No empty tracestate on write.
    let cx = Context::new().with_remote_span_context(SpanContext::new(
        TID.parse::<u128>()
            .map(Into::into)
            .unwrap_or(opentelemetry::trace::TraceId::from_hex(TID).unwrap()),
        opentelemetry::trace::SpanId::from_hex(PID).unwrap(),
        TraceFlags::new(0x03),
        true,
        TraceState::NONE,
    ));
    let mut out = http::HeaderMap::new();
    W3cTraceContextPropagator::new().inject_context(&cx, &mut HeaderMapInjector(&mut out));
    assert_eq!(out["traceparent"], tp("00", TID, PID, "03"));
    assert!(!out.contains_key("tracestate"));
}

#[test]
fn an_invalid_traceparent_discards_tracestate_and_a_bad_tracestate_keeps_the_parent() {
    let p = W3cTraceContextPropagator::new();
    let mut h: HashMap<String, String> = HashMap::new();
    h.insert("traceparent".into(), "garbage".into());
    h.insert("tracestate".into(), "a=1".into());
    assert!(!p.extract(&h).span().span_context().is_valid());
    h.insert("traceparent".into(), tp("00", TID, PID, "01"));
    h.insert("tracestate".into(), "a=1,BAD=2".into());
    let cx = p.extract(&h);
    assert!(
        cx.span().span_context().is_valid(),
        "§3.3: a bad tracestate does not restart the trace"
    );
    assert_eq!(
        cx.span().span_context().trace_state().header(),
        "",
        "§3.3.1 it is discarded whole"
    );
    assert_eq!(
        p.fields().collect::<Vec<_>>(),
        ["traceparent", "tracestate"]
    );
    let ex: &dyn Extractor = &h;
    assert!(p.extract_span_context(ex).is_ok());
}
