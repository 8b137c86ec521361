//! A synthetic exporter: serves a fixed list of events over herald's `EventLog`
//! gRPC service (credit-based flow control, acknowledgements) so that a ruler can be
//! measured without an exporter, a durable log or an API server behind it.
//!
//! Every subscription (a ruler opens one per receiver: each receiver reads the log
//! through its own consumer group) gets every event once, in offset order, in batches
//! of at most the member's `max_batch_size`; the source records when the first batch
//! went out and when the last of the expected groups acknowledged its last event.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::Stream;
use herald_proto::pb;
use herald_proto::pb::event_log_server::{EventLog, EventLogServer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};
use tracing::warn;

use crate::error::{BenchError, Result, io_err};

/// Progress shared between the gRPC handler and the scenario.
#[derive(Debug, Default)]
struct Progress {
    /// Acknowledgements over all groups.
    acked: AtomicU64,
    /// Acknowledgements per consumer group.
    per_group: Mutex<std::collections::HashMap<String, u64>>,
    /// How many groups must acknowledge every event before the run is done.
    groups: usize,
    first_sent: Mutex<Option<Instant>>,
    done_at: Mutex<Option<Instant>>,
    done: Notify,
}

#[derive(Debug, Clone)]
struct Service {
    events: Arc<Vec<pb::Event>>,
    progress: Arc<Progress>,
}

/// A running synthetic source.
#[derive(Debug)]
pub struct Source {
    /// gRPC URL to give the ruler.
    pub url: String,
    progress: Arc<Progress>,
    total: u64,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Source {
    /// Binds 127.0.0.1 and serves `events` (their offsets must be 1..=n); the run is
    /// done when `groups` consumer groups (one per receiver of the ruler) have each
    /// acknowledged all of them.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start(events: Vec<pb::Event>, groups: usize) -> Result<Source> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io_err("cannot bind", "127.0.0.1:0"))?;
        let addr = listener
            .local_addr()
            .map_err(io_err("cannot bind", "127.0.0.1:0"))?;
        let progress = Arc::new(Progress {
            groups: groups.max(1),
            ..Progress::default()
        });
        let total = events.len() as u64;
        let svc = Service {
            events: Arc::new(events),
            progress: progress.clone(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                .add_service(EventLogServer::new(svc))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = result {
                warn!(error = %e, "synthetic source stopped");
            }
        });
        Ok(Source {
            url: format!("http://{addr}"),
            progress,
            total,
            shutdown: Some(tx),
        })
    }

