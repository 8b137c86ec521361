//! `stdout:` settings: `deDot`, `layout`.

use std::convert::Infallible;

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Node, child_path, decode_with};
use serde::Deserialize;

use super::StdoutSink;
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::{JsonLines, LayoutSpec, PayloadEncoder};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStdoutConfig {
    #[serde(default)]
    de_dot: bool,
    #[serde(default)]
    layout: Option<Node>,
}

/// A `stdout:` receiver.
#[derive(Debug, Clone, Default)]
pub struct StdoutConfig {
    /// Replace `.` with `_` in label and annotation keys before rendering.
    pub de_dot: bool,
    /// The document written per event; `None` writes the KEE event JSON.
    pub layout: Option<LayoutSpec>,
}

impl StdoutConfig {
    /// The request builder of this receiver: its layout (or the KEE event
    /// JSON) as one line per event, `deDot` applied first.
    pub(super) fn lines(&self) -> JsonLines {
        JsonLines::new(PayloadEncoder::new(self.layout.clone(), self.de_dot))
    }

    /// Decodes and checks a `stdout:` node (`stdout: {}` is the usual form).
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        if node.is_null() {
            return Some(StdoutConfig::default());
        }
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawStdoutConfig = decode_with(node, &options, diags)?;
        let layout = match &raw.layout {
            Some(l) if !l.is_null() => Some(LayoutSpec::from_node(
                l,
                &child_path(path, "layout"),
                diags,
            )?),
            _ => None,
        };
        Some(StdoutConfig {
            de_dot: raw.de_dot,
            layout,
        })
    }
}

#[async_trait]
impl SinkType for StdoutConfig {
    const NAME: &'static str = "stdout";
    /// Up to 500 already-queued events per write, flushed once.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::STREAM;
    type Sink = StdoutSink;
    type BuildError = Infallible;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        StdoutConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> JsonLines {
        self.lines()
    }

    async fn build(&self, _cx: &mut BuildContext<'_>) -> Result<StdoutSink, Infallible> {
        Ok(StdoutSink::new(self))
    }
}
