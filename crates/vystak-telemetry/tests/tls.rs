//! `https://` endpoints over OTLP/gRPC and OTLP/HTTP, through a real TLS front (rustls) in front
//! of the viewer's plain receivers: a certificate from a CA the system trusts (`SSL_CERT_FILE`)
//! works; a self-signed one fails with a TLS failure the guard reports, and never hangs.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use vystak_otel_viewer::Receiver;
use vystak_telemetry::{Protocol, Signal, Telemetry};

/// A certificate for `127.0.0.1` and its key, in DER.
struct ServerCert {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

fn leaf_params() -> CertificateParams {
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "vystak test backend");
    params
}

/// A TLS listener on 127.0.0.1 that forwards every decrypted connection to `target` (ALPN h2 for
/// gRPC, HTTP/1.1 otherwise), as a TLS-terminating load balancer in front of a backend does.
async fn tls_front(target: &str, cert: &ServerCert) -> SocketAddr {
    let target: SocketAddr = target
        .trim_start_matches("http://")
        .parse()
        .expect("a host:port endpoint");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone()));
    let mut config = ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(cert.chain.clone(), key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake: nothing to forward.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut upstream) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                }
            });
        }
    });
    addr
}

fn https_telemetry(protocol: Protocol, front: SocketAddr) -> Telemetry {
    Telemetry::new()
        .with_protocol(protocol)
        .with_endpoint(format!("https://{front}"))
        .with_export_timeout(Duration::from_secs(2))
}

// One test in this binary: the system roots (here `SSL_CERT_FILE`) are read once per process, so
// the variable is set before any export and no other test reads the environment meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_works_with_a_trusted_ca_and_a_self_signed_certificate_fails_clearly() {
    // The CA the "system" trusts, and a backend certificate it issued.
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "vystak test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let ca_file =
        std::env::temp_dir().join(format!("vystak-tls-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    let trusted_key = KeyPair::generate().unwrap();
    let trusted = ServerCert {
        chain: vec![leaf_params()
            .signed_by(&trusted_key, &ca)
            .unwrap()
            .der()
            .clone()],
        key: trusted_key.serialize_der(),
    };
    // A self-signed certificate for the same address, which nothing trusts.
    let self_signed_key = KeyPair::generate().unwrap();
    let self_signed = ServerCert {
        chain: vec![leaf_params()
            .self_signed(&self_signed_key)
            .unwrap()
            .der()
            .clone()],
        key: self_signed_key.serialize_der(),
    };

    let receiver = Receiver::start_local().await.unwrap();
    let grpc_target = receiver.endpoint();
    let http_target = receiver.http_endpoint().unwrap();

    // Trusted: both protocols deliver the span and the token histogram point through TLS.
    let grpc_front = tls_front(&grpc_target, &trusted).await;
    let http_front = tls_front(&http_target, &trusted).await;
    common::roundtrip(
        &receiver,
        https_telemetry(Protocol::Grpc, grpc_front),
        "https-grpc",
    )
    .await;
    common::roundtrip(
        &receiver,
        https_telemetry(Protocol::HttpProtobuf, http_front),
        "https-http-protobuf",
    )
    .await;

    // Self-signed: the export fails in TLS, the guard names it, and nothing hangs.
    for (protocol, target) in [
        (Protocol::Grpc, &grpc_target),
        (Protocol::HttpProtobuf, &http_target),
    ] {
        let front = tls_front(target, &self_signed).await;
        let guard = https_telemetry(protocol, front)
            .with_service_name("vystak-self-signed")
            .with_summary_line(false)
            .build()
            .unwrap();
        assert!(guard.warnings().is_empty(), "{:?}", guard.warnings());
        guard
            .tracer_provider()
            .unwrap()
            .tracer("tls")
            .start("never arrives")
            .end();
        guard
            .meter_provider()
            .unwrap()
            .meter("tls")
            .u64_counter("tls.test")
            .build()
            .add(1, &[]);
        let started = Instant::now();
        let (guard, flushed) = tokio::task::spawn_blocking(move || {
            let flushed = guard.force_flush();
            (guard, flushed)
        })
        .await
        .unwrap();
        assert!(
            flushed.is_err(),
            "{protocol}: the failed export is reported"
        );
        let failures = guard.tls_failures();
        let signals: Vec<Signal> = failures.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            signals,
            [Signal::Traces, Signal::Metrics],
            "{protocol}: {failures:?}"
        );
        for (signal, error) in &failures {
            assert!(
                error.to_ascii_lowercase().contains("certificate")
                    || error.to_ascii_lowercase().contains("unknownissuer"),
                "{protocol} {signal:?}: the error names the certificate: {error}"
            );
        }
        assert!(
            guard.refused_signals().is_empty(),
            "a TLS failure is not a refusal: the signal keeps trying"
        );
        tokio::task::spawn_blocking(move || {
            let _ = guard.shutdown();
        })
        .await
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{protocol}: flush and shutdown are bounded, took {:?}",
            started.elapsed()
        );
        assert!(
            receiver.store().spans_named("never arrives").is_empty(),
            "{protocol}: nothing crossed an untrusted TLS connection"
        );
    }
    let _ = std::fs::remove_file(ca_file);
}
