//! YAML parsing: locations, errors with the offending line and the template
//! hint, anchors, aliases, merge keys, documents, limits.

use herald_config::yaml::{TEMPLATE_HINT, parse, parse_expanded};
use herald_config::{
    Diagnostics, Location, NodeValue, ScalarStyle, Severity, SourceFile, expand_env,
};

use crate::{env, find, load_err};

fn parse_ok(text: &str) -> (herald_config::Node, Diagnostics) {
    let source = SourceFile::new("t.yaml", text);
    let mut diags = Diagnostics::new();
    let node = parse(&source, &mut diags).unwrap_or_else(|| panic!("parse failed: {diags}"));
    (node, diags)
}

#[test]
fn nodes_and_keys_carry_locations_and_styles() {
    let (root, diags) = parse_ok("a: 1\nlist:\n  - 'x'\n  - \"y\"\n  - 0x1F\nb: |\n  text\n");
    assert!(diags.is_empty());
    let (key, value) = root.entry("a").unwrap();
    assert_eq!(key.loc, Location::new(1, 1));
    assert_eq!(value.loc, Location::new(1, 4));
    assert_eq!(value.value, NodeValue::Int(1));
    let list = root.get("list").unwrap().as_seq().unwrap();
    assert_eq!(list[0].loc, Location::new(3, 5));
    assert_eq!(list[0].style, ScalarStyle::SingleQuoted);
    assert_eq!(list[1].style, ScalarStyle::DoubleQuoted);
    assert_eq!(list[2].value, NodeValue::Int(31));
    assert_eq!(list[2].raw.as_deref(), Some("0x1F"));
    assert_eq!(root.get("b").unwrap().as_str(), Some("text\n"));
    assert_eq!(root.get("b").unwrap().style, ScalarStyle::Literal);
}

#[test]
fn parse_errors_point_at_the_line_and_show_it() {
    let diags = load_err("logLevel: info\nroute:\n  routes: [a, b\nreceivers: []\n");
    let d = find(&diags, Severity::Error, "cannot parse YAML");
    assert!(d.location.is_some_and(|l| l.line >= 3), "{diags}");
    let text = diags.to_string();
    assert!(text.starts_with("config.yaml:"), "{text}");
}

#[test]
fn unquoted_template_that_fails_to_parse_gets_the_hint() {
    let diags = load_err(
        "receivers:\n  - name: x\n    webhook:\n      layout:\n        message: {{ .Reason }} happened\n",
    );
    let d = find(&diags, Severity::Error, "cannot parse YAML");
    assert_eq!(d.location.map(|l| l.line), Some(5), "{diags}");
    assert_eq!(d.hint.as_deref(), Some(TEMPLATE_HINT));
    let text = diags.to_string();
    assert!(
        text.contains("5 |         message: {{ .Reason }} happened"),
        "{text}"
    );
    assert!(
        text.contains("hint: values with templates must be quoted, e.g. `key: \"{{ .Reason }}\"`")
    );
}

#[test]
fn unquoted_template_read_as_a_mapping_is_an_error_with_the_hint() {
    // `{{ .GetTimestampMs }}` is valid YAML (a mapping used as a key); KEE's
    // parser rejects it, and so do we, at the right place.
    let diags = load_err(
        "receivers:\n  - name: x\n    webhook:\n      layout:\n        createdAt: {{ .GetTimestampMs }}\n",
    );
    let d = find(&diags, Severity::Error, "unquoted template");
    assert_eq!(d.location, Some(Location::new(5, 21)));
    assert_eq!(d.hint.as_deref(), Some(TEMPLATE_HINT));
}

#[test]
fn errors_after_a_multi_line_value_point_at_the_original_line() {
    let original = "a:\n  b: \"$QUOTED\"\nc: [1, 2\n";
    let source = SourceFile::new("t.yaml", original);
    let ex = expand_env(original, env(&[("QUOTED", "x\n   y\n   z")]));
    let mut diags = Diagnostics::new();
    assert!(parse_expanded(&ex, &source, &mut diags).is_none());
    let d = diags.iter().next().unwrap();
    // The expanded text has two extra lines; the error is reported after
    // `c: [1, 2` in the original file, not six lines down.
    assert_eq!(d.location, Some(Location::new(4, 1)), "{diags:?}");
}

#[test]
fn a_value_with_a_line_break_that_breaks_the_structure_names_the_variable() {
    let original = "a: 1\nb: $BROKEN\nc: 2\n";
    let source = SourceFile::new("t.yaml", original);
    let ex = expand_env(original, env(&[("BROKEN", "x\ny\nz")]));
    let mut diags = Diagnostics::new();
    assert!(parse_expanded(&ex, &source, &mut diags).is_none());
    let d = diags.iter().next().unwrap();
    assert_eq!(d.location, Some(Location::new(2, 4)));
    assert!(d.hint.as_deref().unwrap().contains("`BROKEN`"));
}

