//! `herald check-config FILE`: every problem of a bad file at once, each at its
//! `file:line` with a hint, exit code 78; warnings alone and valid
//! kubernetes-event-exporter configs pass with "OK"; secrets never printed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::procs::{bin, run_to_end};

/// EX_CONFIG.
const EXIT_CONFIG: i32 = 78;

fn check(path: &Path) -> (i32, String) {
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("check-config").arg(path);
    let Output {
        status,
        stdout,
        stderr,
    } = run_to_end(cmd, Duration::from_secs(30));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code().expect("exited normally"), text)
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in the config"))
        + 1
}

/// The rendered diagnostic starting at `file:line:` (up to the next diagnostic).
fn diagnostic_at<'a>(out: &'a str, file: &str, line: usize) -> &'a str {
    let start_tag = format!("{file}:{line}:");
    let start = out
        .find(&start_tag)
        .unwrap_or_else(|| panic!("nothing reported at {start_tag}\n{out}"));
    let rest = &out[start..];
    let end = rest[start_tag.len()..]
        .find(&format!("\n{file}:"))
        .map_or(rest.len(), |i| i + start_tag.len() + 1);
    &rest[..end]
}

const SECRETS: [&str; 3] = ["s3cr3t-t0k3n", "Pa55w0rd", "hunter2-file"];

const BAD: &str = r#"logLevel: info
maxEventAgeSeconds: "60"
route:
  routes:
    - drop:
        - namespace: "*test*"
      match:
        - receiver: alert
    - match:
        - receiver: archive
receivers:
  - name: alerts
    webhook:
      endpoint: http://127.0.0.1:9/alerts
      headers:
        Authorization: "Bearer s3cr3t-t0k3n {{ .Message"
  - name: archive
    file:
      path: /tmp/herald-check-archive.log
      layout:
        message: "{{ .Message | upper "
  - name: archive
    stdout: {}
  - name: nowhere
  - name: both
    stdout: {}
    file:
      path: /tmp/herald-check-both.log
  - name: secure
    webhook:
      endpoint: https://hooks.example.com/events
      tls:
        caFile: /nonexistent/herald/ca.pem
  - name: legacy
    webhook:
      endpoint: "ftp://herald:Pa55w0rd@hooks.example.com/x"
  - name: spool
    file:
      path: /tmp/herald-check-spool.log
      password: hunter2-file
"#;

#[test]
fn check_config_reports_every_problem_at_once_with_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, BAD).unwrap();
    let file = path.display().to_string();
    let (code, out) = check(&path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let at = |needle: &str| diagnostic_at(&out, &file, line_of(BAD, needle));

    // a wrong type (quoted number): reported together with everything below
    let d = at("maxEventAgeSeconds");
    assert!(d.contains("expected an integer"), "{d}");
    assert!(d.contains("hint: remove the quotes"), "{d}");
    // a glob where a regular expression belongs
    let d = at("*test*");
    assert!(d.contains("invalid regular expression"), "{d}");
    assert!(d.contains("hint: did you mean `.*test.*`?"), "{d}");
    // a route naming a receiver that does not exist
    let d = at("receiver: alert");
    assert!(d.contains("`alert`, which is not defined"), "{d}");
    assert!(d.contains("hint: did you mean `alerts`?"), "{d}");
    // a template that does not parse (in a header, and in a layout)
    let d = at("Authorization:");
    assert!(d.contains("invalid header template"), "{d}");
    let d = at("message: \"{{ .Message | upper");
    assert!(d.contains("invalid template"), "{d}");
    assert!(
        d.contains("hint: templates use Go text/template syntax"),
        "{d}"
    );
    // duplicate receiver names point at the first one
    let first = line_of(BAD, "- name: archive");
    let d = diagnostic_at(&out, &file, first + 5);
    assert!(d.contains("duplicate receiver name `archive`"), "{d}");
    assert!(d.contains(&format!("at line {first}")), "{d}");
    // no sink type, and two sink types
    let d = at("- name: nowhere");
    assert!(d.contains("receiver `nowhere` has no sink"), "{d}");
    assert!(d.contains("hint: add one of"), "{d}");
    let d = diagnostic_at(&out, &file, line_of(BAD, "- name: both") + 2);
    assert!(d.contains("more than one sink"), "{d}");
    assert!(d.contains("hint:"), "{d}");
    // a TLS file that does not exist
    let d = at("caFile:");
    assert!(d.contains("/nonexistent/herald/ca.pem"), "{d}");
    assert!(d.contains("hint:"), "{d}");
    // a bad URL carrying a password: reported, the password masked
    let d = at("ftp://");
    assert!(d.contains("unsupported URL scheme `ftp`"), "{d}");
    // an unknown key is a warning at its line
    let d = at("password: hunter2-file");
    assert!(
        d.contains("warning: receivers[7].file: unknown key `password`"),
        "{d}"
    );

    for secret in SECRETS {
        assert!(!out.contains(secret), "`{secret}` was printed:\n{out}");
    }
}

