//! [`DriverHarness`]: one sink running in the real delivery driver (queue,
//! batching, retries, timeouts, acknowledgements, metrics), fed events by the
//! test, which reads back every acknowledgement.

use std::time::Duration;

use herald_proto::Event;
use herald_sinks::driver::{
    AckGroup, AckNotice, AckReceiver, AckSender, DeliverOutcome, Delivery, DeliverySettings,
    DrainOutcome, Receiver, Sink, SinkMetrics, ack_channel,
};
use prometheus_client::registry::Registry;

/// The receiver name a harness runs its sink under (metrics' `sink` label).
pub const RECEIVER: &str = "test";

/// A sink in the real driver, with its acknowledgements and metrics.
#[derive(Debug)]
pub struct DriverHarness {
    receiver: Receiver,
    acks: AckSender,
    notices: AckReceiver,
    metrics: SinkMetrics,
    next_offset: u64,
}

impl DriverHarness {
    /// Starts `sink` as receiver [`RECEIVER`] with `settings` (on the current
    /// Tokio runtime).
    pub fn start<S: Sink>(sink: S, settings: DeliverySettings) -> DriverHarness {
        let metrics = SinkMetrics::new();
        let receiver = Receiver::spawn(RECEIVER, sink, settings, &metrics);
        let (acks, notices) = ack_channel();
        DriverHarness {
            receiver,
            acks,
            notices,
            metrics,
            next_offset: 0,
        }
    }

    /// Hands `event` to the receiver as the next log offset (1, 2, …) and
    /// returns that offset with what the queue did with it.
    pub async fn deliver(&mut self, event: Event) -> (u64, DeliverOutcome) {
        self.next_offset += 1;
        let offset = self.next_offset;
        let ack = AckGroup::new(offset, 1, &self.acks).remove(0);
        let outcome = self
            .receiver
            .deliver(Delivery::from_event(event, ack))
            .await;
        (offset, outcome)
    }

    /// Like [`DriverHarness::deliver`], with `with` applied to the delivery (to attach
    /// the rule that selected the event, …).
    pub async fn deliver_with(
        &mut self,
        event: Event,
        with: impl FnOnce(Delivery) -> Delivery,
    ) -> (u64, DeliverOutcome) {
        self.next_offset += 1;
        let offset = self.next_offset;
        let ack = AckGroup::new(offset, 1, &self.acks).remove(0);
        let outcome = self
            .receiver
            .deliver(with(Delivery::from_event(event, ack)))
            .await;
        (offset, outcome)
    }

    /// Waits for the next `n` acknowledgements, in the order they came.
    ///
    /// # Panics
    /// They did not all come within `timeout`.
    pub async fn acks(&mut self, n: usize, timeout: Duration) -> Vec<AckNotice> {
        let mut out = Vec::with_capacity(n);
        let wait = async {
            while out.len() < n {
                match self.notices.recv().await {
                    Some(notice) => out.push(notice),
                    None => break,
                }
            }
        };
        let finished = tokio::time::timeout(timeout, wait).await.is_ok();
        assert!(
            finished && out.len() == n,
            "expected {n} acknowledgement(s) within {timeout:?}, got {out:?}"
        );
        out
    }

    /// Returns the acknowledgements that came and were not read yet, without
    /// waiting.
    pub fn pending_acks(&mut self) -> Vec<AckNotice> {
        std::iter::from_fn(|| self.notices.try_recv().ok()).collect()
    }

    /// Returns the running receiver (pending events, health, settings).
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// Returns the driver's metrics in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let mut registry = Registry::default();
        self.metrics.register(&mut registry);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// Returns the value of one metric series (`herald_sink_retries_total`
    /// with `labels` such as `error_type="timeout"`, besides `sink` and
    /// `sink_type`), or 0 when it has no sample.
    pub fn metric(&self, name: &str, labels: &str) -> f64 {
        let text = self.metrics();
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter(|l| labels.is_empty() || l.contains(labels))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    }

    /// Stops intake and waits up to `grace` for the queue to drain.
    pub async fn drain(&self, grace: Duration) -> DrainOutcome {
        self.receiver
            .close_and_drain(tokio::time::Instant::now() + grace)
            .await
    }
}

/// A `BackOff` event with `uid` and `message`.
pub fn event(uid: &str, message: &str) -> Event {
    let mut ev = Event {
        message: message.to_owned(),
        reason: "BackOff".to_owned(),
        ..Event::default()
    };
    ev.metadata.uid = uid.to_owned();
    ev
}
