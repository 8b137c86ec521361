//! Shared test support: herald's binaries as child processes, the API simulator with
//! herald around it, an HTTP target for webhook receivers, and probes (metrics, log
//! status, output files, logs).

pub mod cluster;
pub mod probe;
pub mod procs;
pub mod target;
