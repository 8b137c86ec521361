//! The story of a chaos run: which fault happens when, drawn from a seed. The same
//! seed and duration give the same story (printed before the run starts); only the
//! processes' own timing differs between runs.
//!
//! Faults run in three lanes, each in its own order:
//! * **processes** (one at a time, each to its end: a kill, the pause, the restart):
//!   kill -9 or SIGTERM of the leading or the standby exporter, of a ruler, all rulers
//!   scaled to zero and back, a third ruler joining;
//! * **API** (instant): `410 Gone` (history compacted, watches closed), 429s, 500s, a
//!   stalled watch request, failing Lease writes;
//! * **targets** (windows that never overlap, so that while one receiver's target is
//!   down, slow or failing, the others are healthy and their stall can be measured).

use std::fmt;
use std::time::Duration;

use herald_kubesim::scenario::Rng;
use serde::Serialize;

/// Which exporter a process fault hits, decided when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    /// The one holding the Lease.
    Leader,
    /// The other one.
    Standby,
}

/// How a target misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TargetFault {
    /// Unreachable (connections refused, or a hung process).
    Down,
    /// Answers, slowly.
    Slow,
    /// Answers 5xx.
    Errors,
}

/// An API server fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ApiFault {
    /// History compacted and watches closed: the resume answers `410 Gone`, a re-list
    /// follows.
    Gone,
    /// Watches closed, then the next Event requests answer 429.
    TooManyRequests,
    /// Watches closed, then the next Event requests answer 500.
    InternalError,
    /// Watches closed, then the next Event request hangs for a while.
    StalledWatch,
    /// The next Lease requests answer 500 (the leader may lose its Lease).
    LeaseErrors,
}

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Fault {
    /// kill -9 of an exporter; started again after `down`.
    KillExporter {
        /// Which one.
        role: Role,
        /// How long it stays down.
        down: Duration,
    },
    /// SIGTERM of an exporter; started again after `down`.
    TermExporter {
        /// Which one.
        role: Role,
        /// How long it stays down.
        down: Duration,
    },
    /// kill -9 of a ruler (index among those running, modulo their number).
    KillRuler {
        /// Which one.
        pick: usize,
        /// How long it stays down.
        down: Duration,
    },
    /// SIGTERM of a ruler.
    TermRuler {
        /// Which one.
        pick: usize,
        /// How long it stays down.
        down: Duration,
    },
    /// Every ruler stopped (SIGTERM), all started again after `down`.
    RulersToZero {
        /// How long there is no ruler.
        down: Duration,
    },
    /// A third ruler starts and stays.
    ThirdRulerJoins,
    /// An API server fault.
    Api(ApiFault),
    /// A receiver's target misbehaves for `window`.
    Target {
        /// The receiver.
        receiver: String,
        /// How.
        fault: TargetFault,
        /// For how long.
        window: Duration,
    },
}

impl Fault {
    /// The lane it runs in.
    pub fn lane(&self) -> Lane {
        match self {
            Fault::Api(_) => Lane::Api,
            Fault::Target { .. } => Lane::Target,
            _ => Lane::Process,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |d: &Duration| d.as_secs_f64();
        match self {
            Fault::KillExporter { role, down } => {
                write!(
                    f,
                    "kill -9 the {role:?} exporter, restart after {:.1}s",
                    s(down)
                )
            }
            Fault::TermExporter { role, down } => {
                write!(
                    f,
                    "SIGTERM the {role:?} exporter, restart after {:.1}s",
                    s(down)
                )
            }
            Fault::KillRuler { pick, down } => {
                write!(f, "kill -9 ruler #{pick}, restart after {:.1}s", s(down))
            }
            Fault::TermRuler { pick, down } => {
                write!(f, "SIGTERM ruler #{pick}, restart after {:.1}s", s(down))
            }
            Fault::RulersToZero { down } => {
                write!(f, "rulers scaled to zero for {:.1}s", s(down))
            }
            Fault::ThirdRulerJoins => f.write_str("a third ruler joins"),
            Fault::Api(a) => write!(f, "API: {a:?}"),
            Fault::Target {
                receiver,
                fault,
                window,
            } => write!(f, "target of `{receiver}`: {fault:?} for {:.0}s", s(window)),
        }
    }
}

/// Where a fault runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Process faults, one at a time.
    Process,
    /// API server faults.
    Api,
    /// Target windows.
    Target,
}

