//! Environment expansion: Go's `os.ExpandEnv` rules, the `$$` and `{{ }}`
//! fixes, the position map and the warnings.

use herald_config::expand::{ReferenceKind, ValueRisk};
use herald_config::{Diagnostics, Location, Severity, expand_env};

use crate::env;

#[test]
fn go_expand_env_rules() {
    let lookup = env(&[
        ("NAME", "value"),
        ("NAME_2x", "long"),
        ("A:-b", "weird"),
        ("1", "one"),
        ("*", "star"),
        ("X", "x"),
    ]);
    let cases: &[(&str, &str)] = &[
        // ${NAME} up to the first `}`, no default syntax
        ("a ${NAME} b", "a value b"),
        ("${A:-b}", "weird"),
        ("${A:-c}", ""),
        ("${NAME}}", "value}"),
        // $NAME is the longest run of [A-Za-z0-9_]
        ("$NAME_2x!", "long!"),
        ("$NAME-x", "value-x"),
        ("$NAMEX", ""),
        // one special character is consumed and looked up
        ("$1st", "onest"),
        ("$*", "star"),
        ("$#$@$!$?$-$0", ""),
        ("${1}", "one"),
        ("${*}", "star"),
        // ${} is removed, an unterminated ${ loses two characters
        ("a${}b", "ab"),
        ("a${b", "ab"),
        // any other character after `$`, or `$` at the end, stays
        ("$ x", "$ x"),
        ("$.Message", "$.Message"),
        ("\"$\"", "\"$\""),
        ("a|$|b", "a|$|b"),
        ("($)", "($)"),
        ("regex$", "regex$"),
        ("^prod-.*$\"", "^prod-.*$\""),
        ("é$Xé", "éxé"),
        // unset variables expand to nothing
        ("[$UNSET]", "[]"),
        ("[${UNSET}]", "[]"),
    ];
    for (input, want) in cases {
        assert_eq!(expand_env(input, &lookup).text(), *want, "input {input:?}");
    }
}

#[test]
fn double_dollar_is_a_literal_dollar() {
    let lookup = env(&[("HOME", "/root"), ("X", "x")]);
    let cases: &[(&str, &str)] = &[
        ("$$", "$"),
        ("cost: $$5", "cost: $5"),
        ("$$HOME", "$HOME"),
        ("$$$X", "$x"),
        ("pa$$word", "pa$word"),
        ("$$$$", "$$"),
    ];
    for (input, want) in cases {
        assert_eq!(expand_env(input, &lookup).text(), *want, "input {input:?}");
    }
}

#[test]
fn template_actions_are_not_expanded() {
    let lookup = env(&[("X", "x"), ("k", "K"), ("v", "V"), ("o", "O")]);
    let cases: &[(&str, &str)] = &[
        ("{{ $x := .Foo }}{{ $x }}", "{{ $x := .Foo }}{{ $x }}"),
        (
            "{{ range $k, $v := .Labels }}{{ $k }}={{ $v }}{{ end }}",
            "{{ range $k, $v := .Labels }}{{ $k }}={{ $v }}{{ end }}",
        ),
        ("{{ $.Message }}", "{{ $.Message }}"),
        // actions may span lines
        ("{{-\n  $o := .X\n-}} $X", "{{-\n  $o := .X\n-}} x"),
        // outside actions expansion still happens
        ("$X {{ .A }} ${X}", "x {{ .A }} x"),
        ("\"{{ .Message }} in $X\"", "\"{{ .Message }} in x\""),
        // a dollar sign before a template is kept
        ("${{ .Count }}", "${{ .Count }}"),
        // `{{` without a closing `}}` is ordinary text
        ("{{ $k", "{{ K"),
    ];
    for (input, want) in cases {
        assert_eq!(expand_env(input, &lookup).text(), *want, "input {input:?}");
    }
}