#[test]
fn check_config_passes_unknown_keys_as_warnings_and_kee_configs_as_ok() {
    let dir = tempfile::tempdir().unwrap();
    // only an unknown (misspelled) key: a warning with its line, exit 0
    let text = "metricsNamePrefix: event_exporter_\nmaxEventAgeSecond: 60\nroute:\n  routes:\n    - match:\n        - receiver: dump\nreceivers:\n  - name: dump\n    stdout: {}\n";
    let path = dir.path().join("typo.yaml");
    std::fs::write(&path, text).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    let d = diagnostic_at(&out, &path.display().to_string(), 2);
    assert!(
        d.contains("warning: unknown key `maxEventAgeSecond`"),
        "{d}"
    );
    assert!(
        d.contains("hint: did you mean `maxEventAgeSeconds`?"),
        "{d}"
    );
    assert!(
        out.contains("OK (1 receiver(s): dump; 1 warning(s))"),
        "{out}"
    );

    // a kubernetes-event-exporter config as its users write them
    let kee = r#"logLevel: error
logFormat: json
maxEventAgeSeconds: 60
kubeQPS: 100
kubeBurst: 500
metricsNamePrefix: event_exporter_
clusterName: prod-eu
leaderElection:
  enabled: true
  leaderElectionID: kubernetes-event-exporter
route:
  routes:
    - match:
        - receiver: "dump"
    - drop:
        - namespace: "kube-.*"
        - type: "Normal"
      match:
        - receiver: "critical-events-queue"
          labels:
            app: "^web$"
      routes:
        - match:
            - reason: "BackOff|Failed"
              minCount: 3
              receiver: "alerts"
receivers:
  - name: "dump"
    stdout:
      deDot: true
  - name: "critical-events-queue"
    file:
      path: "/tmp/kubernetes-events.log"
      maxsize: 10
      maxbackups: 3
      layout:
        message: "{{ .Message }}"
        reason: "{{ .Reason }}"
        type: "{{ .Type }}"
        count: "{{ .Count }}"
        kind: "{{ .InvolvedObject.Kind }}"
        name: "{{ .InvolvedObject.Name }}"
        namespace: "{{ .Namespace }}"
        component: "{{ .Source.Component }}"
        host: "{{ .Source.Host }}"
        labels: "{{ toJson .InvolvedObject.Labels }}"
        createdAt: "{{ .GetTimestampMs }}"
  - name: "alerts"
    webhook:
      endpoint: "https://hooks.example.com/herald"
      headers:
        X-API-KEY: "s3cr3t-t0k3n"
        User-Agent: "kube-event-exporter 1.0"
      layout:
        text: "{{ .InvolvedObject.Kind }} {{ .InvolvedObject.Name }}: {{ .Reason | upper }}"
"#;
    let path = dir.path().join("kee.yaml");
    std::fs::write(&path, kee).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (3 receiver(s): dump, critical-events-queue, alerts; 0 warning(s))"),
        "{out}"
    );
    assert!(!out.contains("s3cr3t-t0k3n"), "{out}");
}

