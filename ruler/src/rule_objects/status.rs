//! What a ruler writes to a `Rule` object's `status` (a merge patch of the `status`
//! subresource):
//!
//! ```yaml
//! status:
//!   observedGeneration: 4      # the generation these results are for
//!   loadedRules: 2             # rules of spec.rules that compiled
//!   errors:                    # the rules left out (empty when none)
//!     - index: 1               # position in spec.rules (absent: the whole object)
//!       rule: Broken
//!       message: "condition does not parse: `(` is not closed (column 24 of the condition)"
//! ```
//!
//! kube-events' CRD declares `status` as an object without fields (its controller
//! writes none), so herald's keys do not collide with it. Every ruler computes the
//! same status; a ruler writes only when the object's status differs from it, so
//! once one ruler has written, the others (seeing the update in their watch) do not.

use serde_json::{Value, json};

use super::object::LoadedObject;

/// The status `obj` should carry.
pub fn desired(obj: &LoadedObject) -> Value {
    json!({
        "observedGeneration": obj.generation,
        "loadedRules": obj.rules.len(),
        "errors": obj.problems,
    })
}

/// True when `current` already says what `desired` says (other keys are ignored).
pub fn up_to_date(current: Option<&Value>, desired: &Value) -> bool {
    let (Some(cur), Some(want)) = (current.and_then(Value::as_object), desired.as_object()) else {
        return false;
    };
    want.iter().all(|(k, v)| cur.get(k) == Some(v))
}

/// The merge patch that sets `desired`.
pub fn patch(desired: &Value) -> Value {
    json!({ "status": desired })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule_objects::object::load;

    #[test]
    fn status_lists_the_errors_and_the_generation() {
        let obj = load(
            &json!({
                "metadata": {"name": "r", "namespace": "shop", "generation": 2},
                "spec": {"rules": [
                    {"name": "Good", "enable": true},
                    {"name": "Bad", "condition": "reason = \"x\" and (count > 3", "enable": true}
                ]}
            }),
            None,
        )
        .unwrap();
        let want = desired(&obj);
        assert_eq!(
            want,
            json!({
                "observedGeneration": 2,
                "loadedRules": 1,
                "errors": [{"index": 1, "rule": "Bad", "message": "condition does not parse: `(` is not closed (column 18 of the condition)"}]
            })
        );
        assert!(!up_to_date(None, &want));
        assert!(!up_to_date(Some(&json!({"observedGeneration": 1})), &want));
        let mut written = want.clone();
        written["somethingElse"] = json!(true);
        assert!(
            up_to_date(Some(&written), &want),
            "other keys do not matter"
        );
        assert_eq!(patch(&want)["status"], want);
    }
}
