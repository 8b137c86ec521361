//! Log setup from kubernetes-event-exporter's `logLevel` and `logFormat` keys.
//!
//! `logFormat: json` writes JSON lines to stderr (as KEE); anything else (`""`,
//! `pretty`) writes human-readable lines — to **stderr**, not stdout as KEE did, so
//! log lines never interleave with the `stdout` sink's events. The environment
//! variable `HERALD_LOG` (a tracing filter such as `info,herald_exporter=debug`)
//! overrides `logLevel`. [`init_with_traces`] adds OpenTelemetry traces when the
//! environment asks for them (see [`crate::traces`]).

use opentelemetry_sdk::trace::SdkTracer;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::traces::{self, TRACE_TARGET, Traces, TracesError};

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
    /// The OTLP trace exporter cannot be built.
    #[error(transparent)]
    Traces(#[from] TracesError),
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
    install(level, format, None).map(drop)
}

/// [`init`], plus OpenTelemetry traces of `service` when `OTEL_EXPORTER_OTLP_ENDPOINT`
/// (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Call it inside the tokio
/// runtime, and [`Traces::shutdown`] the result before exiting.
///
/// # Errors
/// As [`init`], and an OTLP exporter that cannot be built from the environment.
pub fn init_with_traces(
    level: &str,
    format: &str,
    service: &str,
) -> Result<Option<Traces>, LogSetupError> {
    install(level, format, Some(service))
}

type TraceLayer = Option<Filtered<OpenTelemetryLayer<Registry, SdkTracer>, Targets, Registry>>;
type WithTraces = Layered<TraceLayer, Registry>;

/// Log lines and trace spans are filtered apart: the lines never show the
/// [`TRACE_TARGET`] spans, and only those spans go to OpenTelemetry. Without traces
/// nothing enables those spans, so they cost next to nothing.
fn install(
    level: &str,
    format: &str,
    service: Option<&str>,
) -> Result<Option<Traces>, LogSetupError> {
    let directive = level_directive(level)?;
    let filter = match std::env::var("HERALD_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::try_new(format!("{f},{TRACE_TARGET}=off"))
            .map_err(|e| LogSetupError::Filter(e.to_string()))?,
        _ => EnvFilter::new(format!(
            "{directive},h2=warn,hyper=warn,tower=warn,rustls=warn,kube=warn,kube_client=off,\
             opentelemetry=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn,{TRACE_TARGET}=off"
        )),
    };
    let lines: Box<dyn Layer<WithTraces> + Send + Sync> = match format {
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        "" | "pretty" => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        other => return Err(LogSetupError::Format(other.to_owned())),
    };
    let (traces, layer) = match service {
        Some(name) if traces::wanted() => {
            let (t, l) = Traces::start::<Registry>(name)?;
            let only_spans = Targets::new().with_target(TRACE_TARGET, tracing::Level::INFO);
            (Some(t), Some(l.with_filter(only_spans)))
        }
        _ => (None, None),
    };
    let installed = tracing_subscriber::registry()
        .with(layer)
        .with(lines)
        .try_init();
    // an already-installed subscriber (tests, combined mode) is fine; its traces
    // pipeline, if any, stays the one in use
    Ok(if installed.is_ok() { traces } else { None })
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
