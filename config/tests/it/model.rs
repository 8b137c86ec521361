//! kubernetes-event-exporter's keys with their defaults and checks, and
//! herald's own sections.

use std::net::SocketAddr;
use std::time::Duration;

use herald_config::{Config, Location, LogFormat, LogLevel, Severity};

use crate::{find, load_err, load_ok};

#[test]
fn empty_file_gives_kee_defaults() {
    let loaded = load_ok("");
    let c = &loaded.config;
    assert_eq!(*c, Config::default());
    assert_eq!(c.log_level, LogLevel::Info);
    assert!(c.log_caller);
    assert_eq!(c.log_format, LogFormat::Pretty);
    assert_eq!(c.max_event_age_seconds, 5);
    assert_eq!(c.cluster_name, "");
    assert_eq!(c.namespace, None);
    assert!(!c.leader_election.enabled);
    assert_eq!(
        c.leader_election.leader_election_id,
        "kubernetes-event-exporter"
    );
    assert!(c.route.is_none() && c.receivers.is_none());
    assert_eq!(c.kube_qps, 5.0);
    assert_eq!(c.kube_burst, 10);
    assert_eq!(c.metrics_name_prefix, "");
    assert!(!c.omit_lookup);
    assert_eq!(c.cache_size, 1024);
    // An empty file has nothing to warn about: without a metrics prefix KEE's metrics
    // keep their bare names, as a KEE user's dashboards expect.
    assert!(loaded.diagnostics.is_empty(), "{}", loaded.diagnostics);
    let summary = herald_config::redacted_summary(c);
    assert!(
        summary
            .contains("metricsNamePrefix=\"\" (kubernetes-event-exporter metrics: events_sent, …)"),
        "{summary}"
    );
}

#[test]
fn every_kee_key_is_read() {
    let c = load_ok(
        "logLevel: warn\nlogFormat: json\nmaxEventAgeSeconds: 60\nclusterName: prod-eu\nnamespace: monitoring\n\
         leaderElection:\n  enabled: true\n  leaderElectionID: my-lease\nkubeQPS: 7.5\nkubeBurst: 20\n\
         metricsNamePrefix: event_exporter_\nomitLookup: true\ncacheSize: 4096\n\
         route:\n  routes:\n    - match: [{receiver: dump}]\nreceivers:\n  - name: dump\n    stdout: {}\n",
    )
    .config;
    assert_eq!(c.log_level, LogLevel::Warn);
    assert!(!c.log_caller);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.max_event_age_seconds, 60);
    assert_eq!(c.cluster_name, "prod-eu");
    assert_eq!(c.namespace.as_deref(), Some("monitoring"));
    assert!(c.leader_election.enabled);
    assert_eq!(c.leader_election.leader_election_id, "my-lease");
    assert_eq!(c.kube_qps, 7.5);
    assert_eq!(c.kube_burst, 20);
    assert_eq!(c.metrics_name_prefix, "event_exporter_");
    assert!(c.omit_lookup);
    assert_eq!(c.cache_size, 4096);
    let route = c.route.unwrap();
    assert_eq!(route.loc, Location::new(15, 3));
    let receivers = c.receivers.unwrap();
    assert_eq!(receivers.as_seq().unwrap().len(), 1);
    assert_eq!(receivers.loc, Location::new(18, 3));
}

#[test]
fn zero_means_default() {
    let c = load_ok(
        "maxEventAgeSeconds: 0\nthrottlePeriod: 0\nkubeQPS: 0\nkubeBurst: 0\ncacheSize: 0\n\
         leaderElection: {leaderElectionID: \"\"}\nnamespace: \"\"\nlogLevel: \"\"\nlogFormat: pretty\n",
    )
    .config;
    assert_eq!(c.max_event_age_seconds, 5);
    assert_eq!(c.kube_qps, 5.0);
    assert_eq!(c.kube_burst, 10);
    assert_eq!(c.cache_size, 1024);
    assert_eq!(
        c.leader_election.leader_election_id,
        "kubernetes-event-exporter"
    );
    assert_eq!(c.namespace, None);
    assert_eq!(c.log_level, LogLevel::Info);
    assert!(c.log_caller);
    // A negative age is kept (it discards every event, as in KEE).
    assert_eq!(
        load_ok("maxEventAgeSeconds: -1\n")
            .config
            .max_event_age_seconds,
        -1
    );
}

