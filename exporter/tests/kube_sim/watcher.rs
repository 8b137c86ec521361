//! The list+watch state machine against the simulator.

use std::collections::HashSet;
use std::time::Duration;

use futures::{Stream, StreamExt};
use herald_exporter::kube::stats::RestartReason;
use herald_exporter::kube::{
    EventWatcher, KubeApi, RelistReason, WatchHealth, WatchItem, WatcherOptions,
};
use herald_kubesim::{BadListItem, HttpFault, Simulator};
use herald_proto::Observation;
use herald_proto::kube_json::has_involved_object;
use tokio::time::Instant;

use crate::common::{api, event, eventually, fast_backoff, next, next_event, sim};

fn options(page_size: u32, resume: Option<String>) -> WatcherOptions {
    WatcherOptions {
        page_size,
        resume_resource_version: resume,
        watch_timeout: Duration::from_secs(1),
        stall_grace: Duration::from_secs(2),
        backoff: fast_backoff(),
        ..WatcherOptions::default()
    }
}

/// Starts a watcher driven by its own task, as the exporter runs it: the watch keeps
/// being read while the test is busy elsewhere.
fn start(
    api: KubeApi,
    opts: WatcherOptions,
) -> (impl Stream<Item = WatchItem> + Unpin, WatchHealth) {
    let watcher = EventWatcher::new(api, opts);
    let health = watcher.health();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher.into_stream());
        while let Some(item) = stream.next().await {
            if tx.send(item).is_err() {
                break;
            }
        }
    });
    let items = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (Box::pin(items), health)
}

/// Reads a whole list: `ListStarted` already consumed; returns UIDs and the checkpoint.
async fn read_list<S: Stream<Item = WatchItem> + Unpin>(stream: &mut S) -> (Vec<String>, String) {
    let mut uids = Vec::new();
    loop {
        match next(stream).await {
            WatchItem::Event { event, observation } => {
                assert_eq!(observation, Observation::Listed);
                assert_eq!(event.observation, Observation::Listed);
                uids.push(event.metadata.uid);
            }
            WatchItem::Checkpoint { resource_version } => return (uids, resource_version),
            other => panic!("unexpected {other:?} during list"),
        }
    }
}

fn list_requests(sim: &Simulator) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/events" && !r.watch)
        .map(|r| r.uri)
        .collect()
}

fn watch_requests(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path == "/api/v1/events" && r.watch)
        .count()
}

