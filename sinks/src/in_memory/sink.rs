//! The `inMemory` sink and its store.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use herald_proto::Event;
use tokio::sync::Notify;

use super::InMemoryConfig;
use crate::driver::{Delivery, EncodeError, RequestBuilder, SendError, SendOutcome, Sink};
use crate::model::kee_json;
use crate::registry::SinkType as _;

#[derive(Debug)]
struct Ring {
    events: VecDeque<Arc<Event>>,
    /// Events ever stored, including forgotten ones.
    total: u64,
}

/// The events an `inMemory` receiver delivered; cheap to clone.
#[derive(Debug, Clone)]
pub struct InMemoryStore {
    ring: Arc<Mutex<Ring>>,
    capacity: usize,
    changed: Arc<Notify>,
}

impl InMemoryStore {
    /// Creates an empty store keeping the newest `capacity` events.
    pub fn new(capacity: usize) -> InMemoryStore {
        InMemoryStore {
            ring: Arc::new(Mutex::new(Ring {
                events: VecDeque::new(),
                total: 0,
            })),
            capacity: capacity.max(1),
            changed: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // The ring is consistent after every operation; a panic cannot tear it.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, events: &[Arc<Event>]) {
        {
            let mut ring = self.lock();
            for ev in events {
                if ring.events.len() == self.capacity {
                    ring.events.pop_front();
                }
                ring.events.push_back(ev.clone());
                ring.total += 1;
            }
        }
        self.changed.notify_waiters();
    }

    /// Returns the stored events, oldest first.
    pub fn events(&self) -> Vec<Arc<Event>> {
        self.lock().events.iter().cloned().collect()
    }

    /// Returns the number of stored events.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Returns whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the number of events ever delivered, including forgotten ones.
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// Forgets every stored event.
    pub fn clear(&self) {
        self.lock().events.clear();
    }

    /// Waits until at least `n` events were ever delivered; returns `false`
    /// when `timeout` passes first.
    pub async fn wait_for_total(&self, n: u64, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.changed.notified();
                if self.total() >= n {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }
}

/// Stores delivered events in an [`InMemoryStore`].
#[derive(Debug)]
pub struct InMemorySink {
    store: InMemoryStore,
}

impl InMemorySink {
    /// Creates the sink with an empty store.
    pub fn new(config: &InMemoryConfig) -> InMemorySink {
        InMemorySink {
            store: InMemoryStore::new(config.max_events),
        }
    }

    /// Returns a handle on the store.
    pub fn store(&self) -> InMemoryStore {
        self.store.clone()
    }
}

/// Hands the events themselves to the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemoryBuilder;

impl RequestBuilder for InMemoryBuilder {
    type Item = Arc<Event>;
    type Request = Vec<Arc<Event>>;

    fn encode(&self, delivery: &Delivery) -> Result<Arc<Event>, EncodeError> {
        Ok(delivery.event.clone())
    }

    fn item_size(&self, _item: &Arc<Event>) -> usize {
        1
    }

    fn build_request(&self, items: &[Arc<Event>]) -> Vec<Arc<Event>> {
        items.to_vec()
    }

    /// The stored events, as KEE event JSON lines.
    fn describe(&self, request: &Vec<Arc<Event>>) -> String {
        let mut out = Vec::new();
        for (i, event) in request.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            kee_json(event, false, &mut out);
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[async_trait]
impl Sink for InMemorySink {
    type Builder = InMemoryBuilder;

    fn kind(&self) -> &'static str {
        InMemoryConfig::NAME
    }

    fn builder(&self) -> &InMemoryBuilder {
        &InMemoryBuilder
    }

    async fn send(&self, request: &Vec<Arc<Event>>) -> Result<SendOutcome, SendError> {
        self.store.push(request);
        Ok(SendOutcome::Delivered)
    }
}
