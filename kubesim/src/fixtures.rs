//! The real API server captures this simulator reproduces, embedded at compile time
//! (see `fixtures/README.md` for how each was taken).

/// `GET /api/v1/events` at RV 279: the 72 captured events.
pub const CORE_EVENT_LIST: &[u8] = include_bytes!("../fixtures/core-v1-eventlist.json");
/// `GET /api`.
pub const DISCOVERY_API: &[u8] = include_bytes!("../fixtures/discovery-api.json");
/// `GET /apis`.
pub const DISCOVERY_APIS: &[u8] = include_bytes!("../fixtures/discovery-apis.json");
/// `GET /version` (pretty-printed, no trailing newline).
pub const VERSION: &[u8] = include_bytes!("../fixtures/version.json");
/// The plain-text 429 body.
pub const TOO_MANY_REQUESTS: &[u8] = include_bytes!("../fixtures/event-create-429.txt");
/// `GET /api/v1/namespaces` as PartialObjectMetadataList (6 namespaces).
pub const NAMESPACE_LIST_METADATA: &[u8] =
    include_bytes!("../fixtures/namespace-list-metadata.json");
/// PartialObjectMetadata of pod `shop/nginx-55b49f585d-pjdb6`.
pub const POD_METADATA: &[u8] = include_bytes!("../fixtures/involved-pod-metadata.json");

/// The address the captures were taken against, as it appears in `/api`.
pub const CAPTURE_SERVER_ADDRESS: &str = "127.0.0.1:6443";
