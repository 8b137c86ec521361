//! Environment expansion of the whole file text, before YAML parsing.
//!
//! kubernetes-event-exporter runs Go's `os.ExpandEnv` over the raw file; we
//! follow its rules exactly: `${NAME}` takes every character up to the first `}`
//! (`${A:-b}` looks up a variable named `A:-b`: there is no default syntax),
//! `$NAME` the longest run of letters, digits and `_`; `$` before one of
//! `* # $ @ ! ? -` or a digit takes that one character as the name; `${}` is
//! removed and an unterminated `${` loses those two characters; a `$` before
//! anything else stays; unset variables expand to nothing, never an error. Two
//! fixes:
//!
//! * `$$` is a literal `$` (Go deletes both characters);
//! * nothing is expanded inside a `{{ … }}` template action (from `{{` to the
//!   next `}}`, across lines), so `{{ $x := .Foo }}` and `range $k, $v`
//!   survive; a `$` written right before such an action is kept too.
//!
//! The result keeps a position map so every location in the expanded text can
//! be reported in the user's original file, a record of every variable
//! reference, and the pasted values themselves, which are only ever used to
//! keep them out of messages ([`EnvValues`]).

use crate::diagnostics::Diagnostics;
use crate::location::{LineIndex, Location};
use crate::redact::EnvValues;

/// The expanded text, a map back to the original, and what was referenced.
///
/// `Debug` shows the references, never the expanded text or the values.
#[derive(Clone)]
pub struct Expanded {
    text: String,
    original: String,
    segments: Vec<Segment>,
    original_index: LineIndex,
    expanded_index: LineIndex,
    references: Vec<EnvReference>,
    /// The value pasted for each reference (same index); `None` when nothing
    /// was pasted.
    values: Vec<Option<String>>,
}

impl std::fmt::Debug for Expanded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expanded")
            .field("original_bytes", &self.original.len())
            .field("expanded_bytes", &self.text.len())
            .field("references", &self.references)
            .finish_non_exhaustive()
    }
}

/// One environment reference found in the original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvReference {
    /// Variable name as looked up (`A:-b` for `${A:-b}`); empty for malformed
    /// references.
    pub name: String,
    /// Where the `$` is in the original file.
    pub location: Location,
    /// Byte offset of the `$` in the original text.
    pub offset: usize,
    /// What happened to it.
    pub kind: ReferenceKind,
}

/// Outcome of one `$` reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    /// The variable is set; its value was pasted. `risk` tells whether the
    /// value may change the YAML structure.
    Set {
        /// Set when the value can change the YAML structure where it is pasted.
        risk: Option<ValueRisk>,
    },
    /// The variable is not set and expanded to the empty string.
    Unset,
    /// `${}`: removed, as Go does.
    EmptyBraces,
    /// `${` without a closing `}`: the two characters are removed, as Go does.
    Unterminated,
}

/// Why a pasted value may change the YAML structure of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueRisk {
    /// The value contains a line break (reported wherever it is pasted).
    Newline,
    /// The value contains `: ` (or ends with `:`), which starts a mapping
    /// (reported outside quotes and comments only).
    ColonSpace,
    /// The value contains ` #`, which starts a comment (reported outside
    /// quotes and comments only).
    Comment,
}

impl ValueRisk {
    fn describe(self) -> &'static str {
        match self {
            ValueRisk::Newline => "a line break",
            ValueRisk::ColonSpace => "`: `",
            ValueRisk::Comment => "` #`",
        }
    }
}

/// A run of output text and where it came from.
#[derive(Clone, Copy, Debug)]
struct Segment {
    /// Byte offset in the expanded text where the run starts.
    out: usize,
    /// Byte offset in the original text it maps to.
    orig: usize,
    /// Literal runs map byte for byte; substituted values all map to their `$`.
    literal: bool,
    /// Index into `references` for substituted values.
    reference: Option<usize>,
}

/// Expands `$NAME`, `${NAME}` and the Go special variables in `text`.
///
/// `lookup` returns a variable's value, `None` when unset (which expands to
/// the empty string, as in Go).
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Expanded {
    let mut ex = Expander {
        src: text,
        out: String::with_capacity(text.len()),
        segments: Vec::new(),
        references: Vec::new(),
        values: Vec::new(),
        original_index: LineIndex::new(text),
    };
    ex.run(&lookup);
    let Expander {
        out,
        mut segments,
        references,
        values,
        original_index,
        ..
    } = ex;
    segments.push(Segment {
        out: out.len(),
        orig: text.len(),
        literal: true,
        reference: None,
    });
    let expanded_index = LineIndex::new(&out);
    Expanded {
        text: out,
        original: text.to_owned(),
        segments,
        original_index,
        expanded_index,
        references,
        values,
    }
}

