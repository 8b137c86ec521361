//! Values that environment expansion pasted into the file, and their removal
//! from messages: a diagnostic names the variable (`${SECRET_TOKEN}`) instead
//! of echoing what it holds.
//!
//! Every stage that reports a problem may quote the text it read: a duration
//! parser quotes the duration, a regex check the pattern, a hint a corrected
//! pattern. Rather than asking each of them to know where the text came from,
//! the values are tracked and replaced where every message passes: in
//! [`Diagnostic`](crate::Diagnostic). Two strengths apply:
//!
//! * [`Strength::Value`]: the diagnostic is *about* text that holds pasted
//!   values (its node or [`Located`](crate::Located) value carries them).
//!   Values of 3 characters or more are replaced wherever they appear, shorter
//!   ones where they stand alone (`1`, `on`).
//! * [`Strength::File`]: every diagnostic, for messages that mention a value
//!   written elsewhere. Values of 8 characters or more are replaced anywhere,
//!   values of 3 to 7 characters where they stand alone; values of 1 or 2
//!   characters are left alone so unrelated numbers in messages (line numbers,
//!   ranges) are not rewritten.
//!
//! A value cut short by a message (`hunter2…`) is caught by its first
//! characters before the `…`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Shortest value replaced anywhere in a diagnostic about the value itself.
const VALUE_ANYWHERE: usize = 3;
/// Shortest value replaced anywhere by the whole-file safety net.
const FILE_ANYWHERE: usize = 8;
/// Shortest value the whole-file safety net replaces at all.
const FILE_MIN: usize = 3;

/// Environment variables whose values were pasted into some text, with the
/// values. `Debug` shows the names only.
#[derive(Clone, Default)]
pub struct EnvValues(Option<Arc<[EnvValue]>>);

#[derive(Clone, PartialEq, Eq)]
struct EnvValue {
    name: String,
    value: String,
}

impl EnvValues {
    /// Builds the set from `(name, value)` pairs; empty values are dropped
    /// (there is nothing to hide) and each pair is kept once.
    pub(crate) fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut out: Vec<EnvValue> = Vec::new();
        for (name, value) in pairs {
            let v = EnvValue { name, value };
            if !v.value.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
        EnvValues((!out.is_empty()).then(|| out.into()))
    }

    /// The empty set.
    pub const fn none() -> Self {
        EnvValues(None)
    }

    fn items(&self) -> &[EnvValue] {
        self.0.as_deref().unwrap_or_default()
    }

    /// Returns whether no value is tracked.
    pub fn is_empty(&self) -> bool {
        self.items().is_empty()
    }

    /// Names of the variables, in the order they were found.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.items().iter().map(|v| v.name.as_str())
    }

    /// The variable whose value is exactly `text`, if one is.
    pub fn variable_with_value(&self, text: &str) -> Option<&str> {
        self.items()
            .iter()
            .find(|v| v.value == text)
            .map(|v| v.name.as_str())
    }

    /// Both sets together.
    pub(crate) fn union(&self, other: &EnvValues) -> EnvValues {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        EnvValues::from_pairs(
            self.items()
                .iter()
                .chain(other.items())
                .map(|v| (v.name.clone(), v.value.clone())),
        )
    }
}

impl PartialEq for EnvValues {
    fn eq(&self, other: &Self) -> bool {
        self.items() == other.items()
    }
}

impl fmt::Debug for EnvValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// How eagerly values are replaced; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strength {
    /// The text is about a value that holds these pasted values.
    Value,
    /// Any text of a file these values were pasted into.
    File,
}

/// One value to look for.
struct Candidate<'a> {
    name: &'a str,
    value: &'a str,
    /// Replaced wherever it appears; otherwise only where it stands alone.
    anywhere: bool,
}

