//! Tests of the hook stage with a hook written in Rust: skipped events are
//! acknowledged and never sent, changed settings reach the encoder and split
//! batches, held events keep the receiver's order and are never acknowledged
//! before they are sent, and shutdown leaves held events unacknowledged.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use herald_proto::Event;
use prometheus_client::registry::Registry;
use serde_json::{Map, Value, json};

use crate::driver::{
    AckGroup, AckNotice, AckReceiver, AckSender, BatchSettings, DeliverOutcome, Delivery,
    DeliveryHook, DeliverySettings, EncodeError, HookDecision, HookErrorKind, HookOutcome,
    HookSettings, HookTarget, Receiver, RequestBuilder, RetrySettings, SendError, SendOutcome,
    Sink, SinkMetrics, ack_channel,
};

/// One encoded event: its message and the path a hook chose.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    message: String,
    path: Option<String>,
}

/// A sink that records its requests and offers a hook one setting, `path`.
struct PathSink {
    requests: Arc<Mutex<Vec<Vec<Item>>>>,
}

impl RequestBuilder for PathSink {
    type Item = Item;
    type Request = Vec<Item>;

    fn encode(&self, d: &Delivery) -> Result<Item, EncodeError> {
        Ok(Item {
            message: d.event.message.clone(),
            path: d
                .hook_settings()
                .and_then(|s| s.text("path"))
                .map(str::to_owned),
        })
    }

    fn item_size(&self, item: &Item) -> usize {
        item.message.len()
    }

    fn build_request(&self, items: &[Item]) -> Vec<Item> {
        items.to_vec()
    }

    fn describe(&self, request: &Vec<Item>) -> String {
        format!("{request:?}")
    }

    fn same_request(&self, first: &Item, next: &Item) -> bool {
        first.path == next.path
    }

    fn hook_offer(&self, _d: &Delivery) -> Map<String, Value> {
        let mut offer = Map::new();
        offer.insert("path".into(), json!("/default"));
        offer
    }

    fn hook_check(&self, changed: &HookSettings) -> Result<(), String> {
        match changed.text("path") {
            Some(p) if !p.starts_with('/') => Err("bad path".into()),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Sink for PathSink {
    type Builder = Self;

    fn kind(&self) -> &'static str {
        "paths"
    }

    fn builder(&self) -> &Self {
        self
    }

    async fn send(&self, request: &Vec<Item>) -> Result<SendOutcome, SendError> {
        self.requests.lock().unwrap().push(request.clone());
        Ok(SendOutcome::Delivered)
    }
}

/// A hook that decides by the event's message: `skip…` is skipped, `fail…`
/// is held while `failing` is set, `ns-X` goes to `/ns/X`, `bad` sets an
/// invalid path, anything else is sent as configured.
#[derive(Default)]
struct MessageHook {
    failing: AtomicBool,
    calls: AtomicUsize,
}

impl DeliveryHook for MessageHook {
    fn decide(&self, target: &dyn HookTarget, d: &Delivery) -> HookOutcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let m = d.event.message.as_str();
        if m.starts_with("skip") {
            return HookOutcome::ok(HookDecision::Skip);
        }
        if m.starts_with("fail") && self.failing.load(Ordering::SeqCst) {
            return HookOutcome {
                decision: HookDecision::Retry,
                error: Some(HookErrorKind::Script),
            };
        }
        if let Some(ns) = m.strip_prefix("ns-") {
            let mut changed = Map::new();
            changed.insert("path".into(), json!(format!("/ns/{ns}")));
            let settings = HookSettings::new(changed);
            assert_eq!(target.offer(d)["path"], "/default");
            assert!(target.check(&settings).is_ok());
            return HookOutcome::ok(HookDecision::Send(Some(Arc::new(settings))));
        }
        HookOutcome::ok(HookDecision::Send(None))
    }
}

struct Harness {
    requests: Arc<Mutex<Vec<Vec<Item>>>>,
    hook: Arc<MessageHook>,
    receiver: Receiver,
    acks: AckSender,
    notices: AckReceiver,
    metrics: SinkMetrics,
    offset: u64,
}

fn harness(batch: BatchSettings) -> Harness {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::new(MessageHook::default());
    let metrics = SinkMetrics::new();
    let mut settings = DeliverySettings::with_batch(batch);
    settings.retry = RetrySettings {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        max_attempts: 0,
    };
    let receiver = Receiver::spawn_with_hook(
        "hooked",
        PathSink {
            requests: requests.clone(),
        },
        settings,
        &metrics,
        Some(hook.clone()),
    );
    let (acks, notices) = ack_channel();
    Harness {
        requests,
        hook,
        receiver,
        acks,
        notices,
        metrics,
        offset: 0,
    }
}

impl Harness {
    async fn send(&mut self, message: &str) {
        self.offset += 1;
        let ack = AckGroup::new(self.offset, 1, &self.acks).remove(0);
        let event = Event {
            message: message.into(),
            ..Default::default()
        };
        let outcome = self
            .receiver
            .deliver(Delivery::from_event(event, ack))
            .await;
        assert_eq!(outcome, DeliverOutcome::Queued);
    }

