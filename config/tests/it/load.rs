//! The whole pipeline: the KEE example fixture, files, secrets, summary.

use herald_config::{
    ConfigError, DecodeOptions, Diagnostics, LogFormat, LogLevel, Node, Severity, decode_with,
    load_file, load_str, redacted_summary,
};

use crate::{env, find};

const FIXTURE: &str = include_str!("../fixtures/kee-example.yaml");

const SECRETS: &[(&str, &str)] = &[
    ("ELASTIC_API_KEY", "elastic-api-key-VALUE"),
    ("ELASTIC_PASSWORD", "elastic-password-VALUE"),
    ("OPSGENIE_KEY", "opsgenie-key-VALUE"),
    ("SLACK_TOKEN", "xoxb-slack-token-VALUE"),
    ("KAFKA_PASSWORD", "kafka-password-VALUE"),
];

fn fixture_env() -> impl Fn(&str) -> Option<String> {
    let mut vars = SECRETS.to_vec();
    vars.push(("CLUSTER_NAME", "prod-eu-1"));
    env(&vars)
}

#[test]
fn kee_example_config_loads_unchanged() {
    let loaded =
        load_str("kee-example.yaml", FIXTURE, fixture_env()).unwrap_or_else(|e| panic!("{e}"));
    let c = &loaded.config;
    assert_eq!(c.log_level, LogLevel::Debug);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.max_event_age_seconds, 10);
    assert_eq!(c.kube_qps, 60.0);
    assert_eq!(c.kube_burst, 60);
    assert_eq!(c.cluster_name, "prod-eu-1");
    assert!(c.leader_election.enabled);
    assert_eq!(
        c.leader_election.leader_election_id,
        "kubernetes-event-exporter-leader"
    );
    assert!(loaded.diagnostics.is_empty(), "{}", loaded.diagnostics);

    let receivers = c.receivers.as_ref().unwrap().as_seq().unwrap();
    assert_eq!(receivers.len(), 8);
    let by_name = |name: &str| -> &Node {
        receivers
            .iter()
            .find(|r| r.get("name").and_then(Node::as_str) == Some(name))
            .unwrap()
    };
    // Environment values are pasted; template `$` variables survive; `$$` is a dollar.
    let es = by_name("dump").get("elasticsearch").unwrap();
    assert_eq!(
        es.get("apiKey").unwrap().as_str(),
        Some("elastic-api-key-VALUE")
    );
    let slack = by_name("slack").get("slack").unwrap();
    assert_eq!(
        slack.at_path(&["fields", "labels"]).unwrap().as_str(),
        Some("{{ range $k, $v := .InvolvedObject.Labels }}{{ $k }}={{ $v }} {{ end }}")
    );
    assert_eq!(
        slack.get("message").unwrap().as_str(),
        Some("Received a Kubernetes Event {{ .Message }} (cost: $5)")
    );
    let layout = by_name("pipe")
        .at_path(&["webhook", "layout", "details"])
        .unwrap();
    assert_eq!(
        layout.get("owner").unwrap().as_str(),
        Some("{{ $o := index .InvolvedObject.OwnerReferences 0 }}{{ $o.Name }}")
    );
    assert_eq!(
        layout.get("root").unwrap().as_str(),
        Some("{{ $.Message }}")
    );
    // `create_topic: False` is a boolean; `layout: {}` is an empty mapping.
    let pubsub = by_name("pubsub").get("pubsub").unwrap();
    assert_eq!(
        pubsub.get("create_topic").unwrap().value,
        herald_config::NodeValue::Bool(false)
    );
    let file_layout = by_name("file").at_path(&["file", "layout"]).unwrap();
    assert_eq!(file_layout.as_map().map(<[_]>::len), Some(0));
    // Regexes that end in `$` survive expansion.
    let route = c.route.as_ref().unwrap();
    let last = &route.get("routes").unwrap().as_seq().unwrap()[3];
    let rule = &last.get("match").unwrap().as_seq().unwrap()[0];
    assert_eq!(
        rule.get("reason").unwrap().as_str(),
        Some("^(BackOff|Failed.*)$")
    );
    // Locations point into the original file.
    let key_line = FIXTURE
        .lines()
        .position(|l| l.contains("apiKey: ${ELASTIC_API_KEY}"))
        .unwrap()
        + 1;
    assert_eq!(es.get("apiKey").unwrap().loc.line, key_line);
}

