//! A one-screen, secret-free summary of the effective settings for the
//! startup log (kubernetes-event-exporter dumped the whole struct, secrets
//! included).

use std::fmt::Write as _;

use crate::model::Config;
use crate::node::{Node, redact_url_userinfo};
use crate::units::{format_duration, format_size};

/// Summarises the effective configuration. Secrets are never printed: tokens
/// are counted, URLs lose their passwords, receivers show only their names
/// and sink types.
pub fn redacted_summary(config: &Config) -> String {
    let mut out = String::from("herald configuration (secrets redacted):\n");
    let on_off = |b: bool| if b { "on" } else { "off" };
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "  logging: level={} format={} caller={}",
        config.log_level,
        config.log_format,
        on_off(config.log_caller)
    );
    let _ = writeln!(
        out,
        "  events: maxEventAgeSeconds={} clusterName={:?} namespace={} omitLookup={} cacheSize={}",
        config.max_event_age_seconds,
        config.cluster_name,
        config.namespace.as_deref().unwrap_or("<all>"),
        config.omit_lookup,
        config.cache_size
    );
    let le = &config.exporter.leader_election;
    let _ = writeln!(
        out,
        "  kubernetes: kubeQPS={} kubeBurst={} leaderElection={} id={} lease={} renew={} retry={}",
        config.kube_qps,
        config.kube_burst,
        on_off(config.leader_election.enabled),
        config.leader_election.leader_election_id,
        format_duration(le.lease_duration),
        format_duration(le.renew_deadline),
        format_duration(le.retry_period)
    );
    let _ = writeln!(
        out,
        "  metricsNamePrefix={:?} (kubernetes-event-exporter metrics: {}events_sent, …)",
        config.metrics_name_prefix, config.metrics_name_prefix
    );
    let (routes, rules) = config.route.as_ref().map_or((0, 0), count_routes);
    let _ = writeln!(
        out,
        "  route: {routes} route(s), {rules} rule(s); receivers: {}",
        receivers(config.receivers.as_ref())
    );
    let ex = &config.exporter;
    let grpc = &ex.grpc;
    let tokens = if grpc.auth_token_file.is_some() {
        "from file".to_owned()
    } else {
        grpc.auth_tokens.len().to_string()
    };
    let _ = writeln!(
        out,
        "  exporter: dataDir={} grpc={} tls={} clientCerts={} authTokens={} metrics={} workerThreads={}",
        ex.data_dir.display(),
        grpc.listen,
        on_off(grpc.tls.enabled()),
        on_off(grpc.tls.client_ca_file.is_some()),
        tokens,
        ex.metrics.listen,
        threads(ex.worker_threads)
    );
    let _ = writeln!(
        out,
        "    retention: maxAge={} maxBytes={}; dedup: retention={} hotFor={}; ingest: linger={} commitInterval={} maxBatch={}; watch: unhealthyAfter={} timeout={} listPageSize={} progressCheck={}",
        format_duration(ex.retention.max_age),
        format_size(ex.retention.max_bytes),
        format_duration(ex.dedup.retention),
        format_duration(ex.dedup.hot_for),
        format_duration(ex.ingest.linger),
        format_duration(ex.ingest.commit_interval),
        ex.ingest.max_batch,
        format_duration(ex.watch.unhealthy_after),
        format_duration(ex.watch.timeout),
        ex.watch.list_page_size,
        format_duration(ex.watch.progress_check)
    );
    let _ = writeln!(
        out,
        "    lookup: ttl={} maxWait={} timeout={} concurrency={} namespaceLabels={} watchPods={} watchNamespaces={}; subscribers: ackTimeout={} maxBatchSize={}",
        format_duration(ex.lookup.ttl),
        format_duration(ex.lookup.max_wait),
        format_duration(ex.lookup.timeout),
        ex.lookup.concurrency,
        ex.lookup.namespace_labels,
        ex.lookup.watch_pods,
        ex.lookup.watch_namespaces,
        format_duration(ex.subscribers.ack_timeout),
        ex.subscribers.max_batch_size
    );
    let ru = &config.ruler;
    let exporters: Vec<String> = ru
        .exporters
        .iter()
        .map(|u| redact_url_userinfo(u).into_owned())
        .collect();
    let _ = writeln!(
        out,
        "  ruler: exporters=[{}] group={} memberId={} tls={} authToken={} credits={} metrics={} shutdownGrace={} workerThreads={}",
        exporters.join(", "),
        ru.group,
        ru.member_id.as_deref().unwrap_or("<hostname>"),
        client_tls(ru),
        if ru.auth_token.is_some() {
            "set"
        } else {
            "none"
        },
        ru.credits,
        ru.metrics.listen,
        format_duration(ru.shutdown_grace),
        threads(ru.worker_threads)
    );
    let ro = &ru.rule_objects;
    if ro.enabled {
        let names = |list: &[crate::Located<String>]| {
            list.iter()
                .map(|n| n.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "  ruleObjects: namespace={} notificationReceivers=[{}] alertReceivers=[{}]",
            ro.namespace.as_deref().unwrap_or("<all>"),
            names(&ro.notification_receivers),
            names(&ro.alert_receivers)
        );
    }
    out
}

/// `workerThreads`, with `0` spelled out.
fn threads(n: u32) -> String {
    if n == 0 {
        "0 (one per core)".to_owned()
    } else {
        n.to_string()
    }
}

fn client_tls(ruler: &crate::model::RulerConfig) -> String {
    let tls = &ruler.tls;
    let mut parts = Vec::new();
    if tls.ca_file.is_some() {
        parts.push("ca");
    }
    if tls.cert_file.is_some() {
        parts.push("client-cert");
    }
    if tls.server_name.is_some() {
        parts.push("server-name");
    }
    if tls.insecure_skip_verify {
        parts.push("INSECURE");
    }
    if parts.is_empty() {
        "default".to_owned()
    } else {
        parts.join("+")
    }
}

/// Counts route nodes and rules (`match` and `drop` items) in the tree.
fn count_routes(route: &Node) -> (usize, usize) {
    let rules = ["match", "drop"]
        .iter()
        .filter_map(|k| route.get(k).and_then(Node::as_seq))
        .map(<[Node]>::len)
        .sum();
    let children = route
        .get("routes")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    children
        .iter()
        .map(count_routes)
        .fold((1, rules), |(r, n), (cr, cn)| (r + cr, n + cn))
}

/// `name (type), …` for each receiver; nothing from inside the sink blocks.
fn receivers(node: Option<&Node>) -> String {
    let Some(items) = node.and_then(Node::as_seq) else {
        return "none".to_owned();
    };
    let described: Vec<String> = items
        .iter()
        .map(|item| {
            let name = item
                .get("name")
                .and_then(|n| n.scalar_text())
                .map_or_else(|| "<unnamed>".to_owned(), |n| n.into_owned());
            let kinds: Vec<&str> = item
                .as_map()
                .unwrap_or_default()
                .iter()
                .map(|(k, _)| k.name.as_str())
                .filter(|k| *k != "name")
                .collect();
            format!("{name} ({})", kinds.join("+"))
        })
        .collect();
    if described.is_empty() {
        "none".to_owned()
    } else {
        described.join(", ")
    }
}
