//! The event as sinks and templates see it.
//!
//! * [`event_value`]: kubernetes-event-exporter's `*kube.EnhancedEvent` as Go's
//!   `text/template` sees it (Go field names, embedded `v1.Event` and
//!   `v1.ObjectMeta`, the `Get*` methods), plus herald's extras.
//! * [`kee_json`]: the default JSON of an event (no layout), equal to
//!   `to_go_json(event_value(ev))` and to what KEE's `json.Marshal` writes.
//! * [`dedot_event`]: the `deDot` copy made before rendering.

mod dedot;
mod escape;
mod json;
mod time;
mod types;
mod value;

pub use dedot::dedot_event;
pub use json::kee_json;
pub use value::event_value;

#[cfg(test)]
pub(crate) mod tests;