#[tokio::test]
async fn cold_list_pages_yield_each_event_once_then_the_list_checkpoint() {
    let sim = sim().await;
    assert_eq!(sim.load_fixture_events().unwrap(), 72);
    let (api, _) = api(&sim).await;
    let (mut stream, health) = start(api, options(10, None));
    assert_eq!(
        next(&mut stream).await,
        WatchItem::ListStarted {
            reason: RelistReason::ColdStart
        }
    );
    let (uids, rv) = read_list(&mut stream).await;
    assert_eq!(uids.len(), 72);
    assert_eq!(
        uids.iter().collect::<HashSet<_>>().len(),
        72,
        "each event once"
    );
    assert_eq!(rv, "279");
    let lists = list_requests(&sim);
    assert_eq!(lists.len(), 8, "72 events in pages of 10: {lists:?}");
    assert!(lists.iter().all(|u| u.contains("limit=10")));
    assert!(lists[1..].iter().all(|u| u.contains("continue=")));
    assert!(!lists[0].contains("continue="));
    assert!(health.last_good().is_some());
    assert_eq!(health.consecutive_failures(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_yields_added_and_modified_but_not_deleted() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    let (api, _) = api(&sim).await;
    let (mut stream, _) = start(api, options(500, None));
    next(&mut stream).await;
    read_list(&mut stream).await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);

    let rv = sim.create_event(event("shop", "web-1.a", "web-1")).unwrap();
    let (ev, obs) = next_event(&mut stream).await;
    assert_eq!(
        (obs, ev.metadata.name.as_str()),
        (Observation::Added, "web-1.a")
    );
    assert_eq!(ev.metadata.resource_version, rv);
    assert_eq!(
        next(&mut stream).await,
        WatchItem::Checkpoint {
            resource_version: rv
        }
    );

    sim.bump_count("shop", "web-1.a").unwrap();
    let (ev, obs) = next_event(&mut stream).await;
    assert_eq!(
        (obs, ev.count, ev.occurrence),
        (Observation::Modified, 2, 2)
    );

    let deleted_rv = sim.delete_event("shop", "web-1.a").unwrap();
    loop {
        match next(&mut stream).await {
            WatchItem::Checkpoint { resource_version } if resource_version == deleted_rv => break,
            WatchItem::Checkpoint { .. } => {}
            other => panic!("DELETED must not be reported, got {other:?}"),
        }
    }
    // Several server-side watch timeouts later, nothing is re-emitted.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    sim.create_event(event("shop", "web-2.a", "web-2")).unwrap();
    let (ev, obs) = next_event(&mut stream).await;
    assert_eq!(
        (obs, ev.metadata.name.as_str()),
        (Observation::Added, "web-2.a")
    );
    assert_eq!(
        list_requests(&sim).len(),
        1,
        "re-watches must not list again"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn resume_from_a_checkpoint_sees_only_later_changes() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    let (api, _) = api(&sim).await;
    let (mut first, _) = start(api.clone(), options(500, None));
    next(&mut first).await;
    let (_, checkpoint) = read_list(&mut first).await;
    drop(first);

    sim.create_event(event("test-ns", "job-1.a", "job-1"))
        .unwrap();
    sim.clear_requests();
    let (mut resumed, _) = start(api, options(500, Some(checkpoint)));
    let (ev, obs) = next_event(&mut resumed).await;
    assert_eq!(
        (obs, ev.metadata.name.as_str()),
        (Observation::Added, "job-1.a")
    );
    assert!(list_requests(&sim).is_empty(), "a resume must not list");
    sim.shutdown().await;
}

#[tokio::test]
async fn resume_from_a_compacted_version_relists() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    sim.create_event(event("shop", "late.a", "late")).unwrap();
    sim.compact();
    let (api, stats) = api(&sim).await;
    let (mut stream, _) = start(api, options(50, Some("279".into())));
    assert_eq!(
        next(&mut stream).await,
        WatchItem::ListStarted {
            reason: RelistReason::ResumeExpired
        }
    );
    let (uids, rv) = read_list(&mut stream).await;
    assert_eq!(uids.len(), 73);
    assert_eq!(rv, sim.resource_version());
    assert_eq!(stats.restarts(RestartReason::Gone), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn gone_during_a_watch_relists() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    let (api, stats) = api(&sim).await;
    let (mut stream, _) = start(api, options(500, None));
    next(&mut stream).await;
    read_list(&mut stream).await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    // Hold the next watch request at the server while history moves on and is
    // compacted: it then asks for a resourceVersion that is too old.
    sim.faults()
        .stall_next("/api/v1/events", 1, Duration::from_millis(700));
    sim.faults().close_watches();
    assert!(eventually(5, || sim.open_watches() == 0).await);
    sim.create_event(event("shop", "missed.a", "missed"))
        .unwrap();
    sim.compact();
    assert_eq!(
        next(&mut stream).await,
        WatchItem::ListStarted {
            reason: RelistReason::Gone
        }
    );
    let (uids, _) = read_list(&mut stream).await;
    assert_eq!(uids.len(), 73, "the missed event arrives through the list");
    assert_eq!(stats.restarts(RestartReason::Gone), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_closed_watch_is_reopened_without_listing() {
    let sim = sim().await;
    let (api, stats) = api(&sim).await;
    let opts = WatcherOptions {
        watch_timeout: Duration::from_secs(60),
        ..options(500, None)
    };
    let (mut stream, _) = start(api, opts);
    next(&mut stream).await;
    let (_, list_rv) = read_list(&mut stream).await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    sim.faults().close_watches();
    assert!(eventually(5, || watch_requests(&sim) >= 2).await);
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    sim.create_event(event("default", "after-close.a", "p"))
        .unwrap();
    let (ev, _) = next_event(&mut stream).await;
    assert_eq!(ev.metadata.name, "after-close.a");
    assert_eq!(list_requests(&sim).len(), 1);
    assert!(stats.restarts(RestartReason::Timeout) >= 1);
    assert_eq!(stats.restarts(RestartReason::Gone), 0);
    // The re-watch asked for the list's resourceVersion.
    let rewatch = sim
        .requests()
        .into_iter()
        .filter(|r| r.watch)
        .nth(1)
        .unwrap();
    assert!(
        rewatch.uri.contains("allowWatchBookmarks=true"),
        "{}",
        rewatch.uri
    );
    assert!(
        rewatch.uri.contains(&format!("resourceVersion={list_rv}&")),
        "{}",
        rewatch.uri
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    sim.faults().fail_next(
        "/api/v1/events",
        1,
        HttpFault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let (api, stats) = api(&sim).await;
    let started = Instant::now();
    let (mut stream, _) = start(api, options(500, None));
    next(&mut stream).await;
    let (ev, _) = next_event(&mut stream).await;
    let waited = started.elapsed();
    assert!(!ev.metadata.uid.is_empty());
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert!(waited < Duration::from_secs(3), "retried after {waited:?}");
    assert_eq!(stats.restarts(RestartReason::Throttled), 1);
    assert_eq!(stats.snapshot().server_throttled, 1);
    let statuses: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/events")
        .map(|r| r.status)
        .take(2)
        .collect();
    assert_eq!(statuses, [429, 200]);
    sim.shutdown().await;
}

#[tokio::test]
async fn server_errors_back_off_and_recover() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    let (api, stats) = api(&sim).await;
    let (mut stream, health) = start(api, options(500, None));
    next(&mut stream).await;
    read_list(&mut stream).await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    // The next three watch starts fail with 500, then the watch comes back.
    sim.faults()
        .fail_next("/api/v1/events", 3, HttpFault::InternalError);
    sim.faults().close_watches();
    assert!(eventually(5, || stats.restarts(RestartReason::Error) >= 3).await);
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    sim.create_event(event("default", "recovered.a", "p"))
        .unwrap();
    let (ev, _) = next_event(&mut stream).await;
    assert_eq!(ev.metadata.name, "recovered.a");
    assert_eq!(stats.restarts(RestartReason::Error), 3);
    assert_eq!(health.consecutive_failures(), 0);
    assert_eq!(
        list_requests(&sim).len(),
        1,
        "errors re-watch, they do not re-list"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_watch_line_is_skipped_and_counted() {
    let sim = sim().await;
    let (api, stats) = api(&sim).await;
    let opts = WatcherOptions {
        watch_timeout: Duration::from_secs(60),
        ..options(500, None)
    };
    let (mut stream, _) = start(api, opts);
    next(&mut stream).await;
    read_list(&mut stream).await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    sim.faults().malformed_line_on_next_watch("/api/v1/events");
    sim.faults().close_watches();
    assert!(eventually(5, || watch_requests(&sim) >= 2).await);
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    sim.create_event(event("default", "fine.a", "p")).unwrap();
    let (ev, _) = next_event(&mut stream).await;
    assert_eq!(ev.metadata.name, "fine.a");
    assert_eq!(stats.snapshot().malformed_events, 1);
    assert_eq!(
        watch_requests(&sim),
        2,
        "a bad line does not restart the watch"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_list_items_are_skipped_or_the_page_retried() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    sim.faults()
        .bad_item_in_next_list("/api/v1/events", BadListItem::WrongTypes);
    let (api, stats) = api(&sim).await;
    let (mut stream, _) = start(api.clone(), options(500, None));
    next(&mut stream).await;
    let (uids, _) = read_list(&mut stream).await;
    assert_eq!(uids.len(), 72, "the bad item is skipped, the others pass");
    assert_eq!(stats.snapshot().malformed_events, 1);
    drop(stream);

    // A page that is not JSON at all cannot be split; it is retried.
    sim.faults()
        .bad_item_in_next_list("/api/v1/events", BadListItem::InvalidJson);
    let (mut stream, _) = start(api, options(500, None));
    next(&mut stream).await;
    let (uids, _) = read_list(&mut stream).await;
    assert_eq!(uids.len(), 72);
    assert_eq!(stats.restarts(RestartReason::Error), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn event_without_involved_object_passes() {
    let sim = sim().await;
    let (api, _) = api(&sim).await;
    let (mut stream, _) = start(api, options(500, None));
    next(&mut stream).await;
    read_list(&mut stream).await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    let mut bare = event("default", "bare.a", "x");
    bare.as_object_mut().unwrap().remove("involvedObject");
    sim.create_event(bare).unwrap();
    let (ev, obs) = next_event(&mut stream).await;
    assert_eq!(
        (obs, ev.metadata.name.as_str()),
        (Observation::Added, "bare.a")
    );
    assert!(!has_involved_object(&ev));
    sim.shutdown().await;
}

#[tokio::test]
async fn namespaced_watcher_sees_only_its_namespace() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    let (api, _) = api(&sim).await;
    let opts = WatcherOptions {
        namespace: Some("test-ns".into()),
        ..options(500, None)
    };
    let (mut stream, _) = start(api, opts);
    next(&mut stream).await;
    let (uids, _) = read_list(&mut stream).await;
    assert_eq!(uids.len(), 24);
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    sim.create_event(event("shop", "other.a", "p")).unwrap();
    sim.create_event(event("test-ns", "mine.a", "p")).unwrap();
    let (ev, _) = next_event(&mut stream).await;
    assert_eq!(ev.metadata.name, "mine.a");
    assert!(
        sim.requests()
            .iter()
            .all(|r| !r.path.starts_with("/api/v1/")
                || r.path.starts_with("/api/v1/namespaces/test-ns/events")
                || r.path == "/api")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bookmarks_only_advance_the_checkpoint() {
    let sim = herald_kubesim::Simulator::start(herald_kubesim::SimConfig {
        watch_cache: true,
        bookmark_interval: Duration::from_millis(200),
        ..herald_kubesim::SimConfig::default()
    })
    .await
    .unwrap();
    sim.load_fixture_events().unwrap();
    let (api, _) = api(&sim).await;
    let opts = WatcherOptions {
        watch_timeout: Duration::from_secs(60),
        ..options(500, None)
    };
    let (mut stream, _) = start(api, opts);
    next(&mut stream).await;
    let (_, list_rv) = read_list(&mut stream).await;
    // Nothing changes, yet bookmarks keep confirming progress.
    for _ in 0..2 {
        match next(&mut stream).await {
            WatchItem::Checkpoint { resource_version } => {
                assert!(
                    resource_version.parse::<u64>().unwrap() >= list_rv.parse::<u64>().unwrap()
                );
            }
            other => panic!("a bookmark yields only a checkpoint, got {other:?}"),
        }
    }
    assert!(
        sim.requests()
            .iter()
            .filter(|r| r.watch)
            .all(|r| r.uri.contains("allowWatchBookmarks=true"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_watch_cut_by_the_server_resumes_without_loss_or_duplicates() {
    let sim = sim().await;
    let (api, _) = api(&sim).await;
    let opts = WatcherOptions {
        watch_timeout: Duration::from_secs(60),
        ..options(500, None)
    };
    let (mut stream, _) = start(api, opts);
    next(&mut stream).await;
    read_list(&mut stream).await;
    assert!(sim.wait_for_watches(1, Duration::from_secs(5)).await);
    // The next watch is dropped by the server after two lines.
    sim.faults().drop_next_watch_after("/api/v1/events", 2);
    sim.faults().close_watches();
    assert!(eventually(5, || watch_requests(&sim) >= 2).await);
    for i in 0..6 {
        sim.create_event(event("default", &format!("cut-{i}.a"), "p"))
            .unwrap();
    }
    let mut names = Vec::new();
    while names.len() < 6 {
        let (ev, obs) = next_event(&mut stream).await;
        assert_eq!(obs, Observation::Added);
        names.push(ev.metadata.name);
    }
    let expected: Vec<String> = (0..6).map(|i| format!("cut-{i}.a")).collect();
    assert_eq!(names, expected, "in order, once each");
    assert!(watch_requests(&sim) >= 3, "the cut watch was re-opened");
    assert_eq!(list_requests(&sim).len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_watch_cache_too_large_answer_relists_from_the_api_present() {
    let sim = herald_kubesim::Simulator::start(herald_kubesim::SimConfig {
        watch_cache: true,
        ..herald_kubesim::SimConfig::default()
    })
    .await
    .unwrap();
    sim.load_fixture_events().unwrap();
    let (api, stats) = api(&sim).await;
    // a checkpoint from before an etcd restore: the API never reached it
    let (mut stream, health) = start(api, options(500, Some("9000".into())));
    assert_eq!(
        next(&mut stream).await,
        WatchItem::ListStarted {
            reason: RelistReason::Rewound
        }
    );
    let (uids, rv) = read_list(&mut stream).await;
    assert_eq!(uids.len(), 72);
    assert_eq!(rv, sim.resource_version());
    assert_eq!(stats.restarts(RestartReason::Rewound), 1);
    assert_eq!(stats.restarts(RestartReason::Gone), 0);
    // and the watch goes on from the API's present
    sim.create_event(event("shop", "after.a", "after")).unwrap();
    let (ev, observation) = next_event(&mut stream).await;
    assert_eq!(ev.metadata.name, "after.a");
    assert_eq!(observation, Observation::Added);
    assert_eq!(health.consecutive_failures(), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_quiet_watch_notices_an_etcd_restore_and_relists() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    let before = sim.resource_version();
    let (api, stats) = api(&sim).await;
    let (mut stream, _health) = start(
        api,
        WatcherOptions {
            watch_timeout: Duration::from_secs(30),
            progress_check: Duration::from_millis(500),
            ..options(500, None)
        },
    );
    next(&mut stream).await;
    read_list(&mut stream).await;
    for i in 0..5 {
        sim.create_event(event("shop", &format!("lost.{i}"), "lost"))
            .unwrap();
        next_event(&mut stream).await;
    }
    // the snapshot predates those five; the next writes reuse their revisions, which an
    // etcd-served watch from the last one never reports
    sim.restore_etcd(&before).unwrap();
    sim.create_event(event("shop", "restored.a", "restored"))
        .unwrap();
    let relist = loop {
        match next(&mut stream).await {
            WatchItem::Checkpoint { .. } => {}
            other => break other,
        }
    };
    assert_eq!(
        relist,
        WatchItem::ListStarted {
            reason: RelistReason::Rewound
        }
    );
    let (uids, rv) = read_list(&mut stream).await;
    assert_eq!(
        uids.len(),
        73,
        "the fixtures and the event written after the restore"
    );
    assert_eq!(rv, sim.resource_version());
    assert_eq!(stats.restarts(RestartReason::Rewound), 1);
    sim.create_event(event("shop", "restored.b", "restored"))
        .unwrap();
    let (ev, _) = next_event(&mut stream).await;
    assert_eq!(ev.metadata.name, "restored.b");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_quiet_but_current_watch_is_left_alone() {
    let sim = sim().await;
    sim.load_fixture_events().unwrap();
    let (api, stats) = api(&sim).await;
    let (mut stream, health) = start(
        api,
        WatcherOptions {
            watch_timeout: Duration::from_secs(30),
            progress_check: Duration::from_millis(200),
            ..options(500, None)
        },
    );
    next(&mut stream).await;
    read_list(&mut stream).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let checks = list_requests(&sim)
        .iter()
        .filter(|u| u.contains("limit=1") && !u.contains("limit=10"))
        .count();
    assert!(checks >= 3, "a quiet watch checks its progress: {checks}");
    assert_eq!(watch_requests(&sim), 1, "and keeps its watch");
    assert_eq!(stats.restarts(RestartReason::Rewound), 0);
    assert_eq!(health.consecutive_failures(), 0);
    sim.create_event(event("shop", "later.a", "later")).unwrap();
    let (ev, _) = next_event(&mut stream).await;
    assert_eq!(ev.metadata.name, "later.a");
    sim.shutdown().await;
}
