//! The verdict of a chaos run: per receiver, what was delivered, lost or duplicated
//! (by idempotency key), how long after the API write, and how long a healthy receiver
//! stalled while another one's target was down; checked against the README's bounds.
//!
//! * **lost**: written, never delivered, and no later occurrence of the same Event
//!   delivered either. Any loss fails the run (retention is a day, the runs are
//!   shorter).
//! * **superseded**: written, not delivered, but a later occurrence of the same Event
//!   was. Allowed only when history was compacted (`410 Gone`) before that later
//!   occurrence was delivered (an exporter whose resume point was compacted away
//!   re-lists, and a list shows each Event once, with its latest count), and no
//!   exporter logged it and no other receiver got it. Otherwise it counts as lost.
//! * **duplicated**: receptions beyond the first of a key. Bound (README, Guarantees
//!   2): per exporter failover, the credit windows of the rulers (`ruler.credits` per
//!   ruler, per receiver), plus the backlog limit (4,096) when a receiver was behind;
//!   per ruler stopped or killed, its credit window.
//! * **stall**: the longest an occurrence waited between the leading exporter serving
//!   it and its delivery, among those written while another receiver's target was
//!   down, slow or failing (or catching up afterwards); and among those written while
//!   every target was healthy. Occurrences still waiting while this receiver's own
//!   target was down (or catching up), or while a process was being killed or
//!   restarted (and 15 s after), are left out of both: those stall every receiver. A receiver is held back when the first exceeds the second by
//!   more than [`HOLD_SLACK`] (README, Guarantees 3).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::stats::Latencies;

/// How much longer a healthy receiver may stall while another is down than it does
/// otherwise (kills and restarts make stalls of their own).
pub const HOLD_SLACK: Duration = Duration::from_secs(10);

/// One occurrence the workload wrote.
#[derive(Debug, Clone)]
pub struct WrittenAt {
    /// The Event's UID.
    pub uid: String,
    /// Its occurrence count.
    pub occurrence: i64,
    /// When the write was made.
    pub at: Instant,
}

impl WrittenAt {
    /// The idempotency key `<uid>-<occurrence>`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.uid, self.occurrence)
    }
}

/// What one receiver got.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Distinct written occurrences delivered.
    pub delivered: usize,
    /// Written occurrences never delivered (nor a later one of the same Event).
    pub lost: usize,
    /// Not delivered, a later occurrence was, after a compaction (`410`).
    pub superseded: usize,
    /// Of the lost: a later occurrence was delivered, without a compaction before it.
    pub skipped: usize,
    /// Receptions beyond the first (None when the target drops them itself).
    pub duplicated: Option<usize>,
    /// Keys received that were never written.
    pub unexpected: usize,
    /// API write → first reception, ms.
    pub delay_p50_ms: Option<f64>,
    /// See `delay_p50_ms`.
    pub delay_p99_ms: Option<f64>,
    /// See `delay_p50_ms`.
    pub delay_max_ms: Option<f64>,
    /// Longest stall while another receiver's target was down, slow or failing (s);
    /// None when no occurrence was measured there.
    pub stall_while_other_down_s: Option<f64>,
    /// Longest stall at other times (s).
    pub stall_otherwise_s: f64,
    /// A few lost keys, for the report.
    pub lost_examples: Vec<String>,
    /// When the lost occurrences were written: first and last, seconds after the first
    /// write of the run.
    pub lost_written_s: Option<(f64, f64)>,
    /// Every lost key.
    #[serde(skip)]
    pub lost_keys: Vec<String>,
    /// How many of the lost keys each exporter's durable log holds (where they were
    /// lost: before the log, or after it); `None`: that log could not be read.
    pub lost_found_in_log: Vec<(String, Option<usize>)>,
}