struct Expander<'a> {
    src: &'a str,
    out: String,
    segments: Vec<Segment>,
    references: Vec<EnvReference>,
    values: Vec<Option<String>>,
    original_index: LineIndex,
}

impl Expander<'_> {
    fn run(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        let bytes = self.src.as_bytes();
        let mut literal_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'{'
                && bytes.get(i + 1) == Some(&b'{')
                && let Some(end) = self.action_end(i)
            {
                // A template action is copied verbatim.
                i = end;
                continue;
            }
            if bytes[i] != b'$' || i + 1 >= bytes.len() {
                i += 1;
                continue;
            }
            let next = bytes[i + 1];
            if next == b'$' {
                // Fix 1: `$$` is a literal dollar.
                self.literal(literal_start, i + 1);
                literal_start = i + 2;
                i += 2;
                continue;
            }
            if next == b'{' && bytes.get(i + 2) == Some(&b'{') && self.action_end(i + 1).is_some() {
                // Fix 2: `${{ .X }}` is a dollar sign followed by a template.
                i += 1;
                continue;
            }
            let (name, width) = shell_name(&self.src[i + 1..]);
            if name.is_empty() && width == 0 {
                // `$` followed by anything else stays as it is.
                i += 1;
                continue;
            }
            self.literal(literal_start, i);
            if name.is_empty() {
                let kind = if width == 2 {
                    ReferenceKind::EmptyBraces
                } else {
                    ReferenceKind::Unterminated
                };
                self.reference(String::new(), i, kind);
            } else {
                let value = lookup(name);
                let kind = match &value {
                    Some(v) => ReferenceKind::Set {
                        risk: self.risk(i, v),
                    },
                    None => ReferenceKind::Unset,
                };
                let index = self.reference(name.to_owned(), i, kind);
                self.segments.push(Segment {
                    out: self.out.len(),
                    orig: i,
                    literal: false,
                    reference: Some(index),
                });
                if let Some(v) = value {
                    self.out.push_str(&v);
                    self.values[index] = Some(v);
                }
            }
            i += 1 + width;
            literal_start = i;
        }
        self.literal(literal_start, bytes.len());
    }

    /// Returns the byte offset just past the `}}` closing the action that
    /// starts at `start` (which holds `{{`), if there is one.
    fn action_end(&self, start: usize) -> Option<usize> {
        self.src[start + 2..]
            .find("}}")
            .map(|rel| start + 2 + rel + 2)
    }

    /// Copies `src[from..to]` to the output as a literal run.
    fn literal(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        self.segments.push(Segment {
            out: self.out.len(),
            orig: from,
            literal: true,
            reference: None,
        });
        self.out.push_str(&self.src[from..to]);
    }

    fn reference(&mut self, name: String, offset: usize, kind: ReferenceKind) -> usize {
        self.references.push(EnvReference {
            name,
            location: self.original_index.location(self.src, offset),
            offset,
            kind,
        });
        self.values.push(None);
        self.references.len() - 1
    }

    /// Tells whether pasting `value` at `offset` can change the YAML
    /// structure. A line break always can (even inside quotes YAML folds it
    /// or rejects the continuation line); `: ` and ` #` only outside quoted
    /// scalars and comments.
    fn risk(&self, offset: usize, value: &str) -> Option<ValueRisk> {
        if value.contains('\n') || value.contains('\r') {
            return Some(ValueRisk::Newline);
        }
        let risk = if value.contains(": ") || value.ends_with(':') {
            ValueRisk::ColonSpace
        } else if value.contains(" #") || value.contains("\t#") {
            ValueRisk::Comment
        } else {
            return None;
        };
        let line_start = self.src[..offset].rfind('\n').map_or(0, |p| p + 1);
        (line_context(&self.src[line_start..offset]) == LineContext::Plain).then_some(risk)
    }
}

/// Where the end of a line prefix sits, for [`Expander::risk`].
#[derive(Debug, PartialEq, Eq)]
enum LineContext {
    /// In plain YAML text.
    Plain,
    /// Inside a single- or double-quoted scalar.
    Quoted,
    /// Inside a comment.
    Comment,
}

