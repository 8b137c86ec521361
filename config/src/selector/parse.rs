//! Reads `namespaceSelector` and `includeNonNamespaced` from the config file into a
//! [`NamespaceSelector`], reporting every problem with its location and a hint.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::syntax::{key_problem, value_problem};
use super::{NamespaceSelector, Operator, Term};
use crate::de::{DecodeOptions, decode_with};
use crate::diagnostics::Diagnostics;
use crate::located::Located;
use crate::node::{Node, NodeValue};
use crate::suggest::{closest, one_of};

/// The selector had errors; they are in the diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid namespace selector (see the configuration diagnostics)")]
pub struct SelectorInvalid;

/// `namespaceSelector` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceSelectorSpec {
    #[serde(default)]
    match_labels: Option<BTreeMap<String, Located<String>>>,
    #[serde(default)]
    match_expressions: Option<Vec<Located<MatchExpressionSpec>>>,
}

/// One `matchExpressions` item as written.
#[derive(Debug, Default, Deserialize)]
struct MatchExpressionSpec {
    #[serde(default)]
    key: Option<Located<String>>,
    #[serde(default)]
    operator: Option<Located<String>>,
    #[serde(default)]
    values: Option<Located<Vec<Located<String>>>>,
}

/// Unknown keys in these are errors (a misspelt `matchLabel` would select everything).
const STRICT: &[&str] = &["NamespaceSelectorSpec", "MatchExpressionSpec"];

const KEY_HINT: &str = "label keys are `[prefix/]name`: an optional DNS subdomain and `/`, then at most 63 letters, digits, `-`, `_` or `.` starting and ending with a letter or digit, e.g. `team` or `app.kubernetes.io/name`";
const VALUE_HINT: &str = "label values are empty or at most 63 letters, digits, `-`, `_` or `.` starting and ending with a letter or digit";

/// Decodes a `namespaceSelector` node (written at key path `path`) and the
/// `includeNonNamespaced` beside it. `Ok(None)` when there is no selector (then
/// every event matches as before).
///
/// # Errors
/// [`SelectorInvalid`] when any problem was an error (all are in `diags`).
pub fn decode(
    selector: Option<&Node>,
    path: &str,
    include_non_namespaced: Option<&Located<bool>>,
    diags: &mut Diagnostics,
) -> Result<Option<NamespaceSelector>, SelectorInvalid> {
    let Some(node) = selector.filter(|n| !n.is_null()) else {
        if let Some(include) = include_non_namespaced {
            include
                .warning(
                    diags,
                    "`includeNonNamespaced` has no effect without a `namespaceSelector`",
                )
                .with_hint("without a selector every event matches, cluster-scoped or not; add a `namespaceSelector:` or remove this key");
        }
        return Ok(None);
    };
    let include = include_non_namespaced.is_some_and(|i| i.value);
    if !matches!(node.value, NodeValue::Map(_)) {
        let d = diags
            .error(
                node.loc,
                format!(
                    "`namespaceSelector` must be a mapping, found {}",
                    node.describe()
                ),
            )
            .with_path(path);
        d.about_env_values(&node.env);
        if node.as_str().is_some_and(|s| s.contains(['=', '!'])) {
            d.with_hint("kubectl's `team=payments` syntax is not read here: write `namespaceSelector: {matchLabels: {team: payments}}`");
        } else {
            d.with_hint("write `namespaceSelector: {matchLabels: {team: payments}}` or `namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [payments]}]}`");
        }
        return Err(SelectorInvalid);
    }
    let options = DecodeOptions {
        path,
        strict_types: STRICT,
    };
    let spec: NamespaceSelectorSpec = decode_with(node, &options, diags).ok_or(SelectorInvalid)?;
    let before = diags.error_count();
    let mut terms = Vec::new();
    for (key, value) in spec.match_labels.iter().flatten() {
        if let Some(problem) = key_problem(key) {
            value
                .error(
                    diags,
                    format!("invalid label key `{key}` in `matchLabels`: {problem}"),
                )
                .with_hint(KEY_HINT);
        }
        check_value(key, value, diags);
        terms.push(Term {
            key: key.clone(),
            op: Operator::In(vec![value.value.clone()]),
        });
    }
    for expr in spec.match_expressions.iter().flatten() {
        if let Some(term) = expression(expr, diags) {
            terms.push(term);
        }
    }
    if diags.error_count() > before {
        return Err(SelectorInvalid);
    }
    Ok(Some(NamespaceSelector::new(terms, include)))
}

/// Checks one `matchExpressions` item.
fn expression(expr: &Located<MatchExpressionSpec>, diags: &mut Diagnostics) -> Option<Term> {
    let valid = one_of(&Operator::NAMES);
    let key = match &expr.key {
        Some(k) if !k.value.is_empty() => {
            if let Some(problem) = key_problem(k) {
                k.error(diags, format!("invalid label key `{}`: {problem}", k.value))
                    .with_hint(KEY_HINT);
                None
            } else {
                Some(k.value.clone())
            }
        }
        _ => {
            expr.error(diags, "a match expression needs a `key`")
                .with_hint("write e.g. `{key: team, operator: In, values: [payments]}`");
            None
        }
    };
    let Some(operator) = &expr.operator else {
        expr.error(diags, "a match expression needs an `operator`")
            .with_hint(format!("the operator is one of {valid}"));
        return None;
    };
    let values: Vec<&Located<String>> = expr
        .values
        .as_ref()
        .map(|v| v.value.iter().collect())
        .unwrap_or_default();
    let op = match operator.value.as_str() {
        name @ ("In" | "NotIn") => {
            if values.is_empty() {
                let message = format!("operator `{name}` needs at least one value");
                let d = match &expr.values {
                    Some(v) => v.error(diags, message),
                    None => operator.error(diags, message),
                };
                d.with_hint(format!(
                    "add `values: [a, b]`; to test only that the label is {} use `{}`",
                    if name == "In" { "set" } else { "not set" },
                    if name == "In" {
                        "Exists"
                    } else {
                        "DoesNotExist"
                    }
                ));
                return None;
            }
            let key_text = key.as_deref().unwrap_or_default();
            for v in &values {
                check_value(key_text, v, diags);
            }
            let owned = values.iter().map(|v| v.value.clone()).collect();
            if name == "In" {
                Operator::In(owned)
            } else {
                Operator::NotIn(owned)
            }
        }
        name @ ("Exists" | "DoesNotExist") => {
            if let Some(v) = expr.values.as_ref().filter(|v| !v.value.is_empty()) {
                v.error(diags, format!("operator `{name}` takes no values"))
                    .with_hint(format!(
                        "remove `values:`, or use `{}` to test the values",
                        if name == "Exists" { "In" } else { "NotIn" }
                    ));
                return None;
            }
            if name == "Exists" {
                Operator::Exists
            } else {
                Operator::DoesNotExist
            }
        }
        other => {
            let d = operator.error(diags, format!("invalid operator `{other}`"));
            match closest(other, Operator::NAMES) {
                Some(near) => d.with_hint(format!(
                    "did you mean `{near}`? valid operators: {valid} (case-sensitive)"
                )),
                None => d.with_hint(format!("valid operators: {valid}")),
            };
            return None;
        }
    };
    Some(Term { key: key?, op })
}

fn check_value(key: &str, value: &Located<String>, diags: &mut Diagnostics) {
    if let Some(problem) = value_problem(value) {
        value
            .error(
                diags,
                format!(
                    "invalid label value `{}` for `{key}`: {problem}",
                    value.value
                ),
            )
            .with_hint(VALUE_HINT);
    }
}
