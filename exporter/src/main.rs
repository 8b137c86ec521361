//! `herald-exporter` binary.
fn main() {}