#[test]
fn check_config_names_environment_variables_instead_of_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.yaml");
    let text = r#"route:
  routes:
    - match:
        - reason: "*${SECRET_TOKEN}*"
          receiver: dump
receivers:
  - name: dump
    stdout: {}
    delivery:
      timeout: ${SECRET_TOKEN}
exporter:
  ingest:
    linger: "${SECRET_TOKEN}"
"#;
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("check-config")
        .arg(&path)
        .env("SECRET_TOKEN", "hunter2");
    let out = run_to_end(cmd, Duration::from_secs(30));
    let text_out = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(EXIT_CONFIG), "{text_out}");
    assert!(
        !text_out.contains("hunter2"),
        "the value was printed:\n{text_out}"
    );
    let file = path.display().to_string();
    let d = diagnostic_at(&text_out, &file, line_of(text, "linger:"));
    assert!(d.contains("invalid duration `${SECRET_TOKEN}`"), "{d}");
    assert!(
        d.contains("the value of environment variable `SECRET_TOKEN` is not shown"),
        "{d}"
    );
    // the top-level error stops the loader; route and receivers are still checked
    let d = diagnostic_at(&text_out, &file, line_of(text, "timeout:"));
    assert!(d.contains("`${SECRET_TOKEN}`"), "{d}");
    let d = diagnostic_at(&text_out, &file, line_of(text, "reason:"));
    assert!(d.contains("`*${SECRET_TOKEN}*`"), "{d}");
    assert!(d.contains("`.*${SECRET_TOKEN}.*`"), "{d}");
}

#[test]
fn kee_readme_glob_starts_with_a_warning_and_strict_makes_it_fatal() {
    // KEE's README example drops `*test*` namespaces: not a valid regular expression,
    // which KEE accepts (the rule never matches). herald must accept the file too.
    let text = r#"metricsNamePrefix: event_exporter_
route:
  routes:
    - match:
        - receiver: "dump"
    - drop:
        - namespace: "*test*"
        - type: "Normal"
      match:
        - receiver: "dump"
receivers:
  - name: "dump"
    stdout: {}
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kee-readme.yaml");
    std::fs::write(&path, text).unwrap();
    let file = path.display().to_string();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    let d = diagnostic_at(&out, &file, line_of(text, "*test*"));
    assert!(d.contains("warning:"), "{d}");
    assert!(d.contains("invalid regular expression `*test*`"), "{d}");
    assert!(d.contains("this rule never matches"), "{d}");
    assert!(d.contains("hint: did you mean `.*test.*`?"), "{d}");
    assert!(
        out.contains("OK (1 receiver(s): dump; 1 warning(s))"),
        "{out}"
    );

    let mut cmd = Command::new(bin("herald"));
    cmd.arg("check-config").arg("--strict").arg(&path);
    let strict = run_to_end(cmd, Duration::from_secs(30));
    let strict_out = String::from_utf8_lossy(&strict.stdout);
    assert_eq!(strict.status.code(), Some(EXIT_CONFIG), "{strict_out}");
    assert!(
        strict_out.contains("invalid regular expression `*test*`"),
        "{strict_out}"
    );
    assert!(
        strict_out.contains("FAILED (1 warning(s), fatal with --strict)"),
        "{strict_out}"
    );
}

