//! Only our own origin: every HTTP port (OTLP/HTTP, the API and UI) answers only `Host` values
//! that name the address it serves, and refuses state-changing requests whose `Origin` is
//! another site. A web page the user visits can then neither reach the viewer through DNS
//! rebinding (its `Host` is the attacker's name) nor post to it from its own origin.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The host names one port answers to.
#[derive(Clone, Debug)]
pub(crate) struct OriginGuard {
    hosts: Arc<Vec<String>>,
}

impl OriginGuard {
    /// Loopback names, the bound address, and `extra` (`--allow-host`).
    pub(crate) fn new(bound: SocketAddr, extra: &[String]) -> Self {
        let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let ip = bound.ip();
        if !ip.is_unspecified() {
            hosts.push(match ip {
                std::net::IpAddr::V4(v4) => v4.to_string(),
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        hosts.extend(extra.iter().map(|h| h.trim().to_ascii_lowercase()));
        Self {
            hosts: Arc::new(hosts),
        }
    }

    /// `true` when `authority` (`host[:port]`) names one of our hosts.
    fn allows(&self, authority: &str) -> bool {
        let authority = authority.trim().to_ascii_lowercase();
        let host = match authority.strip_prefix('[') {
            Some(rest) => match rest.split_once(']') {
                Some((v6, _)) => format!("[{v6}]"),
                None => return false,
            },
            None => match authority.rsplit_once(':') {
                Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_owned(),
                _ => authority.clone(),
            },
        };
        self.hosts.contains(&host)
    }
}

/// The middleware: `421 Misdirected Request` for another `Host`, `403 Forbidden` for a
/// state-changing request from another `Origin`.
pub(crate) async fn guard(State(g): State<OriginGuard>, request: Request, next: Next) -> Response {
    if let Some(host) = request.headers().get(header::HOST) {
        let named = host.to_str().is_ok_and(|h| g.allows(h));
        if !named {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "vystak-otel-viewer answers only requests addressed to {} (Host header); \
                     to serve another name start it with --allow-host NAME",
                    g.hosts.join(", ")
                ),
            )
                .into_response();
        }
    }
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let ours = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .is_some_and(|(scheme, authority)| {
                    matches!(scheme, "http" | "https") && g.allows(authority)
                });
            if !ours {
                return (
                    StatusCode::FORBIDDEN,
                    "vystak-otel-viewer refuses requests from another site's page (Origin)",
                )
                    .into_response();
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ports() {
        let g = OriginGuard::new(
            SocketAddr::from(([127, 0, 0, 1], 13000)),
            &["viewer.lan".to_owned()],
        );
        for ok in [
            "127.0.0.1:13000",
            "localhost",
            "LOCALHOST:1",
            "[::1]:13000",
            "viewer.lan:80",
        ] {
            assert!(g.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:13000",
            "127.0.0.1.evil.example",
            "[::2]:1",
            "[::1",
        ] {
            assert!(!g.allows(bad), "{bad}");
        }
    }
}