/// What happened around a receiver during the run (see [`judge`]).
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    /// Fault windows of the other receivers' targets.
    pub other_windows: &'a [(Instant, Instant)],
    /// This receiver's own, and the process faults: occurrences waiting within one of
    /// them are left out of the stalls.
    pub own_windows: &'a [(Instant, Instant)],
    /// When each occurrence was first served by a leading exporter.
    pub served: &'a HashMap<String, Instant>,
    /// When history was compacted.
    pub compactions: &'a [Instant],
    /// Keys some exporter logged or some receiver got: such an occurrence was not
    /// collapsed by a re-list, so missing it is a loss.
    pub logged: &'a HashSet<String>,
    /// When the run was judged.
    pub end: Instant,
}

/// Counts one receiver's receptions against what was written. `other_windows` are the
/// fault windows of the other receivers' targets, `own_windows` this receiver's own
/// (both with the time to catch up afterwards), `served` when each occurrence was
/// first served by a leading exporter (stalls are measured from there), `compactions`
/// when history was
/// compacted, `end` when the run was judged (an undelivered occurrence waits until
/// then). `dedupes`: the target drops redeliveries itself.
pub fn judge(
    written: &[WrittenAt],
    receptions: &[(String, Instant)],
    dedupes: bool,
    tl: &Timeline<'_>,
) -> Counts {
    let Timeline {
        other_windows,
        own_windows,
        served,
        compactions,
        logged,
        end,
    } = *tl;
    let mut first: HashMap<&str, Instant> = HashMap::with_capacity(receptions.len());
    let mut extra = 0;
    for (k, at) in receptions {
        match first.get_mut(k.as_str()) {
            Some(t) => {
                extra += 1;
                *t = (*t).min(*at);
            }
            None => {
                first.insert(k.as_str(), *at);
            }
        }
    }
    // highest occurrence delivered per Event, and when it was first delivered
    let mut highest: HashMap<&str, (i64, Instant)> = HashMap::new();
    let mut keys: HashMap<String, ()> = HashMap::with_capacity(written.len());
    for w in written {
        keys.insert(w.key(), ());
    }
    for w in written {
        if let Some(at) = first.get(w.key().as_str()) {
            let h = highest.entry(w.uid.as_str()).or_insert((0, *at));
            if w.occurrence > h.0 {
                *h = (w.occurrence, *at);
            }
        }
    }
    let mut c = Counts {
        duplicated: (!dedupes).then_some(extra),
        unexpected: first.keys().filter(|k| !keys.contains_key(**k)).count(),
        ..Counts::default()
    };
    let mut delays = Latencies::default();
    // (written, served by the exporter, delivered or end) per occurrence, for the stalls
    let mut spans: Vec<Span> = Vec::with_capacity(written.len());
    for w in written {
        let key = w.key();
        if let Some(at) = first.get(key.as_str()) {
            c.delivered += 1;
            delays.push(at.saturating_duration_since(w.at));
            spans.push((w.at, served.get(&key).copied(), *at));
            continue;
        }
        let later = highest
            .get(w.uid.as_str())
            .filter(|(o, _)| *o > w.occurrence)
            .map(|(_, at)| *at);
        if later.is_some_and(|at| compactions.iter().any(|t| *t <= at)) && !logged.contains(&key) {
            c.superseded += 1;
        } else {
            if later.is_some() {
                c.skipped += 1;
            }
            c.lost += 1;
            if c.lost_examples.len() < 5 {
                c.lost_examples.push(key.clone());
            }
            spans.push((w.at, served.get(&key).copied(), end));
            c.lost_keys.push(key);
            let s = written
                .first()
                .map_or(0.0, |f| w.at.saturating_duration_since(f.at).as_secs_f64());
            c.lost_written_s = Some(
                c.lost_written_s
                    .map_or((s, s), |(a, b)| (a.min(s), b.max(s))),
            );
        }
    }
    let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
    c.delay_p50_ms = ms(delays.percentile(50.0));
    c.delay_p99_ms = ms(delays.percentile(99.0));
    c.delay_max_ms = ms(delays.percentile(100.0));
    let during = other_windows
        .iter()
        .filter_map(|(a, b)| waited(&spans, *a, *b, own_windows))
        .max();
    c.stall_while_other_down_s = during.map(|d| d.as_secs_f64());
    let start = written.first().map_or(end, |w| w.at);
    let mut all: Vec<(Instant, Instant)> = other_windows.to_vec();
    all.extend_from_slice(own_windows);
    c.stall_otherwise_s = outside(start, end, &all)
        .iter()
        .filter_map(|(a, b)| waited(&spans, *a, *b, own_windows))
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    c
}

