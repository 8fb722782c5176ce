//! GenAiLayer: gen_ai.chat spans and gen_ai.client token/duration histograms for any Rust model client.