#[test]
fn parse_error_inside_a_pasted_value_names_the_variable() {
    let text = "a: ${VAL}\n";
    let source = SourceFile::new("t.yaml", text);
    let ex = expand_env(text, env(&[("VAL", "x: y: z")]));
    let mut diags = Diagnostics::new();
    assert!(parse_expanded(&ex, &source, &mut diags).is_none());
    let d = diags
        .iter()
        .find(|d| d.message.contains("cannot parse"))
        .unwrap();
    assert_eq!(d.location, Some(Location::new(1, 4)));
    assert!(
        d.hint.as_deref().unwrap_or("").contains("`VAL`"),
        "{diags:?}"
    );
    assert!(!format!("{diags:?}").contains("x: y: z"));
}

#[test]
fn tabs_in_indentation_get_a_hint() {
    let source = SourceFile::new("t.yaml", "a:\n\tb: 1\n");
    let mut diags = Diagnostics::new();
    assert!(parse(&source, &mut diags).is_none());
    let d = diags.iter().next().unwrap();
    assert!(
        d.hint.as_deref().unwrap_or("").contains("tabs"),
        "{diags:?}"
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let (root, diags) = parse_ok(
        "defaults: &defaults\n  endpoint: http://a\n  timeout: 5\nother: &other\n  timeout: 7\n  extra: 1\n\
         one:\n  <<: *defaults\n  endpoint: http://b\n\
         two:\n  <<: [*other, *defaults]\n\
         copy: *defaults\n\
         name: &n dump\nreceiver: *n\n",
    );
    assert!(diags.is_empty(), "{diags}");
    let one = root.get("one").unwrap();
    assert_eq!(one.get("endpoint").unwrap().as_str(), Some("http://b"));
    assert_eq!(one.get("timeout").unwrap().value, NodeValue::Int(5));
    assert!(one.get("<<").is_none());
    let two = root.get("two").unwrap();
    assert_eq!(two.get("timeout").unwrap().value, NodeValue::Int(7));
    assert_eq!(two.get("extra").unwrap().value, NodeValue::Int(1));
    assert_eq!(two.get("endpoint").unwrap().as_str(), Some("http://a"));
    let copy = root.get("copy").unwrap();
    assert_eq!(copy.get("timeout").unwrap().value, NodeValue::Int(5));
    // The alias itself is where the copy is used.
    assert_eq!(copy.loc, Location::new(12, 7));
    assert_eq!(root.get("receiver").unwrap().as_str(), Some("dump"));
}

#[test]
fn merging_a_scalar_is_an_error() {
    let source = SourceFile::new("t.yaml", "a: &x 1\nb:\n  <<: *x\n");
    let mut diags = Diagnostics::new();
    parse(&source, &mut diags);
    let d = find(&diags, Severity::Error, "merge key");
    assert_eq!(d.location, Some(Location::new(3, 7)));
}

#[test]
fn duplicate_keys_warn_and_the_last_wins() {
    let (root, diags) = parse_ok("a: 1\nb: 2\na: 3\n");
    assert_eq!(root.get("a").unwrap().value, NodeValue::Int(3));
    let d = find(&diags, Severity::Warning, "duplicate key `a`");
    assert_eq!(d.location, Some(Location::new(3, 1)));
    assert_eq!(root.as_map().unwrap().len(), 2);
}

#[test]
fn first_non_null_document_is_used() {
    let (root, _) = parse_ok("---\n# only a comment\n---\nlogLevel: debug\n---\nlogLevel: warn\n");
    assert_eq!(root.get("logLevel").unwrap().as_str(), Some("debug"));
    let (empty, _) = parse_ok("# nothing at all\n");
    assert!(empty.is_null());
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut prev = "a";
    for name in names {
        bomb.push_str(&format!(
            "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
        prev = name;
    }
    let source = SourceFile::new("t.yaml", bomb);
    let mut diags = Diagnostics::new();
    assert!(parse(&source, &mut diags).is_none());
    find(&diags, Severity::Error, "more than");

    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let source = SourceFile::new("t.yaml", deep);
    let mut diags = Diagnostics::new();
    assert!(parse(&source, &mut diags).is_none());
    find(&diags, Severity::Error, "nested deeper");

    // Deeper still, the parser's own limit answers first.
    let deeper = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let source = SourceFile::new("t.yaml", deeper);
    let mut diags = Diagnostics::new();
    assert!(parse(&source, &mut diags).is_none());
    assert!(diags.has_errors());
}

#[test]
fn core_tags_are_honoured() {
    let (root, diags) = parse_ok("a: !!str 123\nb: !!int \"42\"\nc: !!float 1\n");
    assert!(diags.is_empty(), "{diags}");
    assert_eq!(root.get("a").unwrap().as_str(), Some("123"));
    assert_eq!(root.get("b").unwrap().value, NodeValue::Int(42));
    assert_eq!(root.get("c").unwrap().value, NodeValue::Float(1.0));
    let source = SourceFile::new("t.yaml", "a: !!int twelve\n");
    let mut diags = Diagnostics::new();
    parse(&source, &mut diags);
    find(&diags, Severity::Error, "not a valid !!int");
}
