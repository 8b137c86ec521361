//! `file:` settings, with KEE's lower-case keys: `path`, `layout`, `maxsize`
//! (MB), `maxage` (days), `maxbackups`, `deDot`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use herald_config::{DecodeOptions, Diagnostics, Located, Node, child_path, decode_with};
use serde::Deserialize;

use super::{FileError, FileSink};
use crate::driver::BatchSettings;
use crate::registry::{BuildContext, SinkType};
use crate::util::{JsonLines, LayoutSpec, PayloadEncoder};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFileConfig {
    #[serde(default)]
    path: Located<String>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default, rename = "maxsize")]
    max_size: Located<i64>,
    #[serde(default, rename = "maxage")]
    max_age: Located<i64>,
    #[serde(default, rename = "maxbackups")]
    max_backups: Located<i64>,
    #[serde(default)]
    de_dot: bool,
}

/// A `file:` receiver.
#[derive(Debug, Clone)]
pub struct FileConfig {
    /// The file written. Empty in the config means lumberjack's default,
    /// `<tmpdir>/herald-lumberjack.log`.
    pub path: PathBuf,
    /// The document written per event; `None` writes the KEE event JSON.
    pub layout: Option<LayoutSpec>,
    /// Rotate before the file would exceed this many bytes (`maxsize` MB; 0
    /// in the config means 100 MB).
    pub max_size_bytes: u64,
    /// Delete backups older than this many days; 0 keeps them.
    pub max_age_days: u64,
    /// Keep at most this many backups; 0 keeps all.
    pub max_backups: usize,
    /// Replace `.` with `_` in label and annotation keys before rendering.
    pub de_dot: bool,
}

/// lumberjack's default `maxsize`, in MB.
const DEFAULT_MAX_SIZE_MB: u64 = 100;
const MEGABYTE: u64 = 1024 * 1024;

impl FileConfig {
    /// The request builder of this receiver: its layout (or the KEE event
    /// JSON) as one line per event, `deDot` applied first.
    pub(super) fn lines(&self) -> JsonLines {
        JsonLines::new(PayloadEncoder::new(self.layout.clone(), self.de_dot))
    }

    /// Decodes and checks a `file:` node.
    pub(crate) fn from_node(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let options = DecodeOptions {
            path,
            strict_types: &[],
        };
        let raw: RawFileConfig = decode_with(node, &options, diags)?;
        let before = diags.error_count();
        let non_negative = |v: &Located<i64>, what: &str, diags: &mut Diagnostics| {
            u64::try_from(v.value).unwrap_or_else(|_| {
                v.error(diags, format!("{what} must not be negative"));
                0
            })
        };
        let max_size_mb = non_negative(&raw.max_size, "maxsize", diags);
        let max_age_days = non_negative(&raw.max_age, "maxage", diags);
        let max_backups = non_negative(&raw.max_backups, "maxbackups", diags);
        let max_size_mb = if max_size_mb == 0 {
            DEFAULT_MAX_SIZE_MB
        } else {
            max_size_mb
        };
        let file_path = if raw.path.value.is_empty() {
            let default = std::env::temp_dir().join("herald-lumberjack.log");
            diags
                .warning(
                    node.loc,
                    format!("no `path` set, writing to `{}`", default.display()),
                )
                .with_path(path)
                .with_hint(
                    "set `path:` to the file to write (lumberjack's default is a temporary file)",
                );
            default
        } else {
            PathBuf::from(&raw.path.value)
        };
        if diags.checks_files_of(herald_config::Role::Ruler) {
            check_writable_path(&file_path, &raw.path, diags);
        }
        let layout = match &raw.layout {
            Some(l) if !l.is_null() => Some(LayoutSpec::from_node(
                l,
                &child_path(path, "layout"),
                diags,
            )?),
            _ => None,
        };
        (diags.error_count() == before).then(|| FileConfig {
            path: file_path,
            layout,
            max_size_bytes: max_size_mb.saturating_mul(MEGABYTE),
            max_age_days,
            max_backups: usize::try_from(max_backups).unwrap_or(usize::MAX),
            de_dot: raw.de_dot,
        })
    }
}

/// Catches paths that can never be written, without touching the file
/// system: a directory, or a path below something that is not a directory.
/// Permission problems surface when the receiver opens the file at startup.
fn check_writable_path(path: &Path, key: &Located<String>, diags: &mut Diagnostics) {
    if path.is_dir() {
        key.error(diags, format!("`{}` is a directory", path.display()))
            .with_hint("set `path:` to a file, e.g. /var/log/herald/events.log");
        return;
    }
    let existing = path.ancestors().skip(1).find(|a| a.exists());
    if let Some(ancestor) = existing
        && !ancestor.is_dir()
    {
        key.error(
            diags,
            format!(
                "cannot create `{}`: `{}` is not a directory",
                path.display(),
                ancestor.display()
            ),
        );
    }
}

#[async_trait]
impl SinkType for FileConfig {
    const NAME: &'static str = "file";
    /// Up to 500 already-queued events per write and `fsync`.
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::STREAM;
    type Sink = FileSink;
    type BuildError = FileError;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        FileConfig::from_node(node, path, diags)
    }

    fn request_builder(&self, _name: &str) -> JsonLines {
        self.lines()
    }

    async fn build(&self, _cx: &mut BuildContext<'_>) -> Result<FileSink, FileError> {
        FileSink::open(self).await
    }
}