#[test]
fn the_ruler_decodes_receivers_through_the_same_machinery() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Receiver {
        name: String,
        #[serde(default)]
        kafka: Option<Kafka>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Kafka {
        topic: String,
        brokers: Vec<String>,
        sasl: Sasl,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sasl {
        enable: bool,
        password: herald_config::Secret<String>,
    }
    let loaded = load_str("kee-example.yaml", FIXTURE, fixture_env()).unwrap();
    let mut diags: Diagnostics = loaded.diagnostics.clone();
    let options = DecodeOptions {
        path: "receivers",
        strict_types: &[],
    };
    let receivers: Vec<Receiver> = decode_with(
        loaded.config.receivers.as_ref().unwrap(),
        &options,
        &mut diags,
    )
    .unwrap();
    assert_eq!(receivers.len(), 8);
    let kafka = receivers[5].kafka.as_ref().unwrap();
    assert_eq!(kafka.sasl.password.expose(), "kafka-password-VALUE");
    // Fields this struct does not know are reported with receivers[i] paths.
    let d = find(&diags, Severity::Warning, "unknown key `compressionCodec`");
    assert_eq!(d.path.as_deref(), Some("receivers[5].kafka"));
    assert!(diags.to_string().starts_with("kee-example.yaml:"));
}

#[test]
fn secrets_never_appear_in_debug_output_or_summary() {
    let text = format!(
        "{FIXTURE}exporter:\n  grpc:\n    authTokens: [\"grpc-token-VALUE\"]\nruler:\n  exporters: [\"https://user:url-password-VALUE@exporter:50051\"]\n  authToken: ruler-token-VALUE\n"
    );
    let loaded = load_str("config.yaml", &text, fixture_env()).unwrap();
    let debug = format!("{loaded:?}");
    let pretty = format!("{:#?}", loaded.config);
    let summary = redacted_summary(&loaded.config);
    for output in [&debug, &pretty, &summary] {
        for (_, secret) in SECRETS {
            assert!(!output.contains(secret), "{secret} leaked");
        }
        for secret in [
            "grpc-token-VALUE",
            "ruler-token-VALUE",
            "url-password-VALUE",
            "123-456-OPSGENIE",
        ] {
            assert!(!output.contains(secret), "{secret} leaked in {output}");
        }
    }
    // The summary still says what matters.
    assert!(summary.contains("dump (elasticsearch)"), "{summary}");
    assert!(summary.contains("authTokens=1"), "{summary}");
    assert!(summary.contains("authToken=set"), "{summary}");
    assert!(
        summary.contains("https://user:***@exporter:50051"),
        "{summary}"
    );
    assert!(debug.contains("https://user:***@exporter:50051"), "{debug}");
    assert!(debug.contains("\"apiKey\": ***"), "{debug}");
    assert!(summary.contains("maxEventAgeSeconds=10"), "{summary}");
    assert!(
        summary.contains("route: 5 route(s), 7 rule(s)"),
        "{summary}"
    );
}

#[test]
fn unset_variables_are_warned_about_by_name() {
    let loaded = load_str(
        "config.yaml",
        "clusterName: ${CLUSTER}\nnamespace: $CLUSTER\n",
        |_| None,
    )
    .unwrap();
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "`CLUSTER` is not set",
    );
    assert_eq!(d.location.map(|l| (l.line, l.column)), Some((1, 14)));
    assert_eq!(loaded.config.cluster_name, "");
}

