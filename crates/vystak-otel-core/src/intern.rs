//! Recent attribute values shared instead of copied: each thread remembers its last few values
//! of each [`Kind`] as an `Arc<str>`, so a value repeated from request to request (the same
//! path, host, user agent, peer, URL) becomes a reference-count increment instead of an
//! allocation on the request path and a free on the export thread.
//!
//! Used by the server layer and the client middleware.

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::StringValue;

/// How many recent values of each kind a thread keeps.
const RECENT: usize = 8;

/// The last few values of one attribute on this thread.
#[derive(Default)]
struct Recent {
    slots: [Option<Arc<str>>; RECENT],
    next: usize,
}

impl Recent {
    fn get(&mut self, value: &str) -> StringValue {
        if let Some(hit) = self.slots.iter().flatten().find(|s| ***s == *value) {
            return StringValue::from(Arc::clone(hit));
        }
        let fresh: Arc<str> = Arc::from(value);
        self.slots[self.next] = Some(Arc::clone(&fresh));
        self.next = (self.next + 1) % RECENT;
        StringValue::from(fresh)
    }
}

/// The attributes whose recent values are remembered.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `url.path`.
    Path,
    /// `server.address`.
    Host,
    /// `user_agent.original`.
    UserAgent,
    /// `client.address`, `network.peer.address`.
    Address,
    /// `url.full`.
    Url,
}

thread_local! {
    static RECENT_VALUES: RefCell<[Recent; 5]> = RefCell::new(Default::default());
}

/// `value` as a `StringValue`, shared with the last request on this thread that had it.
pub fn recent(kind: Kind, value: &str) -> StringValue {
    RECENT_VALUES.with(|cell| cell.borrow_mut()[kind as usize].get(value))
}

/// An IP address as a `StringValue`, formatted without allocating and shared like [`recent`].
pub fn ip(addr: std::net::IpAddr) -> StringValue {
    use std::io::Write as _;
    // The longest IPv6 text form is 45 bytes.
    let mut buf = [0u8; 48];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{addr}").is_err() {
        return StringValue::from(addr.to_string());
    }
    let len = cursor.position() as usize;
    match std::str::from_utf8(&buf[..len]) {
        Ok(text) => recent(Kind::Address, text),
        Err(_) => StringValue::from(addr.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_values_are_shared_and_a_new_value_is_kept() {
        let first = recent(Kind::Path, "/recent-test/a");
        let again = recent(Kind::Path, "/recent-test/a");
        assert_eq!(first.as_str(), "/recent-test/a");
        assert_eq!(again.as_str(), "/recent-test/a");
        assert!(
            std::ptr::eq(first.as_str(), again.as_str()),
            "a repeated value is the same shared string"
        );
        for i in 0..20 {
            assert_eq!(
                recent(Kind::Path, &format!("/p/{i}")).as_str(),
                format!("/p/{i}")
            );
        }
        let evicted = recent(Kind::Path, "/recent-test/a");
        assert_eq!(evicted.as_str(), "/recent-test/a");
        assert!(
            !std::ptr::eq(first.as_str(), evicted.as_str()),
            "only the last few are kept"
        );
        assert_eq!(recent(Kind::Host, "h").as_str(), "h");
        assert_eq!(ip("::1".parse().unwrap()).as_str(), "::1");
        assert_eq!(
            ip("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
                .parse()
                .unwrap())
            .as_str(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(ip("10.0.0.1".parse().unwrap()).as_str(), "10.0.0.1");
    }
}
