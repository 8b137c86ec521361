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
    match tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .unwrap()
        .unwrap()
    {
        Next::Batch(b) => b,
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
    let redelivered = batch(&mut b).await;
    assert!(redelivered.redelivery);
    assert_eq!(offsets(&redelivered), vec![1, 3]);
    let fresh = batch(&mut b).await;
    assert!(!fresh.redelivery);
    assert_eq!(offsets(&fresh), vec![4, 5, 6]);
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
