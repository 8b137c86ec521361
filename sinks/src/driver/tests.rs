//! Driver tests with a scripted sink: batching, retries, timeouts, queue
//! policies, acknowledgements, drain, health and metrics.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use herald_proto::Event;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::time::Instant;

use super::*;

/// What the scripted sink does on one `send`.
#[derive(Debug, Clone)]
enum Step {
    Ok,
    Retriable(Option<Duration>),
    Permanent,
    Hang,
    Sleep(Duration),
    /// An item-by-item answer.
    Partial(Vec<ItemOutcome>, Option<Duration>),
}

/// Shared between a test and its sink.
#[derive(Default)]
struct Recorder {
    script: Mutex<VecDeque<Step>>,
    /// Every attempted request: the messages it carried.
    requests: Mutex<Vec<Vec<String>>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Recorder {
    fn script(steps: impl IntoIterator<Item = Step>) -> Arc<Recorder> {
        let r = Recorder::default();
        r.script.lock().unwrap().extend(steps);
        Arc::new(r)
    }

    fn requests(&self) -> Vec<Vec<String>> {
        self.requests.lock().unwrap().clone()
    }

    fn sizes(&self) -> Vec<usize> {
        self.requests().iter().map(Vec::len).collect()
    }
}

struct ScriptedSink {
    rec: Arc<Recorder>,
    /// Sends wait while this is false.
    gate: watch::Receiver<bool>,
}

impl RequestBuilder for ScriptedSink {
    type Item = String;
    type Request = Vec<String>;

    fn encode(&self, d: &Delivery) -> Result<String, EncodeError> {
        if d.event.message == "bad" {
            return Err(EncodeError::Template("boom".into()));
        }
        Ok(d.event.message.clone())
    }

    fn item_size(&self, item: &String) -> usize {
        item.len()
    }

    fn build_request(&self, items: &[String]) -> Vec<String> {
        items.to_vec()
    }

    fn describe(&self, request: &Vec<String>) -> String {
        request.join("\n")
    }
}

#[async_trait]
impl Sink for ScriptedSink {
    type Builder = Self;

    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn builder(&self) -> &Self {
        self
    }

    async fn send(&self, request: &Vec<String>) -> Result<SendOutcome, SendError> {
        let mut gate = self.gate.clone();
        let _ = gate.wait_for(|open| *open).await;
        self.rec.requests.lock().unwrap().push(request.clone());
        let step = self
            .rec
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Step::Ok);
        let now = self.rec.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.rec.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let result = match step {
            Step::Ok => Ok(SendOutcome::Delivered),
            Step::Retriable(after) => Err(SendError::Retriable {
                message: "try later".into(),
                retry_after: after,
            }),
            Step::Permanent => Err(SendError::permanent("refused")),
            Step::Hang => std::future::pending().await,
            Step::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(SendOutcome::Delivered)
            }
            Step::Partial(items, retry_after) => {
                Ok(SendOutcome::Partial(PartialOutcome { items, retry_after }))
            }
        };
        self.rec.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

struct Harness {
    rec: Arc<Recorder>,
    receiver: Receiver,
    acks: AckSender,
    notices: AckReceiver,
    gate: watch::Sender<bool>,
    metrics: SinkMetrics,
    next_offset: u64,
}

fn settings() -> DeliverySettings {
    let mut s = DeliverySettings::with_batch(BatchSettings::SINGLE);
    s.retry = RetrySettings {
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(10),
        max_attempts: 0,
    };
    s
}

fn harness(rec: Arc<Recorder>, settings: DeliverySettings) -> Harness {
    let (gate, gate_rx) = watch::channel(true);
    let metrics = SinkMetrics::new();
    let sink = ScriptedSink {
        rec: rec.clone(),
        gate: gate_rx,
    };
    let receiver = Receiver::spawn("test", sink, settings, &metrics);
    let (acks, notices) = ack_channel();
    Harness {
        rec,
        receiver,
        acks,
        notices,
        gate,
        metrics,
        next_offset: 0,
    }
}

fn event(message: &str) -> Event {
    Event {
        message: message.into(),
        ..Default::default()
    }
}

impl Harness {
    fn delivery(&mut self, message: &str) -> Delivery {
        self.next_offset += 1;
        let ack = AckGroup::new(self.next_offset, 1, &self.acks).remove(0);
        Delivery::from_event(event(message), ack)
    }

    async fn send(&mut self, message: &str) -> DeliverOutcome {
        let d = self.delivery(message);
        self.receiver.deliver(d).await
    }

