//! Tests of receiver decoding: every error with its location, warnings,
//! delivery settings.

use std::sync::Arc;
use std::time::Duration;

use herald_config::{Diagnostics, Severity, SourceFile};

use super::*;
use crate::driver::{BatchSettings, OnFull};

/// Parses `yaml` (a document with a `receivers:` key).
pub(crate) fn parse(yaml: &str) -> (Vec<ReceiverConfig>, Diagnostics) {
    let source = Arc::new(SourceFile::new("config.yaml", yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let root = herald_config::yaml::parse(&source, &mut diags).expect("valid YAML");
    let receivers = root.get("receivers").cloned().unwrap_or_default();
    let parsed = parse_receivers(&receivers, &mut diags);
    (parsed, diags)
}

/// Returns the single error, asserting there is exactly one.
fn only_error(diags: &Diagnostics) -> &herald_config::Diagnostic {
    let errors: Vec<_> = diags.errors().collect();
    assert_eq!(errors.len(), 1, "expected one error, got:\n{diags}");
    errors[0]
}

fn line_of(d: &herald_config::Diagnostic) -> usize {
    d.location.expect("located").line
}

#[test]
fn a_valid_list_decodes_every_available_type() {
    let (r, diags) = parse(
        r#"
receivers:
  - name: dump
    stdout: {}
  - name: audit
    file:
      path: /tmp/herald-test-audit.log
      maxsize: 10
      maxbackups: 3
      deDot: true
  - name: fifo
    pipe:
      path: /tmp/herald-fifo
  - name: hook
    webhook:
      endpoint: "https://example.com/events"
      headers:
        x-api-key: "abc"
      layout:
        message: "{{ .Message }}"
        priority: 3
  - name: mem
    inMemory: {}
"#,
    );
    assert!(!diags.has_errors(), "{diags}");
    let kinds: Vec<&str> = r.iter().map(|r| r.sink.kind()).collect();
    assert_eq!(kinds, ["stdout", "file", "pipe", "webhook", "inMemory"]);
    assert_eq!(r[0].name, "dump");
    assert_eq!(r[1].location.line, 5);
    let f = r[1]
        .sink
        .downcast_ref::<crate::file::FileConfig>()
        .expect("wrong sink type");
    assert_eq!(f.max_size_bytes, 10 * 1024 * 1024);
    assert_eq!(f.max_backups, 3);
    assert!(f.de_dot);
    let w = r[3]
        .sink
        .downcast_ref::<crate::webhook::WebhookConfig>()
        .expect("wrong sink type");
    assert_eq!(w.headers[0].name.as_str(), "x-api-key");
    assert!(w.layout.is_some());
}

#[test]
fn a_receiver_without_a_sink_is_an_error_with_a_hint() {
    let (r, diags) = parse("receivers:\n  - name: x\n");
    assert!(r.is_empty());
    let e = only_error(&diags);
    assert_eq!(e.message, "receiver `x` has no sink");
    assert_eq!(line_of(e), 2);
    assert!(e.hint.as_deref().unwrap().contains("`stdout`"), "{e:?}");
}

#[test]
fn an_unknown_receiver_type_is_named_with_the_list_of_types() {
    let (r, diags) = parse(
        "receivers:\n  - name: x\n    webhok:\n      endpoint: http://h\n  - name: y\n    mattermost: {}\n",
    );
    assert!(r.is_empty());
    assert_eq!(diags.warning_count(), 0, "{diags}");
    let errors: Vec<_> = diags.errors().collect();
    assert_eq!(errors.len(), 2, "{diags}");
    assert_eq!(errors[0].message, "unknown receiver type `webhok`");
    assert_eq!(line_of(errors[0]), 3);
    assert_eq!(errors[0].path.as_deref(), Some("receivers[0].webhok"));
    let hint = errors[0].hint.as_deref().unwrap();
    assert!(hint.starts_with("did you mean `webhook`?"), "{hint}");
    assert!(
        hint.contains("`stdout`, `file`, `pipe`, `webhook`, `inMemory`"),
        "{hint}"
    );
    assert_eq!(errors[1].message, "unknown receiver type `mattermost`");
    assert!(
        errors[1]
            .hint
            .as_deref()
            .unwrap()
            .starts_with("receiver types in this build:")
    );
    // beside a known sink, an unknown key stays a warning
    let (r, diags) = parse("receivers:\n  - name: x\n    stdout: {}\n    colour: red\n");
    assert_eq!(r.len(), 1);
    assert!(
        diags
            .warnings()
            .any(|d| d.message == "unknown key `colour` is ignored"),
        "{diags}"
    );
}

#[test]
fn two_sink_types_are_refused() {
    let (r, diags) = parse(
        "receivers:\n  - name: x\n    file: {path: /tmp/a}\n    webhook: {endpoint: http://h}\n",
    );
    assert!(r.is_empty());
    let e = only_error(&diags);
    assert_eq!(
        e.message,
        "receiver `x` has more than one sink: `file`, `webhook`"
    );
    assert_eq!(line_of(e), 4);
    assert!(
        e.hint.as_deref().unwrap().contains("used only `webhook`"),
        "{e:?}"
    );
}

#[test]
fn duplicate_names_are_refused_at_the_second_name() {
    let (r, diags) =
        parse("receivers:\n  - name: a\n    stdout: {}\n  - name: a\n    stdout: {}\n");
    assert_eq!(r.len(), 1);
    let e = only_error(&diags);
    assert_eq!(e.message, "duplicate receiver name `a`");
    assert_eq!(e.location.unwrap(), herald_config::Location::new(4, 11));
    assert!(e.hint.as_deref().unwrap().contains("line 2"), "{e:?}");
}

#[test]
fn missing_or_empty_names_are_errors() {
    let (_, diags) = parse("receivers:\n  - stdout: {}\n");
    let e = only_error(&diags);
    assert_eq!(e.message, "receiver has no name");
    assert_eq!(line_of(e), 2);
    let (_, diags) = parse("receivers:\n  - name: \"\"\n    stdout: {}\n");
    let e = only_error(&diags);
    assert_eq!(e.message, "receiver name is empty");
    assert_eq!(line_of(e), 2);
}

#[test]
fn every_kee_receiver_type_is_registered() {
    // a type that is not (an unregistered one is refused as "not available in this
    // build yet": see the registry's tests, with a registry made for the purpose)
    let registered: Vec<&str> = crate::registry::registry()
        .iter()
        .map(|r| r.name())
        .collect();
    for kind in super::KEE_SINK_TYPES {
        assert!(
            registered.contains(&kind),
            "{kind} is not registered: {registered:?}"
        );
    }
}

#[test]
fn a_layout_template_that_does_not_parse_is_located() {
    let (r, diags) = parse(
        "receivers:\n  - name: a\n    stdout: {}\n  - name: b\n    webhook:\n      endpoint: http://h\n      layout:\n        details:\n          owner: \"{{ .InvolvedObject.Labels.owner \"\n",
    );
    assert_eq!(r.len(), 1);
    let e = only_error(&diags);
    assert_eq!(
        e.path.as_deref(),
        Some("receivers[1].webhook.layout.details.owner")
    );
    assert_eq!(line_of(e), 9);
    assert!(e.message.starts_with("invalid template"), "{e:?}");
}

#[test]
fn a_header_template_that_does_not_parse_is_located() {
    let (_, diags) = parse(
        "receivers:\n  - name: b\n    webhook:\n      endpoint: http://h\n      headers:\n        X-Owner: \"{{ .Name \"\n",
    );
    let e = only_error(&diags);
    assert_eq!(
        e.path.as_deref(),
        Some("receivers[0].webhook.headers.X-Owner")
    );
    assert_eq!(line_of(e), 6);
    assert!(e.message.starts_with("invalid header template"), "{e:?}");
}

#[test]
fn tls_files_must_exist_and_certs_need_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "x").unwrap();
    let (_, diags) = parse(&format!(
        "receivers:\n  - name: b\n    webhook:\n      endpoint: https://h\n      tls:\n        caFile: /nonexistent/ca.pem\n        certFile: {}\n",
        cert.display()
    ));
    let errors: Vec<_> = diags.errors().collect();
    assert_eq!(errors.len(), 2, "{diags}");
    assert!(
        errors[0]
            .message
            .starts_with("cannot read TLS file `/nonexistent/ca.pem`"),
        "{diags}"
    );
    assert_eq!(line_of(errors[0]), 6);
    assert_eq!(errors[1].message, "certFile is set but keyFile is not");
    assert_eq!(line_of(errors[1]), 7);
}

