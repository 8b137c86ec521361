use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::handoff::Decision;

/// A log whose event at offset `o` has resourceVersion `rv(o)`, with marks where given.
struct FakeLog {
    marks: BTreeMap<u64, String>,
    rvs: BTreeMap<u64, Option<u64>>,
    reads: usize,
}

impl FakeLog {
    /// Events 1..=last with resourceVersion 100 + 2·offset, a mark after each.
    fn watched(last: u64) -> FakeLog {
        FakeLog {
            marks: (1..=last).map(|o| (o, rv(o).to_string())).collect(),
            rvs: (1..=last).map(|o| (o, Some(rv(o)))).collect(),
            reads: 0,
        }
    }
}

fn rv(offset: u64) -> u64 {
    100 + 2 * offset
}

impl LogView for FakeLog {
    fn mark_at_or_below(&mut self, offset: u64) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .marks
            .range(..=offset)
            .next_back()
            .map(|(o, r)| (*o, r.clone())))
    }

    fn resource_versions(&mut self, offsets: &[u64]) -> Result<Vec<Option<u64>>, StoreError> {
        self.reads += offsets.len();
        Ok(offsets
            .iter()
            .map(|o| self.rvs.get(o).copied().flatten())
            .collect())
    }
}

fn group(committed: u64, next: u64, acked: &[u64]) -> GroupRecord {
    GroupRecord {
        committed,
        next,
        acked_ranges: acked.to_vec(),
        ..GroupRecord::default()
    }
}

fn bounds(last: u64) -> LogBounds {
    LogBounds {
        first: 1,
        last,
        ..LogBounds::default()
    }
}

#[test]
fn pending_is_what_some_group_has_not_acknowledged() {
    let mut log = FakeLog::watched(10);
    // 1..=5 acknowledged, 6..=8 handed out and 7 acknowledged, 9 and 10 not handed out
    let g = group(5, 9, &[7, 7]);
    let cp = build("log-a", bounds(10), &[g], &mut log, None).unwrap();
    assert_eq!(cp.rv, rv(5).to_string());
    assert_eq!(cp.covered_rv.as_deref(), Some(rv(10).to_string().as_str()));
    assert_eq!(cp.pending, vec![rv(6), rv(8), rv(9), rv(10)]);
    assert_eq!(cp.log_id, "log-a");
}

#[test]
fn the_slowest_group_sets_the_prefix_and_every_group_adds_pending() {
    let mut log = FakeLog::watched(10);
    let fast = group(8, 11, &[10, 10]);
    let slow = group(3, 6, &[5, 5]);
    let cp = build("l", bounds(10), &[fast, slow], &mut log, None).unwrap();
    assert_eq!(cp.rv, rv(3).to_string());
    // 4 (slow), 6..=10 (slow: not handed out yet), 9 (fast)
    assert_eq!(cp.pending, vec![rv(4), rv(6), rv(7), rv(8), rv(9), rv(10)]);
}

#[test]
fn without_groups_or_marks_only_a_prefix_is_published() {
    let mut log = FakeLog::watched(10);
    // no group: nothing is acknowledged beyond what retention removed
    let pruned = LogBounds {
        first: 4,
        ..bounds(10)
    };
    let cp = build("l", pruned, &[], &mut log, None).unwrap();
    assert_eq!(cp.rv, rv(3).to_string());
    assert_eq!((cp.covered_rv, cp.pending.len()), (None, 0));
    let cp = build("l", bounds(10), &[], &mut log, None).unwrap();
    assert_eq!(cp.rv, "");
    // a group but no mark at or below its position (a list still running)
    let mut listing = FakeLog::watched(10);
    listing.marks.retain(|o, _| *o > 6);
    let cp = build("l", bounds(10), &[group(2, 3, &[])], &mut listing, None).unwrap();
    assert_eq!((cp.rv.as_str(), cp.covered_rv), ("", None));
}

#[test]
fn events_logged_after_the_newest_mark_are_not_covered() {
    // a list is running: 7..=10 were logged from it, no mark yet
    let mut log = FakeLog::watched(10);
    log.marks.retain(|o, _| *o <= 6);
    let cp = build("l", bounds(10), &[group(4, 11, &[9, 10])], &mut log, None).unwrap();
    assert_eq!(cp.rv, rv(4).to_string());
    assert_eq!(cp.covered_rv, Some(rv(6).to_string()));
    assert_eq!(cp.pending, vec![rv(5), rv(6)]);
}

#[test]
fn an_unnameable_event_limits_the_checkpoint_to_its_prefix() {
    let mut log = FakeLog::watched(10);
    log.rvs.insert(8, None);
    let cp = build("l", bounds(10), &[group(5, 11, &[])], &mut log, None).unwrap();
    assert_eq!((cp.rv, cp.covered_rv), (rv(5).to_string(), None));
}

#[test]
fn too_many_pending_events_cut_the_covered_range() {
    let last = MAX_PENDING as u64 + 500;
    let mut log = FakeLog::watched(last);
    // marks only every 100 offsets
    log.marks.retain(|o, _| o % 100 == 0);
    let g = group(100, last + 1, &[]);
    let cp = build("l", bounds(last), &[g], &mut log, None).unwrap();
    let first_left_out = 100 + MAX_PENDING as u64 + 1;
    let cut = (first_left_out - 1) / 100 * 100;
    assert_eq!(cp.covered_rv, Some(rv(cut).to_string()));
    assert_eq!(cp.pending, (101..=cut).map(rv).collect::<Vec<_>>());
    assert!(cp.pending.len() <= MAX_PENDING);
    // and when no mark is left between the prefix and the cut, only the prefix
    log.marks = [(100, rv(100).to_string()), (last, rv(last).to_string())].into();
    let cp = build(
        "l",
        bounds(last),
        &[group(100, last + 1, &[])],
        &mut log,
        None,
    )
    .unwrap();
    assert_eq!((cp.rv, cp.covered_rv), (rv(100).to_string(), None));
}

