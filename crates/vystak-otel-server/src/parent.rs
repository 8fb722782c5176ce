//! The parent of a request's span, by the inbound trust policy: the remote context
//! (`Trust`), a new root linked to it (`NewRootWithLink`), or a new root (`Ignore`).

use http::Request;
use opentelemetry::trace::{Link, SpanBuilder, TraceContextExt};
use opentelemetry::Context;
use vystak_otel_propagator::HeaderMapExtractor;

use crate::config::InboundTrust;
use crate::state::Shared;

/// The context the request's headers carry (none when the policy ignores them).
pub(crate) fn remote_context<B>(shared: &Shared, req: &Request<B>) -> Context {
    match shared.config.inbound.trust {
        InboundTrust::Ignore => Context::new(),
        _ => shared
            .config
            .propagator
            .extract(&HeaderMapExtractor(req.headers())),
    }
}

/// The parent context for the span, and its builder with the link `NewRootWithLink` adds.
pub(crate) fn parent(
    trust: InboundTrust,
    remote: Context,
    builder: SpanBuilder,
) -> (Context, SpanBuilder) {
    match trust {
        InboundTrust::Trust => (remote, builder),
        InboundTrust::NewRootWithLink => {
            let remote_sc = remote.span().span_context().clone();
            let builder = if remote_sc.is_valid() {
                builder.with_links(vec![Link::with_context(remote_sc)])
            } else {
                builder
            };
            (Context::new(), builder)
        }
        InboundTrust::Ignore => (Context::new(), builder),
    }
}