/// A fault at a moment of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Time since the workload started.
    pub at: Duration,
    /// What happens.
    pub fault: Fault,
}

/// The faults a receiver's target supports, by receiver name.
pub type TargetFaults<'a> = &'a [(&'a str, &'a [TargetFault])];

/// Length of a round of faults: every kind of fault happens once per round.
pub fn round_length(duration: Duration) -> Duration {
    if duration >= Duration::from_secs(600) {
        Duration::from_secs(300)
    } else {
        duration
    }
}

fn secs(rng: &mut Rng, lo: f64, hi: f64) -> Duration {
    // 1,000 steps between lo and hi are plenty for a story
    #[allow(clippy::cast_precision_loss)]
    let f = rng.below(1001) as f64 / 1000.0;
    Duration::from_secs_f64(lo + (hi - lo) * f)
}

/// Draws the story of a run of `duration` from `seed`: one round of every fault per
/// [`round_length`], the third ruler joining in the first round.
pub fn plan(seed: u64, duration: Duration, targets: TargetFaults<'_>) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let round = round_length(duration);
    let rounds = (duration.as_secs_f64() / round.as_secs_f64())
        .floor()
        .max(1.0);
    let mut steps = Vec::new();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    for r in 0..rounds as u32 {
        let start = round * r;
        steps.extend(process_round(&mut rng, start, round, r == 0));
        steps.extend(api_round(&mut rng, start, round));
        steps.extend(target_round(&mut rng, start, round, targets));
    }
    steps.sort_by_key(|s| s.at);
    steps
}

fn process_round(rng: &mut Rng, start: Duration, round: Duration, first: bool) -> Vec<Step> {
    let r = round.as_secs_f64();
    let down = |rng: &mut Rng| secs(rng, 1.0, 5.0);
    let mut faults = vec![
        Fault::KillExporter {
            role: Role::Leader,
            down: down(rng),
        },
        Fault::TermExporter {
            role: Role::Leader,
            down: down(rng),
        },
        Fault::KillExporter {
            role: Role::Standby,
            down: down(rng),
        },
        Fault::KillRuler {
            pick: rng.below(3),
            down: down(rng),
        },
        Fault::TermRuler {
            pick: rng.below(3),
            down: down(rng),
        },
        Fault::RulersToZero {
            down: secs(rng, 0.04 * r, 0.08 * r),
        },
    ];
    if first {
        faults.push(Fault::ThirdRulerJoins);
    }
    shuffle(rng, &mut faults);
    // spread over the round, leaving its first and last tenth quiet
    #[allow(clippy::cast_precision_loss)]
    let slot = 0.8 * r / faults.len() as f64;
    faults
        .into_iter()
        .enumerate()
        .map(|(i, fault)| {
            #[allow(clippy::cast_precision_loss)]
            let lo = 0.1 * r + slot * i as f64;
            Step {
                at: start + secs(rng, lo, lo + slot / 2.0),
                fault,
            }
        })
        .collect()
}

fn api_round(rng: &mut Rng, start: Duration, round: Duration) -> Vec<Step> {
    let r = round.as_secs_f64();
    [
        ApiFault::Gone,
        ApiFault::TooManyRequests,
        ApiFault::InternalError,
        ApiFault::StalledWatch,
        ApiFault::LeaseErrors,
    ]
    .into_iter()
    .map(|a| Step {
        at: start + secs(rng, 0.1 * r, 0.85 * r),
        fault: Fault::Api(a),
    })
    .collect()
}

