//! Trusted proxies: `Forwarded` (RFC 7239) and `X-Forwarded-*` are believed only when the peer is
//! a configured proxy; otherwise anyone could spoof `client.address`, `url.scheme` and
//! `server.address`.

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// An address range of trusted proxies: an IP address or a CIDR block (`10.0.0.0/8`, `::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

/// A `ProxyNet` that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid proxy address or CIDR block: {0:?}")]
pub struct ProxyNetError(pub String);

impl FromStr for ProxyNet {
    type Err = ProxyNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ProxyNetError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl From<IpAddr> for ProxyNet {
    fn from(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }
}

impl ProxyNet {
    /// Whether `ip` is in this range (IPv4-mapped IPv6 addresses match IPv4 ranges).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// What a trusted proxy said about the original request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Forwarded {
    pub(crate) client: Option<String>,
    pub(crate) proto: Option<String>,
    pub(crate) host: Option<String>,
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// `for=` node → the client address without port or brackets; obfuscated/`unknown` → `None`.
fn node_address(node: &str) -> Option<String> {
    let node = unquote(node);
    if node.starts_with('_') || node.eq_ignore_ascii_case("unknown") || node.is_empty() {
        return None;
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next().map(str::to_owned);
    }
    // `1.2.3.4:port` (an IPv6 address without brackets has more than one colon).
    match node.matches(':').count() {
        1 => node.split(':').next().map(str::to_owned),
        _ => Some(node.to_owned()),
    }
}

/// Reads `Forwarded` (first element: the proxy closest to the client), else `X-Forwarded-For`
/// (left-most entry), `X-Forwarded-Proto`, `X-Forwarded-Host`.
pub(crate) fn read(headers: &HeaderMap) -> Forwarded {
    let mut out = Forwarded::default();
    if let Some(first) = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
    {
        for pair in first.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "for" => out.client = node_address(v),
                "proto" => {
                    out.proto = Some(unquote(v).to_ascii_lowercase()).filter(|p| !p.is_empty())
                }
                "host" => out.host = Some(unquote(v).to_owned()).filter(|h| !h.is_empty()),
                _ => {}
            }
        }
        return out;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    out.client = header("x-forwarded-for").and_then(node_address);
    out.proto = header("x-forwarded-proto").map(str::to_ascii_lowercase);
    out.host = header("x-forwarded-host").map(str::to_owned);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_ranges() {
        let net: ProxyNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(
            net.contains("::ffff:10.0.0.9".parse().unwrap()),
            "IPv4-mapped"
        );
        let one: ProxyNet = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: ProxyNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let all: ProxyNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "x", "::1/129", "1.2.3.4/"] {
            assert!(bad.parse::<ProxyNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_and_x_forwarded_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "forwarded",
            r#"for="[2001:db8:cafe::17]:4711";proto=HTTPS;host=example.com, for=10.0.0.1"#
                .parse()
                .unwrap(),
        );
        h.insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
        assert_eq!(
            read(&h),
            Forwarded {
                client: Some("2001:db8:cafe::17".into()),
                proto: Some("https".into()),
                host: Some("example.com".into()),
            },
            "Forwarded wins over X-Forwarded-*"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.7:5555, 10.0.0.1".parse().unwrap(),
        );
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        h.insert("x-forwarded-host", "api.example.com:8443".parse().unwrap());
        assert_eq!(
            read(&h),
            Forwarded {
                client: Some("203.0.113.7".into()),
                proto: Some("https".into()),
                host: Some("api.example.com:8443".into()),
            }
        );
        let mut h = HeaderMap::new();
        h.insert("forwarded", "for=_hidden;proto=http".parse().unwrap());
        assert_eq!(
            read(&h).client,
            None,
            "obfuscated identifiers are not addresses"
        );
        assert_eq!(read(&HeaderMap::new()), Forwarded::default());
    }
}
