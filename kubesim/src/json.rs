//! JSON helpers: Go-style pretty printing and `kind`/`apiVersion` splicing.

/// Re-indents compact JSON exactly like Go's `json.Indent(dst, src, "", "  ")`:
/// two-space indent, `": "` after keys, empty objects and arrays kept as `{}` / `[]`.
pub fn indent(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() + src.len() / 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut need_indent = false;
    for &c in src {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        if need_indent {
            need_indent = false;
            if c == b'}' || c == b']' {
                out.push(c);
                continue;
            }
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                in_string = true;
                out.push(c);
            }
            b'{' | b'[' => {
                out.push(c);
                need_indent = true;
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => {
                out.extend_from_slice(b": ");
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    for _ in 0..depth {
        out.extend_from_slice(b"  ");
    }
}

/// Turns a list item (`{"metadata":…}`) into a standalone object by inserting
/// `"kind"` and `"apiVersion"` first, as Go's typed serialisation orders them.
pub fn with_type_meta(kind: &str, api_version: &str, item: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(item.len() + kind.len() + api_version.len() + 28);
    out.extend_from_slice(b"{\"kind\":");
    push_json_str(&mut out, kind);
    out.extend_from_slice(b",\"apiVersion\":");
    push_json_str(&mut out, api_version);
    let rest = item.strip_prefix(b"{").unwrap_or(item);
    if rest.first() == Some(&b'}') || rest.is_empty() {
        out.push(b'}');
    } else {
        out.push(b',');
        out.extend_from_slice(rest);
    }
    out
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indent_matches_go() {
        let compact = br#"{"kind":"Status","metadata":{},"items":[],"list":[1,"a\"b",{"x":null}]}"#;
        let expected = "{\n  \"kind\": \"Status\",\n  \"metadata\": {},\n  \"items\": [],\n  \"list\": [\n    1,\n    \"a\\\"b\",\n    {\n      \"x\": null\n    }\n  ]\n}";
        assert_eq!(String::from_utf8(indent(compact)).unwrap(), expected);
    }

    #[test]
    fn indent_reproduces_version_fixture() {
        let pretty = include_bytes!("../fixtures/version.json");
        let value: serde_json::Value = serde_json::from_slice(pretty).unwrap();
        // serde_json sorts keys, so compare against a compact form built from the fixture itself.
        let compact: Vec<u8> = pretty
            .iter()
            .copied()
            .filter(|c| *c != b'\n')
            .collect::<Vec<u8>>();
        let compact = String::from_utf8(compact)
            .unwrap()
            .replace("  ", "")
            .replace("\": ", "\":");
        assert_eq!(indent(compact.as_bytes()), pretty.to_vec());
        assert!(value.get("gitVersion").is_some());
    }

    #[test]
    fn type_meta_is_spliced_first() {
        assert_eq!(
            with_type_meta("Event", "v1", br#"{"metadata":{}}"#),
            br#"{"kind":"Event","apiVersion":"v1","metadata":{}}"#.to_vec()
        );
        assert_eq!(
            with_type_meta("X", "v1", b"{}"),
            br#"{"kind":"X","apiVersion":"v1"}"#.to_vec()
        );
    }
}

/// Applies an RFC 7386 JSON merge patch to `target`.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (k, v) in patch_map {
            if v.is_null() {
                map.remove(k);
            } else {
                merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut t = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &serde_json::json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, serde_json::json!({"a": "z", "c": {"d": "e"}}));
    }
}