#[test]
fn unknown_keys_are_warnings_with_suggestions() {
    let (r, diags) = parse(
        "receivers:\n  - name: a\n    stdout:\n      deDott: true\n    delivery:\n      queueSise: 5\n",
    );
    assert_eq!(r.len(), 1, "{diags}");
    assert!(!diags.has_errors(), "{diags}");
    let warnings: Vec<_> = diags.warnings().collect();
    assert_eq!(warnings.len(), 2, "{diags}");
    assert_eq!(line_of(warnings[0]), 4);
    assert!(
        warnings[0].hint.as_deref().unwrap_or("").contains("deDot"),
        "{diags}"
    );
    assert_eq!(line_of(warnings[1]), 6);
    assert!(warnings.iter().all(|w| w.severity == Severity::Warning));
}

#[test]
fn receivers_must_be_a_list_of_mappings() {
    let (_, diags) = parse("receivers:\n  name: x\n");
    assert!(
        only_error(&diags)
            .message
            .starts_with("expected a list of receivers")
    );
    let (_, diags) = parse("receivers:\n  - just-a-string\n");
    assert!(
        only_error(&diags)
            .message
            .starts_with("expected a receiver mapping")
    );
    let (r, diags) = parse("receivers:\n");
    assert!(r.is_empty() && diags.is_empty());
}