#[test]
fn check_config_loads_the_kee_loki_example_and_reports_bad_loki_blocks() {
    let dir = tempfile::tempdir().unwrap();
    // kubernetes-event-exporter's README example, unchanged
    let kee = "route:\n  routes:\n    - match:\n        - receiver: \"loki\"\nreceivers:\n  - name: \"loki\"\n    loki:\n      streamLabels:\n        foo: bar\n      url: http://127.0.0.1:3100/loki/api/v1/push\n";
    let path = dir.path().join("loki.yaml");
    std::fs::write(&path, kee).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (1 receiver(s): loki; 0 warning(s))"),
        "{out}"
    );

    let bad = r#"route:
  routes:
    - match:
        - receiver: loki
receivers:
  - name: loki
    loki:
      url: "loki:3100"
      password: Pa55w0rd
      streamLabels:
        app.kubernetes.io/name: x
        kind: "{{ .InvolvedObject.Kind"
        pod: "{{ .InvolvedObject.Name }}"
"#;
    let path = dir.path().join("bad-loki.yaml");
    std::fs::write(&path, bad).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    let d = diagnostic_at(&out, &file, line_of(bad, "url:"));
    assert!(d.contains("loki URL") && d.contains("hint:"), "{d}");
    let d = diagnostic_at(&out, &file, line_of(bad, "app.kubernetes.io"));
    assert!(
        d.contains("invalid Loki label name") && d.contains("hint:"),
        "{d}"
    );
    let d = diagnostic_at(&out, &file, line_of(bad, "kind:"));
    assert!(d.contains("invalid label template"), "{d}");
    let d = diagnostic_at(&out, &file, line_of(bad, "pod:"));
    assert!(
        d.contains("warning: ") && d.contains("`.InvolvedObject.Name`"),
        "{d}"
    );
    assert!(!out.contains("Pa55w0rd"), "{out}");
}

#[test]
fn check_config_loads_the_kee_slack_teams_and_opsgenie_examples() {
    let dir = tempfile::tempdir().unwrap();
    // kubernetes-event-exporter's README examples, each block unchanged
    let kee = r#"route:
  routes:
    - match:
        - receiver: "alerts"
    - match:
        - receiver: "slack"
    - match:
        - receiver: "ms_teams"
receivers:
  - name: "alerts"
    opsgenie:
      apiKey: xxx
      priority: "P3"
      message: "Event {{ .Reason }} for {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }} on K8s cluster"
      alias: "{{ .UID }}"
      description: "<pre>{{ toPrettyJson . }}</pre>"
      tags:
        - "event"
        - "{{ .Reason }}"
        - "{{ .InvolvedObject.Kind }}"
        - "{{ .InvolvedObject.Name }}"
  - name: "slack"
    slack:
      token: YOUR-API-TOKEN-HERE
      channel: "@{{ .InvolvedObject.Labels.owner }}"
      message: "{{ .Message }}"
      color: # optional
      title: # optional
      author_name: # optional
      footer: # optional
      fields:
        namespace: "{{ .Namespace }}"
        reason: "{{ .Reason }}"
        object: "{{ .Namespace }}"

  - name: "ms_teams"
    teams:
      endpoint: "https://outlook.office.com/webhook/..."
      layout: # Optional
"#;
    let path = dir.path().join("alerting.yaml");
    std::fs::write(&path, kee).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (3 receiver(s): alerts, slack, ms_teams; 0 warning(s))"),
        "{out}"
    );
    assert!(!out.contains("YOUR-API-TOKEN-HERE"), "{out}");
}

#[test]
fn check_config_reports_bad_slack_teams_and_opsgenie_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let bad = r#"route:
  routes:
    - match:
        - receiver: pager
    - match:
        - receiver: chat
    - match:
        - receiver: room
receivers:
  - name: pager
    opsgenie:
      apiKey: og-s3cr3t-key
      URL: https://api.eu.opsgenie.com
      message: "{{ .Message }}"
  - name: chat
    slack:
      token: xoxb-s3cr3t-token
      channel: "@{{ .InvolvedObject.Labels.owner"
      message: "{{ .Message }}"
  - name: room
    teams:
      endpoint: https://example.webhook.office.com/webhookb2/x
      format: card
