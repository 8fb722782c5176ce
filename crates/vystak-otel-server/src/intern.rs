//! The strings every request repeats, made once instead of on every request.
//!
//! - **Span name and route** of an axum `MatchedPath`: the route is a template of the router (the
//!   client cannot choose it), so the `(method, route)` pairs are bounded by the router. Each pair
//!   gets one `&'static str` span name and route, kept for the life of the process (at most
//!   [`MAX_ROUTES`] pairs; past that, names are built per request as before).
//! - **Recent values** (`url.path`, `server.address`, `user_agent.original`, `client.address`):
//!   `vystak_otel_core::intern`, shared with the client middleware.
//!
//! The route table is per-thread first (no lock, no shared cache line on the hot path) and falls
//! back to one process-wide map only the first time a thread meets a pair.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// At most this many `(method, route)` pairs are kept for the life of the process.
pub(crate) const MAX_ROUTES: usize = 4096;

/// The span name (`{method} {route}`) and the route of one pair.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RouteNames {
    pub(crate) name: &'static str,
    pub(crate) route: &'static str,
}

/// `{method} {route}` without going through `format!`.
pub(crate) fn span_name(method: &str, route: &str) -> String {
    let mut name = String::with_capacity(method.len() + 1 + route.len());
    name.push_str(method);
    name.push(' ');
    name.push_str(route);
    name
}

/// foldhash's fixed (unseeded) state: the keys are the router's own route templates, not
/// client input, so a fast non-keyed hash is safe here.
type Fx = foldhash::fast::FixedState;

/// route → the names of each method seen with it.
type RouteTable = HashMap<Box<str>, Vec<(Box<str>, RouteNames)>, Fx>;

fn process_table() -> &'static Mutex<(RouteTable, usize)> {
    static TABLE: OnceLock<Mutex<(RouteTable, usize)>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new((RouteTable::default(), 0)))
}

/// How many of its last pairs a thread checks before its table.
const LAST: usize = 4;

/// A thread's pairs: the last few it used (compared directly, no hashing), then all of them.
#[derive(Default)]
struct ThreadRoutes {
    last: [Option<RouteNames>; LAST],
    next: usize,
    table: RouteTable,
}

impl ThreadRoutes {
    fn last_hit(&self, method: &str, route: &str) -> Option<RouteNames> {
        self.last.iter().flatten().copied().find(|names| {
            // `name` is `{method} {route}`.
            names.route == route
                && names.name.len() == method.len() + 1 + route.len()
                && names.name.starts_with(method)
        })
    }

    fn remember(&mut self, names: RouteNames) {
        self.last[self.next] = Some(names);
        self.next = (self.next + 1) % LAST;
    }
}

thread_local! {
    static ROUTES: RefCell<ThreadRoutes> = RefCell::new(ThreadRoutes::default());
}

fn find(table: &RouteTable, method: &str, route: &str) -> Option<RouteNames> {
    table
        .get(route)?
        .iter()
        .find(|(m, _)| &**m == method)
        .map(|(_, names)| *names)
}

fn insert(table: &mut RouteTable, method: &str, route: &str, names: RouteNames) {
    table
        .entry(route.into())
        .or_default()
        .push((method.into(), names));
}

/// The interned names of `(method, route)`, or `None` once [`MAX_ROUTES`] pairs exist.
/// `name_method` is the method as the span name spells it (`HTTP` for `_OTHER`).
pub(crate) fn route_names(name_method: &str, route: &str) -> Option<RouteNames> {
    ROUTES.with(|cell| {
        let mut routes = cell.borrow_mut();
        if let Some(names) = routes.last_hit(name_method, route) {
            return Some(names);
        }
        if let Some(names) = find(&routes.table, name_method, route) {
            routes.remember(names);
            return Some(names);
        }
        let names = {
            let mut guard = process_table()
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (table, count) = &mut *guard;
            match find(table, name_method, route) {
                Some(names) => names,
                None => {
                    if *count >= MAX_ROUTES {
                        return None;
                    }
                    let route_static: &'static str = match table.get(route).and_then(|v| v.first())
                    {
                        Some((_, other)) => other.route,
                        None => Box::leak(route.into()),
                    };
                    let names = RouteNames {
                        name: Box::leak(span_name(name_method, route).into_boxed_str()),
                        route: route_static,
                    };
                    insert(table, name_method, route, names);
                    *count += 1;
                    names
                }
            }
        };
        insert(&mut routes.table, name_method, route, names);
        routes.remember(names);
        Some(names)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_interned_once_and_shared_across_threads() {
        let a = route_names("POST", "/intern-test/{id}").unwrap();
        assert_eq!(a.name, "POST /intern-test/{id}");
        assert_eq!(a.route, "/intern-test/{id}");
        let b = route_names("POST", "/intern-test/{id}").unwrap();
        assert!(std::ptr::eq(a.name, b.name));
        let other_thread = std::thread::spawn(|| route_names("POST", "/intern-test/{id}").unwrap())
            .join()
            .unwrap();
        assert!(std::ptr::eq(a.name, other_thread.name), "one leak per pair");
        let get = route_names("GET", "/intern-test/{id}").unwrap();
        assert_eq!(get.name, "GET /intern-test/{id}");
        assert!(std::ptr::eq(a.route, get.route), "the route is kept once");
        // Past the last-used list, from the thread's table: still the same strings.
        for i in 0..2 * LAST {
            let other = format!("/intern-test/other/{i}");
            assert_eq!(route_names("POST", &other).unwrap().route, other);
        }
        let again = route_names("POST", "/intern-test/{id}").unwrap();
        assert!(std::ptr::eq(a.name, again.name));
        // A method that is a prefix of another does not match its names.
        let p = route_names("P", "/intern-test/{id}").unwrap();
        assert_eq!(p.name, "P /intern-test/{id}");
    }
}
