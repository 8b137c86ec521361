//! The template lexer, a port of Go's `text/template/parse/lex.go`: text,
//! `{{`/`}}` with `-` trim markers, comments, and the tokens inside actions.

/// Token kinds. Keywords sort after [`ItemType::Keyword`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ItemType {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    Keyword,
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

/// A token: its type, byte position, text (or error message) and line.
#[derive(Clone, Debug)]
pub(crate) struct Item<'a> {
    pub(crate) typ: ItemType,
    pub(crate) pos: usize,
    pub(crate) val: std::borrow::Cow<'a, str>,
    pub(crate) line: usize,
}

impl std::fmt::Display for Item<'_> {
    /// Go's `item.String()`, used in "unexpected ..." messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::fmt::quote::quote;
        match self.typ {
            ItemType::Eof => f.write_str("EOF"),
            ItemType::Error => f.write_str(&self.val),
            t if t > ItemType::Keyword => write!(f, "<{}>", self.val),
            _ if self.val.len() > 10 => {
                // Go's %.10q quotes the first ten runes.
                let head: String = self.val.chars().take(10).collect();
                if head.len() == self.val.len() {
                    f.write_str(&quote(&self.val, false))
                } else {
                    write!(f, "{}...", quote(&head, false))
                }
            }
            _ => f.write_str(&quote(&self.val, false)),
        }
    }
}

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_'
        || c.is_alphabetic()
        || c.is_numeric() && c.is_ascii_digit()
        || (!c.is_ascii() && c.is_numeric() && is_unicode_digit(c))
}

/// Go's `unicode.IsDigit` is category Nd; Rust's `is_numeric` also covers No and
/// Nl. Decimal digits are the characters whose digit value is known.
fn is_unicode_digit(c: char) -> bool {
    // Nd blocks are runs of ten; `to_digit` only knows ASCII, so approximate
    // by excluding the common non-decimal numerics (fractions, superscripts,
    // roman numerals).
    !matches!(u32::from(c), 0x00B2 | 0x00B3 | 0x00B9 | 0x00BC..=0x00BE | 0x2150..=0x218B | 0x2070..=0x209F | 0x2460..=0x24FF | 0x2776..=0x2793)
}

fn has_left_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s[0] == b'-' && is_space(s[1])
}

