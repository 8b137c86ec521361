//! Code shared by sinks: payload encoding (layout or KEE JSON), layouts, the
//! JSON-lines request builder, HTTP helpers and TLS.

pub mod fields;
pub mod http;
pub mod layout;
pub mod line_arena;
pub mod lines;
pub mod payload;
pub mod tls;

pub use layout::LayoutSpec;
pub use lines::{JsonLines, Lines};
pub use payload::PayloadEncoder;
