//! Connection hygiene for every port: a connection limit, and timeouts for a client that
//! connects and sends nothing, sends its request headers slowly, or trickles its body.
//!
//! Without them, 1,100 idle TCP connections locked both OTLP receivers out (the process ran out
//! of file descriptors and no new exporter could connect). Now:
//! - each port holds at most [`ConnectionLimits::max_connections`] connections; one more is
//!   closed at once, and the viewer says so on stderr (at most once every 10 s);
//! - a connection that has not sent a byte within [`ConnectionLimits::idle_timeout`] is
//!   closed (gRPC and HTTP), and so is an HTTP/1 connection whose next request's headers are
//!   not complete within it (hyper's header read timeout, which also reaps idle keep-alive
//!   connections);
//! - an HTTP request body must arrive within [`ConnectionLimits::body_timeout`]; a slower one
//!   fails the request (the handler answers `400`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tower::ServiceExt as _;

/// Default [`ConnectionLimits::max_connections`]: per port, well under a default 1,024
/// file-descriptor limit for the three ports together.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Default [`ConnectionLimits::idle_timeout`] (hyper's default header read timeout).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default [`ConnectionLimits::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// How many connections a port holds and how long a client may stay silent.
///
/// ```
/// use std::time::Duration;
/// use vystak_otel_viewer::{ConnectionLimits, ViewerConfig};
///
/// let config = ViewerConfig::local().with_connection_limits(
///     ConnectionLimits::default()
///         .with_max_connections(64)
///         .with_idle_timeout(Duration::from_secs(10)),
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    max_connections: usize,
    idle_timeout: Duration,
    body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

impl ConnectionLimits {
    /// At most `n` open connections per port (at least 1).
    #[must_use]
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Close a connection that sends nothing, or not a whole request head, for this long.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Fail an HTTP request whose body has not fully arrived this long after its head.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The connection limit per port.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The idle (first byte, request head) timeout.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The request body timeout.
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }
}

/// One port's listener with its seats: [`Gate::accept`] hands out connections that hold a seat
/// until they close.
pub(crate) struct Gate {
    listener: TcpListener,
    seats: Arc<Semaphore>,
    limits: ConnectionLimits,
    what: &'static str,
    /// When the "limit reached" line was last printed (ms since `epoch`), to print it rarely.
    last_warning_ms: AtomicU64,
    epoch: Instant,
}

impl Gate {
    pub(crate) fn new(listener: TcpListener, limits: ConnectionLimits, what: &'static str) -> Self {
        Self {
            listener,
            seats: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            what,
            last_warning_ms: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
        }
    }

    /// The next connection that finds a free seat; one past the limit is closed at once.
    pub(crate) async fn accept(&self) -> GuardedIo {
        loop {
            let (stream, _) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: wait instead of spinning (as axum::serve does).
                    self.warn(&format!("cannot accept a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.seats.clone().try_acquire_owned() {
                Ok(seat) => {
                    let _ = stream.set_nodelay(true);
                    return GuardedIo::new(stream, seat, self.limits.idle_timeout);
                }
                Err(_) => {
                    drop(stream);
                    self.warn(&format!(
                        "{} connections are open, the limit; closing new ones until some end \
                         (silent ones close after {:?})",
                        self.limits.max_connections, self.limits.idle_timeout
                    ));
                }
            }
        }
    }

    /// Prints `message` for this port, at most once every 10 s.
    fn warn(&self, message: &str) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        if last != u64::MAX && now.saturating_sub(last) < 10_000 {
            return;
        }
        if self
            .last_warning_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            eprintln!("vystak-otel-viewer: {}: {message}", self.what);
        }
    }

    /// Waits until every connection has closed, or `grace` has passed.
    async fn drained(&self, grace: Duration) {
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(grace, self.seats.acquire_many(all)).await;
    }
}

/// A TCP connection holding a seat of its port; reading fails with `TimedOut` if no byte has
/// arrived within the idle timeout of the connection's start.
pub(crate) struct GuardedIo {
    /// First field, so it is dropped first: the seat is free before the client can see the
    /// connection close and connect again.
    _seat: OwnedSemaphorePermit,
    stream: TcpStream,
    first_byte: Option<Pin<Box<Sleep>>>,
}

impl GuardedIo {
    fn new(stream: TcpStream, seat: OwnedSemaphorePermit, idle: Duration) -> Self {
        Self {
            _seat: seat,
            stream,
            first_byte: Some(Box::pin(tokio::time::sleep(idle))),
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.first_byte = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let expired = self
                    .first_byte
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent nothing within the idle timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for GuardedIo {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

/// The gate's connections as the stream tonic serves, ending when `stopped` turns true.
pub(crate) fn incoming(
    gate: Arc<Gate>,
    stopped: watch::Receiver<bool>,
) -> impl futures_core::Stream<Item = io::Result<GuardedIo>> {
    futures_util::stream::unfold((gate, stopped), |(gate, mut stop)| async move {
        let io = tokio::select! {
            io = gate.accept() => Some(io),
            _ = stop.wait_for(|s| *s) => None,
        };
        io.map(|io| (Ok(io), (gate, stop)))
    })
}

/// A request body that fails once `timeout` has passed since the request head arrived.
struct TimedBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl http_body::Body for TimedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let timeout = self.timeout;
            return Poll::Ready(Some(Err(axum::Error::new(format!(
                "the request body did not arrive within {timeout:?}"
            )))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `gate` over HTTP/1 with the gate's timeouts until `stopped`, then lets
/// open requests finish (at most 10 s).
pub(crate) async fn serve_http(
    gate: Gate,
    router: axum::Router,
    mut stopped: watch::Receiver<bool>,
) {
    let gate = Arc::new(gate);
    let limits = gate.limits;
    loop {
        let io = tokio::select! {
            io = gate.accept() => io,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let router = router.clone();
        let service = tower::service_fn(move |req: Request<hyper::body::Incoming>| {
            let (parts, body) = req.into_parts();
            let body = Body::new(TimedBody {
                inner: Body::new(body),
                deadline: Box::pin(tokio::time::sleep(limits.body_timeout)),
                timeout: limits.body_timeout,
            });
            router.clone().oneshot(Request::from_parts(parts, body))
        });
        let mut conn_stopped = stopped.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = conn_stopped.wait_for(|s| *s) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    gate.drained(Duration::from_secs(10)).await;
}
