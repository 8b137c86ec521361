//! [`SinkType`]: what every receiver type's config struct implements.

use std::any::Any;
use std::fmt;

use async_trait::async_trait;
use herald_config::{Diagnostics, Node};

use super::Handles;
use crate::driver::{BatchSettings, DeliverySettings, Sink};

/// A receiver type, implemented by the config struct of its folder
/// (`WebhookConfig`). Everything herald does with the type goes through this
/// trait: decoding its block, its batch defaults, starting its sink and
/// previewing its requests.
#[async_trait]
pub trait SinkType: fmt::Debug + Send + Sync + Sized + 'static {
    /// The config key (`webhook`); also the `sink_type` label of metrics and
    /// logs.
    const NAME: &'static str;

    /// Batching when `delivery.batch` does not say otherwise.
    const BATCH_DEFAULTS: BatchSettings;

    /// The sink this type runs.
    type Sink: Sink;

    /// Why the sink could not start (a file that cannot be opened, a TLS file
    /// that cannot be loaded).
    type BuildError: std::error::Error + Send + Sync + 'static;

    /// The receiver's delivery settings before its `delivery:` block: the
    /// driver's defaults with [`BATCH_DEFAULTS`](SinkType::BATCH_DEFAULTS),
    /// unless the type has keys of its own for them (kubernetes-event-exporter's
    /// bigquery `batch_size`, `interval_seconds`, `max_retries`,
    /// `timeout_seconds`). Keys of the `delivery:` block win.
    fn delivery_defaults(&self) -> DeliverySettings {
        DeliverySettings::with_batch(Self::BATCH_DEFAULTS)
    }

    /// Decodes and checks the type's block at `path` (`receivers[2].webhook`),
    /// recording every problem with its location in `diags`; `None` when
    /// there were errors.
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self>;

    /// Returns the request builder of receiver `name` (for its log lines),
    /// without any I/O: `herald route` previews requests with it, and the sink
    /// built by [`build`](SinkType::build) uses the same one.
    fn request_builder(&self, name: &str) -> <Self::Sink as Sink>::Builder;

    /// Starts the sink (opens files, creates clients).
    ///
    /// # Errors
    /// Whatever stops the sink from running; startup fails with it.
    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<Self::Sink, Self::BuildError>;
}

/// What a receiver is built with.
pub struct BuildContext<'a> {
    /// The receiver's name.
    pub name: &'a str,
    /// Its delivery settings: the type's batch defaults with the receiver's
    /// `delivery:` block applied.
    pub settings: &'a DeliverySettings,
    pub(crate) handles: &'a mut Handles,
}

impl BuildContext<'_> {
    /// Lets tests and tools reach into the running receiver through
    /// [`SinkSet::handle`](crate::SinkSet::handle) (the `inMemory` store).
    pub fn expose<T: Clone + Send + Sync + 'static>(&mut self, handle: T) {
        let handle: Box<dyn Any + Send + Sync> = Box::new(handle);
        self.handles.insert(self.name.to_owned(), handle);
    }
}

impl fmt::Debug for BuildContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why a sink could not be started: the receiver type's own error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SinkBuildError(Box<dyn std::error::Error + Send + Sync>);

impl SinkBuildError {
    /// Wraps a receiver type's build error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> SinkBuildError {
        SinkBuildError(Box::new(error))
    }

    /// Returns the receiver type's error, when it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref()
    }
}
