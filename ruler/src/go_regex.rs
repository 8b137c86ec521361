//! Go (RE2) regular expressions on the `regex` crate.
//!
//! Both engines share RE2 syntax, but Go's `\d`, `\w`, `\s` and `\b` are ASCII-only
//! while the `regex` crate's are Unicode-aware. [`translate`] rewrites those classes
//! so a pattern matches exactly what kubernetes-event-exporter matched.

use regex::Regex;

/// Rewrites Go's ASCII-only Perl classes into explicit ASCII classes.
pub fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(&n) = chars.peek() else {
                out.push(c);
                break;
            };
            chars.next();
            let (inside, outside) = match n {
                'd' => ("0-9", "[0-9]"),
                'D' => ("", "[^0-9]"),
                'w' => ("0-9A-Za-z_", "[0-9A-Za-z_]"),
                'W' => ("", "[^0-9A-Za-z_]"),
                's' => ("\\t\\n\\f\\r ", "[\\t\\n\\f\\r ]"),
                'S' => ("", "[^\\t\\n\\f\\r ]"),
                'b' if !in_class => ("", "(?-u:\\b)"),
                'B' if !in_class => ("", "(?-u:\\B)"),
                _ => {
                    out.push('\\');
                    out.push(n);
                    class_start = false;
                    continue;
                }
            };
            if in_class && !inside.is_empty() {
                out.push_str(inside);
            } else if in_class {
                // negated classes inside brackets are rare; keep the original
                out.push('\\');
                out.push(n);
            } else {
                out.push_str(outside);
            }
            class_start = false;
            continue;
        }
        if in_class {
            // `]` right after `[` or `[^` is a literal
            if c == ']' && !class_start {
                in_class = false;
            }
            class_start = c == '^' && out.ends_with('[');
            out.push(c);
            continue;
        }
        if c == '[' {
            in_class = true;
            class_start = true;
            out.push(c);
            if chars.peek() == Some(&'^') {
                out.push('^');
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Compiles a Go regular expression (unanchored search semantics are the caller's,
/// through `Regex::is_match`).
///
/// # Errors
/// The pattern is not valid RE2 syntax.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&translate(pattern))
}

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
    fn perl_classes_are_ascii_only() {
        let d = compile(r"^\d+$").unwrap();
        assert!(d.is_match("123"));
        assert!(!d.is_match("١٢٣"), "Arabic-Indic digits are not \\d in Go");
        let w = compile(r"^\w+$").unwrap();
        assert!(w.is_match("a_1"));
        assert!(!w.is_match("é"));
        let s = compile(r"a\sb").unwrap();
        assert!(s.is_match("a b"));
        assert!(!s.is_match("a\u{2003}b"));
        let class = compile(r"^[\d\w-]+$").unwrap();
        assert!(class.is_match("kube-system_1"));
        assert!(!class.is_match("é"));
        let neg = compile(r"^\D\W\S$").unwrap();
        assert!(neg.is_match("a-x"));
        assert!(compile(r"\bpod\b").unwrap().is_match("a pod here"));
    }

    #[test]
    fn brackets_and_escapes_survive() {
        assert_eq!(translate(r"[]a]"), r"[]a]");
        assert_eq!(translate(r"[^]a]\d"), r"[^]a][0-9]");
        assert_eq!(translate(r"\.\*"), r"\.\*");
        assert_eq!(translate(r"a\\d"), r"a\\d");
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
