//! kube-events rules from the command line: `herald check-config` validates a
//! config file's `rules:` (unknown receivers, conditions that do not parse, at their
//! `file:line` with a hint), and `herald check-rule FILE` validates a `Rule` object,
//! kube-events' default set included.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::procs::{bin, run_to_end};

/// EX_CONFIG.
const EXIT_CONFIG: i32 = 78;

fn herald(args: &[&str], path: &Path) -> (i32, String) {
    let mut cmd = Command::new(bin("herald"));
    cmd.args(args).arg(path);
    let out = run_to_end(cmd, Duration::from_secs(30));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("exited normally"), text)
}

const RULES: &str = r#"receivers:
  - name: am
    stdout: {}
  - name: hook
    stdout: {}
rules:
  - name: ContainerBackoff
    condition: type="Warning" and involvedObject.kind="Pod" and reason="BackOff" and count>3
    type: alert
    labels:
      severity: warning
    annotations:
      message: '%message'
    receivers: [am]
  - name: Everything
    condition: type = "Warning"
    receivers: [hook]
"#;

#[test]
fn check_config_validates_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, RULES).unwrap();
    let (code, out) = herald(&["check-config"], &path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (2 receiver(s): am, hook; 2 rule(s); 0 warning(s))"),
        "{out}"
    );

    let bad = RULES
        .replace("receivers: [am]", "receivers: [alertmanager]")
        .replace(
            "type = \"Warning\"",
            "type = \"Warning\" and reason ~ \"x\"",
        );
    std::fs::write(&path, bad).unwrap();
    let (code, out) = herald(&["check-config"], &path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    let file = path.display().to_string();
    assert!(
        out.contains(&format!(
            "{file}:14:17: error: rules[0].receivers[0]: rule `ContainerBackoff` names receiver `alertmanager`, which is not defined"
        )),
        "{out}"
    );
    assert!(out.contains("hint: defined receivers: am, hook"), "{out}");
    assert!(
        out.contains(&format!(
            "{file}:16:16: error: rules[1].condition: condition does not parse: unexpected character `~` (column 29 of the condition)"
        )),
        "{out}"
    );
}

#[test]
fn check_rule_validates_rule_objects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("default.yaml");
    std::fs::write(
        &path,
        include_str!("../../../rules/tests/fixtures/cluster-rules-default.yaml"),
    )
    .unwrap();
    let (code, out) = herald(&["check-rule"], &path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK (97 rule(s), 96 enabled; scope: cluster; 0 warning(s))"),
        "{out}"
    );

    let bad = "apiVersion: events.kubesphere.io/v1alpha1\nkind: Rule\nmetadata:\n  name: team\n  namespace: shop\nspec:\n  rules:\n    - name: Broken\n      condition: reason = \"BackOff\" and (count > 3\n      enable: true\n      type: alert\n";
    std::fs::write(&path, bad).unwrap();
    let (code, out) = herald(&["check-rule"], &path);
    assert_eq!(code, EXIT_CONFIG, "{out}");
    assert!(
        out.contains(&format!(
            "{}:9:18: error: spec.rules[0].condition: condition does not parse: `(` is not closed (column 24 of the condition)",
            path.display()
        )),
        "{out}"
    );
    assert!(out.contains("FAILED (1 error(s))"), "{out}");
}
