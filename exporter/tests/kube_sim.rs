//! Integration tests of the exporter's Kubernetes side against `herald-kubesim`.
//!
//! One test binary (the modules below) keeps link time down.

#[path = "kube_sim/common.rs"]
mod common;

#[path = "kube_sim/client.rs"]
mod client;

#[path = "kube_sim/enrich.rs"]
mod enrich;

#[path = "kube_sim/leader.rs"]
mod leader;

#[path = "kube_sim/watcher.rs"]
mod watcher;
