//! Bound token and duration points: with a meter provider that records bound instruments
//! (opted in; this workspace's SDK has the feature), every call is recorded, with the same
//! series, counts and sums as the unbound path.

use std::collections::BTreeMap;

use vystak_otel_genai::{GenAiCall, GenAiInstrumentation, GenAiResponse, SemconvMode, Usage};
use vystak_otel_testkit::memory::{InMemory, Value};

struct Reply(u64, u64);

impl GenAiResponse for Reply {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: Some(self.0),
            output_tokens: Some(self.1),
            ..Usage::default()
        })
    }
}

/// Calls to two models (one failing once), through `genai`.
async fn drive(genai: &GenAiInstrumentation) {
    for (model, input, output) in [("a", 10, 2), ("a", 20, 4), ("b", 7, 1), ("a", 30, 6)] {
        genai
            .instrument(GenAiCall::anthropic(model), async move {
                Ok::<_, std::io::Error>(Reply(input, output))
            })
            .await
            .unwrap();
    }
    let failed = genai
        .instrument(GenAiCall::anthropic("b"), async {
            Err::<Reply, _>(std::io::Error::other("boom"))
        })
        .await;
    assert!(failed.is_err());
}

/// Token and duration series (their attributes) with their counts and token sums.
fn series(t: &InMemory) -> BTreeMap<String, (u64, f64)> {
    [
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
    ]
    .into_iter()
    .flat_map(|name| t.points_named(name))
    .map(|p| match p.value {
        Value::Histogram { count, sum, .. } => {
            let sum = if p.name == "gen_ai.client.token.usage" {
                sum
            } else {
                0.0
            };
            (format!("{} {:?}", p.name, p.attrs), (count, sum))
        }
        other => panic!("{other:?}"),
    })
    .collect()
}

fn genai(t: &InMemory) -> GenAiInstrumentation {
    GenAiInstrumentation::new()
        .with_tracer_provider(&t.tp)
        .with_meter_provider(&t.mp)
        .with_semconv_mode(SemconvMode::Seed)
}

#[tokio::test]
async fn bound_points_record_what_the_unbound_path_records() {
    let unbound = InMemory::new();
    drive(&genai(&unbound)).await;
    let bound = InMemory::new();
    drive(&genai(&bound).with_bound_instruments(true)).await;
    let (expected, got) = (series(&unbound), series(&bound));
    // Tokens: 2 models × 2 types; durations: a, b, and b's error.
    assert_eq!(expected.len(), 7, "{expected:#?}");
    assert_eq!(got, expected);
}
