//! End-to-end tests of the `herald-exporter` binary against the API simulator: the
//! delivery guarantees (nothing lost, nothing duplicated), consumer groups across
//! process kills, leader-election failover and bad input.

#[path = "e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeSet;
use std::time::Duration;

use harness::*;
use herald_kubesim::HttpFault;
use serde_json::json;

const IDLE: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread")]
async fn cold_start_respects_max_age_and_warm_restart_loses_and_repeats_nothing() {
    let sim = sim().await;
    let old = chrono::Utc::now() - chrono::Duration::hours(2);
    for i in 0..5 {
        sim.create_event(event("shop", &format!("old-{i}"), "BackOff", old))
            .unwrap();
    }
    create_events(&sim, "shop", "new", 3);
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "maxEventAgeSeconds: 600\n");
    // cold start: only the 3 recent events are within maxEventAgeSeconds
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    ex.wait_logged(3).await;
    let first = tail_all(&ex.grpc, IDLE).await;
    assert_eq!(first.len(), 3, "{:?}", key_counts(&first));
    assert!(
        first
            .iter()
            .all(|e| e.metadata.as_ref().unwrap().name.starts_with("new-"))
    );
    assert_eq!(ex.terminate(), Some(0));

    // while the exporter is down: 4 new events, a repeat of a recent one, a repeat of
    // an old (previously discarded) one, and a metadata-only change
    create_events(&sim, "shop", "down", 4);
    sim.bump_count("shop", "new-0").unwrap();
    sim.bump_count("shop", "old-0").unwrap();
    sim.touch_metadata("shop", "new-1").unwrap();
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_logged(9).await;
    let all = tail_all(&ex.grpc, IDLE).await;
    let counts = key_counts(&all);
    assert_eq!(all.len(), 9, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    let names: BTreeSet<String> = all
        .iter()
        .map(|e| format!("{}#{}", e.metadata.as_ref().unwrap().name, e.occurrence))
        .collect();
    for want in ["down-0#1", "down-3#1", "new-0#2", "old-0#2", "new-2#1"] {
        assert!(names.contains(want), "missing {want} in {names:?}");
    }
    assert!(
        !names.contains("old-1#1"),
        "discarded at cold start, never exported later"
    );

    // restart again after a write and a compaction: the resume point is older than
    // the compacted revision, so the watch answers 410 and a (warm) re-list follows.
    // Nothing is exported twice, and the occurrences discarded at the cold start stay
    // discarded: they were remembered durably, not only in memory.
    assert_eq!(ex.terminate(), Some(0));
    sim.clear_requests();
    sim.create_event(event("shop", "late", "Pulled", chrono::Utc::now()))
        .unwrap();
    sim.compact();
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    ex.wait_logged(10).await;
    let event_lists = sim
        .requests()
        .iter()
        .filter(|r| !r.watch && r.path == "/api/v1/events")
        .count();
    assert!(
        event_lists >= 1,
        "the resume point was compacted away: the exporter had to re-list"
    );
    sim.create_event(event("shop", "after", "Pulled", chrono::Utc::now()))
        .unwrap();
    ex.wait_logged(11).await;
    let all = tail_all(&ex.grpc, IDLE).await;
    let counts = key_counts(&all);
    assert_eq!(all.len(), 11, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    assert!(
        all.iter()
            .all(|e| !e.metadata.as_ref().unwrap().name.starts_with("old-") || e.occurrence == 2),
        "an occurrence discarded at the cold start was exported after a re-list: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_count_bump_is_exported_once_and_a_no_op_update_never() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "");
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    sim.create_event(event("shop", "e", "BackOff", chrono::Utc::now()))
        .unwrap();
    sim.bump_count("shop", "e").unwrap();
    sim.touch_metadata("shop", "e").unwrap();
    sim.touch_metadata("shop", "e").unwrap();
    sim.bump_count("shop", "e").unwrap();
    ex.wait_logged(3).await;
    let all = tail_all(&ex.grpc, IDLE).await;
    let occ: Vec<i32> = all.iter().map(|e| e.occurrence).collect();
    assert_eq!(occ, vec![1, 2, 3]);
    let keys: Vec<&str> = all.iter().map(|e| e.idempotency_key.as_str()).collect();
    let uid = &all[0].metadata.as_ref().unwrap().uid;
    assert_eq!(
        keys,
        vec![format!("{uid}-1"), format!("{uid}-2"), format!("{uid}-3")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gone_dropped_watches_429_and_500_recover_without_duplicates() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "");
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    create_events(&sim, "a", "first", 5);
    ex.wait_logged(5).await;

    // 410 Gone: the watch is closed and the re-watch held back while new events are
    // written and the history compacted, so the re-watch from the old RV answers 410
    // and the exporter re-lists
    sim.faults()
        .stall_next("/api/v1/events", 1, Duration::from_millis(1500));
    sim.faults().close_watches();
    tokio::time::sleep(Duration::from_millis(300)).await;
    create_events(&sim, "a", "second", 3);
    sim.compact();
    ex.wait_logged(8).await;

    // a watch dropped mid-stream resumes
    sim.faults().drop_next_watch_after("/api/v1/events", 2);
    sim.faults().close_watches();
    tokio::time::sleep(Duration::from_millis(300)).await;
    create_events(&sim, "a", "third", 4);
    ex.wait_logged(12).await;

    // 429 with Retry-After and 500s on the next requests
    sim.faults().fail_next(
        "/api/v1/events",
        2,
        HttpFault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    sim.faults()
        .fail_next("/api/v1/events", 2, HttpFault::InternalError);
    sim.faults().close_watches();
    create_events(&sim, "a", "fourth", 3);
    ex.wait_logged(15).await;
    ex.wait_ready().await;

    let all = tail_all(&ex.grpc, IDLE).await;
    let counts = key_counts(&all);
    assert_eq!(all.len(), 15, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    let log = ex.log_text();
    assert!(
        log.contains("410") || log.to_lowercase().contains("gone"),
        "the 410 should be logged:\n{log}"
    );
    let metrics = ex.metrics_text().await;
    assert!(
        metrics.contains("herald_exporter_watch_restarts_total{reason=\"gone\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kee_lookup_counters_and_the_startup_summary_tell_what_is_in_effect() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    // the harness turns lookups off; this test needs them
    let cfg = setup.path("lookups.yaml");
    std::fs::write(
        &cfg,
        "logLevel: debug\nmaxEventAgeSeconds: 3600\nexporter:\n  watch:\n    timeout: 5s\n",
    )
    .unwrap();
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    // events about two objects: every one is looked up (they do not exist in the
    // simulator, so nothing is cached)
    for i in 0..6 {
        let mut e = event("shop", &format!("e-{i}"), "BackOff", chrono::Utc::now());
        e["involvedObject"]["name"] = json!(format!("pod-{}", i % 2));
        e["involvedObject"]["uid"] = json!(format!("pod-uid-{}", i % 2));
        sim.create_event(e).unwrap();
    }
    ex.wait_logged(6).await;
    let metrics = ex.metrics_text().await;
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    let (hits, misses) = (
        value("herald_exporter_lookup_cache_hits_total"),
        value("herald_exporter_lookup_cache_misses_total"),
    );
    assert!(misses >= 6, "hits {hits}, misses {misses}");
    // the startup summary shows the command line's settings, which win over the file
    let log = ex.log_text();
    let data_dir = setup.path("data").display().to_string();
    assert!(log.contains(&format!("dataDir={data_dir}")), "{log}");
    let grpc = ex.grpc.trim_start_matches("http://");
    assert!(log.contains(&format!("grpc={grpc}")), "{log}");
    let metrics = ex.metrics.trim_start_matches("http://");
    assert!(log.contains(&format!("metrics={metrics}")), "{log}");
    assert_eq!(value("kube_api_read_cache_hits"), hits);
    assert_eq!(value("kube_api_read_cache_misses"), misses);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_events_and_events_without_involved_object_do_not_stop_the_watch() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "");
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    sim.faults().malformed_line_on_next_watch("/api/v1/events");
    sim.faults().close_watches();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut orphan = event("shop", "orphan", "Custom", chrono::Utc::now());
    orphan.as_object_mut().unwrap().remove("involvedObject");
    // the simulator validates like the API server; bypass by writing the raw JSON
    match sim.create_event(orphan.clone()) {
        Ok(_) => {}
        Err(_) => {
            // the API server would reject it; the exporter must still cope if it came
            sim.faults()
                .bad_item_in_next_list("/api/v1/events", herald_kubesim::BadListItem::WrongTypes);
        }
    }
    create_events(&sim, "shop", "fine", 2);
    let want = if sim.event("shop", "orphan").is_some() {
        3
    } else {
        2
    };
    ex.wait_logged(want).await;
    let log = ex.log_text();
    assert!(
        log.contains("malformed") || log.contains("not valid JSON"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    if want == 3 {
        assert!(log.contains("has no involvedObject"), "{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_kubeconfig_and_bad_config_fail_with_clear_errors() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    // a kubeconfig pointing nowhere
    let nowhere = setup.path("nowhere.kubeconfig");
    std::fs::write(
        &nowhere,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: abc}\n",
    )
    .unwrap();
    let cfg = setup.config("config.yaml", "");
    // an unreachable server is retried (it may come up), so the process keeps running
    // (serving its log, unready) unless the kubeconfig itself is unusable
    let err_path = setup.path("nowhere.log");
    let metrics_port = free_port();
    let mut child = std::process::Command::new(exporter_bin())
        .arg("--config")
        .arg(&cfg)
        .arg("--kubeconfig")
        .arg(&nowhere)
        .arg("--grpc-address")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--metrics-address")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .arg("--data-dir")
        .arg(setup.path("d1"))
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let err = loop {
        let text = std::fs::read_to_string(&err_path).unwrap_or_default();
        if text
            .matches("cannot reach the Kubernetes API, retrying")
            .count()
            >= 2
        {
            break text;
        }
        assert!(child.try_wait().unwrap().is_none(), "exited: {text}");
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("abc"), "{err}");
    let ready = reqwest::get(format!("http://127.0.0.1:{metrics_port}/-/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // a missing kubeconfig fails fast
    let missing = std::process::Command::new(exporter_bin())
        .arg("--config")
        .arg(&cfg)
        .arg("--kubeconfig")
        .arg(setup.path("missing.kubeconfig"))
        .arg("--data-dir")
        .arg(setup.path("d2"))
        .arg("--grpc-address")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--metrics-address")
        .arg(format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    let missing_err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        missing_err.contains("missing.kubeconfig") && missing_err.contains("no such file"),
        "{missing_err}"
    );
    assert!(!missing_err.contains("panicked"));

    // a config with a wrong type
    let bad = setup.path("bad.yaml");
    std::fs::write(&bad, "logLevel: info\nmaxEventAgeSeconds: \"60\"\n").unwrap();
    let out = std::process::Command::new(exporter_bin())
        .arg("-conf")
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("bad.yaml:2:"), "{err}");
    assert!(err.contains("maxEventAgeSeconds"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_exporter_refuses_what_check_config_refuses_in_routes_and_receivers() {
    // check-config rejects it: a receiver with a bad delivery timeout, a route naming a
    // receiver that does not exist; the exporter must not start with it either.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("routes.yaml");
    std::fs::write(
        &bad,
        "route:\n  routes:\n    - match:\n        - receiver: dumq\nreceivers:\n  - name: dump\n    stdout: {}\n    delivery:\n      timeout: soon\n",
    )
    .unwrap();
    let out = std::process::Command::new(exporter_bin())
        .arg("--config")
        .arg(&bad)
        .arg("--kubeconfig")
        .arg(dir.path().join("never-read.kubeconfig"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("routes.yaml:4:"), "{err}");
    assert!(err.contains("`dumq`, which is not defined"), "{err}");
    assert!(err.contains("routes.yaml:9:"), "{err}");
    assert!(err.contains("delivery.timeout"), "{err}");
    // receivers' files belong to the rulers: an exporter does not require them
    let ok = dir.path().join("tls.yaml");
    std::fs::write(
        &ok,
        "route:\n  routes:\n    - match:\n        - receiver: hook\nreceivers:\n  - name: hook\n    webhook:\n      endpoint: https://hooks.example.com/x\n      tls:\n        caFile: /mounted/in/rulers/only/ca.pem\n",
    )
    .unwrap();
    let out = std::process::Command::new(exporter_bin())
        .arg("--config")
        .arg(&ok)
        .arg("--kubeconfig")
        .arg(dir.path().join("missing.kubeconfig"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("missing.kubeconfig"),
        "got past the config: {err}"
    );
}

/// The value of metric `name` (no labels) in a Prometheus text exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// The occurrence memory's cold runs under `kill -9`: with `dedup.hotFor: 1s`, Event
/// objects move from memory to runs on disk within seconds, and runs are cut, written
/// and merged all along. The exporter is killed at a random moment while Events are
/// created and old ones repeat, started again, and at the end made to re-list every
/// Event: each occurrence is in the log exactly once, the repeats of Events that had
/// long left memory included, and the re-list is answered from the cold runs.
#[tokio::test(flavor = "multi_thread")]
async fn occurrences_in_cold_runs_survive_kill_9_and_a_re_list() {
    use rand::Rng as _;
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "  dedup: {hotFor: 1s}\n");
    let mut ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    let kill_at = Duration::from_millis(rand::rng().random_range(2_000..9_000));
    eprintln!("kill -9 at {kill_at:?}");
    let started = std::time::Instant::now();
    let mut killed = false;
    let mut occurrences = 0u64;
    // 12 s at 50 Events/s; from 2 s on, every fifth step repeats an Event 2 s old
    // (out of the hot map since a second)
    for step in 0..600 {
        sim.create_event(event(
            "shop",
            &format!("e-{step}"),
            "BackOff",
            chrono::Utc::now(),
        ))
        .unwrap();
        occurrences += 1;
        if step >= 100 && step % 5 == 0 {
            sim.bump_count("shop", &format!("e-{}", step - 100))
                .unwrap();
            occurrences += 1;
        }
        if !killed && started.elapsed() >= kill_at {
            killed = true;
            ex.kill9();
            ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(killed, "the writes took less than {kill_at:?}");
    // Events from the first seconds repeat (long in runs, merged), others change
    // without a new occurrence
    for i in 0..20 {
        sim.bump_count("shop", &format!("e-{}", i * 3 + 1)).unwrap();
        sim.touch_metadata("shop", &format!("e-{}", i * 3 + 2))
            .unwrap();
    }
    occurrences += 20;
    ex.wait_logged(occurrences).await;
    let text = ex.metrics_text().await;
    assert!(
        metric(&text, "herald_exporter_seen_runs") >= 1.0,
        "no cold run after 10 s at hotFor 1s:\n{text}"
    );

    // a compaction while it is down: the watch answers 410 and everything is listed
    assert_eq!(ex.terminate(), Some(0));
    sim.create_event(event("shop", "late", "Pulled", chrono::Utc::now()))
        .unwrap();
    sim.compact();
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_logged(occurrences + 1).await;
    let all = tail_all(&ex.grpc, IDLE).await;
    let counts = key_counts(&all);
    assert_eq!(all.len() as u64, occurrences + 1, "killed at {kill_at:?}");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "killed at {kill_at:?}: logged twice: {twice:?}"
    );
    let text = ex.metrics_text().await;
    assert!(
        metric(&text, "herald_exporter_seen_block_reads_total") >= 1.0,
        "the re-list of 600 Events read no cold run:\n{text}"
    );
    assert!(
        metric(&text, "herald_exporter_duplicates_skipped_total") >= 600.0,
        "the re-list was not deduplicated:\n{text}"
    );
}