#[test]
fn load_file_reads_and_reports_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "\u{feff}logLevel: warn\nmetricsNamePrefix: x_\n").unwrap();
    let loaded = load_file(&path).unwrap();
    assert_eq!(loaded.config.log_level, LogLevel::Warn);
    assert_eq!(loaded.source.name(), path.display().to_string());

    std::fs::write(&path, "maxEventAgeSeconds: \"60\"\n").unwrap();
    let Err(ConfigError::Invalid(diags)) = load_file(&path) else {
        panic!("expected invalid");
    };
    let rendered = diags.to_string();
    let expected_prefix = format!("{}:1:21: error: maxEventAgeSeconds:", path.display());
    assert!(rendered.starts_with(&expected_prefix), "{rendered}");
    assert!(
        rendered.contains("1 | maxEventAgeSeconds: \"60\""),
        "{rendered}"
    );

    let err = load_file(&dir.path().join("missing.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().starts_with("cannot read config file"));
    // the reason is part of the message, not only of its source chain
    assert!(
        err.to_string()
            .ends_with("missing.yaml: No such file or directory (os error 2)"),
        "{err}"
    );

    std::fs::write(&path, b"logLevel: \xff\n").unwrap();
    assert!(matches!(
        load_file(&path),
        Err(ConfigError::NotUtf8 { offset: 10, .. })
    ));
}

#[test]
fn invalid_config_error_lists_every_problem() {
    let err = load_str(
        "config.yaml",
        "logFormat: xml\nmaxEventAgeSeconds: 10\nthrottlePeriod: 5\n",
        |_| None,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid configuration (2 error(s)):\n"),
        "{text}"
    );
    assert!(
        text.contains("config.yaml:1:12: error: logFormat: unknown log format `xml`"),
        "{text}"
    );
    assert!(
        text.contains(
            "config.yaml:3:17: error: throttlePeriod: `throttlePeriod` and `maxEventAgeSeconds` cannot both be set"
        ),
        "{text}"
    );
}

#[test]
fn the_top_level_must_be_a_mapping() {
    let err = load_str("config.yaml", "- a\n- b\n", |_| None).unwrap_err();
    let ConfigError::Invalid(diags) = err else {
        panic!()
    };
    find(
        &diags,
        Severity::Error,
        "must be a mapping of keys, found a list",
    );
}

#[test]
fn diagnostics_are_logged_as_structured_events() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let loaded = load_str(
        "config.yaml",
        "maxEventAgeSecond: 1\nmetricsNamePrefix: x_\n",
        |_| None,
    )
    .unwrap();
    tracing::subscriber::with_default(subscriber, || loaded.diagnostics.log());
    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("WARN"), "{out}");
    assert!(
        out.contains("config: unknown key `maxEventAgeSecond` is ignored"),
        "{out}"
    );
    assert!(
        out.contains("file=\"config.yaml\" line=1 column=1"),
        "{out}"
    );
    assert!(out.contains("did you mean `maxEventAgeSeconds`?"), "{out}");
}

#[test]
fn files_are_only_opened_for_the_sections_a_process_uses() {
    use herald_config::{Role, load_str_for};
    let text = "exporter:\n  grpc:\n    tls:\n      certFile: /nonexistent/tls.crt\n      keyFile: /nonexistent/tls.key\nruler:\n  tls:\n    caFile: /nonexistent/ca.crt\n";
    let env = |_: &str| None;
    // the ruler never reads the exporter's key, and vice versa
    let ruler = load_str_for("c.yaml", text, env, Role::Ruler)
        .unwrap_err()
        .to_string();
    assert!(
        ruler.contains("ca.crt") && !ruler.contains("tls.key"),
        "{ruler}"
    );
    let exporter = load_str_for("c.yaml", text, env, Role::Exporter)
        .unwrap_err()
        .to_string();
    assert!(
        exporter.contains("tls.key") && !exporter.contains("ca.crt"),
        "{exporter}"
    );
    let all = load_str_for("c.yaml", text, env, Role::All)
        .unwrap_err()
        .to_string();
    assert!(all.contains("tls.key") && all.contains("ca.crt"), "{all}");
}

#[test]
fn values_from_the_environment_are_named_never_shown() {
    let text = "maxEventAgeSeconds: ${SECRET_TOKEN}\nexporter:\n  ingest:\n    linger: ${SECRET_TOKEN}\n  watch:\n    timeout: \"${LONG_SECRET}\"\n  grpc:\n    listen: ${SHORT}\n";
    let long = "x".repeat(20) + "-long-secret-value-that-messages-would-shorten";
    let vars = [
        ("SECRET_TOKEN", "hunter2"),
        ("LONG_SECRET", long.as_str()),
        ("SHORT", "ab"),
    ];
    let Err(ConfigError::Invalid(diags)) = load_str("config.yaml", text, env(&vars)) else {
        panic!("expected errors");
    };
    let out = diags.to_string();
    for secret in ["hunter2", "xxxxxxxx", "long-secret", "`ab`"] {
        assert!(!out.contains(secret), "`{secret}` was shown:\n{out}");
    }
    // a type error names the variable
    let d = find(&diags, Severity::Error, "expected an integer");
    assert_eq!(
        d.message,
        "expected an integer, found the value of environment variable `SECRET_TOKEN` (a string)"
    );
    let d = find(
        &diags,
        Severity::Error,
        "invalid duration `${SECRET_TOKEN}`",
    );
    assert_eq!(d.path.as_deref(), Some("exporter.ingest.linger"));
    let d = find(&diags, Severity::Error, "LONG_SECRET");
    assert_eq!(d.path.as_deref(), Some("exporter.watch.timeout"));
    // even a two-character value is not echoed about its own key
    let d = find(&diags, Severity::Error, "listen address");
    assert!(d.message.contains("`${SHORT}`"), "{}", d.message);
    // the source lines shown are the file as written
    assert!(out.contains("4 |     linger: ${SECRET_TOKEN}"), "{out}");

    // a value pasted into a longer text, quoted by a later check
    let Err(ConfigError::Invalid(diags)) = load_str(
        "config.yaml",
        "logLevel: \"lvl-${SECRET_TOKEN}\"\n",
        env(&vars),
    ) else {
        panic!("expected errors");
    };
    let out = diags.to_string();
    assert!(!out.contains("hunter2"), "{out}");
    let d = find(&diags, Severity::Error, "invalid log level");
    assert_eq!(d.message, "invalid log level `lvl-${SECRET_TOKEN}`");
    assert_eq!(d.hidden_variables(), ["SECRET_TOKEN"]);
    assert!(
        out.contains(
            "invalid log level `lvl-${SECRET_TOKEN}` (the value of environment variable `SECRET_TOKEN` is not shown)"
        ),
        "{out}"
    );
}

