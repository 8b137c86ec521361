//! `herald-kubesim`: a list/watch-faithful Kubernetes API server simulator.
//!
//! No real kube-apiserver can run in herald's test environment, so the exporter (a kube-rs
//! client) is tested against this simulator through real binaries, and `herald demo`
//! uses it to show a live cluster. Its responses are modelled on real captures from a
//! v1.24 API server (`fixtures/`): status codes, `Status` bodies, headers, watch framing,
//! continue tokens, 410 and 429 shapes match byte for byte where captured.
//!
//! It serves:
//! * Events (`/api/v1[/namespaces/{ns}]/events`, and the same storage as
//!   `events.k8s.io/v1`): lists with `limit`/`continue`, `resourceVersion` and
//!   `resourceVersionMatch`; watches with ADDED/MODIFIED/DELETED/BOOKMARK/ERROR lines;
//! * involved objects and namespaces (full or `PartialObjectMetadata`), leases with
//!   optimistic concurrency, and discovery (`/api`, `/apis`, `/version`, resource lists);
//! * custom resources registered from their CustomResourceDefinition
//!   ([`ResourceDef::from_crd`]): `metadata.generation`, and merge patches of the
//!   `status` subresource when the CRD declares it (404 otherwise, as the API server);
//! * bearer-token and client-certificate authentication over optional TLS.
//!
//! Tests drive the store through [`Simulator`] (every write bumps one global revision,
//! as in etcd), inject faults through [`Faults`], and can generate realistic traffic with
//! [`scenario`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_kubesim::SimError> {
//! use herald_kubesim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! sim.load_fixture_events()?;
//! let url = format!("{}/api/v1/events?limit=3", sim.url());
//! # let _ = url;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod config;
mod continue_token;
mod discovery;
mod error;
mod faults;
mod fixtures;
mod json;
mod kubeconfig;
pub mod model;
mod records;
mod resources;
pub mod scenario;
mod server;
mod shared;
mod sim;
mod status;
mod store;
pub mod time;
pub mod tls;

pub use config::{KubeconfigAuth, SimConfig, TlsMode};
pub use error::SimError;
pub use faults::{BadListItem, Faults, HttpFault};
pub use kubeconfig::ServiceAccountDir;
pub use records::RequestRecord;
pub use resources::{ResourceDef, Subresource};
pub use sim::Simulator;
