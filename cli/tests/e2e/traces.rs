//! OpenTelemetry traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `herald run` sends its
//! per-batch spans over OTLP/gRPC — durable commits, routing, receiver requests with
//! their outcome — to a collector (here an in-test OTLP trace service), and flushes the
//! last ones on SIGTERM. The spans of one batch form one trace, also across processes:
//! the exporter's commit, the ruler's routing (the batch carries the commit's W3C trace
//! context) and the receiver's request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::support::cluster::{Cluster, Combined, Exporter, Ruler, archive_config};
use crate::support::probe::{eventually, json_lines};
use crate::support::procs::{bin, run_to_end};

/// One received span with its resource's `service.name`.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn attr(&self, key: &str) -> Option<String> {
        attr(&self.span.attributes, key)
    }
}

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    let v = attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match v.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => Some(format!("{:?}", AnyValue::clone(v))),
    }
}

#[derive(Default, Clone)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("spans lock");
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| attr(&r.attributes, "service.name"))
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    spans.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    async fn start() -> (Collector, String) {
        let collector = Collector::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the collector");
        let port = listener.local_addr().expect("local address").port();
        let service = TraceServiceServer::new(collector.clone());
        tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
        });
        (collector, format!("http://127.0.0.1:{port}"))
    }

    fn named(&self, name: &str) -> Vec<Received> {
        self.spans
            .lock()
            .expect("spans lock")
            .iter()
            .filter(|r| r.span.name == name)
            .cloned()
            .collect()
    }
}

fn sum(spans: &[Received], key: &str) -> u64 {
    spans
        .iter()
        .map(|s| s.attr(key).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn herald_run_exports_batch_spans_over_otlp() {
    let (collector, endpoint) = Collector::start().await;
    let cluster = Cluster::start().await;
    let archive = cluster.path("archive.log");
    let config = cluster.write("config.yaml", &archive_config(&archive, ""));
    let mut herald = Combined::start_with_env(
        &cluster,
        &config,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    const N: usize = 25;
    cluster.create_numbered("traced", 0..N, |_| true);
    eventually(
        "every event in the file",
        Duration::from_secs(20),
        || async {
            let n = json_lines(&archive).len();
            (n >= N).then_some(()).ok_or(format!("{n} of {N} lines"))
        },
    )
    .await;
    // the last spans may still be buffered: SIGTERM flushes them
    let status = herald.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());

    let appends = collector.named("herald.ingest.append");
    let routes = collector.named("herald.route");
    let sends = collector.named("herald.sink.send");
    let log = herald.proc.log();
    assert_eq!(sum(&appends, "events"), N as u64, "{appends:?}\n{log}");
    assert_eq!(sum(&routes, "events"), N as u64, "{routes:?}");
    assert_eq!(sum(&sends, "events"), N as u64, "{sends:?}");
    let outcomes: BTreeMap<Option<String>, usize> =
        sends.iter().fold(BTreeMap::new(), |mut m, s| {
            *m.entry(s.attr("outcome")).or_default() += 1;
            m
        });
    assert_eq!(
        outcomes.keys().collect::<Vec<_>>(),
        vec![&Some("delivered".to_owned())],
        "{sends:?}"
    );
    assert!(
        sends
            .iter()
            .all(|s| s.attr("sink").as_deref() == Some("archive")
                && s.attr("sink_type").as_deref() == Some("file")
                && s.attr("attempts").as_deref() == Some("1")),
        "{sends:?}"
    );
    let services: Vec<&str> = appends
        .iter()
        .chain(&routes)
        .chain(&sends)
        .map(|r| r.service.as_str())
        .collect();
    assert!(services.iter().all(|s| *s == "herald"), "{services:?}");
    // per batch, never per event; a commit is a root, the routing of a batch its
    // child, a receiver request the routing's child
    assert_linked(&appends, &routes, &sends);
}

/// Every commit span is a root; every routing span is a child of a commit span (in
/// its trace); every request span is a child of a routing span (in its trace).
fn assert_linked(appends: &[Received], routes: &[Received], sends: &[Received]) {
    assert!(
        appends.iter().all(|a| a.span.parent_span_id.is_empty()),
        "commit spans are roots: {appends:?}"
    );
    let child_of = |child: &Received, parents: &[Received]| {
        parents.iter().any(|p| {
            p.span.span_id == child.span.parent_span_id && p.span.trace_id == child.span.trace_id
        })
    };
    for r in routes {
        assert!(
            child_of(r, appends),
            "routing span not under a commit span: {r:?}\ncommits: {appends:?}"
        );
    }
    for s in sends {
        assert!(
            child_of(s, routes),
            "request span not under a routing span: {s:?}\nroutings: {routes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_runs_from_the_exporters_commit_to_the_rulers_request() {
    let (collector, endpoint) = Collector::start().await;
    let cluster = Cluster::start().await;
    let archive = cluster.path("archive.log");
    let config = cluster.write("config.yaml", &archive_config(&archive, ""));
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let mut exporter = Exporter::launch(&cluster, &config, "exporter", &env).await;
    let mut ruler = Ruler::start(&cluster, &config, &exporter.grpc_url(), "ruler-0", &env).await;
    const N: usize = 20;
    cluster.create_numbered("traced", 0..N, |_| true);
    eventually(
        "every event in the file",
        Duration::from_secs(20),
        || async {
            let n = json_lines(&archive).len();
            (n >= N).then_some(()).ok_or(format!("{n} of {N} lines"))
        },
    )
    .await;
    let status = ruler.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", ruler.proc.log());
    let status = exporter.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", exporter.proc.log());

    let appends = collector.named("herald.ingest.append");
    let routes = collector.named("herald.route");
    let sends = collector.named("herald.sink.send");
    assert_eq!(sum(&appends, "events"), N as u64, "{appends:?}");
    assert_eq!(sum(&routes, "events"), N as u64, "{routes:?}");
    assert_eq!(sum(&sends, "events"), N as u64, "{sends:?}");
    assert!(appends.iter().all(|a| a.service == "herald-exporter"));
    assert!(
        routes
            .iter()
            .chain(&sends)
            .all(|r| r.service == "herald-ruler")
    );
    assert_linked(&appends, &routes, &sends);
}

#[test]
fn a_malformed_otlp_endpoint_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "route:\n  routes:\n    - match:\n        - receiver: out\nreceivers:\n  - name: out\n    stdout: {}\n",
    )
    .expect("write the config");
    let mut cmd = std::process::Command::new(bin("herald"));
    cmd.arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--kubeconfig")
        .arg(dir.path().join("missing-kubeconfig"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "::not a url");
    let out = run_to_end(cmd, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && stderr.contains("invalid"),
        "{stderr}"
    );
}
