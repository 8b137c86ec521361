//! Fault injection: throttling and server errors, stalls, and broken watches and lists.
//!
//! Every rule matches a request path prefix (without the query) and fires for the next
//! `count` matching requests; a prefix of `""` or `"/"` matches everything.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

/// An HTTP-level fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpFault {
    /// The max-in-flight filter's answer: `429` with a plain-text body and
    /// `retry-after`, exactly as captured.
    TooManyRequests {
        /// Value of the `retry-after` header.
        retry_after_secs: u32,
    },
    /// `500` InternalError Status.
    InternalError,
    /// `403` Forbidden Status as the RBAC authorizer words it for the request's verb
    /// and resource (`pods is forbidden: User "system:anonymous" cannot list resource
    /// "pods" in API group "" at the cluster scope`).
    Forbidden,
}

/// How to corrupt an item in a list response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadListItem {
    /// An item that is not JSON at all, so the whole body stops being valid JSON.
    InvalidJson,
    /// A syntactically valid item whose fields have the wrong types (`"count":"many"`,
    /// a numeric name), so typed decoding of the list fails.
    WrongTypes,
}

/// Watch faults picked up by one watch when it starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WatchFaults {
    /// Abort the connection after this many lines.
    pub drop_after: Option<usize>,
    /// Send a malformed JSON line first.
    pub malformed_first_line: bool,
}

#[derive(Debug)]
struct Counted<T> {
    prefix: String,
    remaining: usize,
    value: T,
}

#[derive(Debug, Default)]
struct State {
    http: Vec<Counted<HttpFault>>,
    stalls: Vec<Counted<Duration>>,
    drop_watch: Vec<Counted<usize>>,
    malformed_watch: Vec<Counted<()>>,
    bad_list: Vec<Counted<BadListItem>>,
}

fn matches(prefix: &str, path: &str) -> bool {
    prefix.is_empty() || prefix == "/" || path.starts_with(prefix)
}

fn take<T: Copy>(rules: &mut Vec<Counted<T>>, path: &str) -> Option<T> {
    let i = rules
        .iter()
        .position(|r| r.remaining > 0 && matches(&r.prefix, path))?;
    let rule = &mut rules[i];
    rule.remaining -= 1;
    let value = rule.value;
    if rule.remaining == 0 {
        rules.remove(i);
    }
    Some(value)
}

fn add<T>(rules: &mut Vec<Counted<T>>, prefix: &str, count: usize, value: T) {
    if count > 0 {
        rules.push(Counted {
            prefix: prefix.to_owned(),
            remaining: count,
            value,
        });
    }
}

/// The fault injector of a running simulator (see [`crate::Simulator::faults`]).
#[derive(Debug)]
pub struct Faults {
    state: Mutex<State>,
    close_tx: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::default()),
            close_tx: watch::Sender::new(0),
        }
    }
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `count` requests whose path starts with `path_prefix` get `fault`.
    pub fn fail_next(&self, path_prefix: &str, count: usize, fault: HttpFault) {
        add(&mut self.state().http, path_prefix, count, fault);
    }

    /// The next `count` matching requests wait `duration` before being handled.
    pub fn stall_next(&self, path_prefix: &str, count: usize, duration: Duration) {
        add(&mut self.state().stalls, path_prefix, count, duration);
    }

    /// Ends every open watch now, cleanly (like a server-side timeout).
    pub fn close_watches(&self) {
        self.close_tx.send_modify(|epoch| *epoch += 1);
    }

    /// The next matching watch aborts its connection after sending `lines` lines
    /// (no clean end of stream, like a network failure).
    pub fn drop_next_watch_after(&self, path_prefix: &str, lines: usize) {
        add(&mut self.state().drop_watch, path_prefix, 1, lines);
    }

    /// The next matching watch starts with a line that is not valid JSON.
    pub fn malformed_line_on_next_watch(&self, path_prefix: &str) {
        add(&mut self.state().malformed_watch, path_prefix, 1, ());
    }

    /// The next matching list gets a corrupt item in front of its real items.
    pub fn bad_item_in_next_list(&self, path_prefix: &str, kind: BadListItem) {
        add(&mut self.state().bad_list, path_prefix, 1, kind);
    }

    /// Removes every pending fault.
    pub fn clear(&self) {
        *self.state() = State::default();
    }

    pub(crate) fn take_http(&self, path: &str) -> Option<HttpFault> {
        take(&mut self.state().http, path)
    }

    pub(crate) fn take_stall(&self, path: &str) -> Option<Duration> {
        take(&mut self.state().stalls, path)
    }

    pub(crate) fn take_watch(&self, path: &str) -> WatchFaults {
        let mut state = self.state();
        WatchFaults {
            drop_after: take(&mut state.drop_watch, path),
            malformed_first_line: take(&mut state.malformed_watch, path).is_some(),
        }
    }

    pub(crate) fn take_bad_list_item(&self, path: &str) -> Option<BadListItem> {
        take(&mut self.state().bad_list, path)
    }

    pub(crate) fn close_signal(&self) -> watch::Receiver<u64> {
        self.close_tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_count_times_on_matching_paths() {
        let f = Faults::default();
        f.fail_next("/api/v1/events", 2, HttpFault::InternalError);
        assert_eq!(f.take_http("/api/v1/namespaces"), None);
        assert_eq!(
            f.take_http("/api/v1/events"),
            Some(HttpFault::InternalError)
        );
        assert_eq!(
            f.take_http("/api/v1/events"),
            Some(HttpFault::InternalError)
        );
        assert_eq!(f.take_http("/api/v1/events"), None);
    }

    #[test]
    fn watch_faults_are_one_shot() {
        let f = Faults::default();
        f.drop_next_watch_after("/", 3);
        f.malformed_line_on_next_watch("/api/v1/events");
        let w = f.take_watch("/api/v1/events");
        assert_eq!(w.drop_after, Some(3));
        assert!(w.malformed_first_line);
        assert_eq!(f.take_watch("/api/v1/events"), WatchFaults::default());
    }

    #[test]
    fn clear_and_close() {
        let f = Faults::default();
        f.stall_next("", 1, Duration::from_secs(1));
        f.bad_item_in_next_list("", BadListItem::WrongTypes);
        f.clear();
        assert!(f.take_stall("/x").is_none());
        assert!(f.take_bad_list_item("/x").is_none());
        let rx = f.close_signal();
        f.close_watches();
        assert_eq!(*rx.borrow(), 1);
    }
}
