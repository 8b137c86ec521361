//! Namespace label selectors (a herald extension kubernetes-event-exporter does not
//! have): `namespaceSelector` with Kubernetes label-selector semantics, plus
//! `includeNonNamespaced`, written on a route rule or on a receiver.
//!
//! ```yaml
//! namespaceSelector:
//!   matchLabels: {team: payments}
//!   matchExpressions:
//!     - {key: env, operator: In, values: [prod, staging]}
//!     - {key: sandbox, operator: DoesNotExist}
//! includeNonNamespaced: false
//! ```
//!
//! Every term must hold (AND). `In` needs the label with one of the values; `NotIn`
//! needs it absent or with another value; `Exists` / `DoesNotExist` test the key only.
//! The labels tested are the ones the exporter attached to the event
//! (`involvedObject.namespaceLabels`); a namespaced event without them is tested
//! against an empty set. An event whose involved object has no namespace (a Node)
//! matches only with `includeNonNamespaced: true`.
//!
//! [`decode`] reads the keys from the config file with located diagnostics (module
//! `parse`); module `syntax` checks label keys and values as the API server does.

mod parse;
mod syntax;

use std::collections::BTreeMap;
use std::fmt;

pub use parse::{SelectorInvalid, decode};

/// A compiled namespace selector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceSelector {
    terms: Vec<Term>,
    include_non_namespaced: bool,
}

/// One requirement on a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The label key.
    pub key: String,
    /// What the value must be.
    pub op: Operator,
}

/// A label-selector operator with its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    /// The label is set to one of the values (`matchLabels` is `In` with one value).
    In(Vec<String>),
    /// The label is absent or set to none of the values.
    NotIn(Vec<String>),
    /// The label is set (to any value).
    Exists,
    /// The label is not set.
    DoesNotExist,
}

impl Operator {
    /// Operator names as written in `matchExpressions`.
    pub const NAMES: [&'static str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];
}

impl NamespaceSelector {
    /// A selector of `terms`, all of which must hold.
    pub fn new(terms: Vec<Term>, include_non_namespaced: bool) -> NamespaceSelector {
        NamespaceSelector {
            terms,
            include_non_namespaced,
        }
    }

    /// Whether an event about an object in `namespace` (empty: cluster-scoped) whose
    /// namespace carries `labels` matches.
    pub fn matches(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        if namespace.is_empty() {
            return self.include_non_namespaced;
        }
        self.terms.iter().all(|t| t.matches(labels))
    }

    /// Whether events of cluster-scoped objects match.
    pub fn includes_non_namespaced(&self) -> bool {
        self.include_non_namespaced
    }
}

impl Term {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match &self.op {
            Operator::In(values) => value.is_some_and(|v| values.contains(v)),
            Operator::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// kubectl's selector syntax: `team=payments,env in (prod,staging),!sandbox`.
impl fmt::Display for NamespaceSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.terms.is_empty() {
            f.write_str("<every namespace>")?;
        }
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match &t.op {
                Operator::In(v) if v.len() == 1 => write!(f, "{}={}", t.key, v[0])?,
                Operator::In(v) => write!(f, "{} in ({})", t.key, v.join(","))?,
                Operator::NotIn(v) => write!(f, "{} notin ({})", t.key, v.join(","))?,
                Operator::Exists => write!(f, "{}", t.key)?,
                Operator::DoesNotExist => write!(f, "!{}", t.key)?,
            }
        }
        if self.include_non_namespaced {
            f.write_str(" (and cluster-scoped objects)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