    async fn notices(&mut self, n: usize) -> Vec<AckNotice> {
        let mut out = Vec::new();
        for _ in 0..n {
            let notice = tokio::time::timeout(Duration::from_secs(10), self.notices.recv())
                .await
                .expect("an acknowledgement within 10 s")
                .expect("channel open");
            out.push(notice);
        }
        out.sort_by_key(|n| n.offset);
        out
    }

    fn sent(&self) -> Vec<Vec<Item>> {
        self.requests.lock().unwrap().clone()
    }

    fn messages(&self) -> Vec<String> {
        self.sent()
            .into_iter()
            .flatten()
            .map(|i| i.message)
            .collect()
    }

    fn exposition(&self) -> String {
        let mut registry = Registry::default();
        self.metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }
}

fn batch_of(n: usize) -> BatchSettings {
    BatchSettings {
        max_events: n,
        max_bytes: 1 << 20,
        linger: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn skipped_events_are_acknowledged_and_never_sent() {
    let mut h = harness(BatchSettings::SINGLE);
    for m in ["a", "skip-b", "c"] {
        h.send(m).await;
    }
    let notices = h.notices(3).await;
    assert!(notices.iter().all(|n| n.delivered == 1), "{notices:?}");
    assert_eq!(h.messages(), ["a", "c"]);
    assert_eq!(h.receiver.pending(), 0);
    assert_eq!(h.receiver.queued(), 0);
    let text = h.exposition();
    assert!(
        text.contains(
            r#"herald_sink_hook_events_total{sink="hooked",sink_type="paths",result="skipped"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"herald_sink_hook_events_total{sink="hooked",sink_type="paths",result="unchanged"} 2"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn changed_settings_reach_the_encoder_and_split_batches() {
    let mut h = harness(batch_of(10));
    for m in ["ns-a", "ns-a", "ns-b", "plain", "ns-a"] {
        h.send(m).await;
    }
    h.notices(5).await;
    let paths: Vec<Vec<Option<String>>> = h
        .sent()
        .into_iter()
        .map(|r| r.into_iter().map(|i| i.path).collect())
        .collect();
    let a = Some("/ns/a".to_owned());
    let b = Some("/ns/b".to_owned());
    assert_eq!(
        paths,
        vec![vec![a.clone(), a.clone()], vec![b], vec![None], vec![a]]
    );
    assert!(h.exposition().contains(r#"result="changed"} 4"#));
}

#[tokio::test]
async fn a_held_event_holds_the_later_ones_and_is_sent_once_the_hook_recovers() {
    let mut h = harness(BatchSettings::SINGLE);
    h.hook.failing.store(true, Ordering::SeqCst);
    for m in ["a", "fail-b", "c", "d"] {
        h.send(m).await;
    }
    let first = h.notices(1).await;
    assert_eq!(first[0].offset, 1);
    // Held: retried with a backoff, never acknowledged, and `c`, `d` wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.messages(), ["a"]);
    assert!(h.notices.try_recv().is_err(), "nothing else acknowledged");
    let calls = h.hook.calls.load(Ordering::SeqCst);
    assert!(calls >= 4, "the hook was asked again: {calls} calls");
    assert_eq!(h.receiver.pending(), 3);
    h.hook.failing.store(false, Ordering::SeqCst);
    let rest = h.notices(3).await;
    assert!(rest.iter().all(|n| n.delivered == 1));
    assert_eq!(h.messages(), ["a", "fail-b", "c", "d"]);
    let text = h.exposition();
    assert!(text.contains(r#"error="script"}"#), "{text}");
    assert!(text.contains(r#"result="held"}"#), "{text}");
}

#[tokio::test]
async fn shutdown_leaves_held_events_unacknowledged() {
    let mut h = harness(BatchSettings::SINGLE);
    h.hook.failing.store(true, Ordering::SeqCst);
    for m in ["a", "fail-b", "c"] {
        h.send(m).await;
    }
    h.notices(1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
    let outcome = h.receiver.close_and_drain(deadline).await;
    assert_eq!(
        outcome,
        crate::driver::DrainOutcome::Drained,
        "the stage gives up its held events at once"
    );
    assert_eq!(h.messages(), ["a"]);
    // Their handles were dropped without completion: the exporter delivers
    // them again.
    assert!(h.notices.try_recv().is_err());
}

#[tokio::test]
async fn a_closed_receiver_refuses_new_events_and_drains_what_it_has() {
    let mut h = harness(batch_of(100));
    for m in ["a", "b", "skip-c", "d"] {
        h.send(m).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    assert_eq!(
        h.receiver.close_and_drain(deadline).await,
        crate::driver::DrainOutcome::Drained
    );
    assert_eq!(h.notices(4).await.len(), 4);
    assert_eq!(h.messages(), ["a", "b", "d"]);
    h.offset += 1;
    let ack = AckGroup::new(h.offset, 1, &h.acks).remove(0);
    let late = h
        .receiver
        .deliver(Delivery::from_event(Event::default(), ack))
        .await;
    assert_eq!(late, DeliverOutcome::Closed);
}
