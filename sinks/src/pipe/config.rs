//! `pipe:` settings: `path`, `deDot`, `layout`.

use std::path::PathBuf;

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use serde::Deserialize;

use super::{PipeError, PipeSink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::{JsonLines, LayoutSpec, PayloadEncoder};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPipeConfig {
    #[serde(default)]
    path: Located<String>,
    #[serde(default)]
    de_dot: bool,
    #[serde(default)]
    layout: Option<Node>,
}

/// A `pipe:` receiver.
#[derive(Debug, Clone)]
pub struct PipeConfig {
    /// The FIFO, device or file written.
    pub path: PathBuf,
    /// Replace `.` with `_` in label and annotation keys before rendering.
    pub de_dot: bool,
    /// The document written per event; `None` writes the KEE event JSON.
    pub layout: Option<LayoutSpec>,
}

impl PipeConfig {
    /// The request builder of this receiver: its layout (or the KEE event
    /// JSON) as one line per event, `deDot` applied first.
    pub(super) fn lines(&self) -> JsonLines {
        JsonLines::new(PayloadEncoder::new(self.layout.clone(), self.de_dot))
    }

    /// Decodes and checks a `pipe:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawPipeConfig = decode_with(node, &options, diags)?;
        if raw.path.value.is_empty() {
            diags
                .error(raw.path.location, "pipe needs a `path`")
                .with_path(child_path(path, "path"))
                .with_hint("set `path:` to a FIFO or to /dev/stdout");
            return None;
        }
        if diags.checks_files_of(herald_config::Role::Ruler)
            && std::path::Path::new(&raw.path.value).is_dir()
        {
            raw.path
                .error(diags, format!("`{}` is a directory", raw.path.value))
                .with_hint("set `path:` to a FIFO or to /dev/stdout");
            return None;
        }
        let layout = match &raw.layout {
            Some(l) if !l.is_null() => Some(LayoutSpec::from_node(
                l,
                &child_path(path, "layout"),
                diags,
            )?),
            _ => None,
        };
        Some(PipeConfig {
            path: PathBuf::from(raw.path.value),
            de_dot: raw.de_dot,
            layout,
        })
    }
}

#[async_trait]
impl SinkType for PipeConfig {
    const NAME: &'static str = "pipe";
    /// Up to 500 already-queued events per write.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::STREAM;
    type Sink = PipeSink;
    type BuildError = PipeError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        PipeConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> JsonLines {
        self.lines()
    }

    async fn build(&self, _cx: &mut BuildContext<'_>) -> Result<PipeSink, PipeError> {
        PipeSink::open(self).await
    }
}