#[test]
fn log_levels_follow_zerolog() {
    for (text, want) in [
        ("trace", LogLevel::Trace),
        ("debug", LogLevel::Debug),
        ("error", LogLevel::Error),
        ("fatal", LogLevel::Fatal),
        ("panic", LogLevel::Panic),
        ("disabled", LogLevel::Disabled),
        ("-1", LogLevel::Trace),
        ("2", LogLevel::Warn),
        ("7", LogLevel::Disabled),
    ] {
        let c = load_ok(&format!("logLevel: {text}\n")).config;
        assert_eq!(c.log_level, want, "{text}");
    }
    let diags = load_err("logLevel: DEBUG\nlogFormat: JSON\n");
    let level = find(&diags, Severity::Error, "invalid log level `DEBUG`");
    assert_eq!(level.location, Some(Location::new(1, 11)));
    assert_eq!(level.hint.as_deref(), Some("did you mean `debug`?"));
    let format = find(&diags, Severity::Error, "unknown log format `JSON`");
    assert_eq!(format.hint.as_deref(), Some("did you mean `json`?"));
    let other = load_err("logLevel: loud\n");
    let d = find(&other, Severity::Error, "invalid log level `loud`");
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .starts_with("expected `trace`, `debug`")
    );
}

#[test]
fn throttle_period_is_a_deprecated_alias() {
    let loaded = load_ok("throttlePeriod: 30\n");
    assert_eq!(loaded.config.max_event_age_seconds, 30);
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "`throttlePeriod` is deprecated",
    );
    assert_eq!(d.location, Some(Location::new(1, 17)));
    assert_eq!(d.hint.as_deref(), Some("rename it to `maxEventAgeSeconds`"));

    let diags = load_err("maxEventAgeSeconds: 10\nthrottlePeriod: 30\n");
    let d = find(&diags, Severity::Error, "cannot both be set");
    assert_eq!(d.location, Some(Location::new(2, 17)));
}

#[test]
fn metrics_name_prefix_is_validated() {
    assert_eq!(
        load_ok("metricsNamePrefix: \"kube:events_\"\n")
            .config
            .metrics_name_prefix,
        "kube:events_"
    );
    let ok = load_ok("metricsNamePrefix: herald_kee_\n");
    assert!(ok.diagnostics.is_empty(), "{}", ok.diagnostics);
    for bad in ["event_exporter", "1x_", "event-exporter_", "_x_"] {
        let diags = load_err(&format!("metricsNamePrefix: {bad}\n"));
        let d = find(
            &diags,
            Severity::Error,
            "does not match `^[a-zA-Z][a-zA-Z0-9_:]*_$`",
        );
        assert_eq!(d.location, Some(Location::new(1, 20)), "{bad}");
        assert_eq!(d.path.as_deref(), Some("metricsNamePrefix"));
        assert!(d.hint.as_deref().unwrap().contains("event_exporter_"));
    }
}

