use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::de::{DecodeOptions, decode_with};
use crate::diagnostics::Diagnostics;
use crate::located::Located;
use crate::location::SourceFile;

/// Decodes the `namespaceSelector` and `includeNonNamespaced` of a YAML mapping.
fn compile(
    yaml: &str,
) -> (
    Result<Option<NamespaceSelector>, SelectorInvalid>,
    Diagnostics,
) {
    let source = Arc::new(SourceFile::new("c.yaml", yaml));
    let mut diags = Diagnostics::for_source(source.clone());
    let root = crate::yaml::parse(&source, &mut diags).expect("valid YAML");
    let include: Option<Located<bool>> = root.get("includeNonNamespaced").map(|n| {
        let options = DecodeOptions {
            path: "includeNonNamespaced",
            strict_types: &[],
        };
        decode_with(n, &options, &mut diags).expect("a boolean")
    });
    let sel = decode(
        root.get("namespaceSelector"),
        "namespaceSelector",
        include.as_ref(),
        &mut diags,
    );
    (sel, diags)
}

fn selector(yaml: &str) -> NamespaceSelector {
    let (sel, diags) = compile(yaml);
    assert!(!diags.has_errors(), "{diags}");
    sel.expect("valid").expect("a selector")
}

/// `line: path: message (hint: …)` of every error.
fn errors(yaml: &str) -> Vec<String> {
    let (sel, diags) = compile(yaml);
    assert_eq!(sel, Err(SelectorInvalid), "{diags}");
    diags
        .errors()
        .map(|d| {
            format!(
                "{}: {}: {} (hint: {})",
                d.location.map_or(0, |l| l.line),
                d.path.as_deref().unwrap_or(""),
                d.message,
                d.hint.as_deref().unwrap_or("")
            )
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn match_labels_need_every_label_with_its_value() {
    let s = selector("namespaceSelector:\n  matchLabels: {team: payments, env: prod}\n");
    assert!(s.matches(
        "shop",
        &labels(&[("team", "payments"), ("env", "prod"), ("x", "y")])
    ));
    assert!(!s.matches("shop", &labels(&[("team", "payments")])));
    assert!(!s.matches("shop", &labels(&[("team", "payments"), ("env", "dev")])));
    assert_eq!(s.to_string(), "env=prod,team=payments");
}

#[test]
fn every_operator_has_kubernetes_semantics() {
    let s = |op: &str| {
        selector(&format!(
            "namespaceSelector:\n  matchExpressions:\n    - {{key: env, operator: {op}}}\n"
        ))
    };
    let with = |v: &str| labels(&[("env", v)]);
    let none = labels(&[("other", "x")]);

    let in_ = s("In, values: [prod, staging]");
    assert!(in_.matches("a", &with("prod")));
    assert!(in_.matches("a", &with("staging")));
    assert!(!in_.matches("a", &with("dev")));
    assert!(!in_.matches("a", &none), "In needs the label");

    let not_in = s("NotIn, values: [prod]");
    assert!(!not_in.matches("a", &with("prod")));
    assert!(not_in.matches("a", &with("dev")));
    assert!(
        not_in.matches("a", &none),
        "NotIn holds for an absent label"
    );

    let exists = s("Exists");
    assert!(exists.matches("a", &with("")));
    assert!(!exists.matches("a", &none));

    let absent = s("DoesNotExist, values: []");
    assert!(!absent.matches("a", &with("prod")));
    assert!(absent.matches("a", &none));
    assert_eq!(absent.to_string(), "!env");
}

#[test]
fn terms_are_anded() {
    let s = selector(
        "namespaceSelector:\n  matchLabels: {team: payments}\n  matchExpressions:\n    - {key: env, operator: NotIn, values: [dev]}\n    - {key: sandbox, operator: DoesNotExist}\n",
    );
    assert!(s.matches("a", &labels(&[("team", "payments"), ("env", "prod")])));
    assert!(!s.matches("a", &labels(&[("team", "payments"), ("env", "dev")])));
    assert!(!s.matches("a", &labels(&[("team", "payments"), ("sandbox", "1")])));
    assert!(!s.matches("a", &labels(&[("env", "prod")])));
}

#[test]
fn empty_labels_are_an_empty_set_and_an_empty_selector_matches_all() {
    let empty = BTreeMap::new();
    let s = selector("namespaceSelector: {matchLabels: {team: payments}}\n");
    assert!(!s.matches("shop", &empty));
    let s =
        selector("namespaceSelector:\n  matchExpressions: [{key: team, operator: DoesNotExist}]\n");
    assert!(s.matches("shop", &empty), "no labels: no `team` label");
    let s = selector("namespaceSelector: {}\n");
    assert!(s.matches("shop", &empty));
    assert_eq!(s.to_string(), "<every namespace>");
}

#[test]
fn cluster_scoped_objects_match_only_when_included() {
    let empty = BTreeMap::new();
    let s =
        selector("namespaceSelector:\n  matchExpressions: [{key: team, operator: DoesNotExist}]\n");
    assert!(
        !s.matches("", &empty),
        "a Node event is not in any namespace"
    );
    let s = selector(
        "namespaceSelector:\n  matchLabels: {team: payments}\nincludeNonNamespaced: true\n",
    );
    assert!(s.matches("", &empty));
    assert!(
        !s.matches("shop", &empty),
        "namespaced events still need the labels"
    );
    assert!(s.includes_non_namespaced());
}

#[test]
fn no_selector_is_none_and_a_lone_include_is_a_warning() {
    let (sel, diags) = compile("other: 1\n");
    assert_eq!(sel, Ok(None));
    assert!(diags.is_empty());
    let (sel, diags) = compile("namespaceSelector: null\nincludeNonNamespaced: true\n");
    assert_eq!(sel, Ok(None));
    let w: Vec<_> = diags.warnings().collect();
    assert_eq!(w.len(), 1, "{diags}");
    assert!(
        w[0].message
            .contains("no effect without a `namespaceSelector`")
    );
    assert_eq!(w[0].location.map(|l| l.line), Some(2));
}

#[test]
fn invalid_operators_list_the_valid_ones() {
    assert_eq!(
        errors(
            "namespaceSelector:\n  matchExpressions:\n    - key: team\n      operator: in\n      values: [a]\n"
        ),
        [
            "4: namespaceSelector.matchExpressions[0].operator: invalid operator `in` (hint: did you mean `In`? valid operators: `In`, `NotIn`, `Exists` or `DoesNotExist` (case-sensitive))"
        ]
    );
    assert_eq!(
        errors(
            "namespaceSelector:\n  matchExpressions: [{key: team, operator: Equals, values: [a]}]\n"
        ),
        [
            "2: namespaceSelector.matchExpressions[0].operator: invalid operator `Equals` (hint: valid operators: `In`, `NotIn`, `Exists` or `DoesNotExist`)"
        ]
    );
    let e = errors("namespaceSelector:\n  matchExpressions: [{key: team}]\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "2: namespaceSelector.matchExpressions[0]: a match expression needs an `operator`"
        ),
        "{e:?}"
    );
}

#[test]
fn values_must_fit_the_operator() {
    assert_eq!(
        errors("namespaceSelector:\n  matchExpressions:\n    - {key: team, operator: In}\n"),
        [
            "3: namespaceSelector.matchExpressions[0].operator: operator `In` needs at least one value (hint: add `values: [a, b]`; to test only that the label is set use `Exists`)"
        ]
    );
    assert_eq!(
        errors(
            "namespaceSelector:\n  matchExpressions:\n    - key: team\n      operator: NotIn\n      values: []\n"
        ),
        [
            "5: namespaceSelector.matchExpressions[0].values: operator `NotIn` needs at least one value (hint: add `values: [a, b]`; to test only that the label is not set use `DoesNotExist`)"
        ]
    );
    assert_eq!(
        errors(
            "namespaceSelector:\n  matchExpressions:\n    - key: team\n      operator: Exists\n      values: [payments]\n"
        ),
        [
            "5: namespaceSelector.matchExpressions[0].values: operator `Exists` takes no values (hint: remove `values:`, or use `In` to test the values)"
        ]
    );
}

#[test]
fn invalid_keys_and_values_point_at_their_line() {
    let e = errors(
        "namespaceSelector:\n  matchLabels:\n    team: ok\n    \"bad key!\": x\n  matchExpressions:\n    - {key: Example.com/team, operator: Exists}\n    - {key: env, operator: In, values: [\"-dash\"]}\n",
    );
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("4: namespaceSelector.matchLabels[\"bad key!\"]: invalid label key `bad key!` in `matchLabels`: it must consist of letters"),
        "{e:?}"
    );
    assert!(
        e[0].contains("hint: label keys are `[prefix/]name`"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("6: namespaceSelector.matchExpressions[0].key: invalid label key `Example.com/team`: the prefix `Example.com` is not a DNS subdomain"),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("7: namespaceSelector.matchExpressions[1].values[0]: invalid label value `-dash` for `env`"),
        "{e:?}"
    );
    let e = errors("namespaceSelector:\n  matchExpressions: [{operator: Exists}]\n");
    assert!(e[0].contains("a match expression needs a `key`"), "{e:?}");
}

#[test]
fn a_non_mapping_selector_and_unknown_keys_are_errors() {
    assert_eq!(
        errors("namespaceSelector: team=payments\n"),
        [
            "1: namespaceSelector: `namespaceSelector` must be a mapping, found the string \"team=payments\" (hint: kubectl's `team=payments` syntax is not read here: write `namespaceSelector: {matchLabels: {team: payments}}`)"
        ]
    );
    let e = errors("namespaceSelector: [a]\n");
    assert!(e[0].contains("must be a mapping"), "{e:?}");
    assert!(
        e[0].contains("hint: write `namespaceSelector: {matchLabels"),
        "{e:?}"
    );
    let e = errors("namespaceSelector:\n  matchLabel: {team: payments}\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("2: "), "{e:?}");
    assert!(e[0].contains("matchLabel"), "{e:?}");
    assert!(e[0].contains("did you mean `matchLabels`?"), "{e:?}");
}

#[test]
fn a_selector_pasted_from_the_environment_is_not_echoed() {
    let text = "namespaceSelector: ${SEL}\n";
    let expanded = crate::expand_env(text, |n| (n == "SEL").then(|| "s3cret=v".to_owned()));
    let source = Arc::new(SourceFile::new("c.yaml", text));
    let mut diags = Diagnostics::for_source(source.clone());
    let root = crate::yaml::parse_expanded(&expanded, &source, &mut diags).expect("valid YAML");
    let r = decode(
        root.get("namespaceSelector"),
        "namespaceSelector",
        None,
        &mut diags,
    );
    assert_eq!(r, Err(SelectorInvalid));
    let shown = diags.render(&source);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("must be a mapping"), "{shown}");
}
