use bytes::Bytes;
use herald_proto::pb;
use prost::Message;

use super::*;

fn pb_event(offset: u64, reason: &str) -> pb::Event {
    pb::Event {
        offset,
        idempotency_key: format!("u{offset}-1"),
        occurrence: 1,
        r#type: "Warning".into(),
        reason: reason.into(),
        involved_object: Some(pb::InvolvedObject {
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: format!("web-{offset}"),
            ..pb::InvolvedObject::default()
        }),
        ..pb::Event::default()
    }
}

/// Events `from..=to` of a log, encoded as the gRPC link hands them over.
fn wire(from: u64, to: u64, reason: &str) -> Vec<WireEvent> {
    (from..=to)
        .map(|o| WireEvent::encoded(Bytes::from(pb_event(o, reason).encode_to_vec())).unwrap())
        .collect()
}

fn log(id: &str) -> Arc<str> {
    Arc::from(id)
}

#[test]
fn lanes_that_read_the_same_events_share_one_decode_and_then_forget_it() {
    let shared = SharedEvents::new(3, 1000);
    let a = shared
        .resolve(0, &log("L"), wire(1, 100, "BackOff"))
        .unwrap();
    // the other lanes get the same events in other batch boundaries
    let mut b = shared
        .resolve(1, &log("L"), wire(1, 40, "BackOff"))
        .unwrap();
    b.extend(
        shared
            .resolve(1, &log("L"), wire(41, 100, "BackOff"))
            .unwrap(),
    );
    assert_eq!(
        shared.waiting(),
        100,
        "kept until the third lane takes them"
    );
    let c = shared
        .resolve(2, &log("L"), wire(1, 100, "BackOff"))
        .unwrap();
    assert_eq!(
        shared.stats(),
        SharingStats {
            decoded: 100,
            shared: 200
        }
    );
    assert_eq!(shared.waiting(), 0, "every lane took every event");
    for ((a, b), c) in a.iter().zip(&b).zip(&c) {
        assert!(Arc::ptr_eq(a, b) && Arc::ptr_eq(a, c), "one copy per event");
    }
    let offsets: Vec<u64> = c.iter().map(|d| d.event.offset).collect();
    assert_eq!(offsets, (1..=100).collect::<Vec<_>>(), "order kept");
    assert_eq!(c[4].event.involved_object.name, "web-5");
}

#[test]
fn a_lane_far_behind_decodes_for_itself_and_memory_stays_bounded() {
    let shared = SharedEvents::new(2, 50);
    for start in (1..=1000).step_by(100) {
        shared
            .resolve(0, &log("L"), wire(start, start + 99, "BackOff"))
            .unwrap();
        assert!(shared.waiting() <= 50, "{}", shared.waiting());
    }
    // the slow lane starts at the beginning: all but the last 50 were let go
    let slow = shared
        .resolve(1, &log("L"), wire(1, 1000, "BackOff"))
        .unwrap();
    assert_eq!(slow.len(), 1000);
    assert!(
        slow.iter()
            .enumerate()
            .all(|(i, d)| d.event.offset == i as u64 + 1 && d.event.reason == "BackOff")
    );
    let stats = shared.stats();
    assert_eq!(stats.shared, 50, "only the retained tail was shared");
    assert_eq!(stats.decoded, 1000 + 950);
    assert!(shared.waiting() <= 50);
}

#[test]
fn the_same_offset_in_two_logs_is_two_events() {
    let shared = SharedEvents::new(2, 100);
    let old = shared.resolve(0, &log("old"), wire(1, 5, "Old")).unwrap();
    let new = shared.resolve(0, &log("new"), wire(1, 5, "New")).unwrap();
    assert!(old.iter().all(|d| d.event.reason == "Old"));
    assert!(new.iter().all(|d| d.event.reason == "New"));
    let again = shared.resolve(1, &log("new"), wire(1, 5, "New")).unwrap();
    assert!(again.iter().zip(&new).all(|(a, b)| Arc::ptr_eq(a, b)));
}

