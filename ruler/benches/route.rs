//! Micro-benchmarks of the route matcher: the benchmark route tree (23 rules with
//! regexes, labels, annotations, minCount and nested routes;
//! `bench/fixtures/route.yaml`) over the sample events of `bench/fixtures/events.json`,
//! and its compilation.
//!
//! `cargo bench -p herald-ruler --bench route` (divan; `-- --help` for options).

#![allow(missing_docs)]

use divan::{Bencher, black_box};
use herald_ruler::plan::Plan;
use herald_ruler::route::Selection;

#[path = "../../bench/fixtures/samples.rs"]
#[allow(dead_code)]
mod samples;

const CONFIG: &str = concat!(
    include_str!("../../bench/fixtures/route.yaml"),
    "\n",
    include_str!("../../bench/fixtures/receivers.yaml"),
);

fn main() {
    divan::main();
}

fn plan() -> Plan {
    let mut loaded = herald_config::load_str_for(
        "bench.yaml",
        CONFIG,
        |_| Some("/dev/null".to_owned()),
        herald_config::Role::Ruler,
    )
    .unwrap();
    herald_ruler::plan::plan(&loaded.config, &mut loaded.diagnostics)
        .unwrap_or_else(|| panic!("{}", loaded.diagnostics.render(&loaded.source)))
}

/// Routes each sample event on its own (the index is the sample in events.json).
#[divan::bench(args = 0..10)]
fn route_sample(bencher: Bencher, i: usize) {
    let plan = plan();
    let ev = samples::load().unwrap().swap_remove(i).event;
    let mut sel = Selection::new(plan.tree.receivers());
    bencher.bench_local(|| {
        plan.tree.route(black_box(&ev), &mut sel);
        sel.receivers().len()
    });
}

/// Routes all ten samples per iteration (the scenario's mix).
#[divan::bench]
fn route_mix(bencher: Bencher) {
    let plan = plan();
    let events: Vec<_> = samples::load()
        .unwrap()
        .into_iter()
        .map(|s| s.event)
        .collect();
    let mut sel = Selection::new(plan.tree.receivers());
    bencher
        .counter(divan::counter::ItemsCount::new(events.len()))
        .bench_local(|| {
            let mut n = 0;
            for ev in &events {
                plan.tree.route(black_box(ev), &mut sel);
                n += sel.receivers().len();
            }
            n
        });
}

/// Decoding and compiling the route tree and receivers (startup cost).
#[divan::bench]
fn compile_plan() -> Plan {
    plan()
}
