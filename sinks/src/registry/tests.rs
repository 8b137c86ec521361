//! Registry tests: what the list registers, feature-gated lines, and the
//! errors for types this build cannot run.

use std::sync::Arc;

use herald_config::{Diagnostics, Location, SourceFile};

use super::*;
use crate::config::{ReceiverConfig, parse_receivers_in};
use crate::driver::BatchSettings;
use crate::stdout;

fn parse_with(yaml: &str, registry: &[Registration]) -> (Vec<ReceiverConfig>, Diagnostics) {
    let source = Arc::new(SourceFile::new("config.yaml", yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let root = herald_config::yaml::parse(&source, &mut diags).expect("valid YAML");
    let receivers = root.get("receivers").cloned().unwrap_or_default();
    let parsed = parse_receivers_in(&receivers, &mut diags, registry);
    (parsed, diags)
}

#[test]
fn the_registry_has_each_type_once_with_its_folder_defaults() {
    let names: Vec<&str> = registry().iter().map(Registration::name).collect();
    for builtin in ["stdout", "file", "pipe", "webhook", "inMemory"] {
        assert!(names.contains(&builtin), "{builtin} is not registered");
    }
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        names.len(),
        "a type is registered twice: {names:?}"
    );
    let available: Vec<&str> = registry()
        .iter()
        .filter(|r| r.is_available())
        .map(Registration::name)
        .collect();
    assert_eq!(available_sink_types(), available);
    assert!(
        registry()
            .iter()
            .all(|r| r.feature().is_some() || r.is_available())
    );
    assert_eq!(
        <crate::webhook::WebhookConfig as SinkType>::BATCH_DEFAULTS,
        BatchSettings::SINGLE
    );
    assert_eq!(
        <crate::file::FileConfig as SinkType>::BATCH_DEFAULTS,
        BatchSettings::STREAM
    );
}

#[test]
fn a_gated_line_is_available_exactly_when_its_feature_is_on() {
    let entry = receivers!(@entry stdout::StdoutConfig, "stdout", "kafka");
    assert_eq!(entry.name(), "stdout");
    assert_eq!(entry.feature(), Some("kafka"));
    assert_eq!(entry.is_available(), cfg!(feature = "kafka"));
}

#[test]
fn a_type_whose_feature_is_off_is_refused_naming_the_feature() {
    let registry = [
        Registration::builtin::<stdout::StdoutConfig>(),
        Registration::without_feature("kafka", "kafka"),
    ];
    let (r, diags) = parse_with(
        "receivers:\n  - name: out\n    stdout: {}\n  - name: k\n    kafka:\n      topic: t\n",
        &registry,
    );
    assert_eq!(r.len(), 1, "{diags}");
    let errors: Vec<_> = diags.errors().collect();
    assert_eq!(errors.len(), 1, "{diags}");
    let e = errors[0];
    assert_eq!(
        e.message,
        "receiver type `kafka` needs the `kafka` feature; this build was made without it"
    );
    assert_eq!(e.location, Some(Location::new(5, 5)));
    assert_eq!(e.path.as_deref(), Some("receivers[1]"));
    let hint = e.hint.as_deref().unwrap();
    assert!(hint.contains("`kafka` feature"), "{hint}");
    assert!(hint.contains("`stdout`"), "{hint}");
    // the rendered diagnostic carries file:line
    assert!(diags.to_string().contains("config.yaml:5:5"), "{diags}");
}

#[test]
fn an_unregistered_kee_type_is_not_available_yet() {
    let registry = [Registration::builtin::<stdout::StdoutConfig>()];
    let (r, diags) = parse_with("receivers:\n  - name: s\n    sqs: {}\n", &registry);
    assert!(r.is_empty());
    let e = diags.errors().next().unwrap();
    assert_eq!(
        e.message,
        "receiver type `sqs` is not available in this build yet"
    );
    assert_eq!(e.hint.as_deref(), Some("available types: stdout"));
}

/// A type kubernetes-event-exporter never had: writes like `stdout`.
#[derive(Debug)]
struct Echo(stdout::StdoutConfig);

#[async_trait::async_trait]
impl SinkType for Echo {
    const NAME: &'static str = "echo";
    const BATCH_DEFAULTS: BatchSettings = BatchSettings::SINGLE;
    type Sink = stdout::StdoutSink;
    type BuildError = std::convert::Infallible;

    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        stdout::StdoutConfig::decode(node, path, diags).map(Echo)
    }

    fn request_builder(&self, name: &str) -> crate::util::JsonLines {
        self.0.request_builder(name)
    }

    async fn build(
        &self,
        _cx: &mut BuildContext<'_>,
    ) -> Result<stdout::StdoutSink, std::convert::Infallible> {
        Ok(stdout::StdoutSink::with_writer(
            &self.0,
            Box::new(tokio::io::sink()),
        ))
    }
}

#[test]
fn a_registered_type_kee_never_had_is_a_sink_key_too() {
    let registry = [
        Registration::builtin::<stdout::StdoutConfig>(),
        Registration::builtin::<Echo>(),
    ];
    let (r, diags) = parse_with("receivers:\n  - name: e\n    echo: {}\n", &registry);
    assert!(diags.is_empty(), "{diags}");
    assert_eq!(r[0].sink.kind(), "echo");
    assert_eq!(r[0].sink.batch_defaults(), BatchSettings::SINGLE);
    assert!(r[0].sink.downcast_ref::<Echo>().is_some());
    assert!(r[0].sink.downcast_ref::<stdout::StdoutConfig>().is_none());

    // KEE's types come first in the "several sinks" precedence
    let (_, diags) = parse_with(
        "receivers:\n  - name: e\n    echo: {}\n    stdout: {}\n",
        &registry,
    );
    let e = diags.errors().next().unwrap();
    assert_eq!(
        e.message,
        "receiver `e` has more than one sink: `echo`, `stdout`"
    );
    assert!(
        e.hint.as_deref().unwrap().contains("used only `stdout`"),
        "{e:?}"
    );

    // and a misspelling is an unknown receiver type with a suggestion
    let (_, diags) = parse_with("receivers:\n  - name: e\n    ecno: {}\n", &registry);
    let e = diags.errors().next().unwrap();
    assert_eq!(e.message, "unknown receiver type `ecno`");
    assert!(
        e.hint
            .as_deref()
            .unwrap()
            .starts_with("did you mean `echo`?"),
        "{e:?}"
    );
    assert_eq!(diags.warning_count(), 0, "{diags}");
}

#[test]
fn same_name_compares_whole_strings() {
    assert!(same_name("kafka", "kafka"));
    assert!(!same_name("kafka", "kafk"));
    assert!(!same_name("sqs", "sns"));
}