#[test]
fn positions_map_back_to_the_original_file() {
    let original = "a: ${SHORT}\nb: $LONG tail\nc: ${MULTI}\nd: end\n";
    let lookup = env(&[
        ("SHORT", "1"),
        ("LONG", "a much longer value"),
        ("MULTI", "x\ny"),
    ]);
    let ex = expand_env(original, &lookup);
    assert_eq!(
        ex.text(),
        "a: 1\nb: a much longer value tail\nc: x\ny\nd: end\n"
    );
    // Literal text maps one to one.
    assert_eq!(
        ex.original_location(Location::new(1, 1)),
        Location::new(1, 1)
    );
    // Inside a pasted value: the `$` of its reference.
    assert_eq!(
        ex.original_location(Location::new(1, 4)),
        Location::new(1, 4)
    );
    assert_eq!(
        ex.original_location(Location::new(2, 10)),
        Location::new(2, 4)
    );
    // After a value: shifted back by the length difference.
    let tail = "b: a much longer value ".chars().count() + 1;
    assert_eq!(
        ex.original_location(Location::new(2, tail)),
        Location::new(2, 10)
    );
    // A value with a line break adds a line in the expanded text only.
    assert_eq!(
        ex.original_location(Location::new(4, 1)),
        Location::new(3, 4)
    );
    assert_eq!(
        ex.original_location(Location::new(5, 4)),
        Location::new(4, 4)
    );
    // Byte offsets too, and which variable covers them.
    let y = ex.text().find("y\n").unwrap();
    assert_eq!(ex.original_offset(y), original.find("${MULTI}").unwrap());
    assert_eq!(ex.variable_at(y), Some("MULTI"));
    assert_eq!(ex.variable_at(0), None);
    let end = ex.text().find("end").unwrap();
    assert_eq!(&original[ex.original_offset(end)..], "end\n");
}

#[test]
fn records_referenced_and_unset_variables() {
    let ex = expand_env(
        "a: $SET\nb: ${UNSET}\nc: $UNSET\nd: ${}\ne: ${OPEN",
        env(&[("SET", "1")]),
    );
    assert_eq!(ex.referenced(), vec!["SET", "UNSET"]);
    assert_eq!(ex.unset(), vec!["UNSET"]);
    let kinds: Vec<ReferenceKind> = ex.references().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ReferenceKind::Set { risk: None },
            ReferenceKind::Unset,
            ReferenceKind::Unset,
            ReferenceKind::EmptyBraces,
            ReferenceKind::Unterminated,
        ]
    );
    assert_eq!(ex.references()[1].location, Location::new(2, 4));
}

#[test]
fn warns_once_per_unset_variable_without_values() {
    let ex = expand_env(
        "a: ${DB_PASSWORD}\nb: $DB_PASSWORD\nc: $TOKEN\nd: $1\n",
        env(&[("TOKEN", "s3cr3t-value")]),
    );
    let mut diags = Diagnostics::new();
    ex.report(&mut diags);
    let unset: Vec<_> = diags
        .iter()
        .filter(|d| d.message.contains("is not set"))
        .collect();
    assert_eq!(unset.len(), 2, "{diags}");
    assert!(unset[0].message.contains("`DB_PASSWORD`"));
    assert_eq!(unset[0].location, Some(Location::new(1, 4)));
    assert!(unset[1].message.contains("`1`"));
    assert_eq!(
        unset[1].hint.as_deref(),
        Some("write `$$` for a literal `$`")
    );
    assert!(diags.iter().all(|d| d.severity == Severity::Warning));
    assert!(!diags.to_string().contains("s3cr3t"));
}

#[test]
fn warns_when_a_value_can_change_the_yaml_structure() {
    let lookup = env(&[
        ("NL", "a\nb: c"),
        ("COLON", "key: value"),
        ("HASH", "pass #word"),
        ("SAFE", "plain"),
    ]);
    let ex = expand_env(
        "a: $NL\nb: $COLON\nc: \"$COLON\"\nd: '${NL}'\ne: $HASH\nf: x # ${NL}\ng: y # $COLON\nh: $SAFE\n",
        &lookup,
    );
    let risks: Vec<(usize, Option<ValueRisk>)> = ex
        .references()
        .iter()
        .map(|r| match r.kind {
            ReferenceKind::Set { risk } => (r.location.line, risk),
            _ => (r.location.line, None),
        })
        .collect();
    assert_eq!(
        risks,
        vec![
            (1, Some(ValueRisk::Newline)),
            (2, Some(ValueRisk::ColonSpace)),
            (3, None),
            (4, Some(ValueRisk::Newline)),
            (5, Some(ValueRisk::Comment)),
            (6, Some(ValueRisk::Newline)),
            (7, None),
            (8, None),
        ]
    );
    let mut diags = Diagnostics::new();
    ex.report(&mut diags);
    assert_eq!(diags.warning_count(), 5, "{diags}");
    let first = diags.iter().next().unwrap();
    assert!(first.message.contains("`NL`") && first.message.contains("line break"));
    assert!(first.hint.as_deref().unwrap().contains("{{ env \"NL\" }}"));
    let colon = diags.iter().nth(1).unwrap();
    assert_eq!(
        colon.hint.as_deref(),
        Some("quote the reference: \"${COLON}\"")
    );
    assert!(!diags.to_string().contains("key: value"));
}
