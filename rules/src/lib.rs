//! kube-events rules for herald.
//!
//! A rule is a named condition over an event with a type: `notification` (forward the
//! event) or `alert` (build an Alertmanager alert with the rule's labels and
//! annotations). This crate holds what does not depend on how events travel:
//!
//! * [`condition`]: kube-events' condition language, parsed once (errors carry the
//!   position) and evaluated over an event's JSON view;
//! * [`view`]: that JSON view of an event (core/v1 field names, plus the involved
//!   object's labels and annotations herald looked up);
//! * [`format`]: kube-events' `%dotted.field` substitution in annotation values;
//! * [`rule`]: a rule as written (config file or `Rule` object) and compiled;
//! * [`index`]: which rules an event can match at all (by `reason`).

pub mod condition;
pub mod format;
pub mod index;
pub mod rule;
pub mod view;

pub use condition::{Condition, ConditionError};
pub use index::RuleIndex;
pub use rule::{CompiledRule, RuleError, RuleMatch, RuleSpec, RuleType, alert_labels};
pub use view::event_view;
