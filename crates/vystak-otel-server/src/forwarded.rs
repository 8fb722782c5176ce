//! Trusted proxies: `Forwarded` (RFC 7239) and `X-Forwarded-*` are believed only when the peer is
//! a configured proxy; otherwise anyone could spoof `client.address`, `url.scheme` and
//! `server.address`.

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// An address range of trusted proxies: an IP address or a CIDR block (`10.0.0.0/8`, `::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyNet(ipnet::IpNet);

/// A `ProxyNet` that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid proxy address or CIDR block: {0:?}")]
pub struct ProxyNetError(pub String);

impl FromStr for ProxyNet {
    type Err = ProxyNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let net = if t.contains('/') {
            // Host bits may be set (`10.1.2.3/8` is `10.0.0.0/8`), as in most proxy configs.
            t.parse::<ipnet::IpNet>().ok().map(|n| n.trunc())
        } else {
            t.parse::<IpAddr>().ok().map(ipnet::IpNet::from)
        };
        net.map(Self).ok_or_else(|| ProxyNetError(s.to_owned()))
    }
}

impl From<IpAddr> for ProxyNet {
    fn from(addr: IpAddr) -> Self {
        Self(ipnet::IpNet::from(addr))
    }
}

impl ProxyNet {
    /// Whether `ip` is in this range (IPv4-mapped IPv6 addresses match IPv4 ranges).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.contains(&ip)
    }
}

/// What a trusted proxy said about the original request.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Forwarded {
    /// The original client, when the headers name one we can believe.
    pub(crate) client: Option<String>,
    /// `true` when `Forwarded: for=` or `X-Forwarded-For` was present: then a missing or
    /// malformed client address means "unknown", not "the peer" (the peer is the proxy).
    pub(crate) client_claimed: bool,
    pub(crate) proto: Option<String>,
    pub(crate) host: Option<String>,
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// One hop of the chain: an IP address, or something that is not one (obfuscated, `unknown`,
/// malformed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Ip(IpAddr),
    Opaque,
}

/// `for=` node or `X-Forwarded-For` entry → the address without port or brackets. Only a real IP
/// address counts: `:80`, `[]:80`, `[`, `_hidden` and `unknown` are [`Node::Opaque`].
fn node(raw: &str) -> Node {
    let node = unquote(raw);
    let addr = if let Some(rest) = node.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inner, tail)) if tail.is_empty() || tail.starts_with(':') => inner,
            _ => return Node::Opaque,
        }
    } else if node.matches(':').count() == 1 {
        // `1.2.3.4:port` (an IPv6 address without brackets has more than one colon).
        node.split(':').next().unwrap_or("")
    } else {
        node
    };
    match addr.parse::<IpAddr>() {
        Ok(ip) => Node::Ip(ip),
        Err(_) => Node::Opaque,
    }
}

/// The client of a chain of hops, read the safe way: from the right (the hop the trusted peer
/// added last), skipping trusted proxies; the first untrusted address is the client. A hop that
/// is not an address stops the walk (nothing left of it can be believed). All hops trusted: the
/// left-most is the client. Returns the index of the hop used.
fn client_of(hops: &[Node], trusted: &[ProxyNet]) -> Option<(usize, IpAddr)> {
    let mut last_trusted = None;
    for (i, hop) in hops.iter().enumerate().rev() {
        match hop {
            Node::Ip(ip) if trusted.iter().any(|net| net.contains(*ip)) => {
                last_trusted = Some((i, *ip));
            }
            Node::Ip(ip) => return Some((i, *ip)),
            Node::Opaque => return None,
        }
    }
    last_trusted
}

fn values<'h>(headers: &'h HeaderMap, name: &str) -> impl Iterator<Item = &'h str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Reads `Forwarded` (RFC 7239), else `X-Forwarded-For` / `-Proto` / `-Host`, as sent through
/// a trusted peer. The client is chosen by [`client_of`]; with `Forwarded` the scheme and host
/// come from the same element as the client.
pub(crate) fn read(headers: &HeaderMap, trusted: &[ProxyNet]) -> Forwarded {
    let mut out = Forwarded::default();
    let elements: Vec<&str> = values(headers, "forwarded").collect();
    if !elements.is_empty() {
        let parsed: Vec<(Option<Node>, Option<String>, Option<String>)> = elements
            .iter()
            .map(|element| {
                let (mut f, mut proto, mut host) = (None, None, None);
                for pair in element.split(';') {
                    let Some((k, v)) = pair.split_once('=') else {
                        continue;
                    };
                    match k.trim().to_ascii_lowercase().as_str() {
                        "for" => f = Some(node(v)),
                        "proto" => {
                            proto = Some(unquote(v).to_ascii_lowercase()).filter(|p| !p.is_empty())
                        }
                        "host" => host = Some(unquote(v).to_owned()).filter(|h| !h.is_empty()),
                        _ => {}
                    }
                }
                (f, proto, host)
            })
            .collect();
        let hops: Vec<Node> = parsed.iter().filter_map(|(f, _, _)| *f).collect();
        out.client_claimed = !hops.is_empty();
        // The element of the chosen hop; without `for=` anywhere, the first element.
        let chosen = client_of(&hops, trusted).map(|(i, ip)| {
            out.client = Some(ip.to_string());
            parsed
                .iter()
                .enumerate()
                .filter(|(_, (f, _, _))| f.is_some())
                .nth(i)
                .map_or(0, |(j, _)| j)
        });
        let element = match chosen {
            Some(j) => parsed.get(j),
            None if hops.is_empty() => parsed.first(),
            None => None,
        };
        if let Some((_, proto, host)) = element {
            out.proto = proto.clone();
            out.host = host.clone();
        }
        return out;
    }
    let hops: Vec<Node> = values(headers, "x-forwarded-for").map(node).collect();
    out.client_claimed = !hops.is_empty();
    out.client = client_of(&hops, trusted).map(|(_, ip)| ip.to_string());
    let first = |name: &str| values(headers, name).next();
    out.proto = first("x-forwarded-proto").map(str::to_ascii_lowercase);
    out.host = first("x-forwarded-host").map(str::to_owned);
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
        let trusted = ["10.0.0.0/8".parse::<ProxyNet>().unwrap()];
        assert_eq!(
            read(&h, &trusted),
            Forwarded {
                client: Some("2001:db8:cafe::17".into()),
                client_claimed: true,
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
            read(&h, &trusted),
            Forwarded {
                client: Some("203.0.113.7".into()),
                client_claimed: true,
                proto: Some("https".into()),
                host: Some("api.example.com:8443".into()),
            }
        );
        let mut h = HeaderMap::new();
        h.insert("forwarded", "for=_hidden;proto=http".parse().unwrap());
        assert_eq!(
            read(&h, &trusted).client,
            None,
            "obfuscated identifiers are not addresses"
        );
        assert!(read(&h, &trusted).client_claimed);
        assert_eq!(read(&HeaderMap::new(), &trusted), Forwarded::default());
    }
}