#[test]
fn wrong_types_give_clear_errors_with_lines() {
    let diags =
        load_err("logLevel: info\nmaxEventAgeSeconds: \"60\"\nkubeQPS: fast\nreceivers: {}\n");
    assert_eq!(diags.error_count(), 3, "{diags}");
    let age = find(
        &diags,
        Severity::Error,
        "expected an integer, found the string \"60\"",
    );
    assert_eq!(age.location, Some(Location::new(2, 21)));
    assert_eq!(age.path.as_deref(), Some("maxEventAgeSeconds"));
    assert_eq!(age.hint.as_deref(), Some("remove the quotes"));
    let qps = find(
        &diags,
        Severity::Error,
        "expected a number, found the string \"fast\"",
    );
    assert_eq!(qps.location, Some(Location::new(3, 10)));
    assert_eq!(qps.path.as_deref(), Some("kubeQPS"));
    let text = diags.to_string();
    assert!(
        text.contains("config.yaml:2:21: error: maxEventAgeSeconds: expected an integer, found the string \"60\""),
        "{text}"
    );
    assert!(text.contains("  hint: remove the quotes"));
    let recv = find(
        &diags,
        Severity::Error,
        "expected a list of receivers, found a mapping",
    );
    assert_eq!(recv.location, Some(Location::new(4, 12)));
    assert_eq!(recv.path.as_deref(), Some("receivers"));
    assert!(
        recv.hint
            .as_deref()
            .unwrap()
            .starts_with("write each receiver as a list item")
    );

    let diags = load_err("route: [a]\n");
    let route = find(
        &diags,
        Severity::Error,
        "expected a mapping (the route tree), found a list",
    );
    assert_eq!(route.location, Some(Location::new(1, 8)));
}

#[test]
fn other_kee_range_checks() {
    let diags = load_err("kubeBurst: -1\ncacheSize: -5\nnamespace: [a, b]\n");
    find(&diags, Severity::Error, "expected a string, found a list");
    // The type error stops resolution; fix it and the range errors appear.
    let diags = load_err("kubeBurst: -1\ncacheSize: -5\n");
    let burst = find(
        &diags,
        Severity::Error,
        "must be between 0 and 4294967295, found -1",
    );
    assert_eq!(burst.path.as_deref(), Some("kubeBurst"));
    let cache = find(&diags, Severity::Error, "must not be negative, found -5");
    assert_eq!(cache.path.as_deref(), Some("cacheSize"));
    let loaded = load_ok("kubeQPS: -1\n");
    assert_eq!(loaded.config.kube_qps, -1.0);
    find(
        &loaded.diagnostics,
        Severity::Warning,
        "disables client-side rate limiting",
    );
}

