//! Where end-to-end latency goes: an ephemeral tail of the exporter (started at the
//! end of its log) that timestamps each event as the exporter serves it, so the
//! exporter's share (event created at the simulator → logged and sent to subscribers)
//! can be told apart from the ruler's and the sink's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{BenchError, Result};
use crate::stats::Latencies;
use crate::tail::Stamps;

/// A subscribed tail, not yet reading.
#[derive(Debug)]
pub struct Probe {
    requests: mpsc::Sender<pb::SubscribeRequest>,
    stream: tonic::Streaming<pb::SubscribeResponse>,
}

/// Credits granted at a time.
const WINDOW: u32 = 10_000;

impl Probe {
    /// Subscribes to `url` as an ephemeral tail starting after the current end of the
    /// log; returns once the exporter welcomed it.
    ///
    /// # Errors
    /// The subscription fails.
    pub async fn start(url: &str) -> Result<Probe> {
        use pb::subscribe_request::Request as Msg;
        let grpc = |e: &dyn std::fmt::Display| BenchError::Grpc(e.to_string());
        let mut client = EventLogClient::connect(url.to_owned())
            .await
            .map_err(|e| grpc(&e))?;
        let (tx, rx) = mpsc::channel(16);
        let hello = pb::SubscribeRequest {
            request: Some(Msg::Hello(pb::Hello {
                member_id: "herald-bench-probe".into(),
                start: Some(pb::StartPosition {
                    position: Some(pb::start_position::Position::Latest(pb::Latest {})),
                }),
                ..pb::Hello::default()
            })),
        };
        let credit = pb::SubscribeRequest {
            request: Some(Msg::Credit(pb::Credit { events: WINDOW })),
        };
        for m in [hello, credit] {
            tx.send(m).await.map_err(|e| grpc(&e))?;
        }
        let mut stream = client
            .subscribe(ReceiverStream::new(rx))
            .await
            .map_err(|e| grpc(&e))?
            .into_inner();
        match stream.message().await.map_err(|e| grpc(&e))? {
            Some(pb::SubscribeResponse {
                response: Some(pb::subscribe_response::Response::Welcome(_)),
            }) => Ok(Probe {
                requests: tx,
                stream,
            }),
            other => Err(BenchError::Grpc(format!(
                "expected a welcome, got {other:?}"
            ))),
        }
    }

    /// Reads until `n` events named `<prefix><seq>` were seen or `timeout` passes;
    /// returns their latencies from creation.
    pub async fn collect(
        mut self,
        prefix: String,
        stamps: Arc<Stamps>,
        n: usize,
        timeout: Duration,
    ) -> Latencies {
        use pb::subscribe_request::Request as Msg;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = vec![false; n];
        let mut count = 0;
        let mut out = Latencies::default();
        while count < n {
            let msg = match tokio::time::timeout_at(deadline, self.stream.message()).await {
                Ok(Ok(Some(m))) => m,
                _ => break,
            };
            let Some(pb::subscribe_response::Response::Batch(b)) = msg.response else {
                continue;
            };
            let now = Instant::now();
            let granted = u32::try_from(b.events.len()).unwrap_or(WINDOW);
            for e in b.events {
                let Some(seq) = e
                    .metadata
                    .as_ref()
                    .and_then(|m| m.name.strip_prefix(prefix.as_str()))
                    .and_then(|s| s.parse::<usize>().ok())
                else {
                    continue;
                };
                if seq < n && !seen[seq] {
                    seen[seq] = true;
                    count += 1;
                    if let Some(created) = stamps.created(seq) {
                        out.push(now.saturating_duration_since(created));
                    }
                }
            }
            let credit = pb::SubscribeRequest {
                request: Some(Msg::Credit(pb::Credit { events: granted })),
            };
            if self.requests.send(credit).await.is_err() {
                break;
            }
        }
        out
    }
}

/// Watches Events on the simulator from its current revision, like the exporter does,
/// and returns the latency of each event named `<prefix><seq>` (created → watch line
/// received): the part of the end-to-end latency spent before herald sees an event.
///
/// # Errors
/// The watch cannot be opened.
pub async fn watch_latencies(
    sim_url: String,
    resource_version: String,
    prefix: String,
    stamps: Arc<Stamps>,
    n: usize,
    timeout: Duration,
) -> Result<Latencies> {
    use futures::StreamExt as _;
    let url = format!(
        "{sim_url}/api/v1/events?watch=true&resourceVersion={resource_version}&timeoutSeconds={}",
        timeout.as_secs().max(1)
    );
    let resp = reqwest::get(&url).await?.error_for_status()?;
    let mut body = resp.bytes_stream();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen = vec![false; n];
    let mut count = 0;
    let mut out = Latencies::default();
    let mut partial: Vec<u8> = Vec::new();
    let needle = format!("\"name\":\"{prefix}");
    while count < n {
        let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(c))) => c,
            _ => break,
        };
        let now = Instant::now();
        partial.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(i) = partial[start..].iter().position(|&b| b == b'\n') {
            let line = &partial[start..start + i];
            start += i + 1;
            // the event's own name is the first `"name":"<prefix>` of an ADDED line
            let text = String::from_utf8_lossy(line);
            if !text.starts_with("{\"type\":\"ADDED\"") {
                continue;
            }
            let Some(seq) = text.find(&needle).and_then(|p| {
                let digits: String = text[p + needle.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse::<usize>().ok()
            }) else {
                continue;
            };
            if seq < n && !seen[seq] {
                seen[seq] = true;
                count += 1;
                if let Some(created) = stamps.created(seq) {
                    out.push(now.saturating_duration_since(created));
                }
            }
        }
        partial.drain(..start);
    }
    Ok(out)
}
