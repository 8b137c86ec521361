use super::*;
use crate::store::AppendBatch;

fn ev(i: u64, ty: &str) -> pb::Event {
    pb::Event {
        occurrence: 1,
        r#type: ty.into(),
        observed_at: Some(prost_types::Timestamp {
            seconds: i64::try_from(i).unwrap(),
            nanos: 0,
        }),
        metadata: Some(pb::ObjectMeta {
            uid: format!("u{i}"),
            namespace: "shop".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn setup(n: u64) -> (tempfile::TempDir, Hub) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hub = Hub::new(store, HubConfig::default()).unwrap();
    append(&hub, 1, n);
    hub.set_serving(Serving::Yes);
    (dir, hub)
}

fn append(hub: &Hub, from: u64, n: u64) {
    let events = (from..from + n)
        .map(|i| ev(i, if i % 2 == 0 { "Normal" } else { "Warning" }))
        .collect();
    let a = hub
        .store()
        .append(AppendBatch {
            events,
            ..Default::default()
        })
        .unwrap();
    hub.appended(a.next - 1);
}

fn hello(group: &str, member: &str) -> pb::Hello {
    pb::Hello {
        group: group.into(),
        member_id: member.into(),
        ..Default::default()
    }
}

async fn batch(s: &mut Session) -> pb::EventBatch {
    match tokio::time::timeout(RECLAIM_WINDOW * 2, s.next())
        .await
        .unwrap()
        .unwrap()
    {
        Next::Batch(b) => b.decode().unwrap(),
        Next::Closing(r) => panic!("closing: {r}"),
    }
}

fn offsets(b: &pb::EventBatch) -> Vec<u64> {
    b.events.iter().map(|e| e.offset).collect()
}

#[tokio::test]
async fn members_of_a_group_split_the_stream() {
    let (_d, hub) = setup(10);
    let mut a = hub.join(hello("ruler", "a")).await.unwrap();
    let mut b = hub.join(hello("ruler", "b")).await.unwrap();
    assert_eq!(a.welcome().start_offset, 1);
    a.grant(4);
    b.grant(100);
    let ba = batch(&mut a).await;
    let bb = batch(&mut b).await;
    assert_eq!(offsets(&ba), vec![1, 2, 3, 4]);
    assert_eq!(offsets(&bb), (5..=10).collect::<Vec<_>>());
    a.ack(&offsets(&ba)).unwrap();
    b.ack(&offsets(&bb)).unwrap();
    assert_eq!(hub.group_status()[0].committed_offset, 10);
    assert_eq!(hub.group_status()[0].lag, 0);
}

#[tokio::test]
async fn a_departed_members_events_go_to_the_other() {
    let (_d, hub) = setup(6);
    let mut a = hub.join(hello("ruler", "a")).await.unwrap();
    let mut b = hub.join(hello("ruler", "b")).await.unwrap();
    a.grant(3);
    let ba = batch(&mut a).await;
    a.ack(&[2]).unwrap();
    drop(a);
    b.grant(100);
    // fresh events flow at once; what `a` held waits for the reclaim window (in case
    // `a` only lost its connection and comes back to claim it), then goes to `b`
    let started = Instant::now();
    let fresh = batch(&mut b).await;
    assert!(!fresh.redelivery);
    assert_eq!(offsets(&fresh), vec![4, 5, 6]);
    let redelivered = batch(&mut b).await;
    assert!(redelivered.redelivery);
    assert_eq!(offsets(&redelivered), vec![1, 3]);
    assert!(started.elapsed() >= RECLAIM_WINDOW - Duration::from_millis(100));
    assert_eq!(offsets(&ba), vec![1, 2, 3]);
}

#[tokio::test]
async fn waits_for_credit_and_for_new_events() {
    let (_d, hub) = setup(2);
    let mut a = hub.join(hello("g", "a")).await.unwrap();
    // no credit: nothing comes
    assert!(
        tokio::time::timeout(Duration::from_millis(100), a.next())
            .await
            .is_err()
    );
    a.grant(10);
    assert_eq!(offsets(&batch(&mut a).await), vec![1, 2]);
    let hub2 = hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        append(&hub2, 3, 2);
    });
    assert_eq!(offsets(&batch(&mut a).await), vec![3, 4]);
}

#[tokio::test]
async fn group_filter_is_applied_and_counts_as_acked() {
    let (_d, hub) = setup(6);
    let mut h = hello("warnings", "a");
    h.filter = Some(pb::Filter {
        types: vec!["Warning".into()],
        ..Default::default()
    });
    let mut a = hub.join(h.clone()).await.unwrap();
    a.grant(100);
    let b = batch(&mut a).await;
    assert_eq!(offsets(&b), vec![1, 3, 5]);
    a.ack(&offsets(&b)).unwrap();
    assert_eq!(hub.group_status()[0].committed_offset, 6);
    // a member with another filter is refused while the group has members
    let err = hub.join(hello("warnings", "b")).await.err().unwrap();
    assert!(matches!(err, HubError::FilterMismatch { .. }));
}

#[tokio::test]
async fn committed_offsets_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let hub = Hub::new(Store::open(dir.path()).unwrap(), HubConfig::default()).unwrap();
        append(&hub, 1, 5);
        hub.set_serving(Serving::Yes);
        let mut a = hub.join(hello("ruler", "a")).await.unwrap();
        a.grant(3);
        let b = batch(&mut a).await;
        a.ack(&offsets(&b)).unwrap();
        hub.flush().await.unwrap();
    }
    let hub = Hub::new(Store::open(dir.path()).unwrap(), HubConfig::default()).unwrap();
    hub.set_serving(Serving::Yes);
    let mut a = hub.join(hello("ruler", "a2")).await.unwrap();
    assert_eq!(a.welcome().committed_offset, 3);
    a.grant(10);
    assert_eq!(offsets(&batch(&mut a).await), vec![4, 5]);
}