#[test]
fn variables_referenced_only_in_comments_are_not_reported_unset() {
    let text = "# token: ${COMMENTED_TOKEN}\nclusterName: prod # was ${OLD_NAME}\n#   nested: $ALSO_COMMENTED\nnamespace: ${USED}\nreceivers: [] # ${USED} again\n";
    let loaded = load_str("config.yaml", text, |_| None).unwrap();
    let d = find(&loaded.diagnostics, Severity::Warning, "`USED` is not set");
    assert_eq!(d.location.map(|l| l.line), Some(4));
    assert_eq!(loaded.diagnostics.len(), 1, "{}", loaded.diagnostics);
    // a value with a line break pasted into a comment still breaks the file: reported
    let loaded = load_str(
        "config.yaml",
        "clusterName: prod # ${MULTI}\n",
        env(&[("MULTI", "a\nb: c")]),
    );
    let diags = match loaded {
        Ok(l) => l.diagnostics,
        Err(ConfigError::Invalid(d)) => d,
        Err(e) => panic!("{e}"),
    };
    find(&diags, Severity::Warning, "contains a line break");
}

#[test]
fn messages_say_what_is_wrong() {
    // an integer too large for any integer type is a number out of range, and the
    // other problems of the file are still reported in the same run
    let diags = crate::load_err(
        "maxEventAgeSeconds: 99999999999999999999\nlogLevel: nope\nkubeBurst: -3\ncacheSize: 18446744073709551616\n",
    );
    let d = find(&diags, Severity::Error, "found 99999999999999999999");
    assert_eq!(d.path.as_deref(), Some("maxEventAgeSeconds"));
    assert_eq!(
        d.message,
        "expected an integer between -9223372036854775808 and 9223372036854775807, found 99999999999999999999"
    );
    find(&diags, Severity::Error, "invalid log level `nope`");
    find(&diags, Severity::Error, "must be between 0 and");
    let d = find(&diags, Severity::Error, "found 18446744073709551616");
    assert_eq!(d.path.as_deref(), Some("cacheSize"));
    assert!(!diags.to_string().contains("the string"), "{diags}");

    // the size limit of a document without aliases does not mention aliases
    let many = format!("x: [{}]\n", vec!["0"; 250_001].join(","));
    let diags = crate::load_err(&many);
    let d = find(&diags, Severity::Error, "250000 values");
    assert_eq!(d.message, "the document has more than 250000 values");
    let aliased = format!(
        "a: &a [{}]\nb: [{}]\n",
        vec!["0"; 1000].join(","),
        vec!["*a"; 300].join(",")
    );
    let diags = crate::load_err(&aliased);
    find(&diags, Severity::Error, "(through aliases)");

    // negative ages are accepted as KEE does, but not silently
    let loaded = load_str("config.yaml", "maxEventAgeSeconds: -1\n", |_| None).unwrap();
    let d = find(
        &loaded.diagnostics,
        Severity::Warning,
        "negative value (-1)",
    );
    assert_eq!(d.path.as_deref(), Some("maxEventAgeSeconds"));
    assert_eq!(loaded.config.max_event_age_seconds, -1);
}