    async fn notice(&mut self) -> AckNotice {
        tokio::time::timeout(Duration::from_secs(3600), self.notices.recv())
            .await
            .expect("no acknowledgement within an hour")
            .expect("channel open")
    }

    async fn notices(&mut self, n: usize) -> Vec<AckNotice> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.notice().await);
        }
        out
    }

    fn exposition(&self) -> String {
        let mut registry = Registry::default();
        self.metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }
}

fn delivered(n: &AckNotice) -> bool {
    n.delivered == 1 && n.rejected == 0 && n.dropped == 0
}

#[tokio::test(start_paused = true)]
async fn batches_close_by_count() {
    let mut s = settings();
    s.batch = BatchSettings {
        max_events: 3,
        max_bytes: 1 << 20,
        linger: Duration::from_secs(1),
    };
    let mut h = harness(Recorder::script([]), s);
    for i in 0..7 {
        assert_eq!(h.send(&format!("e{i}")).await, DeliverOutcome::Queued);
    }
    let start = Instant::now();
    let notices = h.notices(7).await;
    assert!(notices.iter().all(delivered));
    assert_eq!(h.rec.sizes(), [3, 3, 1]);
    // The last, partial batch waited for the linger.
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(h.rec.requests()[0], ["e0", "e1", "e2"]);
}

#[tokio::test(start_paused = true)]
async fn batches_close_by_bytes() {
    let mut s = settings();
    s.batch = BatchSettings {
        max_events: 100,
        max_bytes: 10,
        linger: Duration::ZERO,
    };
    let mut h = harness(Recorder::script([]), s);
    for _ in 0..5 {
        h.send("abcd").await;
    }
    h.notices(5).await;
    // 4 + 4 bytes fit in 10, a third event would not.
    assert_eq!(h.rec.sizes(), [2, 2, 1]);
}

#[tokio::test(start_paused = true)]
async fn linger_collects_events_arriving_later() {
    let mut s = settings();
    s.batch = BatchSettings {
        max_events: 100,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(500),
    };
    let mut h = harness(Recorder::script([]), s);
    let start = Instant::now();
    h.send("a").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.send("b").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.send("c").await;
    h.notices(3).await;
    assert_eq!(h.rec.sizes(), [3]);
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert!(start.elapsed() < Duration::from_millis(600));
}

