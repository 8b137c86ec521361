//! OpenTelemetry traces over OTLP/gRPC.
//!
//! Off unless the standard `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not
//! `true`); the other standard variables apply as the OpenTelemetry SDK reads them
//! (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_HEADERS`…). herald's spans are
//! per batch, never per event: `herald.ingest.append` (the exporter's durable
//! commits), `herald.route` (a ruler's routing of one batch) and `herald.sink.send`
//! (one receiver request, with its attempts and outcome).
//!
//! The exporter is built inside the tokio runtime (its gRPC channel runs there);
//! spans are batched by the SDK's own thread and flushed by [`Traces::shutdown`].

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetryLayer;

/// The `tracing` target of herald's trace spans (`info_span!(target: "herald_trace", …)`):
/// they go to OpenTelemetry only, never to the log lines.
pub const TRACE_TARGET: &str = "herald_trace";

/// How long [`Traces::shutdown`] waits for the last spans to be sent.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Traces cannot be exported as configured.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up OpenTelemetry traces (check OTEL_EXPORTER_OTLP_ENDPOINT): {0}")]
pub struct TracesError(String);

/// Whether the environment asks for traces.
pub fn wanted() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled =
        std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The running trace pipeline; call [`Traces::shutdown`] before exiting.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Starts the OTLP/gRPC pipeline for `service` (unless `OTEL_SERVICE_NAME`
    /// names it) and returns the tracing layer that feeds it.
    ///
    /// # Errors
    /// The exporter cannot be built (a malformed endpoint or header).
    pub fn start<S>(
        service: &str,
    ) -> Result<(Traces, OpenTelemetryLayer<S, SdkTracer>), TracesError>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let exporter = SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TracesError(e.to_string()))?;
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(service.to_owned());
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("herald");
        let layer = tracing_opentelemetry::layer().with_tracer(tracer);
        Ok((Traces { provider }, layer))
    }

    /// Sends the spans still buffered (at most [`SHUTDOWN_TIMEOUT`]) and stops.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let done =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the last spans could not be exported"),
            Err(e) => tracing::warn!(error = %e, "stopping the trace exporter failed"),
        }
    }
}