#[test]
fn unknown_top_level_keys_warn_with_suggestions() {
    let loaded = load_ok("maxEventAgeSecond: 60\nMaxEventAgeSeconds: 30\nfoo: 1\n");
    // Unknown keys are ignored, as in KEE.
    assert_eq!(loaded.config.max_event_age_seconds, 5);
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "unknown key `maxEventAgeSecond`",
    );
    assert_eq!(d.location, Some(Location::new(1, 1)));
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `maxEventAgeSeconds`?")
    );
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "unknown key `MaxEventAgeSeconds`",
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `maxEventAgeSeconds`?")
    );
    let d = find(&loaded.diagnostics, Severity::Warning, "unknown key `foo`");
    assert_eq!(d.hint, None);
    let nested = load_ok("exporter:\n  grpc:\n    listn: 0.0.0.0:1\n");
    let d = find(
        &nested.diagnostics,
        Severity::Warning,
        "unknown key `listn`",
    );
    assert_eq!(d.path.as_deref(), Some("exporter.grpc"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `listen`?"));
}

#[test]
fn version_must_be_v1() {
    load_ok("version: v1\n");
    let diags = load_err("version: v2\n");
    let d = find(&diags, Severity::Error, "unsupported config version `v2`");
    assert_eq!(d.location, Some(Location::new(1, 10)));
}

#[test]
fn herald_sections_have_defaults() {
    let c = load_ok("").config;
    let ex = &c.exporter;
    assert_eq!(ex.data_dir.to_str(), Some("/var/lib/herald"));
    assert_eq!(
        ex.grpc.listen,
        "0.0.0.0:50051".parse::<SocketAddr>().unwrap()
    );
    assert!(!ex.grpc.tls.enabled());
    assert!(!ex.grpc.requires_token());
    assert_eq!(
        ex.metrics.listen,
        "0.0.0.0:2112".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(ex.retention.max_age, Duration::from_secs(86_400));
    assert_eq!(ex.retention.max_bytes, 1 << 30);
    assert_eq!(ex.dedup.retention, Duration::from_secs(3 * 3600));
    assert_eq!(ex.ingest.linger, Duration::from_millis(10));
    assert_eq!(ex.ingest.max_batch, 1000);
    assert_eq!(ex.watch.unhealthy_after, Duration::from_secs(120));
    assert_eq!(ex.watch.timeout, Duration::from_secs(300));
    assert_eq!(ex.watch.list_page_size, 500);
    assert_eq!(ex.watch.progress_check, Duration::from_secs(60));
    assert_eq!(ex.lookup.ttl, Duration::from_secs(600));
    assert_eq!(ex.lookup.timeout, Duration::from_secs(5));
    assert_eq!(ex.lookup.concurrency, 4);
    assert!(ex.lookup.namespace_labels);
    assert_eq!(ex.lookup.max_wait, Duration::from_millis(500));
    assert!(ex.lookup.watch_pods);
    assert!(ex.lookup.watch_namespaces);
    assert_eq!(ex.leader_election.lease_duration, Duration::from_secs(15));
    assert_eq!(ex.leader_election.renew_deadline, Duration::from_secs(10));
    assert_eq!(ex.leader_election.retry_period, Duration::from_secs(2));
    assert_eq!(ex.subscribers.ack_timeout, Duration::from_secs(60));
    assert_eq!(ex.subscribers.max_batch_size, 500);
    let ru = &c.ruler;
    assert!(ru.exporters.is_empty());
    assert_eq!(ru.group, "ruler");
    assert_eq!(ru.member_id, None);
    assert!(!ru.effective_member_id().is_empty());
    assert!(ru.auth_token.is_none());
    assert_eq!(ru.credits, 1000);
    assert_eq!(ru.shutdown_grace, Duration::from_secs(30));
}

#[test]
fn durations_and_sizes_in_the_config() {
    let c = load_ok(
        "exporter:\n  retention: {maxAge: 36h, maxBytes: 512MiB}\n  dedup: {retention: 2h30m, hotFor: 30s}\n\
         \x20 watch: {unhealthyAfter: 90, timeout: 1.5h, progressCheck: 0s}\n  lookup: {ttl: 500ms, maxWait: 0s, watchPods: false, watchNamespaces: false}\n  subscribers: {ackTimeout: 1m30s}\n\
         \x20 metrics: {listen: \":9090\"}\nruler:\n  shutdownGrace: 45s\n  memberId: ruler-0\n",
    )
    .config;
    assert_eq!(c.exporter.retention.max_age, Duration::from_secs(36 * 3600));
    assert_eq!(c.exporter.retention.max_bytes, 512 << 20);
    assert_eq!(c.exporter.dedup.retention, Duration::from_secs(9000));
    assert_eq!(c.exporter.dedup.hot_for, Duration::from_secs(30));
    assert_eq!(c.exporter.watch.unhealthy_after, Duration::from_secs(90));
    assert_eq!(c.exporter.watch.timeout, Duration::from_secs(5400));
    assert_eq!(c.exporter.watch.progress_check, Duration::ZERO);
    assert_eq!(c.exporter.lookup.ttl, Duration::from_millis(500));
    assert_eq!(c.exporter.lookup.max_wait, Duration::ZERO);
    assert!(!c.exporter.lookup.watch_pods);
    assert!(!c.exporter.lookup.watch_namespaces);
    assert_eq!(c.exporter.subscribers.ack_timeout, Duration::from_secs(90));
    assert_eq!(c.exporter.metrics.listen.port(), 9090);
    assert_eq!(c.ruler.shutdown_grace, Duration::from_secs(45));
    assert_eq!(c.ruler.effective_member_id(), "ruler-0");

    let diags = load_err(
        "exporter:\n  retention: {maxAge: 5d, maxBytes: 1XB}\n  watch: {timeout: \"30\"}\n  grpc: {listen: \"localhost:1\"}\n",
    );
    let d = find(&diags, Severity::Error, "unknown unit `d` in duration `5d`");
    assert_eq!(d.location, Some(Location::new(2, 23)));
    assert_eq!(d.path.as_deref(), Some("exporter.retention.maxAge"));
    find(&diags, Severity::Error, "unknown unit `xb` in size `1XB`");
    find(
        &diags,
        Severity::Error,
        "missing unit in duration `30` (write `30s` for seconds)",
    );
    find(
        &diags,
        Severity::Error,
        "invalid listen address `localhost:1`",
    );
}

#[test]
fn exporter_validation() {
    let diags = load_err(
        "exporter:\n  dataDir: \"\"\n  grpc:\n    tls:\n      certFile: /nonexistent/tls.crt\n      clientCaFile: /nonexistent/ca.crt\n\
         \x20 retention: {maxAge: 0}\n  leaderElection: {leaseDuration: 10s, renewDeadline: 10s}\n",
    );
    let d = find(&diags, Severity::Error, "must not be empty");
    assert_eq!(d.path.as_deref(), Some("exporter.dataDir"));
    assert_eq!(d.location, Some(Location::new(2, 12)));
    let d = find(
        &diags,
        Severity::Error,
        "`certFile` is set without `keyFile`",
    );
    assert_eq!(d.location, Some(Location::new(5, 17)));
    find(
        &diags,
        Severity::Error,
        "`clientCaFile` requires `certFile` and `keyFile`",
    );
    let d = find(
        &diags,
        Severity::Error,
        "cannot read `/nonexistent/tls.crt`",
    );
    assert_eq!(d.path.as_deref(), Some("exporter.grpc.tls.certFile"));
    assert_eq!(d.location, Some(Location::new(5, 17)));
    find(&diags, Severity::Error, "cannot read `/nonexistent/ca.crt`");
    let d = find(&diags, Severity::Error, "must be greater than zero");
    assert_eq!(d.path.as_deref(), Some("exporter.retention.maxAge"));
    find(
        &diags,
        Severity::Error,
        "`leaseDuration` (10s) must be greater than `renewDeadline` (10s)",
    );
}

#[test]
fn tls_files_that_exist_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls.crt");
    let key = dir.path().join("tls.key");
    std::fs::write(&cert, "cert").unwrap();
    std::fs::write(&key, "key").unwrap();
    let text = format!(
        "exporter:\n  grpc:\n    tls: {{certFile: {}, keyFile: {}}}\n    authTokens: [a-token]\n",
        cert.display(),
        key.display()
    );
    let loaded = load_ok(&text);
    assert!(loaded.config.exporter.grpc.tls.enabled());
    assert!(loaded.config.exporter.grpc.requires_token());
    assert_eq!(
        loaded.config.exporter.grpc.tokens().unwrap()[0].expose(),
        "a-token"
    );
    // A directory is not a readable file.
    let text = format!(
        "exporter:\n  grpc:\n    tls: {{certFile: {}, keyFile: {}}}\n",
        dir.path().display(),
        key.display()
    );
    find(&load_err(&text), Severity::Error, "is a directory");
}

#[test]
fn auth_tokens_are_checked() {
    let diags = load_err("exporter:\n  grpc:\n    authTokens: [good, \"\"]\n");
    let d = find(&diags, Severity::Error, "an auth token is empty");
    assert_eq!(d.path.as_deref(), Some("exporter.grpc.authTokens[1]"));
    assert_eq!(d.location, Some(Location::new(3, 24)));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "# rotated daily\n\ntoken-one\n  token-two  \n").unwrap();
    let loaded = load_ok(&format!(
        "exporter:\n  grpc:\n    authTokenFile: {}\n",
        file.display()
    ));
    let tokens = loaded.config.exporter.grpc.tokens().unwrap();
    let exposed: Vec<&str> = tokens.iter().map(|t| t.expose().as_str()).collect();
    assert_eq!(exposed, vec!["token-one", "token-two"]);
    find(&loaded.diagnostics, Severity::Warning, "clear text");

    let both = load_err(&format!(
        "exporter:\n  grpc:\n    authTokens: [x]\n    authTokenFile: {}\n",
        file.display()
    ));
    find(&both, Severity::Error, "cannot both be set");
    std::fs::write(&file, "# empty\n").unwrap();
    let empty = load_err(&format!(
        "exporter:\n  grpc:\n    authTokenFile: {}\n",
        file.display()
    ));
    find(&empty, Severity::Error, "contains no token");
}

