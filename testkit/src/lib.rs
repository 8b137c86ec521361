//! herald's receiver test kit, for the tests of every sink and the
//! end-to-end tests:
//!
//! * [`http`]: [`FakeHttp`], a fake HTTP/1.1 target on 127.0.0.1 that records
//!   every request exactly as it arrived (method, target, header names in
//!   their case and order, body) and answers as the test scripts it (status,
//!   headers such as `Retry-After`, body, delay, or never).

pub mod http;

pub use http::{FakeHttp, Recorded, Reply};