    /// Waits until every event was acknowledged; returns when the first batch was sent
    /// and when the last ack arrived.
    ///
    /// # Errors
    /// `timeout` passes first.
    pub async fn wait_done(&self, timeout: Duration) -> Result<(Instant, Instant)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.progress.done.notified();
            if let Some(done) = *lock(&self.progress.done_at) {
                let first = lock(&self.progress.first_sent).unwrap_or(done);
                return Ok((first, done));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(BenchError::Timeout {
                    what: format!(
                        "the ruler to acknowledge {} events in each of {} groups ({} acknowledged in all)",
                        self.total,
                        self.progress.groups,
                        self.acked()
                    ),
                    secs: timeout.as_secs(),
                    log: None,
                });
            }
        }
    }

    /// Acknowledgements so far, over all groups.
    pub fn acked(&self) -> u64 {
        self.progress.acked.load(Ordering::Relaxed)
    }

    /// When the first batch was sent, if it was.
    pub fn first_sent(&self) -> Option<Instant> {
        *lock(&self.progress.first_sent)
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Progress {
    /// Counts `n` acknowledgements of `group`; true once the expected number of groups
    /// have each acknowledged `total` events.
    fn group_acked(&self, group: &str, n: u64, total: u64) -> bool {
        let mut per_group = lock(&self.per_group);
        *per_group.entry(group.to_owned()).or_default() += n;
        per_group.values().filter(|&&acked| acked >= total).count() >= self.groups
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // plain data behind the lock; a panic elsewhere cannot leave it torn
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EventLog for Service {
    type SubscribeStream = ResponseStream;

    async fn subscribe(
        &self,
        request: Request<Streaming<pb::SubscribeRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        use pb::subscribe_request::Request as In;
        use pb::subscribe_response::Response as Out;
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(pb::SubscribeRequest {
                request: Some(In::Hello(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        let max_batch = match hello.max_batch_size {
            0 => 500,
            n => n.min(10_000) as usize,
        };
        let (tx, rx) = mpsc::channel::<Result<pb::SubscribeResponse, Status>>(4);
        let welcome = pb::SubscribeResponse {
            response: Some(Out::Welcome(pb::Welcome {
                member_id: hello.member_id.clone(),
                group: hello.group.clone(),
                committed_offset: 0,
                start_offset: 1,
                log_id: "herald-bench-synthetic".to_owned(),
                ack_timeout_seconds: 60,
            })),
        };
        let svc = self.clone();
        tokio::spawn(async move {
            if tx.send(Ok(welcome)).await.is_err() {
                return;
            }
            let total = svc.events.len();
            let mut next = 0usize;
            let mut credit: u64 = 0;
            loop {
                tokio::select! {
                    msg = inbound.message() => match msg {
                        Ok(Some(pb::SubscribeRequest { request: Some(In::Credit(c)) })) => {
                            credit += u64::from(c.events);
                        }
                        Ok(Some(pb::SubscribeRequest { request: Some(In::Ack(a)) })) => {
                            let n = a.offsets.len() as u64;
                            svc.progress.acked.fetch_add(n, Ordering::Relaxed);
                            if svc.progress.group_acked(&hello.group, n, total as u64) {
                                lock(&svc.progress.done_at).get_or_insert_with(Instant::now);
                                svc.progress.done.notify_waiters();
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => return,
                    },
                    permit = tx.reserve(), if credit > 0 && next < total => {
                        let Ok(permit) = permit else { return };
                        // credit is at most what was granted, so it fits the batch size
                        let k = usize::try_from(credit).unwrap_or(usize::MAX).min(max_batch).min(total - next);
                        let batch = pb::EventBatch {
                            events: svc.events[next..next + k].to_vec(),
                            redelivery: false,
                            trace_context: std::collections::BTreeMap::new(),
                        };
                        lock(&svc.progress.first_sent).get_or_insert_with(Instant::now);
                        next += k;
                        credit -= k as u64;
                        permit.send(Ok(pb::SubscribeResponse { response: Some(Out::Batch(batch)) }));
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_log_status(
        &self,
        _request: Request<pb::GetLogStatusRequest>,
    ) -> Result<Response<pb::LogStatus>, Status> {
        let last = self.events.len() as u64;
        Ok(Response::new(pb::LogStatus {
            log_id: "herald-bench-synthetic".to_owned(),
            first_offset: u64::from(last > 0),
            last_offset: last,
            events: last,
            leader: true,
            ..pb::LogStatus::default()
        }))
    }

    async fn seek_group(
        &self,
        _request: Request<pb::SeekGroupRequest>,
    ) -> Result<Response<pb::GroupStatus>, Status> {
        Err(Status::unimplemented(
            "the synthetic source keeps no consumer groups",
        ))
    }

    async fn delete_group(
        &self,
        _request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        Err(Status::unimplemented(
            "the synthetic source keeps no consumer groups",
        ))
    }
}

#[cfg(test)]
mod tests {
    use herald_proto::pb::event_log_client::EventLogClient;

    use super::*;

    #[test]
    fn done_only_when_every_expected_group_acknowledged_everything() {
        let progress = Progress {
            groups: 2,
            ..Progress::default()
        };
        assert!(!progress.group_acked("ruler.a", 10, 10));
        // more acknowledgements of the same group do not make a second group
        assert!(!progress.group_acked("ruler.a", 5, 10));
        assert!(!progress.group_acked("ruler.b", 9, 10));
        assert!(progress.group_acked("ruler.b", 1, 10));
    }

    #[tokio::test]
    async fn serves_within_credit_and_counts_acks() {
        let events: Vec<pb::Event> = (1..=25)
            .map(|o| pb::Event {
                offset: o,
                ..pb::Event::default()
            })
            .collect();
        let source = Source::start(events, 1).await.unwrap();
        let mut client = EventLogClient::connect(source.url.clone()).await.unwrap();
        use pb::subscribe_request::Request as In;
        let (tx, rx) = mpsc::channel(8);
        tx.send(pb::SubscribeRequest {
            request: Some(In::Hello(pb::Hello {
                group: "g".into(),
                max_batch_size: 10,
                ..pb::Hello::default()
            })),
        })
        .await
        .unwrap();
        tx.send(pb::SubscribeRequest {
            request: Some(In::Credit(pb::Credit { events: 15 })),
        })
        .await
        .unwrap();
        let mut stream = client
            .subscribe(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let mut offsets = Vec::new();
        while offsets.len() < 15 {
            match stream.message().await.unwrap().unwrap().response.unwrap() {
                pb::subscribe_response::Response::Batch(b) => {
                    assert!(b.events.len() <= 10);
                    offsets.extend(b.events.iter().map(|e| e.offset));
                }
                pb::subscribe_response::Response::Welcome(w) => assert_eq!(w.group, "g"),
                other @ (pb::subscribe_response::Response::Closing(_)
                | pb::subscribe_response::Response::Synced(_)) => panic!("{other:?}"),
            }
        }
        assert_eq!(offsets, (1..=15).collect::<Vec<u64>>());
        // no more than the credit was sent
        assert!(
            tokio::time::timeout(Duration::from_millis(100), stream.message())
                .await
                .is_err()
        );
        tx.send(pb::SubscribeRequest {
            request: Some(In::Ack(pb::Ack {
                offsets: offsets.clone(),
            })),
        })
        .await
        .unwrap();
        tx.send(pb::SubscribeRequest {
            request: Some(In::Credit(pb::Credit { events: 100 })),
        })
        .await
        .unwrap();
        let mut rest = Vec::new();
        while rest.len() < 10 {
            if let Some(pb::subscribe_response::Response::Batch(b)) =
                stream.message().await.unwrap().unwrap().response
            {
                rest.extend(b.events.iter().map(|e| e.offset));
            }
        }
        tx.send(pb::SubscribeRequest {
            request: Some(In::Ack(pb::Ack { offsets: rest })),
        })
        .await
        .unwrap();
        let (first, done) = source.wait_done(Duration::from_secs(5)).await.unwrap();
        assert!(done >= first);
        assert_eq!(source.acked(), 25);
        assert!(source.first_sent().is_some());
    }
}