"#;
    let path = dir.path().join("bad-alerting.yaml");
    std::fs::write(&path, bad).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    let d = diagnostic_at(&out, &file, line_of(bad, "URL:"));
    assert!(d.contains("not a URL with a scheme"), "{d}");
    assert!(d.contains("hint: write just the host"), "{d}");
    let d = diagnostic_at(&out, &file, line_of(bad, "channel:"));
    assert!(d.contains("invalid template"), "{d}");
    assert!(
        d.contains("hint: templates use Go text/template syntax"),
        "{d}"
    );
    let d = diagnostic_at(&out, &file, line_of(bad, "format: card"));
    assert!(
        d.contains("unknown teams format `card`") && d.contains("hint:"),
        "{d}"
    );
    assert!(
        !out.contains("og-s3cr3t-key") && !out.contains("xoxb-s3cr3t-token"),
        "{out}"
    );
}

#[test]
fn check_config_loads_the_kee_kafka_and_syslog_examples_and_reports_bad_blocks() {
    let dir = tempfile::tempdir().unwrap();
    // kubernetes-event-exporter's README examples, unchanged (the kafka one names
    // its TLS files relative to the working directory).
    let route =
        |name: &str| format!("route:\n  routes:\n    - match:\n        - receiver: \"{name}\"\n");
    let kafka = r#"receivers:
  - name: "kafka"
    kafka:
      clientId: "kubernetes"
      topic: "kube-event"
      brokers:
        - "localhost:9092"
      compressionCodec: "snappy"
      tls:
        enable: true
        certFile: "kafka-client.crt"
        keyFile: "kafka-client.key"
        caFile: "kafka-ca.crt"
      sasl:
        enable: true
        username: "kube-event-producer"
        password: "kube-event-producer-password"
        mechanism: "sha512"
      layout: #optional
        kind: "{{ .InvolvedObject.Kind }}"
        namespace: "{{ .InvolvedObject.Namespace }}"
        name: "{{ .InvolvedObject.Name }}"
        reason: "{{ .Reason }}"
        message: "{{ .Message }}"
        type: "{{ .Type }}"
        createdAt: "{{ .GetTimestampISO8601 }}"
"#;
    let syslog = "receivers:\n  - name: \"syslog\"\n    syslog:\n      network: \"tcp\"\n      address: \"127.0.0.1:11514\"\n      tag: \"k8s.event\"\n\n";
    for f in ["kafka-client.crt", "kafka-client.key", "kafka-ca.crt"] {
        std::fs::write(dir.path().join(f), "PEM").unwrap();
    }
    for (name, body) in [("kafka", kafka), ("syslog", syslog)] {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, format!("{}{body}", route(name))).unwrap();
        let mut cmd = Command::new(bin("herald"));
        cmd.arg("check-config").arg(&path).current_dir(dir.path());
        let out = run_to_end(cmd, Duration::from_secs(30));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains(&format!("OK (1 receiver(s): {name}; 0 warning(s))")),
            "{text}"
        );
        assert!(!text.contains("kube-event-producer-password"), "{text}");
    }

    let bad = r#"route:
  routes:
    - match:
        - receiver: kafka
        - receiver: syslog
receivers:
  - name: kafka
    kafka:
      topic: kube-events
      brokers: ["kafka-0.kafka"]
      compressionCodec: brotli
      tls: {enable: true, caFile: /no/such/ca.pem}
      sasl:
        enable: true
        username: herald
        password: "${KAFKA_PASSWORD}"
        mechanism: sha1
      avro: {schemaID: "not-hex", schema: '"string"'}
  - name: syslog
    syslog:
      network: udp
      address: "no-such-host.invalid:514"