#[test]
fn events_handed_over_decoded_are_shared_too() {
    let shared = SharedEvents::new(2, 100);
    let local = |o| WireEvent::Decoded(Box::new(pb_event(o, "Local")));
    let a = shared
        .resolve(0, &log("L"), (1..=3).map(local).collect())
        .unwrap();
    let b = shared
        .resolve(1, &log("L"), (1..=3).map(local).collect())
        .unwrap();
    assert!(a.iter().zip(&b).all(|(a, b)| Arc::ptr_eq(a, b)));
    assert_eq!(shared.stats().decoded, 3);
}

#[test]
fn one_lane_shares_nothing_and_keeps_nothing() {
    let shared = SharedEvents::unshared();
    let a = shared.resolve(0, &log("L"), wire(1, 10, "X")).unwrap();
    let b = shared.resolve(0, &log("L"), wire(1, 10, "X")).unwrap();
    assert!(!Arc::ptr_eq(&a[0], &b[0]));
    assert_eq!(shared.waiting(), 0);
    assert_eq!(shared.stats().decoded, 20);
}

#[test]
fn an_event_that_does_not_decode_fails_the_batch() {
    let shared = SharedEvents::new(2, 100);
    let mut events = wire(1, 2, "X");
    events.push(WireEvent::encoded(Bytes::from_static(&[0x08, 0x03, 0x12, 0x40])).unwrap());
    assert!(shared.resolve(0, &log("L"), events).is_err());
}

#[test]
fn a_route_is_evaluated_once_per_tree() {
    let (route, mut diags) = crate::testutil::decode_route(
        "routes:\n  - match:\n      - type: Warning\n        receiver: alert\n  - match:\n      - receiver: dump\n",
    );
    let names = ["dump".to_owned(), "alert".to_owned(), "pager".to_owned()];
    let tree = RouteTree::compile(&route, &names, &mut diags).unwrap();
    let clone = tree.clone();
    let d = Decoded::new(pb_event(1, "BackOff").into());
    assert!(d.selects(&tree, 0) && d.selects(&tree, 1) && !d.selects(&tree, 2));
    assert!(d.selects(&clone, 1), "a clone reuses the result");
    assert_eq!(clone.id(), tree.id());
    // another tree routes for itself
    let (only_pager, mut diags) =
        crate::testutil::decode_route("routes:\n  - match:\n      - receiver: pager\n");
    let other = RouteTree::compile(&only_pager, &names, &mut diags).unwrap();
    assert_ne!(other.id(), tree.id());
    assert!(d.selects(&other, 2) && !d.selects(&other, 0));
    assert!(d.selects(&tree, 0), "the first tree's result is kept");
}

#[tokio::test]
async fn a_lane_pauses_only_for_a_reading_lane_within_reach() {
    let shared = SharedEvents::new(3, 2000);
    let l = log("L");
    shared.resolve(1, &l, wire(1, 100, "X")).unwrap();
    assert!(
        shared.ahead(0, &l, 700),
        "600 ahead of a reading lane, within reach"
    );
    assert!(!shared.ahead(0, &l, 300), "close enough");
    assert!(
        !shared.ahead(0, &l, 5_000),
        "out of reach: sharing cannot help, so no pause"
    );
    assert!(!shared.ahead(1, &l, 700), "a lane never waits for itself");
    assert!(
        !shared.ahead(0, &log("other"), 700),
        "offsets of another log"
    );
    // a pause ends after MAX_PAUSE even if the lane behind never moves
    let started = Instant::now();
    shared.pause(0, &l, 700).await;
    let paused = started.elapsed();
    assert!(
        paused >= MAX_PAUSE && paused < Duration::from_secs(1),
        "{paused:?}"
    );
    // the lane behind catches up: the pause ends early
    let waiter = {
        let shared = shared.clone();
        let l = l.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            shared.pause(0, &l, 700).await;
            started.elapsed()
        })
    };
    shared.resolve(1, &l, wire(101, 600, "X")).unwrap();
    assert!(waiter.await.unwrap() <= MAX_PAUSE + Duration::from_millis(50));
    // a lane that stopped reading (its receiver is down) holds no one back
    tokio::time::sleep(ACTIVE + Duration::from_millis(20)).await;
    assert!(!shared.ahead(0, &l, 1_500), "not reading for {ACTIVE:?}");
    // one lane alone never pauses
    let alone = SharedEvents::unshared();
    alone.resolve(0, &l, wire(1, 10, "X")).unwrap();
    assert!(!alone.ahead(0, &l, 700));
}
