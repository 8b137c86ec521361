//! kube-events `Rule` objects watched live (`ruler.ruleObjects`).
//!
//! Every ruler lists and watches `rules.events.kubesphere.io` ([`kube`]), compiles
//! each object's `spec.rules` ([`object`]), and publishes a new [`RuleSet`] — the
//! config file's rules first, then the objects' by namespace and name — on a
//! `watch` channel the lanes read once per batch ([`watcher`]). Which receivers get
//! the matches is configuration ([`targets`]): a `Rule` object does not name herald
//! receivers. A rule that does not compile is left out, logged, and reported on its
//! object's `status` ([`status`]).
//!
//! [`RuleSet`]: crate::rules::RuleSet

pub mod kube;
pub mod object;
pub mod set;
pub mod status;
pub mod targets;
pub mod watcher;

pub use object::{LoadedObject, RuleProblem};
pub use targets::{Targets, decode_targets};
pub use watcher::{RuleObjectMetrics, RuleObjectWatcher, WatcherOptions, spawn};