/// Share of a round each target fault lasts.
fn window_share(f: TargetFault) -> f64 {
    match f {
        TargetFault::Down => 0.25,
        TargetFault::Slow | TargetFault::Errors => 0.1,
    }
}

fn target_round(
    rng: &mut Rng,
    start: Duration,
    round: Duration,
    targets: TargetFaults<'_>,
) -> Vec<Step> {
    let r = round.as_secs_f64();
    let mut windows: Vec<(String, TargetFault, f64)> = targets
        .iter()
        .flat_map(|(name, faults)| {
            faults
                .iter()
                .map(|f| ((*name).to_owned(), *f, window_share(*f) * r))
        })
        .collect();
    if windows.is_empty() {
        return Vec::new();
    }
    shuffle(rng, &mut windows);
    // scale down when the windows and a gap before each do not fit in 90% of the round
    let busy: f64 = windows.iter().map(|w| w.2).sum();
    #[allow(clippy::cast_precision_loss)]
    let gap = 0.03 * r;
    #[allow(clippy::cast_precision_loss)]
    let room = 0.9 * r - gap * windows.len() as f64;
    let scale = (room / busy).min(1.0);
    let mut t = 0.05 * r;
    windows
        .into_iter()
        .map(|(receiver, fault, len)| {
            t += secs(rng, gap * 0.5, gap).as_secs_f64();
            let at = start + Duration::from_secs_f64(t);
            let window = Duration::from_secs_f64(len * scale);
            t += len * scale;
            Step {
                at,
                fault: Fault::Target {
                    receiver,
                    fault,
                    window,
                },
            }
        })
        .collect()
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGETS: TargetFaults<'static> = &[
        ("file", &[]),
        (
            "webhook",
            &[TargetFault::Down, TargetFault::Slow, TargetFault::Errors],
        ),
        ("elasticsearch", &[TargetFault::Down]),
    ];

    #[test]
    fn same_seed_same_story() {
        let d = Duration::from_secs(120);
        assert_eq!(plan(7, d, TARGETS), plan(7, d, TARGETS));
        assert_ne!(plan(7, d, TARGETS), plan(8, d, TARGETS));
    }

    #[test]
    fn every_fault_happens_within_the_run() {
        let d = Duration::from_secs(120);
        let story = plan(3, d, TARGETS);
        assert!(story.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(story.iter().all(|s| s.at < d));
        let count = |f: &dyn Fn(&Fault) -> bool| story.iter().filter(|s| f(&s.fault)).count();
        assert_eq!(count(&|f| matches!(f, Fault::ThirdRulerJoins)), 1);
        assert_eq!(count(&|f| matches!(f, Fault::KillExporter { .. })), 2);
        assert_eq!(count(&|f| matches!(f, Fault::Api(_))), 5);
        assert_eq!(count(&|f| matches!(f, Fault::Target { .. })), 4);
        assert_eq!(count(&|f| matches!(f, Fault::RulersToZero { .. })), 1);
    }

    #[test]
    fn target_windows_never_overlap_and_end_within_the_run() {
        let d = Duration::from_secs(1800);
        let story = plan(11, d, TARGETS);
        let windows: Vec<(Duration, Duration)> = story
            .iter()
            .filter_map(|s| match &s.fault {
                Fault::Target { window, .. } => Some((s.at, s.at + *window)),
                _ => None,
            })
            .collect();
        // 6 rounds of 300 s, 4 windows each
        assert_eq!(windows.len(), 24);
        for w in windows.windows(2) {
            assert!(w[0].1 <= w[1].0, "{w:?}");
        }
        assert!(windows.iter().all(|w| w.1 <= d));
        // a long stretch: the Down windows last a quarter of a round
        assert!(story.iter().any(|s| matches!(
            &s.fault,
            Fault::Target { fault: TargetFault::Down, window, .. } if *window >= Duration::from_secs(60)
        )));
        // one third ruler in the whole run
        let joins = story
            .iter()
            .filter(|s| s.fault == Fault::ThirdRulerJoins)
            .count();
        assert_eq!(joins, 1);
    }
}
