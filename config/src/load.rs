//! Loading the configuration file: read, expand the environment, parse YAML,
//! decode, validate, and return the config with its warnings, or every
//! problem found.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostics::Diagnostics;
use crate::expand::expand_env;
use crate::location::SourceFile;
use crate::model::{Config, Role, decode_config};
use crate::yaml::parse_expanded;

/// A loaded configuration with the file it came from and its warnings.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The typed configuration.
    pub config: Config,
    /// The file as the user wrote it (for rendering later diagnostics).
    pub source: SourceFile,
    /// Warnings (never errors); other crates may add their own, e.g. while
    /// decoding `route` and `receivers`.
    pub diagnostics: Diagnostics,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("config file {} is not valid UTF-8 (invalid byte at offset {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The file has at least one error; every problem found is listed.
    #[error("invalid configuration ({count} error(s)):\n{0}", count = .0.error_count())]
    Invalid(Diagnostics),
}

/// Loads the configuration file at `path`, expanding variables from the
/// process environment.
///
/// # Errors
/// [`ConfigError::Read`] or [`ConfigError::NotUtf8`] when the file cannot be
/// read as text, [`ConfigError::Invalid`] with every diagnostic when it has
/// an error.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    load_file_for(path, Role::All)
}

/// Like [`load_file`], opening only the files the given process uses.
///
/// # Errors
/// As [`load_file`].
pub fn load_file_for(path: &Path, role: Role) -> Result<LoadedConfig, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    load_str_for(&path.display().to_string(), &text, process_env, role)
}

/// Looks a variable up in the process environment, as Go's `os.Getenv` does
/// (names the OS cannot hold are unset; non-UTF-8 values are converted
/// lossily).
fn process_env(name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Loads a configuration from text. `name` is used in messages (usually the
/// path); `env` looks up environment variables.
///
/// # Errors
/// [`ConfigError::Invalid`] with every diagnostic when the text has an error.
pub fn load_str(
    name: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    load_str_for(name, text, env, Role::All)
}

/// Like [`load_str`], opening only the files the given process uses.
///
/// # Errors
/// As [`load_str`].
pub fn load_str_for(
    name: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
    role: Role,
) -> Result<LoadedConfig, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Arc::new(SourceFile::new(name, text));
    let mut diagnostics = Diagnostics::for_source(source.clone());
    diagnostics.set_role(role);
    let expanded = expand_env(text, env);
    diagnostics.hide_env_values(&expanded.env_values());
    expanded.report(&mut diagnostics);
    let config = parse_expanded(&expanded, &source, &mut diagnostics)
        .and_then(|root| decode_config(&root, role, &mut diagnostics));
    match config {
        Some(config) if !diagnostics.has_errors() => Ok(LoadedConfig {
            config,
            source: SourceFile::clone(&source),
            diagnostics,
        }),
        _ => Err(ConfigError::Invalid(diagnostics)),
    }
}