fn has_right_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && is_space(s[0]) && s[1] == b'-'
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    InsideAction,
    Done,
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    paren_depth: i32,
    line: usize,
    start_line: usize,
    state: State,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            start: 0,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            state: State::Text,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.input.as_bytes()
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.rest().chars().next()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn this_item(&mut self, typ: ItemType) -> Item<'a> {
        let item = Item {
            typ,
            pos: self.start,
            val: std::borrow::Cow::Borrowed(&self.input[self.start..self.pos]),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        item
    }

    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn error(&mut self, msg: String) -> Item<'a> {
        let item = Item {
            typ: ItemType::Error,
            pos: self.start,
            val: std::borrow::Cow::Owned(msg),
            line: self.start_line,
        };
        self.state = State::Done;
        item
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek_char() {
            Some(c) if valid.contains(c) => {
                self.next_char();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest().as_bytes();
        if has_right_trim_marker(rest) && self.input[self.pos + 2..].starts_with(RIGHT_DELIM) {
            return (true, true);
        }
        (self.rest().starts_with(RIGHT_DELIM), false)
    }

    fn at_terminator(&self) -> bool {
        match self.peek_char() {
            None => true,
            Some(c) if c.is_ascii() && is_space(c as u8) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(RIGHT_DELIM),
        }
    }

    /// Returns the next token; after an error or EOF it keeps returning EOF.
    pub(crate) fn next_item(&mut self) -> Item<'a> {
        match self.state {
            State::Done => Item {
                typ: ItemType::Eof,
                pos: self.input.len(),
                val: std::borrow::Cow::Borrowed(""),
                line: self.line,
            },
            State::Text => self.lex_text(),
            State::InsideAction => self.lex_inside_action(),
        }
    }

    fn lex_text(&mut self) -> Item<'a> {
        loop {
            if let Some(x) = self.rest().find(LEFT_DELIM) {
                if x > 0 {
                    self.pos += x;
                    let delim_end = self.pos + LEFT_DELIM.len();
                    let mut trim = 0;
                    if has_left_trim_marker(&self.bytes()[delim_end..]) {
                        let text = &self.input[self.start..self.pos];
                        trim = text.len() - text.trim_end_matches([' ', '\t', '\r', '\n']).len();
                    }
                    self.pos -= trim;
                    self.line += self.input[self.start..self.pos].matches('\n').count();
                    let item = self.this_item(ItemType::Text);
                    self.pos += trim;
                    self.ignore();
                    if !item.val.is_empty() {
                        return item;
                    }
                }
                if let Some(item) = self.lex_left_delim() {
                    return item;
                }
                continue;
            }
            self.pos = self.input.len();
            if self.pos > self.start {
                self.line += self.input[self.start..self.pos].matches('\n').count();
                let item = self.this_item(ItemType::Text);
                return item;
            }
            let item = self.this_item(ItemType::Eof);
            self.state = State::Done;
            return item;
        }
    }

    /// Scans `{{`; returns the left-delim item, or `None` after skipping a
    /// comment (or an error item for a bad comment).
    fn lex_left_delim(&mut self) -> Option<Item<'a>> {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(&self.bytes()[self.pos..]);
        let after = if trim { 2 } else { 0 };
        if self.input[self.pos + after..].starts_with(LEFT_COMMENT) {
            self.pos += after;
            self.ignore();
            return self.lex_comment();
        }
        let item = self.this_item(ItemType::LeftDelim);
        self.state = State::InsideAction;
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        Some(item)
    }

    fn lex_comment(&mut self) -> Option<Item<'a>> {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.rest().find(RIGHT_COMMENT) else {
            return Some(self.error("unclosed comment".into()));
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return Some(self.error("comment ends before closing delimiter".into()));
        }
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
        }
        self.ignore();
        None
    }

    fn lex_right_delim(&mut self) -> Item<'a> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        let item = self.this_item(ItemType::RightDelim);
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
            self.ignore();
        }
        self.state = State::Text;
        item
    }

    fn lex_inside_action(&mut self) -> Item<'a> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return self.lex_right_delim();
            }
            return self.error("unclosed left paren".into());
        }
        let Some(r) = self.next_char() else {
            return self.error("unclosed action".into());
        };
        match r {
            c if c.is_ascii() && is_space(c as u8) => {
                self.backup(Some(c));
                self.lex_space()
            }
            '=' => self.this_item(ItemType::Assign),
            ':' => {
                if self.next_char() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.this_item(ItemType::Declare)
            }
            '|' => self.this_item(ItemType::Pipe),
            '"' => self.lex_quote(),
            '`' => self.lex_raw_quote(),
            '$' => self.lex_variable(),
            '\'' => self.lex_char(),
            '.' if self
                .bytes()
                .get(self.pos)
                .is_some_and(|c| !c.is_ascii_digit()) =>
            {
                self.lex_field_or_variable(ItemType::Field)
            }
            '.' | '+' | '-' | '0'..='9' => {
                self.backup(Some(r));
                self.lex_number()
            }
            c if is_alnum(c) => {
                self.backup(Some(c));
                self.lex_identifier()
            }
            '(' => {
                self.paren_depth += 1;
                self.this_item(ItemType::LeftParen)
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right paren".into());
                }
                self.this_item(ItemType::RightParen)
            }
            c if c.is_ascii() && !c.is_ascii_control() => self.this_item(ItemType::Char),
            c => self.error(format!(
                "unrecognized character in action: {}",
                go_unicode(c)
            )),
        }
    }

    fn lex_space(&mut self) -> Item<'a> {
        let mut n = 0;
        while self.bytes().get(self.pos).is_some_and(|&c| is_space(c)) {
            self.next_char();
            n += 1;
        }
        let b = self.bytes();
        if has_right_trim_marker(&b[self.pos - 1..])
            && self.input[self.pos + 1..].starts_with(RIGHT_DELIM)
        {
            let c = char::from(b[self.pos - 1]);
            self.backup(Some(c));
            if n == 1 {
                return self.lex_right_delim();
            }
        }
        self.this_item(ItemType::Space)
    }

    fn lex_identifier(&mut self) -> Item<'a> {
        loop {
            match self.next_char() {
                Some(c) if is_alnum(c) => {}
                other => {
                    self.backup(other);
                    let word = &self.input[self.start..self.pos];
                    if !self.at_terminator() {
                        return self.error(format!("bad character {}", go_unicode_opt(other)));
                    }
                    let typ = match word {
                        "block" => ItemType::Block,
                        "break" => ItemType::Break,
                        "continue" => ItemType::Continue,
                        "define" => ItemType::Define,
                        "else" => ItemType::Else,
                        "end" => ItemType::End,
                        "if" => ItemType::If,
                        "range" => ItemType::Range,
                        "nil" => ItemType::Nil,
                        "template" => ItemType::Template,
                        "with" => ItemType::With,
                        "true" | "false" => ItemType::Bool,
                        _ => ItemType::Identifier,
                    };
                    return self.this_item(typ);
                }
            }
        }
    }

    fn lex_variable(&mut self) -> Item<'a> {
        if self.at_terminator() {
            return self.this_item(ItemType::Variable);
        }
        self.lex_field_or_variable(ItemType::Variable)
    }

    fn lex_field_or_variable(&mut self, typ: ItemType) -> Item<'a> {
        if self.at_terminator() {
            return self.this_item(if typ == ItemType::Variable {
                ItemType::Variable
            } else {
                ItemType::Dot
            });
        }
        let last = loop {
            match self.next_char() {
                Some(c) if is_alnum(c) => {}
                other => {
                    self.backup(other);
                    break other;
                }
            }
        };
        if !self.at_terminator() {
            return self.error(format!("bad character {}", go_unicode_opt(last)));
        }
        self.this_item(typ)
    }

    fn lex_char(&mut self) -> Item<'a> {
        loop {
            match self.next_char() {
                Some('\\') => match self.next_char() {
                    Some('\n') | None => {
                        return self.error("unterminated character constant".into());
                    }
                    Some(_) => {}
                },
                Some('\n') | None => return self.error("unterminated character constant".into()),
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.this_item(ItemType::CharConstant)
    }

    fn lex_quote(&mut self) -> Item<'a> {
        loop {
            match self.next_char() {
                Some('\\') => match self.next_char() {
                    Some('\n') | None => return self.error("unterminated quoted string".into()),
                    Some(_) => {}
                },
                Some('\n') | None => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.this_item(ItemType::String)
    }

    fn lex_raw_quote(&mut self) -> Item<'a> {
        loop {
            match self.next_char() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.this_item(ItemType::RawString)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek_char().is_some_and(is_alnum) {
            self.next_char();
            return false;
        }
        true
    }

    fn lex_number(&mut self) -> Item<'a> {
        if !self.scan_number() {
            let text = crate::fmt::quote::quote(&self.input[self.start..self.pos], false);
            return self.error(format!("bad number syntax: {text}"));
        }
        if matches!(self.peek_char(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let text = crate::fmt::quote::quote(&self.input[self.start..self.pos], false);
                return self.error(format!("bad number syntax: {text}"));
            }
            return self.this_item(ItemType::Complex);
        }
        self.this_item(ItemType::Number)
    }
}

