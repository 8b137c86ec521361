use serde_json::{Value, json};

use super::eval::go_float;
use super::*;

fn doc() -> Value {
    json!({
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container api in pod web-1 (50% CPU)",
        "count": 7,
        "ratio": 2.5,
        "empty": "",
        "flag": true,
        "flagText": "True",
        "notBool": "maybe",
        "nothing": null,
        "involvedObject": {
            "kind": "Pod",
            "name": "web-1",
            "namespace": "kube-system",
            "fieldPath": "spec.containers{api}",
            "labels": {"app": "web", "app.kubernetes.io/name": "shop"}
        },
        "metadata": {
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "web-7d9", "controller": true},
                {"kind": "Deployment", "name": "web", "controller": false}
            ],
            "finalizers": ["a", "b", "c"],
            "labels": {"x": "1", "a": "2"}
        },
        "containers": [
            {"name": "api", "ports": [{"port": 80}, {"port": 443}]},
            {"name": "sidecar", "ports": [{"port": 9090}]}
        ]
    })
}

fn eval(cond: &str) -> bool {
    match Condition::parse(cond) {
        Ok(c) => c.matches(&doc()),
        Err(e) => panic!("{cond}: {e} ({})", e.hint),
    }
}

#[test]
fn every_operator_and_its_negation() {
    let cases: &[(&str, bool)] = &[
        // equality, both spellings, strings and numbers
        (r#"type = "Warning""#, true),
        (r#"type == "Warning""#, true),
        (r#"type = "Normal""#, false),
        (r#"type != "Normal""#, true),
        (r#"type != "Warning""#, false),
        ("count = 7", true),
        ("count == 7.0", true),
        ("count != 7", false),
        // numbers compared as text with a string literal (kube-events' fmt.Sprint)
        (r#"count = "7""#, true),
        (r#"ratio = "2.5""#, true),
        // order: numbers
        ("count > 3", true),
        ("count > 7", false),
        ("count >= 7", true),
        ("count < 7", false),
        ("count <= 7", true),
        ("count < 10", true),
        ("ratio > -1", true),
        // order: strings (byte order)
        (r#"reason > "A""#, true),
        (r#"reason < "A""#, false),
        (r#"reason >= "BackOff""#, true),
        (r#"reason <= "Back""#, false),
        // a number literal against text that is not a number: false both ways
        ("reason > 3", false),
        ("reason = 3", false),
        ("reason != 3", false),
        // booleans
        ("flag = true", true),
        ("flag = TRUE", true),
        ("flag = False", false),
        ("flag != false", true),
        ("flagText = true", true),
        ("notBool = true", false),
        ("notBool != true", false),
        // bare paths are booleans
        ("flag", true),
        ("flagText", true),
        ("notBool", false),
        ("missing", false),
        ("not flag", false),
        ("!flag", false),
        ("not missing", true),
        // contains
        (r#"message contains "restarting""#, true),
        (r#"message contains "Restarting""#, false),
        (r#"message not contains "restarting""#, false),
        (r#"message not contains "OOM""#, true),
        ("message contains 50", true),
        ("count contains 7", true),
        // in
        (r#"reason in ("Failed", "BackOff")"#, true),
        (r#"reason in ("Failed")"#, false),
        (r#"reason not in ("Failed", "Killing")"#, true),
        (r#"reason not in ("BackOff")"#, false),
        ("count in (3, 7)", true),
        (r#"count in ("7")"#, true),
        ("count in (7.0)", false),
        // like: kube-events' glob, a regex search anywhere
        (r#"involvedObject.namespace like "kube-*""#, true),
        (r#"involvedObject.namespace like "kube-?ystem""#, true),
        (r#"involvedObject.namespace like "system""#, true),
        (r#"involvedObject.namespace like "^default""#, false),
        (r#"involvedObject.namespace not like "kube-*""#, false),
        (r#"involvedObject.namespace not like "default*""#, true),
        (r#"involvedObject.name like "web.1""#, true),
        // regex: Go RE2, unanchored
        (r#"reason regex "^Back(Off|off)$""#, true),
        (r#"reason regex "off""#, false),
        (r#"reason not regex "^Failed""#, true),
        (r#"reason not regex "Off""#, false),
        (r#"message regex "\\d+% CPU""#, true),
        // exists
        ("reason exists", true),
        ("involvedObject exists", true),
        ("missing exists", false),
        ("nothing exists", false),
        ("empty exists", true),
        ("missing not exists", true),
        ("reason not exists", false),
        // a missing path fails every test except `not exists`
        (r#"missing = "x""#, false),
        (r#"missing != "x""#, false),
        (r#"missing not contains "x""#, false),
        (r#"missing not in ("x")"#, false),
        (r#"missing not like "x""#, false),
        (r#"missing not regex "x""#, false),
        ("missing > 1", false),
        // empty strings are present
        (r#"empty = """#, true),
        (r#"involvedObject.fieldPath != """#, true),
        // herald: one label, and keys with dots or slashes
        (r#"involvedObject.labels.app = "web""#, true),
        (r#"involvedObject.labels.app != "web""#, false),
        (
            r#"involvedObject.labels["app.kubernetes.io/name"] = "shop""#,
            true,
        ),
        (r#"involvedObject.labels.team exists"#, false),
        // maps print as Go prints them (kube-events could only test a whole map)
        (r#"metadata.labels = "map[a:2 x:1]""#, true),
        (r#"metadata.labels contains "x:1""#, true),
        // arrays: [*] any element, [n] one element, slices every element
        (r#"metadata.ownerReferences[*].kind = "Deployment""#, true),
        (r#"metadata.ownerReferences[*].kind = "StatefulSet""#, false),
        (r#"metadata.ownerReferences[*].kind != "ReplicaSet""#, true),
        (r#"metadata.ownerReferences[0].kind = "ReplicaSet""#, true),
        (r#"metadata.ownerReferences[1].kind = "ReplicaSet""#, false),
        (r#"metadata.ownerReferences[5].kind = "ReplicaSet""#, false),
        (r#"metadata.ownerReferences[0].controller = true"#, true),
        (r#"metadata.ownerReferences[*].controller"#, true),
        (r#"metadata.ownerReferences[0:2].name like "web""#, true),
        (
            r#"metadata.ownerReferences[0:2].kind = "ReplicaSet""#,
            false,
        ),
        (r#"metadata.ownerReferences[:1].kind = "ReplicaSet""#, true),
        (r#"metadata.ownerReferences[1:].kind = "Deployment""#, true),
        (r#"metadata.ownerReferences[2:].kind exists"#, false),
        (r#"metadata.ownerReferences[*].missing exists"#, false),
        (r#"metadata.ownerReferences[*].missing not exists"#, true),
        (r#"metadata.finalizers[*] contains "b""#, true),
        (r#"metadata.finalizers[*] not contains "b""#, true),
        (r#"metadata.finalizers[0:3] not contains "b""#, false),
        (r#"metadata.finalizers[1] = "b""#, true),
        (r#"metadata.finalizers contains "b""#, true),
        ("containers[*].ports[*].port = 9090", true),
        ("containers[0].ports[*].port = 9090", false),
        ("containers[*].ports[0:2].port > 10", true),
        ("containers[0].ports[0:2].port > 100", false),
        // indexing something that is not an array
        (r#"reason[0] = "B""#, false),
        (r#"reason[*] exists"#, false),
    ];
    for (cond, want) in cases {
        assert_eq!(eval(cond), *want, "{cond}");
    }
}

#[test]
fn boolean_logic_and_kube_events_precedence() {
    let cases: &[(&str, bool)] = &[
        (r#"type = "Warning" and reason = "BackOff""#, true),
        (r#"type = "Warning" and reason = "Failed""#, false),
        (r#"type = "Normal" or reason = "BackOff""#, true),
        (r#"type = "Normal" or reason = "Failed""#, false),
        (r#"(type = "Normal")"#, false),
        (r#"((type = "Warning"))"#, true),
        // one precedence level, left to right: `T or T and F` is `(T or T) and F`
        (
            r#"type = "Warning" or count > 3 and reason = "Failed""#,
            false,
        ),
        // with parentheses it means what most languages mean
        (
            r#"type = "Warning" or (count > 3 and reason = "Failed")"#,
            true,
        ),
        // `F and T or T` is `(F and T) or T`
        (
            r#"reason = "Failed" and count > 3 or type = "Warning""#,
            true,
        ),
        // `not` negates the whole chain to its right: `not F and T` is `not (F and T)`
        (r#"not reason = "Failed" and type = "Normal""#, true),
        (r#"(not reason = "Failed") and type = "Normal""#, false),
        (r#"! reason = "Failed" and type = "Normal""#, true),
        // `T and not F or T` is `T and not (F or T)`
        (
            r#"type = "Warning" and not reason = "Failed" or count > 3"#,
            false,
        ),
        (r#"not (reason = "BackOff")"#, false),
        (r#"not not reason = "BackOff""#, true),
        // the kube-events default rules' shape
        (
            "type=\"Warning\" and involvedObject.kind=\"Pod\" and reason=\"BackOff\" and involvedObject.fieldPath != \"\" and count>3",
            true,
        ),
        // keywords are whole words only: `android` and `order` are paths
        ("android", false),
        ("order exists", false),
        // whitespace is free, newlines included
        ("type=\"Warning\"\n  and\treason=\"BackOff\"\n", true),
        ("reason not\n  in (\"x\")", true),
    ];
    for (cond, want) in cases {
        assert_eq!(eval(cond), *want, "{cond}");
    }
}

#[test]
fn strings_unescape_quotes_and_backslashes() {
    let c = Condition::parse(r#"m = "say \"hi\" \\ bye""#).unwrap();
    assert!(c.matches(&json!({"m": r#"say "hi" \ bye"#})));
    // other backslashes stay (regex escapes)
    let c = Condition::parse(r#"m regex "\d""#).unwrap();
    assert!(c.matches(&json!({"m": "a1"})));
}

#[test]
fn errors_carry_positions_and_hints() {
    let cases: &[(&str, &str, usize, usize)] = &[
        ("", "the condition is empty", 1, 1),
        (
            "reason = ",
            "`=` needs a string, a number or true/false at the end of the condition",
            1,
            10,
        ),
        (r#"reason ~ "x""#, "unexpected character `~`", 1, 8),
        (r#"reason matches "x""#, "unknown operator `matches`", 1, 8),
        (
            r#"reason "x""#,
            "expected an operator between the path and the value, found string \"x\"",
            1,
            8,
        ),
        (r#"reason = "x"#, "string is not closed", 1, 10),
        (r#"(reason = "x""#, "`(` is not closed", 1, 1),
        (r#"reason = "x")"#, "unexpected `)`", 1, 13),
        (r#"reason = "x" reason = "y""#, "unexpected path", 1, 14),
        (
            "reason in \"x\"",
            "`in` needs a list in parentheses, found string \"x\"",
            1,
            11,
        ),
        (
            "reason in (\"x\" \"y\")",
            "expected `,` or `)` in the list, found string \"y\"",
            1,
            16,
        ),
        (
            "count > true",
            "`>` needs a string or a number, found `true`",
            1,
            9,
        ),
        (
            "reason like 3",
            "`like` needs a string, found number 3",
            1,
            13,
        ),
        ("a[x] = 1", "`[x]` is not an index", 1, 2),
        ("a[1 = 1", "`[` is not closed", 1, 2),
        ("reason = - 3", "`-` must start a number", 1, 10),
        (
            "type = \"Warning\" and\n  reason regex \"(\"",
            "`regex` pattern \"(\" does not compile: error: unclosed group",
            2,
            10,
        ),
        ("and", "expected a condition, found `and`", 1, 1),
        (
            "type = \"Warning\" and",
            "expected a condition at the end of the condition",
            1,
            21,
        ),
        ("容器 = 1", "unexpected character `容`", 1, 1),
        ("x = 1 and 容器 = 1", "unexpected character `容`", 1, 11),
    ];
    for (cond, msg, line, column) in cases {
        let e = Condition::parse(cond).expect_err(cond);
        assert_eq!(
            (e.message.as_str(), e.line, e.column),
            (*msg, *line, *column),
            "{cond}"
        );
        assert!(!e.hint.is_empty(), "{cond}");
    }
}

#[test]
fn precedence_warnings_flag_unparenthesised_mixes() {
    let w = |c: &str| Condition::parse(c).unwrap().warnings().len();
    assert_eq!(w(r#"a = "1" or b = "2" and c = "3""#), 1);
    assert_eq!(w(r#"a = "1" or (b = "2" and c = "3")"#), 0);
    assert_eq!(w(r#"a = "1" and b = "2" and c = "3""#), 0);
    assert_eq!(w(r#"not a = "1" and b = "2""#), 1);
    assert_eq!(w(r#"not (a = "1" and b = "2")"#), 0);
    assert_eq!(w(r#"(not a = "1") and b = "2""#), 0);
    assert_eq!(w(r#"x = "0" and not a = "1" or b = "2""#), 1);
}

#[test]
fn go_formatting_of_numbers() {
    assert_eq!(go_float(7.0), "7");
    assert_eq!(go_float(2.5), "2.5");
    assert_eq!(go_float(-3.0), "-3");
    assert_eq!(go_float(1e21), "1e+21");
    assert_eq!(go_float(1.5e-7), "1.5e-07");
    assert_eq!(go_float(0.0001), "0.0001");
}
