//! Micro-benchmarks of the event encoders: the template value of an event
//! (`event_value`), kubernetes-event-exporter's default JSON (`kee_json`), `deDot`, and
//! each benchmark receiver's layout (`bench/fixtures/receivers.yaml`) rendered by the
//! `PayloadEncoder`, over the sample events of `bench/fixtures/events.json`.
//!
//! `cargo bench -p herald-sinks --bench encode` (divan; `-- --help` for options).

#![allow(missing_docs)]

use std::sync::Arc;

use divan::{Bencher, black_box};
use herald_proto::Event;
use herald_sinks::file::FileConfig;
use herald_sinks::util::PayloadEncoder;
use herald_sinks::{AckRef, Delivery, dedot_event, event_value, kee_json};

#[path = "../../bench/fixtures/samples.rs"]
#[allow(dead_code)]
mod samples;

const RECEIVERS: &str = include_str!("../../bench/fixtures/receivers.yaml");

/// Receivers of receivers.yaml, in order.
const RECEIVER_NAMES: &[&str] = &[
    "dump",
    "alerts",
    "payments-slack",
    "oncall",
    "storage-team",
    "infra",
    "audit",
];

fn main() {
    divan::main();
}

fn events() -> Vec<Arc<Event>> {
    samples::load()
        .unwrap()
        .into_iter()
        .map(|s| Arc::new(s.event))
        .collect()
}

fn encoder(name: &str) -> PayloadEncoder {
    let mut loaded = herald_config::load_str("receivers.yaml", RECEIVERS, |_| {
        Some("/dev/null".to_owned())
    })
    .unwrap();
    let node = loaded.config.receivers.take().unwrap();
    let receivers = herald_sinks::parse_receivers(&node, &mut loaded.diagnostics);
    let rc = receivers.iter().find(|r| r.name == name).unwrap();
    let Some(c) = rc.sink.downcast_ref::<FileConfig>() else {
        panic!("{name} is not a file receiver")
    };
    PayloadEncoder::new(c.layout.clone(), c.de_dot)
}

/// The template value of one event (built once per event, shared by receivers).
#[divan::bench]
fn event_value_mix(bencher: Bencher) {
    let events = events();
    bencher
        .counter(divan::counter::ItemsCount::new(events.len()))
        .bench_local(|| {
            for e in &events {
                black_box(event_value(e));
            }
        });
}

/// KEE's default event JSON (receivers without a layout).
#[divan::bench]
fn kee_json_mix(bencher: Bencher) {
    let events = events();
    let mut out = Vec::with_capacity(8192);
    bencher
        .counter(divan::counter::ItemsCount::new(events.len()))
        .bench_local(|| {
            for e in &events {
                out.clear();
                kee_json(black_box(e), false, &mut out);
            }
            out.len()
        });
}

/// The `deDot` copy (labels and annotations with dots replaced).
#[divan::bench]
fn dedot_mix(bencher: Bencher) {
    let events = events();
    bencher
        .counter(divan::counter::ItemsCount::new(events.len()))
        .bench_local(|| {
            events
                .iter()
                .filter(|e| matches!(black_box(dedot_event(e)), std::borrow::Cow::Owned(_)))
                .count()
        });
}

/// One receiver's payload (layout, or KEE JSON for `dump`) for every sample, with the
/// event value prebuilt as the ruler does.
#[divan::bench(args = RECEIVER_NAMES)]
fn payload(bencher: Bencher, receiver: &str) {
    let enc = encoder(receiver);
    let deliveries: Vec<Delivery> = events()
        .into_iter()
        .map(|e| {
            let v = event_value(&e);
            Delivery::new(e, v, AckRef::detached())
        })
        .collect();
    let mut out = Vec::with_capacity(8192);
    bencher
        .counter(divan::counter::ItemsCount::new(deliveries.len()))
        .bench_local(|| {
            for d in &deliveries {
                out.clear();
                enc.encode(black_box(d), &mut out).unwrap();
            }
            out.len()
        });
}

/// The protobuf → domain conversion the ruler does for every received event.
#[divan::bench]
fn from_protobuf_mix(bencher: Bencher) {
    let pbs: Vec<herald_proto::pb::Event> = events()
        .iter()
        .map(|e| herald_proto::pb::Event::from(Event::clone(e)))
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(pbs.len()))
        .with_inputs(|| pbs.clone())
        .bench_local_values(|pbs| {
            for pb in pbs {
                black_box(Event::from(pb));
            }
        });
}
