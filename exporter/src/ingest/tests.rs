use std::time::Duration;

use futures::StreamExt;
use herald_proto::kube_json::parse_kube_event_value;
use herald_telemetry::KeeMetrics;
use prometheus_client::registry::Registry;
use serde_json::json;

use super::*;
use crate::handoff::Checkpoint;
use crate::hub::HubConfig;
use crate::occurrences::Tiering;
use crate::store::LoadedSeen;

fn event(uid: &str, rv: u64, count: i32, observation: Observation) -> WatchItem {
    let event = parse_kube_event_value(json!({
        "metadata": {"name": uid, "namespace": "shop", "uid": uid, "resourceVersion": rv.to_string()},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-0"},
        "reason": "BackOff",
        "message": "back-off",
        "lastTimestamp": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "count": count,
        "type": "Warning",
    }))
    .unwrap();
    WatchItem::Event { event, observation }
}

fn checkpoint(rv: u64) -> WatchItem {
    WatchItem::Checkpoint {
        resource_version: rv.to_string(),
    }
}

fn ingest(store: &Store, cfg: IngestConfig) -> (Ingest, IngestMetrics) {
    let metrics = IngestMetrics::register(&mut Registry::default());
    let hub = Hub::new(store.clone(), HubConfig::default()).unwrap();
    (
        Ingest {
            store: store.clone(),
            hub,
            seen: Occurrences::new(store.clone(), LoadedSeen::default(), Tiering::default(), 0),
            enricher: None,
            cfg,
            metrics: metrics.clone(),
            kee: KeeMetrics::new("t_"),
        },
        metrics,
    )
}

fn logged_rvs(store: &Store) -> Vec<String> {
    store
        .read(1, 100, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.metadata.unwrap().resource_version)
        .collect()
}

#[tokio::test]
async fn a_new_leader_logs_again_only_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let handover = Handover::from_checkpoint(&Checkpoint {
        rv: "100".into(),
        log_id: "old".into(),
        covered_rv: Some("150".into()),
        pending: vec![120],
    });
    let (ingest, metrics) = ingest(
        &store,
        IngestConfig {
            handover: Some(handover),
            ..IngestConfig::default()
        },
    );
    // the resume point was too old: a re-list, then the watch
    let items = vec![
        WatchItem::ListStarted {
            reason: RelistReason::ResumeExpired,
        },
        event("a", 90, 1, Observation::Listed),
        event("b", 120, 1, Observation::Listed),
        event("c", 130, 3, Observation::Listed),
        event("d", 160, 1, Observation::Listed),
        checkpoint(170),
        event("c", 180, 4, Observation::Modified),
        checkpoint(180),
    ];
    ingest
        .run(futures::stream::iter(items), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(logged_rvs(&store), vec!["120", "160", "180"]);
    assert_eq!(metrics.handled_by_previous_leader.get(), 2, "a and c-3");
    assert_eq!(metrics.relogged_after_failover.get(), 1, "b");
    assert_eq!(metrics.logged.get(), 3);
    assert_eq!(
        (metrics.seen_hot_entries.get(), metrics.seen_entries.get()),
        (4, 4),
        "a, b, c and d are remembered, all hot"
    );
    assert_eq!(metrics.seen_runs.get(), 0);
    // what was skipped is remembered: seeing it again is a duplicate
    let seen = store.load_seen(0).unwrap().hot;
    assert!(!seen.is_new("a", 1) && !seen.is_new("c", 3) && !seen.is_new("c", 4));
}

#[tokio::test]
async fn a_batch_that_ends_with_a_watched_change_is_marked_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (ingest, _) = ingest(
        &store,
        IngestConfig {
            max_batch: 1,
            ..IngestConfig::default()
        },
    );
    // a full batch is written before the checkpoint that follows its event arrives
    let items = futures::stream::iter(vec![
        event("a", 200, 1, Observation::Added),
        event("b", 201, 1, Observation::Listed),
    ])
    .chain(futures::stream::pending());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(ingest.run(items, cancel.clone()));
    for _ in 0..200 {
        if store.bounds().last >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.bounds().last, 2);
    assert_eq!(
        store.mark_at_or_below(u64::MAX).unwrap(),
        Some((1, "200".into())),
        "the watched change marks its batch; a listed one does not"
    );
    cancel.cancel();
    task.await.unwrap().unwrap();
}

/// `commitInterval` gathers the Events that arrive within it into one commit: the
/// first Event after a quiet spell is committed at once, the ones that follow within
/// the interval wait for its end and share a commit. Without it each lone Event gets a
/// commit of its own.
#[tokio::test]
async fn a_commit_interval_gathers_the_events_that_arrive_within_it() {
    let commits_for = |interval: Duration| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (ingest, metrics) = ingest(
            &store,
            IngestConfig {
                commit_interval: interval,
                ..IngestConfig::default()
            },
        );
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(ingest.run(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            cancel.clone(),
        ));
        let started = std::time::Instant::now();
        let mut first_durable = None;
        for i in 0..5u64 {
            tx.send(event(&format!("e{i}"), 300 + i, 1, Observation::Added))
                .await
                .unwrap();
            if i == 0 {
                for _ in 0..500 {
                    if store.bounds().last >= 1 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                first_durable = Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for _ in 0..500 {
            if store.bounds().last >= 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let all_durable = started.elapsed();
        assert_eq!(store.bounds().last, 5, "every event logged");
        cancel.cancel();
        task.await.unwrap().unwrap();
        let commits = metrics
            .appends
            .get_or_create(&vec![("outcome", "ok")])
            .get();
        (commits, first_durable.unwrap(), all_durable)
    };
    // the 4 Events after the first arrive within 80 ms of it: one commit for them
    let (commits, first, all) = commits_for(Duration::from_millis(400)).await;
    assert_eq!(commits, 2, "the first at once, the next four together");
    assert!(
        first < Duration::from_millis(300),
        "the first waited {first:?}"
    );
    assert!(
        all >= Duration::from_millis(400),
        "the rest waited for the interval"
    );
    // no interval: the Events, 20 ms apart, are not gathered
    let (commits, _, _) = commits_for(Duration::ZERO).await;
    assert!(commits >= 3, "{commits} commits for 5 lone Events");
}
