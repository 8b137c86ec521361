//! Code shared by sinks: payload encoding (layout or KEE JSON), layouts,
//! HTTP helpers and TLS.

pub mod http;
pub mod layout;
pub mod payload;
pub mod tls;

pub use layout::LayoutSpec;
pub use payload::PayloadEncoder;
