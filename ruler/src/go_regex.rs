//! Go regular expressions for route rules: compilation is herald-template's
//! ([`herald_template::go_regex`], Go's ASCII classes), plus the hint for users who
//! wrote globs where KEE expects regexes.

pub use herald_template::go_regex::compile;

/// A glob-looking pattern (`*test*`) rewritten as the regex the user most likely
/// meant (`.*test.*`), for error hints.
pub fn glob_hint(pattern: &str) -> Option<String> {
    if !pattern.contains('*') && !pattern.contains('?') {
        return None;
    }
    let mut out = String::new();
    for c in pattern.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push(c),
        }
    }
    (compile(&out).is_ok() && out != pattern).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_regexes_use_go_ascii_classes() {
        let d = compile(r"^\d+$").unwrap();
        assert!(d.is_match("123"));
        assert!(!d.is_match("١٢٣"), "Arabic-Indic digits are not \\d in Go");
        assert!(!compile(r"^\w+$").unwrap().is_match("é"));
        assert!(compile(r"^[\d\w-]+$").unwrap().is_match("kube-system_1"));
        assert!(compile("^prod-").unwrap().is_match("prod-eu"));
    }

    #[test]
    fn glob_hints() {
        assert!(compile("*test*").is_err());
        assert_eq!(glob_hint("*test*").as_deref(), Some(".*test.*"));
        assert_eq!(
            glob_hint("*test*|*temp*").as_deref(),
            Some(".*test.*|.*temp.*")
        );
        assert_eq!(glob_hint("plain"), None);
    }
}
