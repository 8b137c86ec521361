//! Decoding arbitrary `Deserialize` types from located nodes: type errors
//! with paths, KEE coercions, unknown keys, Located, raw nodes, secrets,
//! collecting every error.

use std::collections::BTreeMap;

use herald_config::{
    DecodeOptions, Diagnostics, Located, Location, Node, Secret, Severity, SourceFile, decode,
    decode_with, from_str,
};
use serde::Deserialize;

use crate::find;

#[derive(Debug, Deserialize, PartialEq)]
struct Receiver {
    name: String,
    #[serde(default)]
    webhook: Option<Webhook>,
    #[serde(default)]
    stdout: Option<Stdout>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Webhook {
    endpoint: Located<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    layout: Option<Node>,
    #[serde(default)]
    max_retries: u32,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Stdout {
    #[serde(default)]
    de_dot: bool,
}

#[derive(Debug, Deserialize)]
struct Top {
    receivers: Vec<Receiver>,
}

fn parse(text: &str) -> (Node, Diagnostics) {
    let source = std::sync::Arc::new(SourceFile::new("config.yaml", text));
    let mut diags = Diagnostics::for_source(source.clone());
    let node = herald_config::yaml::parse(&source, &mut diags).expect("valid yaml");
    (node, diags)
}

#[test]
fn type_error_names_location_path_expected_and_found() {
    let text = "receivers:\n  - name: a\n    stdout: {}\n  - name: b\n    stdout: {}\n  - name: c\n    webhook:\n      endpoint: http://x\n      headers: [a, b]\n";
    let (node, mut diags) = parse(text);
    assert!(decode::<Top>(&node, &mut diags).is_none());
    assert_eq!(diags.error_count(), 1, "{diags}");
    let d = diags.errors().next().unwrap();
    assert_eq!(d.path.as_deref(), Some("receivers[2].webhook.headers"));
    assert_eq!(d.location, Some(Location::new(9, 16)));
    assert_eq!(d.message, "expected a mapping, found a list");
    assert!(
        diags
            .to_string()
            .starts_with("config.yaml:9:16: error: receivers[2].webhook.headers: expected a mapping, found a list"),
        "{diags}"
    );
}

#[test]
fn every_independent_error_is_reported_once() {
    let text = "receivers:\n  - name: [x]\n    stdout: {deDot: maybe}\n  - name: b\n    webhook:\n      endpoint: {a: 1}\n      maxRetries: \"3\"\n";
    let (node, mut diags) = parse(text);
    assert!(decode::<Top>(&node, &mut diags).is_none());
    let paths: Vec<&str> = diags.errors().filter_map(|d| d.path.as_deref()).collect();
    assert_eq!(
        paths,
        vec![
            "receivers[0].name",
            "receivers[0].stdout.deDot",
            "receivers[1].webhook.endpoint",
            "receivers[1].webhook.maxRetries",
        ],
        "{diags}"
    );
    // Skipping a bad required value does not add a `missing required key`.
    assert!(
        diags.iter().all(|d| !d.message.contains("missing")),
        "{diags}"
    );
    let retries = find(&diags, Severity::Error, "found the string \"3\"");
    assert_eq!(retries.hint.as_deref(), Some("remove the quotes"));
}

#[test]
fn missing_required_key_is_located_at_the_mapping() {
    let (node, mut diags) = parse("receivers:\n  - webhook:\n      endpoint: http://x\n");
    assert!(decode::<Top>(&node, &mut diags).is_none());
    let d = find(&diags, Severity::Error, "missing required key `name`");
    assert_eq!(d.path.as_deref(), Some("receivers[0]"));
    assert_eq!(d.location, Some(Location::new(2, 5)));
}

#[test]
fn scalars_are_accepted_as_strings_like_kee() {
    #[derive(Deserialize)]
    struct S {
        port: String,
        flag: String,
        float: String,
        hex: String,
        empty: String,
        headers: BTreeMap<String, String>,
        on: bool,
        off: bool,
    }
    let (s, diags) = from_str::<S>(
        "t.yaml",
        "port: 8080\nflag: true\nfloat: 1.50\nhex: 0x1F\nempty:\nheaders: {X-Retry: 3}\non: True\noff: FALSE\n",
    )
    .unwrap();
    assert!(diags.is_empty());
    assert_eq!(s.port, "8080");
    assert_eq!(s.flag, "true");
    assert_eq!(s.float, "1.50");
    assert_eq!(s.hex, "0x1F");
    assert_eq!(s.empty, "");
    assert_eq!(s.headers["X-Retry"], "3");
    assert!(s.on);
    assert!(!s.off);
}

#[test]
fn quoted_numbers_and_words_are_type_errors() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct S {
        #[serde(default)]
        a: i64,
        #[serde(default)]
        b: bool,
        #[serde(default)]
        c: f32,
        #[serde(default)]
        d: u32,
        #[serde(default)]
        e: bool,
        #[serde(default)]
        f: u16,
    }
    let diags = from_str::<S>(
        "t.yaml",
        "a: \"60\"\nb: \"true\"\nc: fast\nd: -1\ne: yes\nf: 30s\n",
    )
    .unwrap_err();
    assert_eq!(diags.error_count(), 6, "{diags}");
    let a = find(
        &diags,
        Severity::Error,
        "expected an integer, found the string \"60\"",
    );
    assert_eq!(a.hint.as_deref(), Some("remove the quotes"));
    let b = find(&diags, Severity::Error, "found the string \"true\"");
    assert_eq!(b.hint.as_deref(), Some("remove the quotes"));
    let c = find(
        &diags,
        Severity::Error,
        "expected a number, found the string \"fast\"",
    );
    assert_eq!(c.location, Some(Location::new(3, 4)));
    assert_eq!(c.hint, None);
    find(
        &diags,
        Severity::Error,
        "expected a non-negative integer up to 4294967295, found -1",
    );
    let e = find(&diags, Severity::Error, "found the string \"yes\"");
    assert_eq!(e.hint.as_deref(), Some("write `true` or `false`"));
    let f = find(&diags, Severity::Error, "found the string \"30s\"");
    assert_eq!(
        f.hint.as_deref(),
        Some("write a plain number without the unit `s`")
    );
}

#[test]
fn null_reads_as_the_zero_value() {
    #[derive(Deserialize)]
    struct S {
        a: i64,
        b: bool,
        c: String,
        d: Vec<String>,
        e: Option<String>,
        f: Stdout,
    }
    let (s, _) = from_str::<S>("t.yaml", "a:\nb: ~\nc: null\nd:\ne:\nf:\n").unwrap();
    assert_eq!(
        (s.a, s.b, s.c.as_str(), s.d.len(), s.e),
        (0, false, "", 0, None)
    );
    assert!(!s.f.de_dot);
}

#[test]
fn unknown_keys_warn_with_did_you_mean() {
    let text = "receivers:\n  - name: a\n    webhok: {}\n    stdout:\n      DeDot: true\n      color: red\n";
    let (node, mut diags) = parse(text);
    let top = decode::<Top>(&node, &mut diags).expect("warnings only");
    assert_eq!(top.receivers[0].stdout, Some(Stdout { de_dot: false }));
    assert_eq!(diags.error_count(), 0, "{diags}");
    let typo = find(&diags, Severity::Warning, "unknown key `webhok`");
    assert_eq!(typo.location, Some(Location::new(3, 5)));
    assert_eq!(typo.path.as_deref(), Some("receivers[0]"));
    assert_eq!(typo.hint.as_deref(), Some("did you mean `webhook`?"));
    let case = find(&diags, Severity::Warning, "unknown key `DeDot`");
    assert_eq!(case.hint.as_deref(), Some("did you mean `deDot`?"));
    let other = find(&diags, Severity::Warning, "unknown key `color`");
    assert_eq!(other.hint.as_deref(), Some("known keys here: `deDot`"));
}

#[test]
fn strict_types_turn_unknown_keys_into_errors() {
    let (node, mut diags) = parse("name: a\nstdout:\n  deDott: true\n");
    let options = DecodeOptions {
        path: "receivers[0]",
        strict_types: &["Stdout"],
    };
    assert!(decode_with::<Receiver>(&node, &options, &mut diags).is_none());
    let d = find(&diags, Severity::Error, "unknown key `deDott`");
    assert_eq!(d.path.as_deref(), Some("receivers[0].stdout"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `deDot`?"));
}

#[test]
fn located_values_and_raw_nodes_keep_their_position() {
    let text = "receivers:\n  - name: hook\n    webhook:\n      endpoint: \"http://x\"\n      layout:\n        msg: \"{{ .Message }}\"\n        count: 3\n";
    let (node, mut diags) = parse(text);
    let top = decode::<Top>(&node, &mut diags).unwrap();
    let hook = top.receivers[0].webhook.as_ref().unwrap();
    assert_eq!(hook.endpoint.value, "http://x");
    assert_eq!(hook.endpoint.location, Location::new(4, 17));
    assert_eq!(hook.endpoint.path, "receivers[0].webhook.endpoint");
    let layout = hook.layout.as_ref().unwrap();
    assert_eq!(layout.loc, Location::new(6, 9));
    assert_eq!(layout.get("msg").unwrap().as_str(), Some("{{ .Message }}"));
    assert_eq!(layout.get("count").unwrap().loc, Location::new(7, 16));

    // A raw node decodes later with its original locations and a path prefix.
    #[derive(Debug, Deserialize)]
    struct Layout {
        #[allow(dead_code)]
        count: bool,
    }
    let mut later = Diagnostics::new();
    let options = DecodeOptions {
        path: "receivers[0].webhook.layout",
        strict_types: &[],
    };
    assert!(decode_with::<Layout>(layout, &options, &mut later).is_none());
    let d = later.errors().next().unwrap();
    assert_eq!(d.location, Some(Location::new(7, 16)));
    assert_eq!(d.path.as_deref(), Some("receivers[0].webhook.layout.count"));
}

#[test]
fn located_values_support_semantic_errors_later() {
    #[derive(Deserialize)]
    struct Rule {
        namespace: Located<String>,
    }
    let (rule, mut diags) = from_str::<Rule>("t.yaml", "namespace: \"*test*\"\n").unwrap();
    rule.namespace
        .error(
            &mut diags,
            "invalid regex: missing argument to repetition operator",
        )
        .with_hint("`*` repeats the previous item; write `.*test.*`");
    let text = diags.to_string();
    assert!(
        text.starts_with("t.yaml:1:12: error: namespace: invalid regex"),
        "{text}"
    );
    assert!(text.contains("hint: `*` repeats"));
}

#[test]
fn secrets_are_never_quoted_in_errors() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct S {
        pin: Secret<u32>,
        open: u32,
    }
    let diags = from_str::<S>("t.yaml", "pin: \"9876\"\nopen: \"1234\"\n").unwrap_err();
    let text = diags.to_string();
    assert!(!text.contains("9876"), "{text}");
    assert!(text.contains("1234"), "{text}");
    find(
        &diags,
        Severity::Error,
        "expected an integer, found a string",
    );
}

#[test]
fn enums_decode_by_name_or_single_key_mapping() {
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Codec {
        None,
        Snappy,
        Gzip,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Sink {
        Stdout(Stdout),
        File { path: String },
    }
    #[derive(Debug, Deserialize)]
    struct S {
        codec: Codec,
        sinks: Vec<Sink>,
    }
    let (s, _) = from_str::<S>(
        "t.yaml",
        "codec: gzip\nsinks:\n  - stdout: {deDot: true}\n  - file: {path: /tmp/x}\n  - stdout\n",
    )
    .unwrap();
    assert_eq!(s.codec, Codec::Gzip);
    assert_eq!(
        s.sinks,
        vec![
            Sink::Stdout(Stdout { de_dot: true }),
            Sink::File {
                path: "/tmp/x".to_owned()
            },
            Sink::Stdout(Stdout::default()),
        ]
    );
    let diags = from_str::<S>("t.yaml", "codec: snapy\nsinks: []\n").unwrap_err();
    let d = find(&diags, Severity::Error, "unknown value `snapy`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `snappy`?"));
    assert_eq!(d.location, Some(Location::new(1, 8)));
    let _ = Codec::None;
}

#[test]
fn maps_with_special_keys_use_quoted_paths() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct S {
        labels: BTreeMap<String, u8>,
    }
    let diags = from_str::<S>("t.yaml", "labels:\n  app.kubernetes.io/name: web\n").unwrap_err();
    let d = diags.errors().next().unwrap();
    assert_eq!(
        d.path.as_deref(),
        Some("labels[\"app.kubernetes.io/name\"]")
    );
}

#[test]
fn located_and_node_fall_back_gracefully_with_other_deserializers() {
    #[derive(Deserialize)]
    struct S {
        name: Located<String>,
        layout: Node,
        secret: Secret<String>,
    }
    let s: S = serde_json::from_str(
        r#"{"name": "dump", "layout": {"a": [1, true, null, "x", 1.5]}, "secret": "pw"}"#,
    )
    .unwrap();
    assert_eq!(s.name.value, "dump");
    assert_eq!(s.name.location, Location::UNKNOWN);
    let items = s.layout.get("a").unwrap().as_seq().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[3].as_str(), Some("x"));
    assert!(items[2].is_null());
    assert_eq!(s.secret.expose(), "pw");
}

#[test]
fn custom_errors_can_carry_a_hint() {
    #[derive(Debug)]
    struct Regex;
    impl<'de> Deserialize<'de> for Regex {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = String::deserialize(d)?;
            Err(serde::de::Error::custom(format!(
                "invalid regex `{text}`{}`*` needs something to repeat",
                herald_config::HINT_SEPARATOR
            )))
        }
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Rule {
        namespace: Regex,
    }
    let diags = from_str::<Rule>("t.yaml", "namespace: \"*test*\"\n").unwrap_err();
    let d = find(&diags, Severity::Error, "invalid regex `*test*`");
    assert_eq!(d.hint.as_deref(), Some("`*` needs something to repeat"));
    assert_eq!(d.location, Some(Location::new(1, 12)));
    assert_eq!(d.path.as_deref(), Some("namespace"));
}