"#;
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, bad).unwrap();
    let mut cmd = Command::new(bin("herald"));
    cmd.arg("check-config")
        .arg(&path)
        .env("KAFKA_PASSWORD", "hunter2-kafka");
    let out = run_to_end(cmd, Duration::from_secs(30));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_CONFIG), "{text}");
    let file = path.display().to_string();
    for (needle, message) in [
        ("brokers:", "broker `kafka-0.kafka` has no port"),
        ("compressionCodec:", "unknown compressionCodec `brotli`"),
        ("tls:", "cannot read TLS file `/no/such/ca.pem`"),
        ("mechanism:", "unknown SASL mechanism `sha1`"),
        ("avro:", "the schemaID must be 32 hexadecimal characters"),
        ("address:", "does not resolve"),
    ] {
        let d = diagnostic_at(&text, &file, line_of(bad, needle));
        assert!(d.contains(message) && d.contains("hint:"), "{needle}: {d}");
    }
    assert!(!text.contains("hunter2-kafka"), "{text}");
}

/// Needs the `aws` feature (a build without it refuses these types, naming it).
#[cfg(feature = "aws")]
#[test]
fn check_config_loads_the_kee_aws_examples_and_reports_bad_aws_blocks() {
    let dir = tempfile::tempdir().unwrap();
    // kubernetes-event-exporter's README examples, unchanged, each with a route to it;
    // its opscenter example is not valid YAML: the same keys written as YAML are last
    let examples: [(&str, &str, &str); 7] = [
        (
            "kinesis",
            "receivers:\n  - name: \"kinesis\"\n    kinesis:\n      streamName: \"events-pipeline\"\n      region: us-west-2\n      layout: # Optional\n",
            "",
        ),
        (
            "firehose",
            "receivers:\n  - name: \"firehose\"\n    firehose:\n      deliveryStreamName: \"events-pipeline\"\n      region: us-west-2\n      layout: # Optional\n",
            "",
        ),
        (
            "sns",
            "receivers:\n  - name: \"sns\"\n    sns:\n      topicARN: \"arn:aws:sns:us-east-1:1234567890123456:mytopic\"\n      region: \"us-west-2\"\n      layout: # Optional\n",
            "the topic is in `us-east-1`",
        ),
        (
            "sqs",
            "receivers:\n  - name: \"sqs\"\n    sqs:\n      queueName: \"/tmp/dump\"\n      region: us-west-2\n      layout: # Optional\n",
            "not a valid SQS queue name",
        ),
        (
            "pipe",
            r#"receivers:
  - name: pipe
    kinesis:
      region: us-west-2
      streamName: event-pipeline
      layout:
        region: "us-west-2"
        eventType: "kubernetes-event"
        createdAt: "{{ .GetTimestampMs }}"
        details:
          message: "{{ .Message }}"
          reason: "{{ .Reason }}"
          type: "{{ .Type }}"
          count: "{{ .Count }}"
          kind: "{{ .InvolvedObject.Kind }}"
          name: "{{ .InvolvedObject.Name }}"
          namespace: "{{ .Namespace }}"
          component: "{{ .Source.Component }}"
          host: "{{ .Source.Host }}"
          labels: "{{ toJson .InvolvedObject.Labels}}"
"#,
            "",
        ),
        (
            "eventbridge",
            r#"receivers:
 - name: "eventbridge"
   eventbridge:
     detailType: "deployment"
     source: "cd"
     eventBusName: "default"
     region: "ap-southeast-1"
     details:
       message: "{{ .Message }}"
       namespace: "{{ .Namespace }}"
       reason: "{{ .Reason }}"
       object: "{{ .Namespace }}"

"#,
            "",
        ),
        (
            "alerts",
            r#"receivers:
  - name: "alerts"
    opscenter:
      title: "{{ .Message }}"
      category: "{{ .Reason }}" # Optional
      description: "Event {{ .Reason }} for {{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }} on K8s cluster"
      notifications: # Optional: SNS ARN
        - "sns1"
        - "sns2"
      operationalData: # Optional
        Reason: "{{ .Reason }}"
      priority: "6" # Optional
      region: "us-east1"
      relatedOpsItems: # Optional: OpsItems ARN
        - "ops1"
        - "ops2"
      severity: "6" # Optional
      source: "production"
      tags: # Optional
        ENV: "{{ .InvolvedObject.Namespace }}"
"#,
            "",
        ),
    ];
    for (name, example, warning) in examples {
        let text =
            format!("route:\n  routes:\n    - match:\n        - receiver: \"{name}\"\n{example}");
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &text).unwrap();
        let (code, out) = check(&path);
        assert_eq!(code, 0, "{name}: {out}");
        let warnings = usize::from(!warning.is_empty());
        assert!(
            out.contains(&format!(
                "OK (1 receiver(s): {name}; {warnings} warning(s))"
            )),
            "{name}: {out}"
        );
        assert!(out.contains(warning), "{name}: {out}");
    }

    let bad = r#"route:
  routes:
    - match:
        - receiver: q
        - receiver: f
        - receiver: e
