//! `ruler.ruleObjects`' receiver lists, checked against the receivers: the receivers
//! that get what `notification` and `alert` rules of `Rule` objects select.

use herald_config::{Diagnostics, RuleObjectsConfig};
use herald_rules::RuleType;

use crate::rules::receiver_index;

/// The receivers (indices into the plan's receivers) of each rule type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Receivers of the events `notification` rules select.
    pub notification: Vec<usize>,
    /// Receivers of the alerts `alert` rules build.
    pub alert: Vec<usize>,
}

impl Targets {
    /// The receivers of rules of type `t`.
    pub fn of(&self, t: RuleType) -> &[usize] {
        match t {
            RuleType::Notification => &self.notification,
            RuleType::Alert => &self.alert,
        }
    }

    /// True when receiver `i` gets matches of some rule type.
    pub fn feeds(&self, i: usize) -> bool {
        self.notification.contains(&i) || self.alert.contains(&i)
    }
}

/// Resolves the receiver names of `cfg` against `receivers` (names, index =
/// position); None when `Rule` objects are not watched or a name is unknown (the
/// error, with its line and a hint, goes to `diags`).
pub fn decode_targets(
    cfg: &RuleObjectsConfig,
    receivers: &[String],
    diags: &mut Diagnostics,
) -> Option<Targets> {
    if !cfg.enabled {
        return None;
    }
    let before = diags.error_count();
    let mut resolve = |list: &[herald_config::Located<String>], what: &str| {
        let mut out: Vec<usize> = Vec::new();
        for name in list {
            let message = format!(
                "`Rule` objects' {what} go to receiver `{}`, which is not defined",
                name.value
            );
            if let Some(i) = receiver_index(name, receivers, message, diags)
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
        out
    };
    let targets = Targets {
        notification: resolve(&cfg.notification_receivers, "notifications"),
        alert: resolve(&cfg.alert_receivers, "alerts"),
    };
    (diags.error_count() == before).then_some(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(section: &str) -> (Option<crate::plan::Plan>, String) {
        let text = format!(
            "receivers:\n  - name: alertmanager\n    inMemory: {{}}\n  - name: hook\n    inMemory: {{}}\nruler:\n  ruleObjects:\n{section}"
        );
        let mut loaded = herald_config::load_str("c.yaml", &text, |_| None).unwrap();
        let plan = crate::plan::plan(&loaded.config, &mut loaded.diagnostics);
        (plan, loaded.diagnostics.to_string())
    }

    #[test]
    fn receivers_resolve_to_indices() {
        let (plan, diags) = load(
            "    enabled: true\n    notificationReceivers: [hook, hook]\n    alertReceivers: [alertmanager, hook]\n",
        );
        let plan = plan.unwrap_or_else(|| panic!("{diags}"));
        let t = plan.rule_objects.expect("enabled");
        assert_eq!(t.notification, vec![1]);
        assert_eq!(t.alert, vec![0, 1]);
        assert_eq!(t.of(RuleType::Alert), &[0, 1]);
        // receivers fed by Rule objects are not "unreached"
        assert!(!diags.contains("no route or rule sends events"), "{diags}");
    }

    #[test]
    fn disabled_section_is_not_checked() {
        let (plan, diags) = load("    notificationReceivers: [nope]\n");
        let plan = plan.unwrap_or_else(|| panic!("{diags}"));
        assert!(plan.rule_objects.is_none());
    }

    #[test]
    fn unknown_receivers_are_errors_with_lines_and_hints() {
        let (plan, diags) = load(
            "    enabled: true\n    notificationReceivers: [hok]\n    alertReceivers: [pager]\n",
        );
        assert!(plan.is_none());
        assert!(
            diags.contains("c.yaml:9:29: error: ruler.ruleObjects.notificationReceivers[0]: `Rule` objects' notifications go to receiver `hok`, which is not defined"),
            "{diags}"
        );
        assert!(diags.contains("did you mean `hook`?"), "{diags}");
        assert!(
            diags.contains("`Rule` objects' alerts go to receiver `pager`, which is not defined"),
            "{diags}"
        );
        assert!(
            diags.contains("defined receivers: alertmanager, hook"),
            "{diags}"
        );
    }
}