#[tokio::test]
async fn tails_start_where_asked_and_ignore_acks() {
    use pb::start_position::Position;
    let (_d, hub) = setup(5);
    let mut t = hub
        .join(pb::Hello {
            start: Some(pb::StartPosition {
                position: Some(Position::Latest(pb::Latest {})),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(t.welcome().start_offset, 6);
    let mut t2 = hub
        .join(pb::Hello {
            start: Some(pb::StartPosition {
                position: Some(Position::Time(prost_types::Timestamp {
                    seconds: 3,
                    nanos: 0,
                })),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    t2.grant(10);
    assert_eq!(offsets(&batch(&mut t2).await), vec![3, 4, 5]);
    t2.ack(&[99]).unwrap();
    t.grant(1);
    append(&hub, 6, 1);
    assert_eq!(offsets(&batch(&mut t).await), vec![6]);
    assert!(hub.group_status().is_empty(), "tails create no group");
}

#[tokio::test]
async fn stopping_serving_closes_sessions_and_refuses_joins() {
    let (_d, hub) = setup(0);
    let mut a = hub.join(hello("g", "a")).await.unwrap();
    a.grant(1);
    let hub2 = hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        hub2.set_serving(Serving::No("shutting down".into()));
    });
    match a.next().await.unwrap() {
        Next::Closing(r) => assert_eq!(r, "shutting down"),
        Next::Batch(_) => panic!("expected closing"),
    }
    assert!(matches!(
        hub.join(hello("g", "b")).await,
        Err(HubError::NotServing(_))
    ));
}

#[tokio::test]
async fn bad_hello_and_bad_ack_are_refused() {
    let (_d, hub) = setup(3);
    assert!(matches!(
        hub.join(hello("bad name!", "a")).await,
        Err(HubError::InvalidHello(_))
    ));
    let mut a = hub.join(hello("g", "a")).await.unwrap();
    assert!(matches!(a.ack(&[2]), Err(HubError::InvalidAck(_))));
}

#[tokio::test]
async fn ack_timeout_redelivers_to_another_member() {
    let (_d, hub) = setup(2);
    let mut h = hello("g", "slow");
    h.ack_timeout_seconds = 1;
    let mut slow = hub.join(h).await.unwrap();
    slow.grant(10);
    assert_eq!(offsets(&batch(&mut slow).await), vec![1, 2]);
    let mut fast = hub.join(hello("g", "fast")).await.unwrap();
    fast.grant(10);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    hub.expire_leases();
    let b = batch(&mut fast).await;
    assert!(b.redelivery);
    assert_eq!(offsets(&b), vec![1, 2]);
}

fn at(offset: u64) -> pb::StartPosition {
    pb::StartPosition {
        position: Some(pb::start_position::Position::Offset(offset)),
    }
}

#[tokio::test]
async fn seek_replays_to_a_connected_member_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(Store::open(dir.path()).unwrap(), HubConfig::default()).unwrap();
    append(&hub, 1, 10);
    hub.set_serving(Serving::Yes);
    let mut a = hub.join(hello("ruler.es", "a")).await.unwrap();
    a.grant(100);
    let b = batch(&mut a).await;
    assert_eq!(offsets(&b), (1..=10).collect::<Vec<_>>());
    a.ack(&[1, 2, 3]).unwrap();
    // move back to 2 while 4..=10 are still in flight
    let st = hub.seek_group("ruler.es", Some(&at(2))).await.unwrap();
    assert_eq!((st.committed_offset, st.lag), (1, 9));
    // the late acks of what was in flight are accepted and change nothing
    a.ack(&[4, 5, 6, 7, 8, 9, 10]).unwrap();
    let again = batch(&mut a).await;
    assert_eq!(offsets(&again), (2..=10).collect::<Vec<_>>());
    drop(a);
    hub.flush().await.unwrap();
    drop(hub);
    // the position was persisted at once: a restart replays from it as well
    let hub = Hub::new(Store::open(dir.path()).unwrap(), HubConfig::default()).unwrap();
    hub.set_serving(Serving::Yes);
    let st = hub.group_status();
    assert_eq!(st[0].committed_offset, 1);
    // seeking a group that does not exist creates it there; a bad name is refused
    let st = hub.seek_group("audit", Some(&at(8))).await.unwrap();
    assert_eq!(st.committed_offset, 7);
    assert!(matches!(
        hub.seek_group("bad name", None).await,
        Err(HubError::InvalidHello(_))
    ));
}

#[tokio::test]
async fn a_member_that_reconnects_claims_what_it_still_holds() {
    let (_d, hub) = setup(6);
    let mut a = hub.join(hello("ruler.hook", "a")).await.unwrap();
    a.grant(4);
    assert_eq!(offsets(&batch(&mut a).await), vec![1, 2, 3, 4]);
    // the connection drops while the receiver still retries 1..=4
    drop(a);
    let mut other = hub.join(hello("ruler.hook", "b")).await.unwrap();
    other.grant(100);
    // `a` comes back within the window and claims 2 and 3 (1 and 4 were finished)
    let log = hub.store().log_id().to_owned();
    let mut again = hub
        .join(pb::Hello {
            held_offsets: vec![2, 3],
            held_log_id: log,
            ..hello("ruler.hook", "a")
        })
        .await
        .unwrap();
    again.ack(&[1, 4]).unwrap();
    // `b` gets the fresh events, and nothing `a` holds
    assert_eq!(offsets(&batch(&mut other).await), vec![5, 6]);
    assert!(
        tokio::time::timeout(RECLAIM_WINDOW + Duration::from_secs(1), other.next())
            .await
            .is_err(),
        "nothing is left to redeliver"
    );
    again.ack(&[2, 3]).unwrap();
    assert_eq!(hub.group_status()[0].committed_offset, 4);
    assert_eq!(hub.group_status()[0].in_flight, 2, "5 and 6 are with b");
}

#[tokio::test]
async fn delete_refuses_live_groups_and_idle_groups_expire() {
    let (_d, hub) = setup(5);
    let member = hub.join(hello("ruler.gone", "a")).await.unwrap();
    assert!(matches!(
        hub.delete_group("ruler.gone").await,
        Err(HubError::GroupInUse { members: 1, .. })
    ));
    assert!(matches!(
        hub.delete_group("nope").await,
        Err(HubError::NoSuchGroup(_))
    ));
    drop(member);
    // idle only a moment: kept
    assert!(
        hub.expire_idle_groups(Duration::from_secs(60))
            .await
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let live = hub.join(hello("ruler.live", "b")).await.unwrap();
    let deleted = hub.expire_idle_groups(Duration::from_millis(5)).await;
    assert_eq!(deleted, vec!["ruler.gone".to_owned()]);
    let names: Vec<String> = hub.group_status().into_iter().map(|g| g.name).collect();
    assert_eq!(names, vec!["ruler.live".to_owned()]);
    assert_eq!(hub.min_committed(), Some(0));
    drop(live);
}

#[tokio::test]
async fn after_a_restart_a_member_claims_what_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let log = {
        let hub = Hub::new(Store::open(dir.path()).unwrap(), HubConfig::default()).unwrap();
        append(&hub, 1, 6);
        hub.set_serving(Serving::Yes);
        let mut a = hub.join(hello("ruler.hook", "a")).await.unwrap();
        a.grant(4);
        assert_eq!(offsets(&batch(&mut a).await), vec![1, 2, 3, 4]);
        hub.flush().await.unwrap();
        // killed: nothing after the last flush reaches the disk
        drop(a);
        hub.store().log_id().to_owned()
    };
    let hub = Hub::new(Store::open(dir.path()).unwrap(), HubConfig::default()).unwrap();
    hub.set_serving(Serving::Yes);
    let mut other = hub.join(hello("ruler.hook", "b")).await.unwrap();
    other.grant(100);
    let mut again = hub
        .join(pb::Hello {
            held_offsets: vec![1, 2, 3, 4],
            held_log_id: log,
            ..hello("ruler.hook", "a")
        })
        .await
        .unwrap();
    again.grant(10);
    assert_eq!(offsets(&batch(&mut other).await), vec![5, 6]);
    assert_eq!(hub.group_status()[0].in_flight, 6);
    again.ack(&[1, 2, 3, 4]).unwrap();
    assert_eq!(hub.group_status()[0].committed_offset, 4);
}

#[tokio::test]
async fn a_member_id_connected_to_the_group_is_refused() {
    let (_d, hub) = setup(3);
    let first = hub.join(hello("g", "ruler-0")).await.unwrap();
    let err = hub.join(hello("g", "ruler-0")).await.err().unwrap();
    assert!(
        matches!(&err, HubError::DuplicateMember { group, member } if group == "g" && member == "ruler-0"),
        "{err:?}"
    );
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::AlreadyExists);
    // another group, another id, and a tail are fine
    let _other_group = hub.join(hello("h", "ruler-0")).await.unwrap();
    let _other_id = hub.join(hello("g", "ruler-1")).await.unwrap();
    let _tail = hub.join(hello("", "ruler-0")).await.unwrap();
    let _tail2 = hub.join(hello("", "ruler-0")).await.unwrap();
    // once it left, the id is free again
    drop(first);
    hub.join(hello("g", "ruler-0")).await.unwrap();
}

#[tokio::test]
async fn sync_commits_the_acks_durably_before_it_answers() {
    let (_d, hub) = setup(5);
    let mut s = hub.join(hello("g", "m")).await.unwrap();
    s.grant(5);
    let b = batch(&mut s).await;
    let offsets: Vec<u64> = b.events.iter().map(|e| e.offset).take(3).collect();
    s.ack(&offsets).unwrap();
    let durable = |hub: &Hub| {
        hub.store()
            .load_groups()
            .unwrap()
            .get("g")
            .map_or(0, |g| g.committed)
    };
    assert_eq!(
        durable(&hub),
        0,
        "acks are applied in memory, not yet written"
    );
    assert_eq!(s.sync().await.unwrap(), 3);
    assert_eq!(durable(&hub), 3);
}

#[tokio::test]
async fn sync_on_a_tail_answers_zero() {
    let (_d, hub) = setup(2);
    let s = hub.join(hello("", "t")).await.unwrap();
    assert_eq!(s.sync().await.unwrap(), 0);
}

async fn closing(s: &mut Session) -> String {
    match tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .unwrap()
        .unwrap()
    {
        Next::Closing(r) => r,
        Next::Batch(b) => panic!("expected closing, got {:?}", offsets(&b.decode().unwrap())),
    }
}

#[tokio::test]
async fn a_standby_serves_its_backlog_only_to_the_groups_that_are_behind_or_never_read_it() {
    let (_d, hub) = setup(10);
    // "done" acknowledges everything, "behind" half (its target was down)
    let mut done = hub.join(hello("ruler.file", "r")).await.unwrap();
    let mut behind = hub.join(hello("ruler.webhook", "r")).await.unwrap();
    done.grant(100);
    behind.grant(5);
    let all = batch(&mut done).await;
    done.ack(&offsets(&all)).unwrap();
    let half = batch(&mut behind).await;
    assert_eq!(offsets(&half), vec![1, 2, 3, 4, 5]);
    behind.ack(&offsets(&half)).unwrap();
    assert!(done.credits_gated() && behind.credits_gated());
    assert_eq!(hub.groups_behind(), 1);

    // the leader steps down: its sessions end (they were gated by its checkpoints)
    hub.set_serving(Serving::Drain("standby".into()));
    assert_eq!(closing(&mut done).await, "standby");
    assert_eq!(closing(&mut behind).await, "standby");
    drop((done, behind));

    // the group that is behind gets the rest, ungated; nobody else is served
    let mut behind = hub.join(hello("ruler.webhook", "r")).await.unwrap();
    assert!(!behind.credits_gated(), "a standby writes no checkpoints");
    behind.grant(100);
    let rest = batch(&mut behind).await;
    assert_eq!(offsets(&rest), vec![6, 7, 8, 9, 10]);
    let at = |group: &str, o: u64| pb::Hello {
        start: Some(pb::StartPosition {
            position: Some(pb::start_position::Position::Offset(o)),
        }),
        ..hello(group, "r")
    };
    let past_the_end = pb::Hello {
        start: Some(pb::StartPosition {
            position: Some(pb::start_position::Position::Latest(pb::Latest {})),
        }),
        ..hello("ruler.new", "r")
    };
    for refused in [
        hello("ruler.file", "r"),
        at("ruler.new", 11),
        past_the_end,
        hello("", "tail"),
    ] {
        let group = refused.group.clone();
        match hub.join(refused).await {
            Err(e @ HubError::Standby(_)) => {
                let status = tonic::Status::from(e);
                assert_eq!(status.code(), tonic::Code::Unavailable);
                assert_eq!(status.message(), "exporter is not serving: standby");
                assert_eq!(
                    status
                        .metadata()
                        .get(herald_proto::pb::STANDBY_METADATA)
                        .unwrap(),
                    "true"
                );
            }
            Err(e) => panic!("{group:?}: {e}"),
            Ok(_) => panic!("{group:?} was served by a standby"),
        }
    }
    // a group this exporter does not have yet, whose receiver never consumed this log
    // (its subscription did not reach it while it led), is served from its start
    let mut never_here = hub.join(hello("ruler.pubsub", "r")).await.unwrap();
    never_here.grant(100);
    assert_eq!(
        offsets(&batch(&mut never_here).await),
        (1..=10).collect::<Vec<_>>()
    );
    let mut from_seven = hub.join(at("ruler.es", 7)).await.unwrap();
    from_seven.grant(100);
    assert_eq!(offsets(&batch(&mut from_seven).await), vec![7, 8, 9, 10]);
    never_here.ack(&(1..=10).collect::<Vec<_>>()).unwrap();
    from_seven.ack(&[7, 8, 9, 10]).unwrap();
    drop((never_here, from_seven));
    behind.ack(&offsets(&rest)).unwrap();
    assert_eq!(hub.groups_behind(), 0);
    // once drained, the group is refused too
    assert!(matches!(
        hub.join(hello("ruler.webhook", "other")).await,
        Err(HubError::Standby(_))
    ));

    // leading again: the draining session ends and members come back gated
    hub.set_serving(Serving::Yes);
    assert_eq!(
        closing(&mut behind).await,
        "this exporter leads now; subscribe again"
    );
    drop(behind);
    let again = hub.join(hello("ruler.webhook", "r")).await.unwrap();
    assert!(again.credits_gated());
}

#[tokio::test]
async fn a_standby_refuses_group_administration() {
    let (_d, hub) = setup(3);
    hub.set_serving(Serving::Drain("standby".into()));
    assert!(matches!(
        hub.seek_group("g", None).await,
        Err(HubError::Standby(_))
    ));
}

#[tokio::test]
async fn batches_carry_the_stored_records_and_a_filter_still_sees_the_fields() {
    use prost::Message;
    let (_d, hub) = setup(6);
    let mut all = hub.join(hello("plain", "m")).await.unwrap();
    all.grant(100);
    let Next::Batch(b) = all.next().await.unwrap() else {
        panic!("expected a batch");
    };
    let served: Vec<u64> = b.events.iter().map(|e| e.offset).collect();
    assert_eq!(served, [1, 2, 3, 4, 5, 6]);
    for e in &b.events {
        // the record as logged: the event with its offset, encoded once at ingest
        let mut logged = ev(
            e.offset,
            if e.offset % 2 == 0 {
                "Normal"
            } else {
                "Warning"
            },
        );
        logged.offset = e.offset;
        assert_eq!(e.bytes, logged.encode_to_vec(), "offset {}", e.offset);
    }
    // the wire form holds the same bytes
    let wire = b.clone().into_encoded();
    assert_eq!(
        wire.events,
        b.events.iter().map(|e| e.bytes.clone()).collect::<Vec<_>>()
    );
    // a group with a filter is served only what matches it
    let mut warnings = hub
        .join(pb::Hello {
            filter: Some(pb::Filter {
                types: vec!["Warning".into()],
                ..Default::default()
            }),
            ..hello("warnings", "m")
        })
        .await
        .unwrap();
    warnings.grant(100);
    let got = batch(&mut warnings).await;
    assert_eq!(offsets(&got), [1, 3, 5]);
    assert!(got.events.iter().all(|e| e.r#type == "Warning"));
}

#[test]
fn a_batch_goes_out_in_messages_within_the_byte_bound_in_order() {
    let record = |offset: u64, len: usize| StoredEvent {
        offset,
        bytes: bytes::Bytes::from(vec![u8::try_from(offset).unwrap(); len]),
    };
    let mut trace_context = std::collections::BTreeMap::new();
    trace_context.insert("traceparent".to_owned(), "00-ab-cd-01".to_owned());
    let batch = ServedBatch {
        events: vec![
            record(1, 100),
            record(2, 100),
            record(3, 100),
            record(4, 400),
            record(5, 50),
        ],
        redelivery: true,
        trace_context: trace_context.clone(),
    };
    let chunks = batch.into_encoded_chunks(250);
    let shape: Vec<Vec<(u8, usize)>> = chunks
        .iter()
        .map(|c| c.events.iter().map(|e| (e[0], e.len())).collect())
        .collect();
    assert_eq!(
        shape,
        vec![
            vec![(1, 100), (2, 100)],
            vec![(3, 100)],
            // a record larger than the bound travels alone
            vec![(4, 400)],
            vec![(5, 50)],
        ]
    );
    assert!(
        chunks
            .iter()
            .all(|c| c.redelivery && c.trace_context == trace_context)
    );
    let empty = ServedBatch {
        events: Vec::new(),
        redelivery: false,
        trace_context: std::collections::BTreeMap::new(),
    };
    assert_eq!(empty.into_encoded_chunks(250).len(), 1);
}
