//! Micro-benchmarks of kube-events rules: an event's JSON view, and the 100 rules of
//! `bench/fixtures/rules.yaml` (kube-events' default set plus three using herald's
//! additions) over the sample events of `bench/fixtures/events.json`.
//!
//! `cargo bench -p herald-rules --bench rules` (divan; `-- --help` for options).

#![allow(missing_docs)]

use divan::{Bencher, black_box};
use herald_rules::{CompiledRule, RuleSpec, event_view};

#[path = "../../bench/fixtures/samples.rs"]
#[allow(dead_code)]
mod samples;

fn main() {
    divan::main();
}

#[derive(serde::Deserialize)]
struct RuleObject {
    spec: Spec,
}

#[derive(serde::Deserialize)]
struct Spec {
    rules: Vec<RuleSpec>,
}

fn rules() -> Vec<CompiledRule> {
    let obj: RuleObject =
        serde_saphyr::from_str(include_str!("../../bench/fixtures/rules.yaml")).unwrap();
    obj.spec
        .rules
        .iter()
        .map(|r| CompiledRule::compile(r).unwrap())
        .filter(|r| r.enabled)
        .collect()
}

/// Building the view of every sample event.
#[divan::bench]
fn view(bencher: Bencher) {
    let events: Vec<_> = samples::load()
        .unwrap()
        .into_iter()
        .map(|s| s.event)
        .collect();
    bencher.bench_local(|| {
        for ev in &events {
            black_box(event_view(black_box(ev)));
        }
    });
}

/// Every enabled rule over every sample event (views built once per event).
#[divan::bench]
fn all_rules(bencher: Bencher) {
    let rules = rules();
    let events: Vec<_> = samples::load()
        .unwrap()
        .into_iter()
        .map(|s| s.event)
        .collect();
    bencher.bench_local(|| {
        let mut n = 0usize;
        for ev in &events {
            let view = event_view(ev);
            n += rules.iter().filter(|r| r.matches(&view)).count();
        }
        n
    });
}
