//! `stdout:` settings: `deDot`, `layout`.

use herald_config::{DecodeOptions, Diagnostics, Node, child_path, decode_with};
use serde::Deserialize;

use crate::util::LayoutSpec;

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