/// Replaces the values of `sets` in `text` by `${NAME}`. Returns the new text
/// and the names whose values were found.
pub(crate) fn redact<'t>(
    text: &'t str,
    sets: &[(&EnvValues, Strength)],
) -> (Cow<'t, str>, Vec<String>) {
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for (set, strength) in sets {
        for v in set.items() {
            let chars = v.value.chars().count();
            let anywhere = match strength {
                Strength::Value => chars >= VALUE_ANYWHERE,
                Strength::File if chars < FILE_MIN => continue,
                Strength::File => chars >= FILE_ANYWHERE,
            };
            candidates.push(Candidate {
                name: &v.name,
                value: &v.value,
                anywhere,
            });
        }
    }
    if candidates.is_empty() {
        return (Cow::Borrowed(text), Vec::new());
    }
    // Longest first, so a value that contains another one is replaced whole;
    // a value found both ways is replaced the eager way.
    candidates.sort_by(|a, b| {
        b.value
            .len()
            .cmp(&a.value.len())
            .then(b.anywhere.cmp(&a.anywhere))
    });
    let mut out = String::with_capacity(text.len());
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    'scan: while i < text.len() {
        let rest = &text[i..];
        // A reference already written as `${NAME}` stays as it is.
        if let Some(inner) = rest.strip_prefix("${")
            && let Some(end) = inner.find('}')
            && end > 0
            && inner[..end].chars().all(is_word)
        {
            let len = end + 3;
            out.push_str(&rest[..len]);
            i += len;
            continue 'scan;
        }
        let left_alone = text[..i].chars().next_back().is_none_or(|p| !is_word(p));
        for c in &candidates {
            if !c.anywhere && !left_alone {
                continue;
            }
            let len = if let Some(after) = rest.strip_prefix(c.value) {
                let right_alone = after.chars().next().is_none_or(|n| !is_word(n));
                if !c.anywhere && !right_alone {
                    continue;
                }
                c.value.len()
            } else {
                // A value shortened by the message: its start, then `…`.
                let common = common_prefix(rest, c.value);
                if rest[common..].starts_with('…') && rest[..common].chars().count() >= FILE_MIN {
                    common
                } else {
                    continue;
                }
            };
            out.push_str("${");
            out.push_str(c.name);
            out.push('}');
            if !found.iter().any(|n| n == c.name) {
                found.push(c.name.to_owned());
            }
            i += len;
            continue 'scan;
        }
        let ch = rest.chars().next().map_or(1, char::len_utf8);
        out.push_str(&rest[..ch]);
        i += ch;
    }
    if found.is_empty() {
        (Cow::Borrowed(text), found)
    } else {
        (Cow::Owned(out), found)
    }
}

/// Characters that make a value part of a longer word.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Length in bytes of the common start of `a` and `b`, on a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or_else(|| a.len().min(b.len()), |((i, _), _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvValues {
        EnvValues::from_pairs(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        )
    }

    fn value(text: &str, e: &EnvValues) -> String {
        redact(text, &[(e, Strength::Value)]).0.into_owned()
    }

    fn file(text: &str, e: &EnvValues) -> String {
        redact(text, &[(e, Strength::File)]).0.into_owned()
    }

    #[test]
    fn values_become_variable_references() {
        let e = env(&[("SECRET_TOKEN", "hunter2")]);
        let (out, found) = redact(
            "invalid regular expression `*hunter2*`; did you mean `.*hunter2.*`?",
            &[(&e, Strength::Value)],
        );
        assert_eq!(
            out,
            "invalid regular expression `*${SECRET_TOKEN}*`; did you mean `.*${SECRET_TOKEN}.*`?"
        );
        assert_eq!(found, ["SECRET_TOKEN"]);
    }

    #[test]
    fn shortened_values_are_caught_by_their_start() {
        let e = env(&[("K", "abcdefghijklmnopqrstuvwxyz")]);
        assert_eq!(file("the string \"abcdefgh…\"", &e), "the string \"${K}…\"");
        assert_eq!(file("`ab…`", &e), "`ab…`", "too short to tell");
    }

    #[test]
    fn short_values_are_replaced_only_where_they_stand_alone() {
        let e = env(&[("N", "1")]);
        assert_eq!(
            value("found 1, expected between 0 and 127", &e),
            "found ${N}, expected between 0 and 127"
        );
        assert_eq!(
            file("found 1", &e),
            "found 1",
            "the file net skips 1-2 chars"
        );
        let e = env(&[("LEVEL", "info")]);
        assert_eq!(
            file("`info` or information", &e),
            "`${LEVEL}` or information"
        );
        assert_eq!(value("information", &e), "${LEVEL}rmation");
        let e = env(&[("T", "hunter2secret")]);
        assert_eq!(file("xhunter2secretx", &e), "x${T}x");
    }

    #[test]
    fn longest_value_wins_and_references_are_not_rewritten() {
        let e = env(&[("A", "abc"), ("B", "abcdef"), ("C", "TOKEN")]);
        assert_eq!(value("abcdef abc", &e), "${B} ${A}");
        assert_eq!(value("${SECRET_TOKEN} TOKEN", &e), "${SECRET_TOKEN} ${C}");
        assert_eq!(value("keep ${B}", &e), "keep ${B}");
    }

    #[test]
    fn debug_shows_names_only() {
        let e = env(&[("SECRET_TOKEN", "hunter2"), ("EMPTY", "")]);
        assert_eq!(format!("{e:?}"), "[\"SECRET_TOKEN\"]");
        assert_eq!(e.variable_with_value("hunter2"), Some("SECRET_TOKEN"));
    }
}
