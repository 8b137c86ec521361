//! `inMemory:` settings (herald's `maxEvents`).

use std::convert::Infallible;

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, decode_with};
use serde::Deserialize;

use super::{InMemoryBuilder, InMemorySink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInMemoryConfig {
    #[serde(default)]
    max_events: Option<Located<usize>>,
}

/// An `inMemory:` receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMemoryConfig {
    /// Events kept; the oldest are forgotten first.
    pub max_events: usize,
}

impl Default for InMemoryConfig {
    fn default() -> Self {
        InMemoryConfig {
            max_events: InMemoryConfig::DEFAULT_MAX_EVENTS,
        }
    }
}

impl InMemoryConfig {
    /// Default of `maxEvents`.
    pub const DEFAULT_MAX_EVENTS: usize = 10_000;

    /// Decodes and checks an `inMemory:` node (`inMemory: {}`).
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        if node.is_null() {
            return Some(InMemoryConfig::default());
        }
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawInMemoryConfig = decode_with(node, &options, diags)?;
        match raw.max_events {
            Some(m) if m.value == 0 => {
                m.error(diags, "maxEvents must be at least 1");
                None
            }
            Some(m) => Some(InMemoryConfig {
                max_events: m.value,
            }),
            None => Some(InMemoryConfig::default()),
        }
    }
}

#[async_trait]
impl SinkType for InMemoryConfig {
    const NAME: &'static str = "inMemory";
    /// Up to 500 already-queued events at once.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::STREAM;
    type Sink = InMemorySink;
    type BuildError = Infallible;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        InMemoryConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> InMemoryBuilder {
        InMemoryBuilder
    }

    /// Exposes the store: [`SinkSet::in_memory`](crate::SinkSet::in_memory).
    async fn build(&self, cx: &mut BuildContext<'_>) -> Result<InMemorySink, Infallible> {
        let sink = InMemorySink::new(self);
        cx.expose(sink.store());
        Ok(sink)
    }
}
