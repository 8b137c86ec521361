//! When each occurrence entered the leading exporter's log: an ephemeral tail (no
//! consumer group) that follows whichever exporter leads, from the end of its log,
//! and records the first time each idempotency key is served. Stalls are measured
//! from there, so that a receiver held back by another is told apart from an
//! exporter that was not watching (an API fault, a failover).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use herald_proto::pb;
use herald_proto::pb::event_log_client::EventLogClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// First time each key was served by a leading exporter.
pub type Served = Arc<Mutex<HashMap<String, Instant>>>;

/// Credits granted at a time.
const WINDOW: u32 = 5000;

/// Follows the leader among `urls` until aborted, recording into `served`.
pub async fn follow(urls: Vec<String>, served: Served) {
    loop {
        for url in &urls {
            let _ = tail(url, &served).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Tails one exporter until its stream fails (a standby refuses at once).
async fn tail(url: &str, served: &Served) -> Option<()> {
    use pb::subscribe_request::Request as Msg;
    let mut client = EventLogClient::connect(url.to_owned()).await.ok()?;
    let (tx, rx) = mpsc::channel(16);
    let hello = pb::SubscribeRequest {
        request: Some(Msg::Hello(pb::Hello {
            member_id: "herald-chaos-logtail".into(),
            start: Some(pb::StartPosition {
                position: Some(pb::start_position::Position::Latest(pb::Latest {})),
            }),
            ..pb::Hello::default()
        })),
    };
    let credit = |events| pb::SubscribeRequest {
        request: Some(Msg::Credit(pb::Credit { events })),
    };
    tx.send(hello).await.ok()?;
    tx.send(credit(WINDOW)).await.ok()?;
    let mut stream = client
        .subscribe(ReceiverStream::new(rx))
        .await
        .ok()?
        .into_inner();
    while let Ok(Some(msg)) = stream.message().await {
        let Some(pb::subscribe_response::Response::Batch(b)) = msg.response else {
            continue;
        };
        let now = Instant::now();
        let n = u32::try_from(b.events.len()).unwrap_or(WINDOW);
        {
            let mut s = served.lock().unwrap_or_else(PoisonError::into_inner);
            for e in b.events {
                let uid = e.metadata.as_ref().map_or("", |m| m.uid.as_str());
                s.entry(format!("{uid}-{}", e.occurrence)).or_insert(now);
            }
        }
        tx.send(credit(n)).await.ok()?;
    }
    Some(())
}