#[test]
fn the_predecessors_word_is_carried_until_this_leader_gets_there() {
    let mut log = FakeLog::watched(10);
    let theirs = Handover::from_checkpoint(&Checkpoint {
        rv: "90".into(),
        log_id: "old".into(),
        covered_rv: Some("500".into()),
        pending: vec![110, 300, 400],
    });
    let cp = build(
        "l",
        bounds(10),
        &[group(8, 11, &[])],
        &mut log,
        Some(&theirs),
    )
    .unwrap();
    assert_eq!(cp.rv, rv(8).to_string());
    assert_eq!(cp.covered_rv.as_deref(), Some("500"));
    // own: 9 and 10; theirs beyond this leader's position (120): 300 and 400
    assert_eq!(cp.pending, vec![rv(9), rv(10), 300, 400]);
    // once this leader is past their end, their word adds nothing
    let done = Handover::from_checkpoint(&Checkpoint {
        rv: "90".into(),
        log_id: "old".into(),
        covered_rv: Some("110".into()),
        pending: vec![104],
    });
    let cp = build("l", bounds(10), &[group(8, 11, &[])], &mut log, Some(&done)).unwrap();
    assert_eq!(cp.covered_rv, Some(rv(10).to_string()));
    assert_eq!(cp.pending, vec![rv(9), rv(10)]);
}

/// Whatever the groups' state: a successor following the checkpoint logs again every
/// event some group has not acknowledged (nothing lost), skips every change that all
/// groups acknowledged (nothing re-emitted that was acknowledged), and treats changes
/// after the log's end as new.
#[test]
fn a_successor_skips_exactly_what_every_group_acknowledged() {
    let mut rng = StdRng::seed_from_u64(195);
    for case in 0..500 {
        let last: u64 = rng.random_range(1..60);
        let mut log = FakeLog::watched(last);
        // marks after most batches
        log.marks.retain(|o, _| *o == last || rng.random_bool(0.6));
        let groups: Vec<GroupRecord> = (0..rng.random_range(1..4))
            .map(|_| {
                let committed = rng.random_range(0..=last);
                let next = rng.random_range(committed + 1..=last + 1);
                let mut acked = Vec::new();
                let mut o = committed + 2;
                while o < next {
                    if rng.random_bool(0.5) {
                        let end = rng.random_range(o..next);
                        acked.extend([o, end]);
                        o = end + 2;
                    } else {
                        o += 1;
                    }
                }
                group(committed, next, &acked)
            })
            .collect();
        let acked_by_all = |o: u64| {
            groups.iter().all(|g| {
                o <= g.committed
                    || g.acked_ranges
                        .chunks_exact(2)
                        .any(|r| r[0] <= o && o <= r[1])
            })
        };
        let cp = build("l", bounds(last), &groups, &mut log, None).unwrap();
        let rule = Handover::from_checkpoint(&Checkpoint::parse(&cp.to_json()).unwrap());
        let committed = groups.iter().map(|g| g.committed).min().unwrap();
        let has_prefix = log.marks.range(..=committed).next().is_some();
        // a prefix mark means the whole log up to its newest mark is described
        assert_eq!(
            cp.covered_rv.is_some(),
            has_prefix,
            "case {case}: {cp:?} {groups:?}"
        );
        for o in 1..=last {
            let decision = rule.decide(&rv(o).to_string());
            if acked_by_all(o) && has_prefix {
                assert_eq!(
                    decision,
                    Decision::Handled,
                    "case {case}: offset {o} {cp:?} {groups:?}"
                );
            }
            if !acked_by_all(o) {
                assert_ne!(
                    decision,
                    Decision::Handled,
                    "case {case}: offset {o} {cp:?} {groups:?}"
                );
            }
            // changes between events were handled (deduplicated, or not logged at all)
            if has_prefix {
                assert_eq!(
                    rule.decide(&(rv(o) - 1).to_string()),
                    Decision::Handled,
                    "case {case}"
                );
            }
        }
        assert_eq!(rule.decide(&(rv(last) + 1).to_string()), Decision::New);
    }
}

#[test]
fn resource_versions_are_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let events = (1..=3)
        .map(|i| herald_proto::pb::Event {
            metadata: Some(herald_proto::pb::ObjectMeta {
                uid: format!("u{i}"),
                resource_version: (200 + i).to_string(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    store
        .append(crate::store::AppendBatch {
            events,
            seen: Vec::new(),
            checkpoint: Some("203".into()),
        })
        .unwrap();
    let mut known = BTreeMap::new();
    let mut view = StoreView {
        store: &store,
        known: &mut known,
    };
    assert_eq!(
        view.resource_versions(&[1, 3, 9]).unwrap(),
        vec![Some(201), Some(203), None]
    );
    assert_eq!(view.mark_at_or_below(7).unwrap(), Some((3, "203".into())));
    assert_eq!(known.len(), 2, "offset 9 does not exist");
    assert_eq!(known.get(&3), Some(&Some(203)));
}

#[test]
fn publications_take_at_most_half_the_request_budget() {
    assert_eq!(write_interval(5.0), Duration::from_millis(400));
    assert_eq!(write_interval(20.0), Duration::from_millis(100));
    assert_eq!(write_interval(1000.0), Duration::from_millis(100));
    assert_eq!(write_interval(0.01), Duration::from_secs(60));
    assert_eq!(write_interval(0.0), Duration::from_millis(100));
    assert_eq!(write_interval(f32::NAN), Duration::from_millis(100));
}