#[test]
fn delivery_block_is_applied_over_sink_defaults() {
    let (r, diags) = parse(
        r#"
receivers:
  - name: hook
    webhook: {endpoint: "http://h"}
    delivery:
      queueSize: 50
      onFull: drop
      batch: { maxEvents: 20, maxBytes: 64KiB, linger: 250ms }
      timeout: 3s
      concurrency: 4
      retry: { initialBackoff: 100ms, maxBackoff: 5s, maxAttempts: 6 }
      unhealthyAfter: 1m
"#,
    );
    assert!(!diags.has_errors(), "{diags}");
    let s = r[0].delivery.resolve(BatchSettings::SINGLE);
    assert_eq!(s.queue_size, 50);
    assert_eq!(s.on_full, OnFull::Drop);
    assert_eq!(s.batch.max_events, 20);
    assert_eq!(s.batch.max_bytes, 64 * 1024);
    assert_eq!(s.batch.linger, Duration::from_millis(250));
    assert_eq!(s.timeout, Duration::from_secs(3));
    assert_eq!(s.concurrency, 4);
    assert_eq!(s.retry.initial_backoff, Duration::from_millis(100));
    assert_eq!(s.retry.max_backoff, Duration::from_secs(5));
    assert_eq!(s.retry.max_attempts, 6);
    assert_eq!(s.unhealthy_after, Duration::from_secs(60));
    let defaults = DeliveryConfig::default().resolve(BatchSettings::SINGLE);
    assert_eq!(defaults.on_full, OnFull::Block);
    assert_eq!(defaults.queue_size, 10_000);
    assert_eq!(defaults.batch, BatchSettings::SINGLE);
    assert_eq!(defaults.timeout, Duration::from_secs(10));
}

#[test]
fn invalid_delivery_values_are_located_errors() {
    let (r, diags) = parse(
        "receivers:\n  - name: a\n    stdout: {}\n    delivery:\n      queueSize: 0\n      timeout: 0s\n      retry: {initialBackoff: 10s, maxBackoff: 1s}\n",
    );
    assert!(r.is_empty());
    let errors: Vec<(usize, &str)> = diags
        .errors()
        .map(|d| (line_of(d), d.message.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (5, "queueSize must be at least 1"),
            (6, "timeout must be greater than 0"),
            (7, "retry.maxBackoff is shorter than retry.initialBackoff"),
        ],
        "{diags}"
    );
}

