//! Where a hook's `event["pod"]` comes from (`enrichPod`): the full Pod of a
//! Pod's event, read from the API server by the process that runs the hook.

use serde_json::Value;

/// The answer for one Pod.
#[derive(Debug, Clone, PartialEq)]
pub enum PodLookup {
    /// The Pod, as the API server serves it.
    Found(Value),
    /// There is no such Pod (404).
    NotFound,
    /// The Pod could not be read (no answer in time, no permission, …).
    Failed(String),
}

/// Reads Pods for hooks; called on the hook's blocking thread.
pub trait PodSource: Send + Sync + 'static {
    /// The Pod `namespace/name`.
    fn pod(&self, namespace: &str, name: &str) -> PodLookup;
}