/// Scans `prefix` (a line up to a reference). A quote opens a scalar only
/// where a YAML value can start; `#` starts a comment only after whitespace or
/// at the start of the line.
fn line_context(prefix: &str) -> LineContext {
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    let mut prev_significant: Option<char> = None;
    let mut chars = prefix.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some('"') => match c {
                '\\' => {
                    chars.next();
                }
                '"' => quote = None,
                _ => {}
            },
            Some(_) => {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
            }
            None => {
                if (c == '"' || c == '\'')
                    && matches!(prev_significant, None | Some(':' | '-' | '[' | '{' | ','))
                {
                    quote = Some(c);
                } else if c == '#' && prev.is_none_or(char::is_whitespace) {
                    return LineContext::Comment;
                }
            }
        }
        prev = Some(c);
        if !c.is_whitespace() {
            prev_significant = Some(c);
        }
    }
    if quote.is_some() {
        LineContext::Quoted
    } else {
        LineContext::Plain
    }
}

/// Go's `getShellName`: the variable name after a `$` and how many bytes of
/// `s` (the text after the `$`) it uses.
fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    if b.first() == Some(&b'{') {
        if b.len() > 2 && is_shell_special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        return match s[1..].find('}') {
            Some(0) => ("", 2),
            Some(end) => (&s[1..=end], end + 2),
            None => ("", 1),
        };
    }
    if b.first().copied().is_some_and(is_shell_special) {
        return (&s[..1], 1);
    }
    let len = b
        .iter()
        .take_while(|&&c| c == b'_' || c.is_ascii_alphanumeric())
        .count();
    (&s[..len], len)
}

fn is_shell_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

impl Expanded {
    /// Returns the expanded text (what the YAML parser reads).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Returns the original text.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Returns every `$` reference, in file order.
    pub fn references(&self) -> &[EnvReference] {
        &self.references
    }

    /// Returns the names of the variables referenced, once each, in file order.
    pub fn referenced(&self) -> Vec<&str> {
        unique(
            self.references
                .iter()
                .filter(|r| matches!(r.kind, ReferenceKind::Set { .. } | ReferenceKind::Unset)),
        )
    }

    /// Returns the names of the referenced variables that are not set, once
    /// each, in file order.
    pub fn unset(&self) -> Vec<&str> {
        unique(
            self.references
                .iter()
                .filter(|r| r.kind == ReferenceKind::Unset),
        )
    }

    /// Every value pasted into the text, with its variable's name.
    pub fn env_values(&self) -> EnvValues {
        EnvValues::from_pairs(
            self.pasted()
                .map(|(name, value)| (name.to_owned(), value.to_owned())),
        )
    }

    /// The values pasted into the expanded text between byte offsets `start`
    /// and `end`.
    pub fn env_values_in(&self, start: usize, end: usize) -> EnvValues {
        let mut pairs = Vec::new();
        let end = end.max(start + 1);
        // segments are ordered by `out`: start at the last one beginning at or before
        // `start`, stop at the first beginning at or after `end`
        let first = self
            .segments
            .partition_point(|s| s.out <= start)
            .saturating_sub(1);
        for (i, seg) in self.segments.iter().enumerate().skip(first) {
            if seg.out >= end {
                break;
            }
            let Some(reference) = seg.reference.filter(|_| !seg.literal) else {
                continue;
            };
            let seg_end = self.segments.get(i + 1).map_or(self.text.len(), |s| s.out);
            if seg_end <= start || seg.out == seg_end {
                continue;
            }
            if let (Some(r), Some(Some(value))) =
                (self.references.get(reference), self.values.get(reference))
            {
                pairs.push((r.name.clone(), value.clone()));
            }
        }
        EnvValues::from_pairs(pairs)
    }

    fn pasted(&self) -> impl Iterator<Item = (&str, &str)> {
        self.references
            .iter()
            .zip(&self.values)
            .filter_map(|(r, v)| Some((r.name.as_str(), v.as_deref()?)))
    }

    /// Maps a byte offset in the expanded text to the original text. Offsets
    /// inside a pasted value map to the `$` of its reference.
    pub fn original_offset(&self, expanded_offset: usize) -> usize {
        let seg = self.segment_at(expanded_offset);
        if seg.literal {
            (seg.orig + (expanded_offset - seg.out)).min(self.original.len())
        } else {
            seg.orig
        }
    }