#[test]
fn dedup_retention_shorter_than_event_ttl_warns() {
    let loaded = load_ok("exporter:\n  dedup:\n    retention: 30m\n");
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "not longer than the Event TTL",
    );
    assert_eq!(d.location, Some(Location::new(3, 16)));
    assert_eq!(
        loaded.config.exporter.dedup.retention,
        Duration::from_secs(1800)
    );
}

#[test]
fn ruler_validation() {
    let diags = load_err(
        "ruler:\n  exporters: [\"http://ok:50051\", \"herald-exporter:50051\"]\n  group: \"\"\n  credits: 0\n  tls: {keyFile: /nonexistent/k}\n",
    );
    let d = find(
        &diags,
        Severity::Error,
        "must start with `http://` or `https://`",
    );
    assert_eq!(d.path.as_deref(), Some("ruler.exporters[1]"));
    assert_eq!(d.location, Some(Location::new(2, 34)));
    let d = find(
        &diags,
        Severity::Error,
        "`keyFile` is set without `certFile`",
    );
    assert_eq!(d.path.as_deref(), Some("ruler.tls.keyFile"));
    find(&diags, Severity::Error, "cannot read `/nonexistent/k`");
    assert!(
        diags
            .errors()
            .any(|d| d.path.as_deref() == Some("ruler.group"))
    );
    assert!(
        diags
            .errors()
            .any(|d| d.path.as_deref() == Some("ruler.credits"))
    );

    let loaded = load_ok(
        "ruler:\n  exporters: [\"http://e:50051\"]\n  authToken: tok\n  tls: {insecureSkipVerify: true}\n",
    );
    find(
        &loaded.diagnostics,
        Severity::Warning,
        "clear text to `http://` exporters",
    );
    find(&loaded.diagnostics, Severity::Warning, "not verified");
    assert_eq!(
        loaded.config.ruler.auth_token.as_ref().unwrap().expose(),
        "tok"
    );

    let loaded = load_ok("ruler:\n  exporters: [\"https://u:pw-VALUE@e:50051\"]\n");
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "credentials in an exporter URL",
    );
    assert!(!loaded.diagnostics.to_string().contains("pw-VALUE"));
    assert!(d.hide_source);
}

