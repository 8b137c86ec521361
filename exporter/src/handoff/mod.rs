//! Failover handoff: what a leader tells its successor through the Lease, so that
//! the successor logs again only the occurrences consumers had not acknowledged.
//!
//! A standby does not watch, so when it takes over it must learn from the Lease which
//! Event changes the old leader already handled. The leader publishes a
//! [`Checkpoint`]: every change up to resourceVersion `coveredRv` was handled, and
//! every occurrence it logged from them is acknowledged by every consumer group,
//! except the changes listed in `pending` (logged but not acknowledged by all). The
//! successor resumes the watch from the acknowledged prefix and, per change, follows
//! [`Handover::decide`]: skip what is covered and not pending, log the rest.
//!
//! What was acknowledged after the last publication would be logged again, so the
//! publication gates the consumers ([`gate`]): a consumer group member's credits,
//! returned with its acknowledgements, are handed back to the session only once a
//! checkpoint computed after those acknowledgements is in the Lease. A member thus
//! never holds more events that the successor would log again than its credit
//! window, which is exactly what a crash of that member would redeliver anyway.
//!
//! Why not something else:
//! * publishing the position handed out (instead of the one acknowledged) and
//!   skipping it would lose what was handed out but never reached a consumer;
//! * dedup by idempotency key at the new leader needs the old leader's occurrence
//!   memory, which lives on its disk;
//! * reading the old leader's log over gRPC needs the old leader to be up, which a
//!   `kill -9` or a lost node rules out.
//!
//! The Lease is the right medium: writes are conditional on its resourceVersion, so a
//! publication that succeeded was made by the holder and is what the next holder reads
//! when it takes the lease over.

pub mod checkpoint;
pub mod gate;
pub mod publisher;

pub use checkpoint::{Checkpoint, Decision, Handover};
pub use gate::{CreditGate, Handoff};
pub use publisher::Publisher;
