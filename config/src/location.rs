//! Positions in a configuration file, and the file itself.
//!
//! Every position herald reports points into the file *as the user wrote it*
//! (before environment expansion): 1-based lines, 1-based columns counted in
//! characters.

use std::fmt;

/// A position in a configuration file: 1-based line and column.
///
/// Columns count characters, not bytes. [`Location::UNKNOWN`] (line 0) is used
/// for values that did not come from a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// 1-based line number; 0 when unknown.
    pub line: usize,
    /// 1-based column, in characters; 0 when unknown.
    pub column: usize,
}

impl Location {
    /// The location of values that did not come from a file.
    pub const UNKNOWN: Location = Location { line: 0, column: 0 };

    /// Creates a location from a 1-based line and column.
    pub const fn new(line: usize, column: usize) -> Self {
        Location { line, column }
    }

    /// Returns whether this location points into a file.
    pub const fn is_known(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_known() {
            write!(f, "{}:{}", self.line, self.column)
        } else {
            f.write_str("?")
        }
    }
}

/// Byte offsets of line starts in a text, for offset ↔ line/column conversion.
///
/// Lines that are pure ASCII (almost all of them) convert in constant time, so a
/// file with many values on one long line is not quadratic to read.
#[derive(Clone, Debug, Default)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
    /// Whether each line (by index) is pure ASCII: columns are then byte offsets.
    ascii: Vec<bool>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        let mut ascii = Vec::new();
        let mut line_ascii = true;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
                ascii.push(line_ascii);
                line_ascii = true;
            } else if !b.is_ascii() {
                line_ascii = false;
            }
        }
        ascii.push(line_ascii);
        LineIndex { starts, ascii }
    }

    fn is_ascii(&self, line: usize) -> bool {
        line.checked_sub(1)
            .and_then(|i| self.ascii.get(i))
            .copied()
            .unwrap_or(false)
    }

    /// Returns the location of byte `offset` (clamped to the text).
    pub(crate) fn location(&self, text: &str, offset: usize) -> Location {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line.saturating_sub(1)];
        let column = if self.is_ascii(line) {
            offset - start + 1
        } else {
            text[start..offset].chars().count() + 1
        };
        Location::new(line, column)
    }

    /// Returns the byte offset of a location, given a 1-based line and a
    /// 0-based character column (as the YAML parser reports them).
    pub(crate) fn offset_of(&self, text: &str, line: usize, column0: usize) -> usize {
        let Some(&start) = line.checked_sub(1).and_then(|i| self.starts.get(i)) else {
            return text.len();
        };
        let end = self.line_end(text, line);
        // A column past the end of the line points at the line break.
        if self.is_ascii(line) {
            return (start + column0).min(end);
        }
        text[start..end]
            .char_indices()
            .nth(column0)
            .map_or(end, |(i, _)| start + i)
    }

    /// Returns the text of a 1-based line, without its line break.
    pub(crate) fn line<'t>(&self, text: &'t str, line: usize) -> Option<&'t str> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self.line_end(text, line);
        let s = &text[start..end];
        Some(s.strip_suffix('\r').unwrap_or(s))
    }

    /// Byte offset of the end of a line's content (before `\n`).
    fn line_end(&self, text: &str, line: usize) -> usize {
        self.starts
            .get(line)
            .map_or(text.len(), |&next| next.saturating_sub(1))
    }
}

/// Moves `offset` back to the closest character boundary.
fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A configuration file as the user wrote it: its name (usually the path) and text.
///
/// `Debug` shows the name and size only: the text may hold literal secrets.
#[derive(Clone)]
pub struct SourceFile {
    name: String,
    text: String,
    index: LineIndex,
}

impl SourceFile {
    /// Creates a source file from its display name and original text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let index = LineIndex::new(&text);
        SourceFile {
            name: name.into(),
            text,
            index,
        }
    }

    /// Returns the name used in messages (usually the path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the original text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Returns the text of 1-based line `line`, without its line break.
    pub fn line(&self, line: usize) -> Option<&str> {
        self.index.line(&self.text, line)
    }

    /// Returns the location of a byte offset in the original text.
    pub fn location(&self, offset: usize) -> Location {
        self.index.location(&self.text, offset)
    }
}

impl std::fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceFile")
            .field("name", &self.name)
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_character_columns() {
        let text = "ab\nçd: x\n\nlast";
        let idx = LineIndex::new(text);
        assert_eq!(idx.location(text, 0), Location::new(1, 1));
        assert_eq!(idx.location(text, 2), Location::new(1, 3));
        assert_eq!(idx.location(text, 3), Location::new(2, 1));
        // 'ç' is two bytes; 'd' is the second character.
        assert_eq!(idx.location(text, 5), Location::new(2, 2));
        assert_eq!(idx.location(text, 11), Location::new(4, 1));
        assert_eq!(idx.location(text, 999), Location::new(4, 5));
    }

    #[test]
    fn line_and_column_map_back_to_offsets() {
        let text = "ab\nçd: x\r\nz";
        let idx = LineIndex::new(text);
        assert_eq!(idx.offset_of(text, 2, 0), 3);
        assert_eq!(idx.offset_of(text, 2, 1), 5);
        assert_eq!(idx.offset_of(text, 3, 0), 11);
        assert_eq!(idx.line(text, 2), Some("çd: x"));
        assert_eq!(idx.line(text, 3), Some("z"));
        assert_eq!(idx.line(text, 4), None);
        assert_eq!(idx.offset_of(text, 9, 0), text.len());
    }

    #[test]
    fn unknown_location_displays_as_question_mark() {
        assert_eq!(Location::UNKNOWN.to_string(), "?");
        assert_eq!(Location::new(3, 7).to_string(), "3:7");
        assert!(!Location::default().is_known());
    }
}
