//! Log setup from kubernetes-event-exporter's `logLevel` and `logFormat` keys.
//!
//! `logFormat: json` writes JSON lines to stderr (as KEE); anything else (`""`,
//! `pretty`) writes human-readable lines — to **stderr**, not stdout as KEE did, so
//! log lines never interleave with the `stdout` sink's events. The environment
//! variable `HERALD_LOG` (a tracing filter such as `info,herald_exporter=debug`)
//! overrides `logLevel`.

use tracing_subscriber::EnvFilter;

/// A `logLevel` or `logFormat` value that herald does not know.
#[derive(Debug, thiserror::Error)]
pub enum LogSetupError {
    /// Unknown `logLevel`.
    #[error(
        "invalid logLevel {0:?}: use trace, debug, info, warn, error, fatal, panic or disabled"
    )]
    Level(String),
    /// Unknown `logFormat`.
    #[error("unknown logFormat {0:?}: use json or pretty")]
    Format(String),
    /// `HERALD_LOG` does not parse.
    #[error("HERALD_LOG is not a valid filter: {0}")]
    Filter(String),
}

/// Maps a KEE/zerolog level to a tracing filter directive.
///
/// # Errors
/// Unknown level names.
pub fn level_directive(level: &str) -> Result<&'static str, LogSetupError> {
    Ok(match level {
        "" | "info" => "info",
        "trace" => "trace",
        "debug" => "debug",
        "warn" | "warning" => "warn",
        "error" | "fatal" | "panic" => "error",
        "disabled" => "off",
        other => return Err(LogSetupError::Level(other.to_owned())),
    })
}

/// Installs the global subscriber. Safe to call more than once (later calls are
/// ignored, which tests rely on).
///
/// # Errors
/// Unknown level or format, or a bad `HERALD_LOG`.
pub fn init(level: &str, format: &str) -> Result<(), LogSetupError> {
    let directive = level_directive(level)?;
    let filter = match std::env::var("HERALD_LOG") {
        Ok(f) if !f.is_empty() => {
            EnvFilter::try_new(&f).map_err(|e| LogSetupError::Filter(e.to_string()))?
        }
        _ => EnvFilter::new(format!(
            "{directive},h2=warn,hyper=warn,tower=warn,rustls=warn,kube=warn,kube_client=off"
        )),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        "json" => builder.json().flatten_event(true).try_init(),
        "" | "pretty" => builder.with_ansi(false).try_init(),
        other => return Err(LogSetupError::Format(other.to_owned())),
    };
    // an already-installed subscriber (tests, combined mode) is fine
    drop(result);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kee_levels_map_and_unknown_ones_fail() {
        assert_eq!(level_directive("").unwrap(), "info");
        assert_eq!(level_directive("fatal").unwrap(), "error");
        assert_eq!(level_directive("disabled").unwrap(), "off");
        assert!(matches!(
            level_directive("loud"),
            Err(LogSetupError::Level(_))
        ));
        assert!(matches!(init("info", "xml"), Err(LogSetupError::Format(_))));
    }
}
