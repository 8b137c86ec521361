//! Kubernetes' syntax of label keys and values (apimachinery's `IsQualifiedName` and
//! `IsValidLabelValue`): a key is an optional DNS-subdomain prefix and `/`, then a
//! name of at most 63 characters; a value is empty or a name.

/// Longest label name (and value).
const MAX_NAME: usize = 63;
/// Longest key prefix (a DNS subdomain).
const MAX_PREFIX: usize = 253;

/// Why a label key or value is not valid; the message reads after "invalid label key `k`: ".
pub(crate) fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Some("the prefix before `/` is empty".to_owned());
        }
        if name.contains('/') {
            return Some("a key has at most one `/`".to_owned());
        }
        if prefix.len() > MAX_PREFIX {
            return Some(format!("the prefix is longer than {MAX_PREFIX} characters"));
        }
        if !is_dns_subdomain(prefix) {
            return Some(format!(
                "the prefix `{prefix}` is not a DNS subdomain (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)"
            ));
        }
    }
    if name.is_empty() {
        return Some("the name part is empty".to_owned());
    }
    name_problem(name)
}

/// Why a label value is not valid (an empty value is valid).
pub(crate) fn value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    name_problem(value)
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn name_problem(name: &str) -> Option<String> {
    if name.len() > MAX_NAME {
        return Some(format!(
            "it is {} characters long, at most {MAX_NAME} are allowed",
            name.len()
        ));
    }
    let b = name.as_bytes();
    let inner_ok = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    let ends_ok = b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric);
    (!(inner_ok && ends_ok)).then(|| {
        "it must consist of letters, digits, `-`, `_` and `.`, and start and end with a letter or digit"
            .to_owned()
    })
}

/// RFC 1123 subdomain: dot-separated labels of `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_dns_subdomain(s: &str) -> bool {
    s.split('.').all(|part| {
        let b = part.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kubernetes_qualified_names() {
        for ok in [
            "team",
            "app.kubernetes.io/name",
            "kubernetes.io/metadata.name",
            "a",
            "A_b-c.d",
            "example.com/X9",
            &"x".repeat(63),
        ] {
            assert_eq!(key_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("", "name part is empty"),
            ("/team", "prefix before `/` is empty"),
            ("example.com/", "name part is empty"),
            ("a/b/c", "at most one `/`"),
            ("Example.com/team", "not a DNS subdomain"),
            ("-x.com/team", "not a DNS subdomain"),
            ("ex..com/team", "not a DNS subdomain"),
            ("team!", "letters, digits"),
            ("-team", "start and end"),
            ("team.", "start and end"),
            ("has space", "letters, digits"),
            (&"x".repeat(64), "64 characters long"),
        ] {
            let problem = key_problem(bad).unwrap_or_else(|| panic!("{bad:?} passed"));
            assert!(problem.contains(why), "{bad:?}: {problem}");
        }
        let long_prefix = format!("{}/x", "a".repeat(254));
        assert!(key_problem(&long_prefix).unwrap().contains("253"));
    }

    #[test]
    fn values_may_be_empty_but_are_names_otherwise() {
        assert_eq!(value_problem(""), None);
        assert_eq!(value_problem("payments"), None);
        assert_eq!(value_problem("v1.2_3-rc"), None);
        assert!(value_problem("a/b").is_some());
        assert!(value_problem("_x").is_some());
        assert!(value_problem(&"v".repeat(64)).is_some());
    }
}