#[test]
fn ingest_batching_is_configurable_and_bounded() {
    let c = load_ok("exporter:\n  ingest: {linger: 0s, maxBatch: 50}\n").config;
    assert_eq!(c.exporter.ingest.linger, Duration::ZERO);
    assert_eq!(c.exporter.ingest.max_batch, 50);
    assert_eq!(
        c.exporter.ingest.commit_interval,
        Duration::ZERO,
        "off by default"
    );
    let c = load_ok("exporter:\n  ingest: {commitInterval: 2ms}\n").config;
    assert_eq!(c.exporter.ingest.commit_interval, Duration::from_millis(2));
    let diags =
        load_err("exporter:\n  ingest:\n    linger: 5s\n    maxBatch: 0\n    commitInterval: 2s\n");
    let d = find(&diags, Severity::Error, "would hold every event back");
    assert_eq!(d.location.map(|l| l.line), Some(3));
    let d = find(&diags, Severity::Error, "must be greater than zero");
    assert_eq!(d.location.map(|l| l.line), Some(4));
    let d = find(&diags, Severity::Error, "would hold events back that long");
    assert_eq!(d.location.map(|l| l.line), Some(5));
}

#[test]
fn worker_threads_default_to_one_and_are_bounded() {
    let c = load_ok("").config;
    assert_eq!((c.exporter.worker_threads, c.ruler.worker_threads), (1, 1));
    let c = load_ok("exporter:\n  workerThreads: 0\nruler:\n  workerThreads: 4\n").config;
    assert_eq!((c.exporter.worker_threads, c.ruler.worker_threads), (0, 4));
    let summary = herald_config::redacted_summary(&c);
    assert!(
        summary.contains("workerThreads=0 (one per core)"),
        "{summary}"
    );
    assert!(summary.contains("workerThreads=4"), "{summary}");
    for (yaml, line) in [
        ("exporter:\n  workerThreads: 1000\n", 2),
        ("ruler:\n  credits: 10\n  workerThreads: 257\n", 3),
    ] {
        let diags = load_err(yaml);
        let d = find(
            &diags,
            Severity::Error,
            "threads is more than the 256 allowed",
        );
        assert_eq!(d.location.map(|l| l.line), Some(line), "{yaml}");
    }
    // a negative count is refused by the decoder, at its line
    let diags = load_err("ruler:\n  workerThreads: -1\n");
    assert!(
        diags
            .iter()
            .any(|d| d.severity == Severity::Error && d.location.map(|l| l.line) == Some(2)),
        "{diags:?}"
    );
}