/// An occurrence: written, served by the exporter (if seen), delivered (or the end).
type Span = (Instant, Option<Instant>, Instant);

/// The longest wait (served by the exporter → delivered, or the end) of the
/// occurrences written within `[a, b]`, leaving out those still waiting at some time
/// within one of `except` (the receiver's own outages) and those never seen served;
/// None when no occurrence is left.
fn waited(
    spans: &[Span],
    a: Instant,
    b: Instant,
    except: &[(Instant, Instant)],
) -> Option<Duration> {
    spans
        .iter()
        .filter(|(w, _, _)| *w >= a && *w <= b)
        .filter(|(w, _, d)| !except.iter().any(|(x, y)| w <= y && d >= x))
        .filter_map(|(_, s, d)| Some(d.saturating_duration_since((*s)?)))
        .max()
}

/// `[start, end]` without the windows.
fn outside(
    start: Instant,
    end: Instant,
    windows: &[(Instant, Instant)],
) -> Vec<(Instant, Instant)> {
    let mut ws = windows.to_vec();
    ws.sort();
    let mut out = Vec::new();
    let mut t = start;
    for (a, b) in ws {
        if a > t {
            out.push((t, a.min(end)));
        }
        t = t.max(b);
    }
    if t < end {
        out.push((t, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(base: Instant, uid: &str, occurrence: i64, at_s: u64) -> WrittenAt {
        WrittenAt {
            uid: uid.into(),
            occurrence,
            at: base + Duration::from_secs(at_s),
        }
    }

    fn r(base: Instant, key: &str, at_s: u64) -> (String, Instant) {
        (key.into(), base + Duration::from_secs(at_s))
    }

    #[test]
    fn delivered_lost_duplicated_and_unexpected_are_counted() {
        let t = Instant::now();
        let written = [w(t, "a", 1, 0), w(t, "b", 1, 1), w(t, "a", 2, 2)];
        let got = [
            r(t, "a-1", 1),
            r(t, "a-1", 3),
            r(t, "a-2", 4),
            r(t, "zz-1", 4),
        ];
        let end = t + Duration::from_secs(10);
        let served: HashMap<String, Instant> = written.iter().map(|w| (w.key(), w.at)).collect();
        let c = judge(
            &written,
            &got,
            false,
            &Timeline {
                other_windows: &[],
                own_windows: &[],
                served: &served,
                compactions: &[],
                logged: &HashSet::new(),
                end,
            },
        );
        assert_eq!(c.delivered, 2);
        assert_eq!(c.lost, 1);
        assert_eq!(c.lost_examples, ["b-1"]);
        assert_eq!(c.duplicated, Some(1));
        assert_eq!(c.unexpected, 1);
        assert_eq!(c.delay_max_ms, Some(2000.0));
        // b-1 waited from 1 s to the end
        assert_eq!(c.stall_otherwise_s, 9.0);
        // no other receiver had a fault window: nothing measured there
        assert_eq!(c.stall_while_other_down_s, None);
        let c = judge(
            &written,
            &got,
            true,
            &Timeline {
                other_windows: &[],
                own_windows: &[],
                served: &HashMap::new(),
                compactions: &[],
                logged: &HashSet::new(),
                end,
            },
        );
        assert_eq!(c.duplicated, None);
    }

    #[test]
    fn a_superseded_occurrence_is_lost_unless_history_was_compacted_before_the_later_one() {
        let t = Instant::now();
        let written = [w(t, "a", 1, 0), w(t, "a", 2, 5)];
        let got = [r(t, "a-2", 6)];
        let end = t + Duration::from_secs(10);
        // compacted before a-2 was delivered (at 6 s): a re-list may have shown a-2 only
        let c = judge(
            &written,
            &got,
            false,
            &Timeline {
                other_windows: &[],
                own_windows: &[],
                served: &HashMap::new(),
                compactions: &[t + Duration::from_secs(5)],
                logged: &HashSet::new(),
                end,
            },
        );
        assert_eq!((c.superseded, c.lost), (1, 0));
        // but a-1 was logged (another receiver got it): missing it here is a loss
        let logged: HashSet<String> = ["a-1".to_owned()].into();
        let elsewhere = judge(
            &written,
            &got,
            false,
            &Timeline {
                other_windows: &[],
                own_windows: &[],
                served: &HashMap::new(),
                compactions: &[t + Duration::from_secs(5)],
                logged: &logged,
                end,
            },
        );
        assert_eq!((elsewhere.superseded, elsewhere.lost), (0, 1));
        // a compaction after the later occurrence was delivered explains nothing
        let after = judge(
            &written,
            &got,
            false,
            &Timeline {
                other_windows: &[],
                own_windows: &[],
                served: &HashMap::new(),
                compactions: &[t + Duration::from_secs(7)],
                logged: &HashSet::new(),
                end,
            },
        );
        assert_eq!((after.superseded, after.lost, after.skipped), (0, 1, 1));
        let none = judge(
            &written,
            &got,
            false,
            &Timeline {
                other_windows: &[],
                own_windows: &[],
                served: &HashMap::new(),
                compactions: &[],
                logged: &HashSet::new(),
                end,
            },
        );
        assert_eq!((none.superseded, none.lost, none.skipped), (0, 1, 1));
    }

    #[test]
    fn stalls_are_measured_from_the_log_inside_and_outside_other_receivers_windows() {
        let t = Instant::now();
        let s = |x: u64| t + Duration::from_secs(x);
        // one occurrence per second, served by the exporter a second later (e50.. never);
        // the ones written in 12..20 are delivered at 30, the ones written in 30..35
        // (this receiver's own outage) at 50
        let written: Vec<WrittenAt> = (0..60).map(|i| w(t, &format!("e{i}"), 1, i)).collect();
        let served: HashMap<String, Instant> =
            (0..50).map(|i| (format!("e{i}-1"), s(i + 1))).collect();
        let got: Vec<(String, Instant)> = (0..60)
            .map(|i| {
                let at = match i {
                    12..20 => 30,
                    30..35 => 50,
                    50.. => i + 30,
                    _ => i + 2,
                };
                r(t, &format!("e{i}-1"), at)
            })
            .collect();
        let other = [(s(11), s(25)), (s(28), s(40))];
        let own = [(s(31), s(45))];
        let c = judge(
            &written,
            &got,
            false,
            &Timeline {
                other_windows: &other,
                own_windows: &own,
                served: &served,
                compactions: &[],
                logged: &HashSet::new(),
                end: s(100),
            },
        );
        // written in another's window (12..19), not in its own: e12 waited 30 - 13 s
        // after the log; its own outage (e30..e34) does not count
        assert_eq!(c.stall_while_other_down_s, Some(17.0));
        // written while everything was healthy: 1 s after the log each; e50.. were
        // never seen served and are left out
        assert_eq!(c.stall_otherwise_s, 1.0);
        assert_eq!(c.delay_max_ms, Some(30_000.0));
        assert_eq!(c.lost, 0);
    }

    #[test]
    fn outside_splits_the_run_around_windows() {
        let t = Instant::now();
        let s = |x: u64| t + Duration::from_secs(x);
        let parts = outside(s(0), s(100), &[(s(50), s(60)), (s(10), s(20))]);
        assert_eq!(parts, [(s(0), s(10)), (s(20), s(50)), (s(60), s(100))]);
    }
}
