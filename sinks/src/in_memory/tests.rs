//! `inMemory` sink tests.

use std::time::Duration;

use herald_proto::Event;

use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, Sink};

#[test]
fn the_example_parses() {
    let (r, diags) = parse(include_str!("../../examples/inMemory.yaml"));
    assert!(!diags.has_errors(), "{diags}");
    let c = r[0].sink.downcast_ref::<crate::in_memory::InMemoryConfig>().expect("not inMemory");
    assert_eq!(c.max_events, 1000);
}

fn event(n: usize) -> Delivery {
    Delivery::from_event(
        Event {
            message: format!("e{n}"),
            ..Default::default()
        },
        AckRef::detached(),
    )
}

#[tokio::test]
async fn keeps_the_newest_events_up_to_its_capacity() {
    let sink = InMemorySink::new(&InMemoryConfig { max_events: 3 });
    let store = sink.store();
    let items: Vec<_> = (0..5)
        .map(|i| sink.builder().encode(&event(i)).unwrap())
        .collect();
    sink.send(&sink.builder().build_request(&items)).await.unwrap();
    let messages: Vec<String> = store.events().iter().map(|e| e.message.clone()).collect();
    assert_eq!(messages, ["e2", "e3", "e4"]);
    assert_eq!(store.total(), 5);
    assert!(store.wait_for_total(5, Duration::from_millis(10)).await);
    assert!(!store.wait_for_total(6, Duration::from_millis(10)).await);
    store.clear();
    assert!(store.is_empty());
}