#[test]
fn the_dedup_hot_window_is_bounded_by_the_retention() {
    let c = load_ok("exporter: {}\n").config;
    assert_eq!(c.exporter.dedup.hot_for, Duration::from_secs(60));
    for (yaml, line) in [
        ("exporter:\n  dedup:\n    hotFor: 500ms\n", 3),
        (
            "exporter:\n  dedup:\n    retention: 2h\n    hotFor: 3h\n",
            4,
        ),
    ] {
        let diags = load_err(yaml);
        let d = find(
            &diags,
            Severity::Error,
            "must be between 1s and the dedup retention",
        );
        assert_eq!(d.location.map(|l| l.line), Some(line), "{yaml}");
    }
}

#[test]
fn rule_objects_section_decodes_with_locations() {
    let c = load_ok("ruler:\n  exporters: [\"http://e:50051\"]\n").config;
    assert!(!c.ruler.rule_objects.enabled, "off by default");
    let loaded = load_ok(
        "ruler:\n  ruleObjects:\n    enabled: true\n    namespace: \"\"\n    notificationReceivers: [hook]\n    alertReceivers:\n      - am\n",
    );
    let ro = &loaded.config.ruler.rule_objects;
    assert!(ro.enabled);
    assert_eq!(ro.namespace, None, "\"\" means every namespace");
    assert_eq!(ro.notification_receivers[0].value, "hook");
    assert_eq!(ro.notification_receivers[0].location, Location::new(5, 29));
    assert_eq!(ro.alert_receivers[0].value, "am");
    assert_eq!(ro.alert_receivers[0].location, Location::new(7, 9));
    let ns = load_ok("ruler:\n  ruleObjects: {namespace: team-a}\n");
    assert_eq!(
        ns.config.ruler.rule_objects.namespace.as_deref(),
        Some("team-a")
    );
}

#[test]
fn rule_objects_without_receivers_is_an_error() {
    let diags = load_err("ruler:\n  ruleObjects:\n    enabled: true\n");
    let d = find(
        &diags,
        Severity::Error,
        "`Rule` objects are watched but no receiver gets their matches",
    );
    assert_eq!(d.path.as_deref(), Some("ruler.ruleObjects.enabled"));
    assert_eq!(d.location, Some(Location::new(3, 14)));
    assert!(
        d.hint
            .as_deref()
            .is_some_and(|h| h.contains("notificationReceivers")),
        "{d:?}"
    );
    let loaded = load_ok("ruler:\n  ruleObjects:\n    enabeld: true\n");
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "unknown key `enabeld`",
    );
    assert!(
        d.hint.as_deref().is_some_and(|h| h.contains("`enabled`")),
        "{d:?}"
    );
}