receivers:
  - name: q
    sqs:
      queueName: https://sqs.eu-west-1.amazonaws.com/123456789012/kube-events
  - name: f
    sqs:
      queueName: events.fifo
      messageGroupId: ""
  - name: e
    eventbridge:
      source: herald
      detailType: event
      details:
        message: "{{ .Message"
"#;
    let path = dir.path().join("bad-aws.yaml");
    std::fs::write(&path, bad).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    let d = diagnostic_at(&out, &file, line_of(bad, "queueName: https"));
    assert!(
        d.contains("not its URL") && d.contains("queueName: kube-events"),
        "{d}"
    );
    let d = diagnostic_at(&out, &file, line_of(bad, "messageGroupId"));
    assert!(
        d.contains("FIFO queue needs a message group id") && d.contains("hint:"),
        "{d}"
    );
    let d = diagnostic_at(&out, &file, line_of(bad, "message: \"{{ .Message\""));
    assert!(d.contains("details.message"), "{d}");
}

/// kubernetes-event-exporter's Pub/Sub and BigQuery README examples, unchanged.
/// The BigQuery one is a blank form: every key is known, and the three KEE
/// required ones (`project`, `dataset`, `table`) are reported at their lines,
/// as KEE refused to start without them; filled in, it loads.
#[cfg(feature = "gcp")]
#[test]
fn check_config_loads_the_kee_google_examples_and_reports_bad_google_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let route = "route:\n  routes:\n    - match:\n        - receiver: \"pubsub\"\n";
    let pubsub = "receivers:\n  - name: \"pubsub\"\n    pubsub:\n      gcloud_project_id: \"my-project\"\n      topic: \"kube-event\"\n      create_topic: False\n";
    let path = dir.path().join("pubsub.yaml");
    std::fs::write(&path, format!("{route}{pubsub}")).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (1 receiver(s): pubsub; 0 warning(s))"),
        "{out}"
    );

    let blank = "route:\n  routes:\n    - match:\n        - receiver: \"my-big-query\"\nreceivers:\n  - name: \"my-big-query\"\n    bigquery:\n      location:\n      project:\n      dataset:\n      table:\n      credentials_path:\n      batch_size:\n      max_retries:\n      interval_seconds:\n      timeout_seconds:\n";
    let path = dir.path().join("bigquery.yaml");
    std::fs::write(&path, blank).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    for key in ["project", "dataset", "table"] {
        let d = diagnostic_at(&out, &file, line_of(blank, &format!("      {key}:")));
        assert!(
            d.contains(&format!("bigquery needs `{key}`")) && d.contains("hint:"),
            "{d}"
        );
    }
    assert_eq!(out.matches(": error: ").count(), 3, "{out}");
    assert!(!out.contains("warning: "), "{out}");
    let filled = blank
        .replace("project:\n", "project: my-project\n")
        .replace("dataset:\n", "dataset: kube_events\n")
        .replace("table:\n", "table: events\n");
    std::fs::write(&path, &filled).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (1 receiver(s): my-big-query; 0 warning(s))"),
        "{out}"
    );

    let user_creds = dir.path().join("adc.json");
    std::fs::write(
        &user_creds,
        r#"{"type":"authorized_user","client_id":"c","client_secret":"hunter2-file","refresh_token":"r"}"#,
    )
    .unwrap();
    let bad = format!(
        "route:\n  routes:\n    - match:\n        - receiver: ps\n        - receiver: bq\nreceivers:\n  - name: ps\n    pubsub:\n      gcloud_project_id: my-project\n      topic: \"kube events\"\n  - name: bq\n    bigquery:\n      project: my-project\n      dataset: kube_events\n      table: events\n      credentials_path: {}\n",
        user_creds.display()
    );
    let path = dir.path().join("bad-google.yaml");
    std::fs::write(&path, &bad).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    let d = diagnostic_at(&out, &file, line_of(&bad, "topic:"));
    assert!(
        d.contains("invalid Pub/Sub topic id") && d.contains("hint:"),
        "{d}"
    );
    let d = diagnostic_at(&out, &file, line_of(&bad, "credentials_path:"));
    assert!(
        d.contains("not a service-account key") && d.contains("hint:"),
        "{d}"
    );
    assert!(!out.contains("hunter2-file"), "{out}");
}

