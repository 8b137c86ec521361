//! herald's receiver test kit, for the tests of every sink and the
//! end-to-end tests:
//!
//! * [`http`]: [`FakeHttp`], a fake HTTP/1.1 target on 127.0.0.1 that records
//!   every request exactly as it arrived (method, target, header names in
//!   their case and order, body) and answers as the test scripts it (status,
//!   headers such as `Retry-After`, body, delay, or never);
//! * [`driver`]: [`DriverHarness`], a sink running in the real delivery
//!   driver with the settings a test gives, fed events by the test, which
//!   reads back every acknowledgement and the driver's metrics.
//!
//! herald-sinks' own unit tests use [`http`] only: the harness links the
//! library build of herald-sinks, whose types differ from the ones a unit
//! test sees, so tests that run a sink through the harness live in
//! `sinks/tests/`.

pub mod driver;
pub mod http;

pub use driver::DriverHarness;
pub use http::{FakeHttp, Recorded, Reply};