#[tokio::test(start_paused = true)]
async fn zero_linger_sends_what_is_queued_at_once() {
    let mut s = settings();
    s.batch.max_events = 10;
    let mut h = harness(Recorder::script([]), s);
    let start = Instant::now();
    h.send("a").await;
    assert!(delivered(&h.notice().await));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn retriable_failures_back_off_and_then_deliver() {
    let mut h = harness(
        Recorder::script([Step::Retriable(None), Step::Retriable(None), Step::Ok]),
        settings(),
    );
    let start = Instant::now();
    h.send("a").await;
    assert!(delivered(&h.notice().await));
    assert_eq!(h.rec.sizes(), [1, 1, 1]);
    // Full jitter: at most 1s + 2s of backoff.
    assert!(start.elapsed() <= Duration::from_secs(3));
    let text = h.exposition();
    assert!(
        text.contains("herald_sink_retries_total{sink=\"test\",sink_type=\"scripted\"} 2"),
        "{text}"
    );
    assert!(text.contains("error_type=\"retriable\"} 2"), "{text}");
    assert!(
        text.contains("herald_sink_sent_events_total{sink=\"test\",sink_type=\"scripted\"} 1"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let mut h = harness(
        Recorder::script([Step::Retriable(Some(Duration::from_secs(30))), Step::Ok]),
        settings(),
    );
    let start = Instant::now();
    h.send("a").await;
    assert!(delivered(&h.notice().await));
    assert!(start.elapsed() >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_reject_the_batch() {
    let mut s = settings();
    s.retry.max_attempts = 3;
    let mut h = harness(Recorder::script(vec![Step::Retriable(None); 5]), s);
    h.send("a").await;
    let n = h.notice().await;
    assert_eq!((n.delivered, n.rejected), (0, 1));
    assert_eq!(h.rec.sizes(), [1, 1, 1]);
    assert!(h.exposition().contains("reason=\"retries_exhausted\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_reject_without_retrying() {
    let mut h = harness(Recorder::script([Step::Permanent]), settings());
    h.send("a").await;
    let n = h.notice().await;
    assert_eq!(n.rejected, 1);
    assert_eq!(h.rec.sizes(), [1]);
    let text = h.exposition();
    assert!(text.contains("reason=\"permanent_error\"} 1"), "{text}");
    assert!(text.contains("error_type=\"permanent\"} 1"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_hung_endpoint_is_a_retriable_timeout() {
    let mut s = settings();
    s.timeout = Duration::from_secs(2);
    let mut h = harness(Recorder::script([Step::Hang, Step::Ok]), s);
    let start = Instant::now();
    h.send("a").await;
    assert!(delivered(&h.notice().await));
    assert_eq!(h.rec.sizes(), [1, 1]);
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert!(h.exposition().contains("error_type=\"timeout\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn an_event_that_cannot_be_encoded_is_rejected_alone() {
    let mut s = settings();
    s.batch.max_events = 10;
    let mut h = harness(Recorder::script([]), s);
    h.gate.send_replace(false);
    h.send("a").await;
    h.send("bad").await;
    h.send("c").await;
    h.gate.send_replace(true);
    let notices = h.notices(3).await;
    let rejected: Vec<u64> = notices
        .iter()
        .filter(|n| n.rejected == 1)
        .map(|n| n.offset)
        .collect();
    assert_eq!(rejected, [2]);
    let all: Vec<String> = h.rec.requests().concat();
    assert_eq!(all, ["a", "c"]);
    assert!(h.exposition().contains("reason=\"encode_error\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn drop_policy_drops_and_counts_when_the_queue_is_full() {
    let mut s = settings();
    s.queue_size = 1;
    s.on_full = OnFull::Drop;
    let mut h = harness(Recorder::script([]), s);
    h.gate.send_replace(false);
    assert_eq!(h.send("taken").await, DeliverOutcome::Queued);
    tokio::task::yield_now().await; // the worker takes it and waits at the gate
    assert_eq!(h.send("queued").await, DeliverOutcome::Queued);
    assert_eq!(h.send("dropped").await, DeliverOutcome::Dropped);
    let n = h.notice().await;
    assert_eq!((n.offset, n.dropped), (3, 1));
    h.gate.send_replace(true);
    assert!(h.notices(2).await.iter().all(delivered));
    assert!(h.exposition().contains("reason=\"queue_full\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn block_policy_waits_for_space() {
    let mut s = settings();
    s.queue_size = 1;
    let mut h = harness(Recorder::script([]), s);
    h.gate.send_replace(false);
    h.send("in-flight").await;
    tokio::task::yield_now().await; // sent, waiting at the gate
    h.send("batched").await;
    tokio::task::yield_now().await; // taken into a batch, waiting for a send slot
    h.send("queued").await; // fills the queue
    let d = h.delivery("waits");
    let blocked = tokio::time::timeout(Duration::from_secs(60), h.receiver.deliver(d)).await;
    assert!(
        blocked.is_err(),
        "deliver returned while the queue was full"
    );
    h.gate.send_replace(true);
    let offsets: Vec<u64> = h.notices(3).await.iter().map(|n| n.offset).collect();
    assert_eq!(offsets, [1, 2, 3]);
    assert_eq!(h.send("later").await, DeliverOutcome::Queued);
    assert_eq!(h.notice().await.offset, 5);
    // The abandoned delivery was never queued, so never acknowledged.
    assert!(h.notices.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn concurrency_limits_requests_in_flight() {
    let mut s = settings();
    s.concurrency = 2;
    let mut h = harness(
        Recorder::script(vec![Step::Sleep(Duration::from_secs(1)); 6]),
        s,
    );
    for i in 0..6 {
        h.send(&format!("e{i}")).await;
    }
    let start = Instant::now();
    h.notices(6).await;
    assert_eq!(h.rec.max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn every_receiver_must_complete_before_the_offset_is_acknowledged() {
    let metrics = SinkMetrics::new();
    let (gate_tx, gate) = watch::channel(false);
    let ok = Receiver::spawn(
        "ok",
        ScriptedSink {
            rec: Recorder::script([]),
            gate: gate.clone(),
        },
        settings(),
        &metrics,
    );
    let failing = Receiver::spawn(
        "failing",
        ScriptedSink {
            rec: Recorder::script([Step::Permanent]),
            gate,
        },
        settings(),
        &metrics,
    );
    let (tx, mut rx) = ack_channel();
    let ev = Arc::new(event("x"));
    let value = crate::model::event_value(&ev);
    let mut refs = AckGroup::new(99, 2, &tx);
    ok.deliver(Delivery::new(ev.clone(), value.clone(), refs.remove(0)))
        .await;
    failing
        .deliver(Delivery::new(ev, value, refs.remove(0)))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        rx.try_recv().is_err(),
        "acknowledged before both receivers finished"
    );
    gate_tx.send_replace(true);
    let n = rx.recv().await.unwrap();
    assert_eq!(
        n,
        AckNotice {
            offset: 99,
            delivered: 1,
            rejected: 1,
            dropped: 0
        }
    );
}

#[tokio::test(start_paused = true)]
async fn drain_flushes_the_queue_within_the_grace_period() {
    let mut s = settings();
    s.batch.max_events = 2;
    let mut h = harness(
        Recorder::script(vec![Step::Sleep(Duration::from_secs(1)); 3]),
        s,
    );
    for i in 0..5 {
        h.send(&format!("e{i}")).await;
    }
    let outcome = h
        .receiver
        .close_and_drain(Instant::now() + Duration::from_secs(30))
        .await;
    assert_eq!(outcome, DrainOutcome::Drained);
    assert!(h.notices(5).await.iter().all(delivered));
    assert_eq!(h.receiver.pending(), 0);
    assert_eq!(h.send("late").await, DeliverOutcome::Closed);
    assert!(
        h.notices.try_recv().is_err(),
        "a delivery after close was acknowledged"
    );
}

#[tokio::test(start_paused = true)]
async fn drain_gives_up_at_the_deadline_without_acknowledging() {
    let mut s = settings();
    s.timeout = Duration::from_secs(3600);
    let mut h = harness(Recorder::script([Step::Hang]), s);
    h.send("stuck").await;
    h.send("queued").await;
    let outcome = h
        .receiver
        .close_and_drain(Instant::now() + Duration::from_secs(5))
        .await;
    assert_eq!(outcome, DrainOutcome::TimedOut { pending: 2 });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.notices.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn failing_longer_than_the_window_is_unhealthy() {
    let mut s = settings();
    s.unhealthy_after = Duration::from_secs(60);
    s.retry.max_backoff = Duration::from_secs(5);
    let mut h = harness(Recorder::script(vec![Step::Retriable(None); 1000]), s);
    h.send("a").await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(h.receiver.unhealthy_for().is_none());
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(h.receiver.unhealthy_for().is_some());
    h.rec.script.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(delivered(&h.notice().await));
    assert!(h.receiver.unhealthy_for().is_none());
}

#[tokio::test(start_paused = true)]
async fn queue_depth_is_exported() {
    let mut h = harness(Recorder::script([]), settings());
    h.gate.send_replace(false);
    h.send("a").await;
    tokio::task::yield_now().await;
    h.send("b").await;
    h.send("c").await;
    assert_eq!(h.receiver.queued(), 2);
    assert!(
        h.exposition()
            .contains("herald_sink_buffer_events{sink=\"test\",sink_type=\"scripted\"} 2")
    );
    h.gate.send_replace(true);
    h.notices(3).await;
    assert_eq!(h.receiver.queued(), 0);
}

fn retry(reason: &str) -> ItemOutcome {
    ItemOutcome::retry(reason)
}

fn rejected(reason: &str) -> ItemOutcome {
    ItemOutcome::rejected(reason)
}

/// (offset, delivered, rejected) of each notice.
fn outcomes(notices: &[AckNotice]) -> Vec<(u64, u32, u32)> {
    notices
        .iter()
        .map(|n| (n.offset, n.delivered, n.rejected))
        .collect()
}

/// `n` events (`e1`…) in one batch.
async fn one_batch(script: Vec<Step>, n: usize, mut s: DeliverySettings) -> Harness {
    s.batch.max_events = n;
    let mut h = harness(Recorder::script(script), s);
    for i in 1..=n {
        assert_eq!(h.send(&format!("e{i}")).await, DeliverOutcome::Queued);
    }
    h
}

#[tokio::test(start_paused = true)]
async fn a_partial_outcome_retries_only_the_items_asked_for() {
    use ItemOutcome::Delivered as Ok_;
    let mut h = one_batch(
        vec![
            Step::Partial(
                vec![
                    retry("429"),
                    retry("429"),
                    rejected("mapping conflict"),
                    Ok_,
                    Ok_,
                ],
                None,
            ),
            Step::Partial(vec![retry("503"), retry("503")], None),
            Step::Ok,
        ],
        5,
        settings(),
    )
    .await;
    let start = Instant::now();
    // The delivered and the refused items are acknowledged at once…
    let first = h.notices(3).await;
    assert_eq!(outcomes(&first), [(4, 1, 0), (5, 1, 0), (3, 0, 1)]);
    assert_eq!(start.elapsed(), Duration::ZERO);
    // …the others once a smaller request of just them got through.
    let rest = h.notices(2).await;
    assert_eq!(outcomes(&rest), [(1, 1, 0), (2, 1, 0)]);
    assert_eq!(
        h.rec.requests(),
        [
            vec!["e1", "e2", "e3", "e4", "e5"],
            vec!["e1", "e2"],
            vec!["e1", "e2"]
        ]
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        h.notices.try_recv().is_err(),
        "an event was acknowledged twice"
    );
    assert_eq!(h.receiver.pending(), 0);
    let text = h.exposition();
    for line in [
        "herald_sink_sent_events_total{sink=\"test\",sink_type=\"scripted\"} 4",
        "herald_sink_sent_bytes_total{sink=\"test\",sink_type=\"scripted\"} 8",
        "herald_sink_dropped_events_total{sink=\"test\",sink_type=\"scripted\",reason=\"permanent_error\"} 1",
        "herald_sink_retries_total{sink=\"test\",sink_type=\"scripted\"} 2",
        "herald_sink_errors_total{sink=\"test\",sink_type=\"scripted\",error_type=\"retriable\"} 2",
        "herald_sink_errors_total{sink=\"test\",sink_type=\"scripted\",error_type=\"permanent\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_partial_retry_honours_retry_after_and_the_attempt_limit() {
    let mut s = settings();
    s.retry.max_attempts = 2;
    let mut h = one_batch(
        vec![
            Step::Partial(
                vec![ItemOutcome::Delivered, retry("throttled")],
                Some(Duration::from_secs(30)),
            ),
            Step::Partial(vec![retry("throttled")], None),
            Step::Ok,
        ],
        2,
        s,
    )
    .await;
    let start = Instant::now();
    assert_eq!(outcomes(&h.notices(1).await), [(1, 1, 0)]);
    // the second attempt waited for the target's Retry-After, and was the last
    assert_eq!(outcomes(&h.notices(1).await), [(2, 0, 1)]);
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert_eq!(h.rec.sizes(), [2, 1]);
    assert!(h.exposition().contains("reason=\"retries_exhausted\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn after_a_partial_outcome_whole_request_failures_resend_only_the_rest() {
    let mut s = settings();
    s.timeout = Duration::from_secs(2);
    let mut h = one_batch(
        vec![
            Step::Partial(vec![ItemOutcome::Delivered, retry("busy")], None),
            Step::Hang,
            Step::Retriable(None),
            Step::Ok,
        ],
        2,
        s,
    )
    .await;
    let notices = h.notices(2).await;
    assert_eq!(outcomes(&notices), [(1, 1, 0), (2, 1, 0)]);
    assert_eq!(
        h.rec.requests(),
        [vec!["e1", "e2"], vec!["e2"], vec!["e2"], vec!["e2"]]
    );
    assert!(h.exposition().contains("error_type=\"timeout\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn a_missing_item_outcome_is_retried_and_extra_ones_are_ignored() {
    let mut h = one_batch(
        vec![
            Step::Partial(vec![ItemOutcome::Delivered], None),
            Step::Partial(
                vec![ItemOutcome::Delivered, rejected("there is no such item")],
                None,
            ),
        ],
        2,
        settings(),
    )
    .await;
    let notices = h.notices(2).await;
    assert_eq!(outcomes(&notices), [(1, 1, 0), (2, 1, 0)]);
    assert_eq!(h.rec.sizes(), [2, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_partial_outcome_that_rejects_everything_rejects_every_event() {
    let mut h = one_batch(
        vec![Step::Partial(
            vec![rejected("bad document"), rejected("bad document")],
            None,
        )],
        2,
        settings(),
    )
    .await;
    let notices = h.notices(2).await;
    assert_eq!(outcomes(&notices), [(1, 0, 1), (2, 0, 1)]);
    assert_eq!(h.rec.sizes(), [2]);
    assert!(h.exposition().contains("reason=\"permanent_error\"} 2"));
}

#[test]
fn shared_values_are_built_once_and_only_when_needed() {
    let ev = Arc::new(event("lazy"));
    let shared = SharedValue::new();
    let a = Delivery::shared(ev.clone(), shared.clone(), AckRef::detached());
    let b = Delivery::shared(ev.clone(), shared.clone(), AckRef::detached());
    // routing to receivers that never render leaves the value unbuilt
    assert!(!shared.is_built());
    let first = a.value().clone();
    assert!(shared.is_built());
    // the second receiver sees the same value, not a rebuild
    assert!(std::ptr::eq(a.value(), b.value()));
    assert_eq!(
        herald_template::to_go_json(&first, false),
        herald_template::to_go_json(&crate::model::event_value(&ev), false)
    );
    let ready = Delivery::new(ev.clone(), first, AckRef::detached());
    assert!(!std::ptr::eq(ready.value(), a.value()));
}
