//! herald's wire contract and domain model.
//!
//! * [`pb`]: the generated `herald.v1` protobuf/gRPC code (committed under `src/gen/`,
//!   kept current by `tests/bootstrap.rs`). Only the gRPC edges of the exporter and the
//!   ruler use it.
//! * [`Event`]: the domain form of an enriched Kubernetes Event that sinks, templates
//!   and the route tree see, with conversions to and from [`pb::Event`].
//! * [`encoded`]: the subscribe response with each event left encoded (same wire format).
//! * [`kube_json`]: the one place that turns a core/v1 Event as the API server sends it
//!   into an [`Event`].

pub mod convert;
pub mod encoded;
pub mod event;
pub mod kube_json;

pub use event::{
    Event, EventSeries, EventSource, InvolvedObject, Lookup, ObjectMeta, ObjectReference,
    Observation, OccurrenceId, OwnerReference,
};
pub use kube_json::{EventJsonError, parse_kube_event};

/// Generated protobuf and gRPC code for package `herald.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    include!("gen/herald.v1.rs");

    /// Encoded `FileDescriptorSet` of the herald.v1 protos, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("gen/herald_v1_descriptor.bin");

    /// Fully qualified name of the log service, as used by gRPC health checks.
    pub const EVENT_LOG_SERVICE: &str = "herald.v1.EventLog";

    /// Metadata key (value `true`) of an `UNAVAILABLE` status by which a standby
    /// exporter refuses a subscriber it has nothing for (see `Subscribe`).
    pub const STANDBY_METADATA: &str = "herald-standby";
}
