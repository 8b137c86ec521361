//! End-to-end and command-line tests of herald's binaries (`herald`, `herald-exporter`,
//! `herald-ruler`) against the API simulator and in-test receiver targets.
//!
//! Every process is started by [`support::procs::Proc`], which kills it on drop, so a
//! failing test leaves nothing running. The binaries of other packages must be built
//! (`cargo test --workspace` builds them first).

mod support;

mod check_config;
mod combined;
mod dashboard;
mod demo;
mod failover;
mod groups;
mod isolation;
mod namespace_selector;
mod pipeline;
mod receiver_faults;
mod route;
mod rule_objects;
mod rules;
mod shutdown;
mod tail;
mod traces;