const BAD_SELECTORS: &str = r#"route:
  routes:
    - match:
        - receiver: team
          namespaceSelector:
            matchExpressions:
              - {key: team, operator: in, values: [payments]}
              - {key: tier, operator: In}
              - {key: "Bad_Prefix.io/x", operator: Exists}
              - {key: env, operator: Exists, values: [prod]}
receivers:
  - name: team
    stdout: {}
    namespaceSelector: team=payments
"#;

#[test]
fn check_config_reports_bad_namespace_selectors_with_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selectors.yaml");
    std::fs::write(&path, BAD_SELECTORS).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    let at = |needle: &str| diagnostic_at(&out, &file, line_of(BAD_SELECTORS, needle));
    let d = at("operator: in,");
    assert!(d.contains("invalid operator `in`"), "{d}");
    assert!(
        d.contains("did you mean `In`? valid operators: `In`, `NotIn`, `Exists` or `DoesNotExist`"),
        "{d}"
    );
    let d = at("operator: In}");
    assert!(d.contains("operator `In` needs at least one value"), "{d}");
    assert!(d.contains("add `values: [a, b]`"), "{d}");
    let d = at("Bad_Prefix.io/x");
    assert!(d.contains("invalid label key `Bad_Prefix.io/x`"), "{d}");
    assert!(d.contains("not a DNS subdomain"), "{d}");
    let d = at("values: [prod]");
    assert!(d.contains("operator `Exists` takes no values"), "{d}");
    let d = at("namespaceSelector: team=payments");
    assert!(d.contains("`namespaceSelector` must be a mapping"), "{d}");
    assert!(d.contains("matchLabels: {team: payments}"), "{d}");
}

#[test]
fn check_config_warns_about_selectors_when_lookups_are_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nolookup.yaml");
    let text = "omitLookup: true\nroute:\n  routes:\n    - match: [{receiver: team}]\nreceivers:\n  - name: team\n    stdout: {}\n    namespaceSelector: {matchLabels: {team: payments}}\n";
    std::fs::write(&path, text).unwrap();
    let (code, out) = check(&path);
    assert_eq!(code, 0, "{out}");
    let d = diagnostic_at(&out, &path.display().to_string(), 6);
    assert!(
        d.contains("receiver `team` has a `namespaceSelector`, but with `omitLookup: true` events carry no namespace labels"),
        "{d}"
    );
    assert!(
        out.contains("OK (1 receiver(s): team; 1 warning(s))"),
        "{out}"
    );
}
