use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use crate::subscription::{Link, LinkError};

fn group(name: &str, committed: u64) -> pb::GroupStatus {
    pb::GroupStatus {
        name: name.into(),
        committed_offset: committed,
        ..Default::default()
    }
}

fn offset(o: u64) -> Decision {
    Decision::New(Some(pb::StartPosition {
        position: Some(pb::start_position::Position::Offset(o)),
    }))
}

#[test]
fn a_new_receiver_starts_where_its_siblings_are() {
    // first install: no group at all → the oldest retained event
    assert_eq!(
        decide("ruler", "ruler.es", 0, &[Some(vec![])]),
        Decision::New(None)
    );
    // the group exists: its committed offset wins, no start is sent
    let here = vec![group("ruler.es", 7), group("ruler.file", 40)];
    assert_eq!(
        decide("ruler", "ruler.es", 0, &[Some(here)]),
        Decision::Exists
    );
    // a receiver added later starts at the slowest sibling, not at the oldest event;
    // other prefixes are not siblings
    let here = vec![
        group("ruler.file", 40),
        group("ruler.webhook", 12),
        group("other", 1),
        group("rulerx.y", 2),
    ];
    let elsewhere = vec![group("ruler.file", 900)];
    assert_eq!(
        decide("ruler", "ruler.es", 0, &[Some(here), Some(elsewhere)]),
        offset(13)
    );
    // an upgrade from the single `ruler` group continues where it was
    assert_eq!(
        decide("ruler", "ruler.es", 0, &[Some(vec![group("ruler", 99)])]),
        offset(100)
    );
}

/// The loss this rule prevents: after a ruler restart, a receiver whose lane never
/// subscribed to exporter 1 (it was a standby, or the reconnect backoff was long)
/// must get all of exporter 1's log, not only what follows its siblings' position.
#[test]
fn a_known_receiver_starts_at_the_oldest_event_of_an_exporter_it_never_consumed() {
    let exporter_0 = vec![group("ruler.file", 5000), group("ruler.webhook", 5000)];
    let exporter_1 = vec![group("ruler.webhook", 1296)];
    let both = [Some(exporter_0), Some(exporter_1)];
    assert_eq!(decide("ruler", "ruler.file", 1, &both), Decision::Known);
    assert_eq!(Decision::Known.position(), None);
    assert_eq!(decide("ruler", "ruler.file", 0, &both), Decision::Exists);
    // a receiver that neither exporter knows is new on both
    assert_eq!(decide("ruler", "ruler.es", 1, &both), offset(1297));
    assert_eq!(decide("ruler", "ruler.es", 0, &both), offset(5001));
}

#[test]
fn an_exporter_that_could_not_be_asked_makes_every_missing_group_start_at_the_oldest() {
    let here = Some(vec![group("ruler.file", 40)]);
    // the other exporter might have the group: cannot tell new from known
    assert_eq!(
        decide("ruler", "ruler.es", 0, &[here.clone(), None]),
        Decision::Unknown
    );
    assert_eq!(Decision::Unknown.position(), None);
    // this exporter could not be asked
    assert_eq!(
        decide("ruler", "ruler.es", 1, &[here.clone(), None]),
        Decision::Unknown
    );
    // out of range
    assert_eq!(
        decide("ruler", "ruler.es", 2, &[here.clone(), None]),
        Decision::Unknown
    );
    // but a group that exists is still its own
    assert_eq!(
        decide("ruler", "ruler.file", 0, &[here, None]),
        Decision::Exists
    );
}

/// Answers `groups` from a script and counts the calls.
struct GroupsOnly {
    name: &'static str,
    answer: Mutex<Option<Result<Vec<pb::GroupStatus>, LinkError>>>,
    hang: bool,
    calls: AtomicUsize,
}

#[async_trait]
impl Connector for GroupsOnly {
    fn describe(&self) -> &str {
        self.name
    }

    async fn open(
        &self,
        _hello: pb::Hello,
        _credit: u32,
    ) -> Result<(pb::Welcome, Box<dyn Link>), LinkError> {
        Err(LinkError::Transport("not used".into()))
    }

    async fn groups(&self) -> Result<Vec<pb::GroupStatus>, LinkError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.answer
            .lock()
            .unwrap()
            .take()
            .unwrap_or_else(|| Err(LinkError::Transport("asked twice".into())))
    }
}

fn exporter(
    name: &'static str,
    answer: Result<Vec<pb::GroupStatus>, LinkError>,
    hang: bool,
) -> Arc<GroupsOnly> {
    Arc::new(GroupsOnly {
        name,
        answer: Mutex::new(Some(answer)),
        hang,
        calls: AtomicUsize::new(0),
    })
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_reads_every_exporter_once_and_counts_silent_ones_as_unknown() {
    let up = exporter("up", Ok(vec![group("ruler.file", 41)]), false);
    let failing = exporter(
        "failing",
        Err(LinkError::Transport("refused".into())),
        false,
    );
    let hung = exporter("hung", Ok(vec![]), true);
    let snapshot = GroupsSnapshot::new(vec![up.clone(), failing.clone(), hung.clone()]);
    let policy = |upstream| StartPolicy::Siblings {
        base: "ruler".into(),
        upstream,
        snapshot: snapshot.clone(),
    };
    // the hung exporter is given up after the timeout (the clock is paused and
    // advances by itself while everything waits)
    let started = tokio::time::Instant::now();
    assert_eq!(policy(0).start_for("ruler.es").await, None);
    assert_eq!(started.elapsed(), SNAPSHOT_TIMEOUT);
    assert_eq!(
        snapshot.get().await,
        &[Some(vec![group("ruler.file", 41)]), None, None]
    );
    // every lane and reconnect shares that one read
    assert_eq!(policy(0).start_for("ruler.file").await, None);
    assert_eq!(policy(1).start_for("ruler.es").await, None);
    for e in [&up, &failing, &hung] {
        assert_eq!(e.calls.load(Ordering::Relaxed), 1, "{}", e.name);
    }

    // with every exporter answering, a new receiver gets its siblings' position
    let a = exporter("a", Ok(vec![group("ruler.file", 41)]), false);
    let b = exporter("b", Ok(vec![group("ruler.file", 7)]), false);
    let snapshot = GroupsSnapshot::new(vec![a, b]);
    let start = StartPolicy::Siblings {
        base: "ruler".into(),
        upstream: 0,
        snapshot,
    }
    .start_for("ruler.es")
    .await;
    assert_eq!(start, offset(42).position());
    let fixed = Some(pb::StartPosition {
        position: Some(pb::start_position::Position::Offset(5)),
    });
    assert_eq!(StartPolicy::Fixed(fixed).start_for("ruler.es").await, fixed);
}
