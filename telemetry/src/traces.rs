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

/// The W3C Trace Context of a span (`traceparent`, and `tracestate` when there is
/// one), carried between processes on an event batch so that one trace shows a
/// batch from the exporter's durable commit to the receiver's request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext(std::collections::HashMap<String, String>);

impl TraceContext {
    /// The context of `span`, or None when it is not exported (traces off, or not
    /// sampled).
    pub fn of(span: &tracing::Span) -> Option<TraceContext> {
        use opentelemetry::propagation::TextMapPropagator as _;
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = span.context();
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let mut headers = std::collections::HashMap::new();
        opentelemetry_sdk::propagation::TraceContextPropagator::new()
            .inject_context(&cx, &mut headers);
        TraceContext::from_headers(headers)
    }

    /// A context received from another process; None without a `traceparent`.
    pub fn from_headers(headers: impl IntoIterator<Item = (String, String)>) -> Option<Self> {
        let headers: std::collections::HashMap<String, String> = headers.into_iter().collect();
        headers
            .contains_key("traceparent")
            .then_some(TraceContext(headers))
    }

    /// The headers, for the wire.
    pub fn headers(&self) -> &std::collections::HashMap<String, String> {
        &self.0
    }

    /// The headers in any map type (the protobuf message's, for one).
    pub fn to_headers<M: FromIterator<(String, String)>>(&self) -> M {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Makes `span` a child of this context. Call it before the span is first
    /// entered; a malformed `traceparent` leaves the span a root.
    pub fn adopt(&self, span: &tracing::Span) {
        use opentelemetry::propagation::TextMapPropagator as _;
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&self.0);
        if cx.span().span_context().is_valid() {
            // fails only when no OpenTelemetry layer is installed: nothing to join
            let _ = span.set_parent(cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn a_context_round_trips_through_its_headers_and_makes_a_child() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let parent = tracing::info_span!("parent");
            let ctx = TraceContext::of(&parent).expect("an exported span has a context");
            let traceparent = ctx.headers()["traceparent"].clone();
            // version-traceid-spanid-flags
            assert_eq!(traceparent.split('-').count(), 4, "{traceparent}");
            let received =
                TraceContext::from_headers(ctx.headers().clone()).expect("a traceparent");
            let child = tracing::info_span!(parent: None, "child");
            received.adopt(&child);
            let child_ctx = TraceContext::of(&child).expect("child context");
            let trace_id = |t: &str| t.split('-').nth(1).map(str::to_owned);
            assert_eq!(
                trace_id(&child_ctx.headers()["traceparent"]),
                trace_id(&traceparent),
                "the child joins the parent's trace"
            );
            assert_ne!(child_ctx.headers()["traceparent"], traceparent);
        });
    }

    #[test]
    fn without_traces_there_is_no_context_and_junk_is_refused() {
        assert_eq!(TraceContext::of(&tracing::info_span!("untraced")), None);
        assert_eq!(
            TraceContext::from_headers(std::collections::HashMap::new()),
            None
        );
        // a malformed traceparent is ignored, not a panic
        let junk = TraceContext::from_headers([("traceparent".to_owned(), "junk".to_owned())])
            .expect("has the key");
        junk.adopt(&tracing::info_span!("root"));
    }
}