/// Go's `%#U`: `U+007D '}'`.
fn go_unicode(c: char) -> String {
    if crate::fmt::quote::is_print(c) {
        format!("U+{:04X} '{}'", u32::from(c), c)
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

fn go_unicode_opt(c: Option<char>) -> String {
    match c {
        Some(c) => go_unicode(c),
        None => "U+FFFFFFFFFFFFFFFF".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(s: &str) -> Vec<(ItemType, String)> {
        let mut l = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let i = l.next_item();
            let done = matches!(i.typ, ItemType::Eof | ItemType::Error);
            out.push((i.typ, i.val.to_string()));
            if done {
                return out;
            }
        }
    }

    #[test]
    fn lexes_actions() {
        use ItemType::*;
        let items = lex("a {{ .X.Y | printf \"%d\" $x 1.5 }} b");
        let types: Vec<ItemType> = items.iter().map(|i| i.0).collect();
        assert_eq!(
            types,
            [
                Text, LeftDelim, Space, Field, Field, Space, Pipe, Space, Identifier, Space,
                String, Space, Variable, Space, Number, Space, RightDelim, Text, Eof
            ]
        );
    }

    #[test]
    fn trims_and_comments() {
        use ItemType::*;
        let items = lex("a  {{- 3 -}}  b {{/* c */}} d {{- /* e */ -}} f");
        assert_eq!(
            items,
            vec![
                (Text, "a".into()),
                (LeftDelim, "{{".into()),
                (Number, "3".into()),
                (RightDelim, "}}".into()),
                (Text, "b ".into()),
                (Text, " d".into()),
                (Text, "f".into()),
                (Eof, "".into()),
            ]
        );
        // "{{-3}}" is the number -3, not a trim marker.
        assert_eq!(lex("{{-3}}")[1], (Number, "-3".into()));
    }

    #[test]
    fn lexer_errors() {
        let last = |s: &str| lex(s).pop().unwrap().1;
        assert_eq!(last("{{ .X"), "unclosed action");
        assert_eq!(last("{{/* x"), "unclosed comment");
        assert_eq!(
            last("{{/* x */ }}"),
            "comment ends before closing delimiter"
        );
        assert_eq!(last("{{ (1 }}"), "unclosed left paren");
        assert_eq!(last("{{ ) }}"), "unexpected right paren");
        assert_eq!(last("{{ \"abc }}"), "unterminated quoted string");
        assert_eq!(last("{{ 3x }}"), "bad number syntax: \"3x\"");
        assert_eq!(last("{{ .X}x}}"), "bad character U+007D '}'");
        assert_eq!(last("{{ : }}"), "expected :=");
        assert_eq!(
            last("{{ \u{1} }}"),
            "unrecognized character in action: U+0001"
        );
    }
}
