//! Telemetry shared by herald's binaries: log setup (kubernetes-event-exporter's
//! `logLevel`/`logFormat`), the admin HTTP server (`/metrics`, `/-/healthy`,
//! `/-/ready`), health checks and the kubernetes-event-exporter compatible metrics.

pub mod admin;
pub mod health;
pub mod kee;
pub mod logging;
pub mod malloc;
pub mod process;
pub mod traces;

pub use admin::{AdminServer, RunningAdmin, serve_admin, start_admin};
pub use health::{Health, Probe};
pub use kee::KeeMetrics;