#[test]
fn an_unknown_on_full_policy_is_a_located_error() {
    let (r, diags) =
        parse("receivers:\n  - name: a\n    stdout: {}\n    delivery:\n      onFull: sometimes\n");
    assert!(r.is_empty());
    let e = only_error(&diags);
    assert_eq!(line_of(e), 5);
    assert!(e.message.contains("sometimes"), "{e:?}");
}

#[test]
fn header_values_and_url_credentials_never_appear_in_debug_output() {
    let (r, diags) = parse(
        "receivers:\n  - name: hook\n    webhook:\n      endpoint: http://bob:pw1@h/in?token=tk1&team=a\n      headers:\n        Authorization: \"Bearer s3cr3t\"\n",
    );
    assert!(!diags.has_errors(), "{diags}");
    let debug = format!("{r:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(!debug.contains("pw1") && !debug.contains("tk1"), "{debug}");
    assert!(
        debug.contains("http://***@h/in?token=***&team=a"),
        "{debug}"
    );
    let w = r[0]
        .sink
        .downcast_ref::<crate::webhook::WebhookConfig>()
        .expect("wrong sink type");
    assert!(w.headers[0].sensitive);
}

#[test]
fn endpoint_must_be_an_http_url() {
    let (_, diags) = parse("receivers:\n  - name: h\n    webhook:\n      endpoint: ftp://x\n");
    let e = only_error(&diags);
    assert_eq!(e.message, "unsupported URL scheme `ftp`");
    assert_eq!(line_of(e), 4);
    let (_, diags) = parse("receivers:\n  - name: h\n    webhook: {}\n");
    assert_eq!(only_error(&diags).message, "webhook needs an `endpoint`");
}

#[test]
fn a_receiver_takes_a_namespace_selector_next_to_its_sink() {
    let (r, diags) = parse(
        "receivers:\n  - name: team\n    stdout: {}\n    namespaceSelector:\n      matchLabels: {team: payments}\n    includeNonNamespaced: true\n  - name: archive\n    stdout: {}\n",
    );
    assert!(diags.is_empty(), "{diags}");
    let s = r[0].namespace_selector.as_ref().expect("a selector");
    let payments = [("team".to_owned(), "payments".to_owned())].into();
    assert!(s.matches("shop", &payments));
    assert!(!s.matches("shop", &Default::default()));
    assert!(s.matches("", &Default::default()), "includeNonNamespaced");
    assert_eq!(r[1].namespace_selector, None);
}

#[test]
fn invalid_receiver_selectors_are_located_errors() {
    let (r, diags) = parse(
        "receivers:\n  - name: team\n    stdout: {}\n    namespaceSelector:\n      matchExpressions:\n        - {key: team, operator: Exists, values: [payments]}\n",
    );
    assert!(r.is_empty());
    let e = only_error(&diags);
    assert_eq!(line_of(e), 6);
    assert_eq!(
        e.path.as_deref(),
        Some("receivers[0].namespaceSelector.matchExpressions[0].values")
    );
    assert_eq!(e.message, "operator `Exists` takes no values");
    let (r, diags) =
        parse("receivers:\n  - name: team\n    stdout: {}\n    namespaceSelector: [team]\n");
    assert!(r.is_empty());
    let e = only_error(&diags);
    assert_eq!(line_of(e), 4);
    assert!(e.message.contains("must be a mapping"), "{e:?}");
    assert!(
        e.hint.as_deref().unwrap_or("").contains("matchLabels"),
        "{e:?}"
    );
    let (r, diags) = parse(
        "receivers:\n  - name: team\n    stdout: {}\n    namespaceSelector: {matchLabels: {team: a}}\n    includeNonNamespaced: maybe\n",
    );
    assert!(r.is_empty());
    assert_eq!(line_of(only_error(&diags)), 5);
    // a misspelt key is still an unknown key with a suggestion
    let (_, diags) = parse(
        "receivers:\n  - name: team\n    stdout: {}\n    namespaceSelectors: {matchLabels: {team: a}}\n",
    );
    let w = diags.warnings().next().expect("a warning");
    assert_eq!(w.hint.as_deref(), Some("did you mean `namespaceSelector`?"));
}
