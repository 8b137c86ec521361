use std::collections::VecDeque;
use std::sync::Mutex;

use super::*;

fn group(name: &str, committed: u64) -> pb::GroupStatus {
    pb::GroupStatus {
        name: name.into(),
        committed_offset: committed,
        ..Default::default()
    }
}

fn offset(p: Option<pb::StartPosition>) -> Option<u64> {
    match p?.position? {
        pb::start_position::Position::Offset(o) => Some(o),
        other => panic!("unexpected position {other:?}"),
    }
}

/// What the fake exporter saw.
#[derive(Default)]
struct Seen {
    hellos: Vec<pb::Hello>,
    acks: Vec<(String, Vec<u64>)>,
}

/// A fake exporter: every `open` takes the next scripted session (a log id and the
/// batches to send before closing).
struct FakeConnector {
    sessions: Mutex<VecDeque<(String, Vec<Vec<u64>>)>>,
    seen: Arc<Mutex<Seen>>,
    groups: Vec<pb::GroupStatus>,
}

struct FakeLink {
    log: String,
    batches: VecDeque<Vec<u64>>,
    seen: Arc<Mutex<Seen>>,
    /// When the link closes once its batches are out (set once: `next` is cancel-safe).
    closes_at: Option<tokio::time::Instant>,
}

#[async_trait]
impl Connector for FakeConnector {
    fn describe(&self) -> &str {
        "fake"
    }

    async fn open(
        &self,
        hello: pb::Hello,
        _credit: u32,
    ) -> Result<(pb::Welcome, Box<dyn Link>), LinkError> {
        self.seen.lock().unwrap().hellos.push(hello.clone());
        let Some((log, batches)) = self.sessions.lock().unwrap().pop_front() else {
            return Err(LinkError::Transport("no more sessions".into()));
        };
        let welcome = pb::Welcome {
            group: hello.group,
            log_id: log.clone(),
            ..Default::default()
        };
        Ok((
            welcome,
            Box::new(FakeLink {
                log,
                batches: batches.into(),
                seen: self.seen.clone(),
                closes_at: None,
            }),
        ))
    }

    async fn groups(&self) -> Result<Vec<pb::GroupStatus>, LinkError> {
        Ok(self.groups.clone())
    }
}

#[async_trait]
impl Link for FakeLink {
    async fn next(&mut self) -> Result<Option<crate::wire::ReceivedBatch>, LinkError> {
        match self.batches.pop_front() {
            Some(offsets) => Ok(Some(crate::wire::ReceivedBatch::from(pb::EventBatch {
                events: offsets
                    .into_iter()
                    .map(|offset| pb::Event {
                        offset,
                        ..Default::default()
                    })
                    .collect(),
                redelivery: false,
                trace_context: Default::default(),
            }))),
            None => {
                // give the acks of this session time to arrive, then close
                let at = *self.closes_at.get_or_insert_with(|| {
                    tokio::time::Instant::now() + Duration::from_millis(300)
                });
                tokio::time::sleep_until(at).await;
                Ok(None)
            }
        }
    }

    async fn ack(&mut self, offsets: Vec<u64>) -> Result<(), LinkError> {
        self.seen
            .lock()
            .unwrap()
            .acks
            .push((self.log.clone(), offsets));
        Ok(())
    }

    async fn hold(&mut self, _offsets: Vec<u64>) -> Result<(), LinkError> {
        Ok(())
    }

    async fn grant(&mut self, _events: u32) -> Result<(), LinkError> {
        Ok(())
    }
}

#[tokio::test]
async fn the_loop_forwards_batches_acks_and_reconnects_with_the_sibling_start() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let connector = Arc::new(FakeConnector {
        sessions: Mutex::new(VecDeque::from([
            ("log-a".to_owned(), vec![vec![1, 2], vec![3]]),
            ("log-b".to_owned(), vec![vec![1]]),
        ])),
        seen: seen.clone(),
        groups: vec![group("ruler.file", 41)],
    });
    let (tx, mut rx) = mpsc::channel(4);
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let status = LinkStatus::default();
    let sub = Subscriber {
        hello: pb::Hello {
            group: "ruler.es".into(),
            ..Default::default()
        },
        start: StartPolicy::Siblings {
            base: "ruler".into(),
            upstream: 0,
            snapshot: crate::start::GroupsSnapshot::new(vec![
                connector.clone() as Arc<dyn Connector>
            ]),
        },
        window: 10,
        held: Held::default(),
        shared: crate::decoded::SharedEvents::unshared(),
        lane: 0,
    };
    let task = tokio::spawn(run(
        3,
        connector,
        sub,
        tx,
        ack_rx,
        status.clone(),
        cancel.clone(),
    ));
    // session 1 (log-a): two batches, acknowledged as the router would
    for want in [vec![1, 2], vec![3]] {
        let b = rx.recv().await.unwrap();
        assert_eq!(b.source.upstream, 3);
        assert_eq!(&*b.source.log_id, "log-a");
        assert_eq!(
            b.events.iter().map(|e| e.event.offset).collect::<Vec<_>>(),
            want
        );
        for o in want {
            ack_tx.send((b.source.log_id.clone(), o)).unwrap();
        }
    }
    assert!(status.connected.load(Ordering::Relaxed));
    // session 2 (log-b) after the reconnect: a late ack for log-a is dropped
    let b = rx.recv().await.unwrap();
    assert_eq!(&*b.source.log_id, "log-b");
    ack_tx.send((Arc::from("log-a"), 3)).unwrap();
    ack_tx.send((b.source.log_id.clone(), 1)).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    cancel.cancel();
    task.await.unwrap();

    let seen = seen.lock().unwrap();
    let acked_a: Vec<u64> = seen
        .acks
        .iter()
        .filter(|(l, _)| l == "log-a")
        .flat_map(|(_, o)| o.clone())
        .collect();
    let acked_b: Vec<u64> = seen
        .acks
        .iter()
        .filter(|(l, _)| l == "log-b")
        .flat_map(|(_, o)| o.clone())
        .collect();
    assert_eq!(acked_a, vec![1, 2, 3]);
    assert_eq!(
        acked_b,
        vec![1],
        "the ack meant for log-a never reaches log-b"
    );
    // every hello asked to start where the sibling group is
    assert_eq!(seen.hellos.len(), 2);
    for h in &seen.hellos {
        assert_eq!(h.group, "ruler.es");
        assert_eq!(offset(h.start), Some(42));
    }
}
