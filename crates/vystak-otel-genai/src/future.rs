//! `Instrumented`: a model-call future inside its `gen_ai.chat` span.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{ready, Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::call::GenAiCall;
use crate::instrumentation::{CallGuard, CallResult, GenAiInstrumentation};
use crate::usage::GenAiResponse;

pin_project! {
    /// A model-call future: its span is current on every poll (so the HTTP request it makes is a
    /// child), and it ends when the future completes — or as cancelled when it is dropped.
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        guard: Option<CallGuard>,
    }
}

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<F> Instrumented<F> {
    pub(crate) fn new(inner: F, guard: CallGuard) -> Self {
        Self {
            inner,
            // Telemetry off: nothing to attach or record on any poll.
            guard: guard.is_recording().then_some(guard),
        }
    }
}

impl<F, T, E> Future for Instrumented<F>
where
    F: Future<Output = Result<T, E>>,
    T: GenAiResponse,
    E: 'static,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = {
            let _attached = this.guard.as_ref().map(|g| g.context().attach());
            ready!(this.inner.poll(task))
        };
        if let Some(guard) = this.guard.take() {
            match &output {
                Ok(response) => guard.finish(CallResult::from_response(response)),
                Err(e) => {
                    let class = guard.classify_error(e);
                    guard.finish_error(class, CallResult::default());
                }
            }
        }
        Poll::Ready(output)
    }
}

impl GenAiInstrumentation {
    /// Wraps a model-call future returning `Result<T, E>` where `T` reports usage.
    pub fn instrument<F, T, E>(&self, call: GenAiCall, future: F) -> Instrumented<F>
    where
        F: Future<Output = Result<T, E>>,
        T: GenAiResponse,
    {
        Instrumented::new(future, self.start(call))
    }
}

/// Wraps a model-call future with the global providers, looked up at each call (so calls made
/// before telemetry is installed are simply not recorded, and later calls are). Use
/// [`GenAiInstrumentation::instrument`] to choose providers.
///
/// A failure is recorded with [`GenAiErrorClass::from_any`](crate::GenAiErrorClass::from_any):
/// `error.type` is the provider's error type, its HTTP status or `timeout` when the error says so,
/// else `_OTHER`; the span status holds the (redacted) error message.
///
/// ```no_run
/// use vystak_otel_genai::{instrument, GenAiCall, Usage, GenAiResponse};
///
/// struct Reply { input: u64, output: u64 }
/// impl GenAiResponse for Reply {
///     fn usage(&self) -> Option<Usage> {
///         Some(Usage { input_tokens: Some(self.input), output_tokens: Some(self.output), ..Usage::default() })
///     }
/// }
/// # async fn call_model() -> Result<Reply, std::io::Error> { Ok(Reply { input: 1, output: 2 }) }
/// # async fn run() -> Result<(), std::io::Error> {
/// let reply = instrument(GenAiCall::chat("anthropic", "claude-haiku-4-5-20251001"), call_model()).await?;
/// # Ok(()) }
/// ```
pub fn instrument<F, T, E>(call: GenAiCall, future: F) -> Instrumented<F>
where
    F: Future<Output = Result<T, E>>,
    T: GenAiResponse,
{
    static GLOBAL: OnceLock<GenAiInstrumentation> = OnceLock::new();
    GLOBAL
        .get_or_init(GenAiInstrumentation::new)
        .instrument(call, future)
}
