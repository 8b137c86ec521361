//! `herald`, the command-line tool: `run` (exporter and ruler in one process),
//! `demo`, `tail`, `groups`, `check-config`, `route` and `simulate`.

pub mod check;
pub mod combined;
pub mod demo;
pub mod groups;
pub mod simulate;
pub mod tail;