    /// Maps a location in the expanded text to the original file.
    pub fn original_location(&self, expanded: Location) -> Location {
        if !expanded.is_known() {
            return expanded;
        }
        let offset = self.expanded_offset(expanded.line, expanded.column.saturating_sub(1));
        self.original_index
            .location(&self.original, self.original_offset(offset))
    }

    /// Byte offset in the expanded text of a 1-based line and 0-based column.
    pub(crate) fn expanded_offset(&self, line: usize, column0: usize) -> usize {
        self.expanded_index.offset_of(&self.text, line, column0)
    }

    /// Maps a byte offset in the expanded text to a location in the original.
    pub(crate) fn original_location_of_offset(&self, expanded_offset: usize) -> Location {
        self.original_index
            .location(&self.original, self.original_offset(expanded_offset))
    }

    /// Returns the variable whose pasted value covers `expanded_offset`.
    pub fn variable_at(&self, expanded_offset: usize) -> Option<&str> {
        let seg = self.segment_at(expanded_offset);
        let next = self.segments.partition_point(|s| s.out <= seg.out);
        let next_out = self.segments.get(next).map_or(self.text.len(), |s| s.out);
        if seg.literal || expanded_offset >= next_out {
            return None;
        }
        seg.reference
            .and_then(|i| self.references.get(i))
            .map(|r| r.name.as_str())
    }

    fn segment_at(&self, expanded_offset: usize) -> Segment {
        let idx = self
            .segments
            .partition_point(|s| s.out <= expanded_offset)
            .saturating_sub(1);
        // `segments` always ends with a sentinel, so it is never empty.
        self.segments.get(idx).copied().unwrap_or(Segment {
            out: 0,
            orig: 0,
            literal: true,
            reference: None,
        })
    }

    /// Adds the expansion warnings to `diags`: one per unset variable (at its
    /// first reference outside YAML comments), malformed references, and
    /// values that may change the YAML structure. Values are never shown.
    pub fn report(&self, diags: &mut Diagnostics) {
        let mut seen_unset: Vec<&str> = Vec::new();
        for r in &self.references {
            match r.kind {
                ReferenceKind::Unset => {
                    // Expanding to nothing in a comment changes nothing.
                    if seen_unset.contains(&r.name.as_str()) || self.in_comment(r.offset) {
                        continue;
                    }
                    seen_unset.push(&r.name);
                    let d = diags.warning(
                        r.location,
                        format!(
                            "environment variable `{}` is not set and expands to an empty string",
                            r.name
                        ),
                    );
                    if r.name.len() == 1 && is_shell_special(r.name.as_bytes()[0]) {
                        d.with_hint("write `$$` for a literal `$`");
                    }
                }
                ReferenceKind::EmptyBraces => {
                    diags
                        .warning(r.location, "`${}` is removed by environment expansion")
                        .with_hint("write `$${}` to keep it literally");
                }
                ReferenceKind::Unterminated => {
                    diags
                        .warning(
                            r.location,
                            "`${` without a closing `}`: both characters are removed by environment expansion",
                        )
                        .with_hint("close the reference with `}` or write `$$` for a literal `$`");
                }
                ReferenceKind::Set { risk: Some(risk) } => {
                    let hint = match risk {
                        ValueRisk::Newline => format!(
                            "values with line breaks cannot be pasted safely; in a template field read the variable when sending with `{{{{ env \"{}\" }}}}`",
                            r.name
                        ),
                        ValueRisk::ColonSpace | ValueRisk::Comment => {
                            format!("quote the reference: \"${{{}}}\"", r.name)
                        }
                    };
                    diags
                        .warning(
                            r.location,
                            format!(
                                "the value of environment variable `{}` contains {} and is pasted into the file before YAML parsing, which can change its structure",
                                r.name,
                                risk.describe()
                            ),
                        )
                        .with_hint(hint);
                }
                ReferenceKind::Set { risk: None } => {}
            }
        }
    }
}

impl Expanded {
    /// Tells whether byte `offset` of the original text is inside a YAML comment
    /// (a `#` at the start of the line or after whitespace, outside quotes).
    fn in_comment(&self, offset: usize) -> bool {
        let line_start = self.original[..offset].rfind('\n').map_or(0, |p| p + 1);
        line_context(&self.original[line_start..offset]) == LineContext::Comment
    }
}

fn unique<'a>(refs: impl Iterator<Item = &'a EnvReference>) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for r in refs {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    names
}
