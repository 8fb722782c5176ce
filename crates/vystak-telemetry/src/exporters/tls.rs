//! TLS for `https://` endpoints: rustls with the *ring* provider and the system's root
//! certificates, for both transports.
//!
//! - OTLP/gRPC: tonic's rustls (`tls-ring`) with the native roots (`tls-roots`).
//! - OTLP/HTTP: a blocking [`ureq`] client on rustls/ring. The SDK's blocking reqwest client is
//!   kept for `http://`; it is not given TLS, because reqwest's rustls either brings aws-lc-rs
//!   (a second crypto library and a C build) or, without a provider, makes every *other*
//!   `reqwest::Client` in the process panic at construction.
//!
//! The roots are what `rustls-native-certs` finds (`SSL_CERT_FILE` / `SSL_CERT_DIR`, else the
//! distribution's bundle). A machine without any is reported at init, not at the first export.

use std::io::Read as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};

use super::config::SignalPlan;
use super::refusal::Refusal;

/// The largest OTLP response body read (the SDK's clients use the same bound).
const MAX_RESPONSE_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// The system's root certificates, loaded once per process.
#[derive(Debug)]
pub(crate) struct SystemRoots {
    pub(crate) certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Why there are none, when there are none.
    pub(crate) problem: Option<String>,
}

pub(crate) fn system_roots() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let problem = found.certs.is_empty().then(|| {
            let mut why = "no system root certificates were found".to_owned();
            if let Some(e) = found.errors.first() {
                why.push_str(&format!(" ({e})"));
            }
            why.push_str(
                ": install the ca-certificates package, or point SSL_CERT_FILE at a PEM bundle \
                 that holds your backend's CA",
            );
            why
        });
        SystemRoots {
            certs: found.certs,
            problem,
        }
    })
}

/// A warning for each exported signal whose endpoint is `https://` while the machine has no
/// root certificates: its exports will fail, and this says so at init.
pub(crate) fn missing_roots_warnings(plans: [&SignalPlan; 2], warnings: &mut Vec<String>) {
    for p in plans {
        if p.off.is_none() && p.endpoint.starts_with("https://") {
            if let Some(problem) = &system_roots().problem {
                warnings.push(format!(
                    "the {} endpoint {} is https://, but {problem}; its exports will fail",
                    p.signal.as_str(),
                    p.endpoint
                ));
            }
        }
    }
}

/// The tonic TLS settings for an `https://` gRPC endpoint: system roots (when there are any;
/// without them the handshake fails and says so), ALPN h2.
pub(crate) fn grpc_tls_config() -> tonic::transport::ClientTlsConfig {
    let config = tonic::transport::ClientTlsConfig::new();
    if system_roots().certs.is_empty() {
        config
    } else {
        config.with_native_roots()
    }
}

/// A blocking OTLP/HTTP client for `https://` endpoints: ureq on rustls with ring and the
/// system roots. Like the SDK's blocking reqwest client it runs on the exporter's own thread.
#[derive(Debug, Clone)]
pub(crate) struct HttpsClient {
    agent: ureq::Agent,
    /// Told about TLS failures, which the exporter itself reports only as "network error".
    refusal: Arc<Refusal>,
}

impl HttpsClient {
    pub(crate) fn new(timeout: Duration, refusal: Arc<Refusal>) -> Self {
        let roots: Vec<ureq::tls::Certificate<'static>> = system_roots()
            .certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()))
            .collect();
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(timeout))
            // The exporter classifies status codes itself (retry, refusal).
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Self { agent, refusal }
    }
}

#[async_trait::async_trait]
impl HttpClient for HttpsClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = request.map(|b| b.to_vec());
        let response = self
            .agent
            .run(request)
            .inspect_err(|e| self.refusal.export_failed(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let mut bytes = Vec::new();
        body.into_reader()
            .take(MAX_RESPONSE_BODY_BYTES)
            .read_to_end(&mut bytes)?;
        Ok(Response::from_parts(parts, Bytes::from(bytes)))
    }
}

/// Whether an export error is a TLS failure (certificate, handshake), which deserves its own,
/// specific warning: retrying never fixes it.
pub(crate) fn tls_failure(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    [
        "certificate",
        "unknownissuer",
        "handshake",
        "tls",
        "invalid peer",
    ]
    .iter()
    .any(|needle| e.contains(needle))
}
