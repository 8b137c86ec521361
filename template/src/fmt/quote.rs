//! `strconv` quoting: `Quote`, `QuoteToASCII`, `QuoteRune`, `CanBackquote`,
//! `IsPrint`, and `Unquote`/`UnquoteChar` for template literals.

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the
/// ASCII space. Rust's standard library has no general-category tables, so
/// format characters, private-use characters and separators are excluded
/// explicitly; unassigned code points are treated as printable.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = u32::from(c);
    let format_or_private = matches!(u,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x180E
        | 0x200B..=0x200F
        | 0x2028..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xD800..=0xF8FF
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0xFFFE..=0xFFFF
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F
        | 0xF0000..=0x10FFFF
    );
    !format_or_private
}

fn push_escaped_rune(out: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && is_print(r) {
            out.push(r);
            return;
        }
    } else if is_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\u{07}' => out.push_str("\\a"),
        '\u{08}' => out.push_str("\\b"),
        '\u{0C}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{0B}' => out.push_str("\\v"),
        _ => {
            let u = u32::from(r);
            if u < 0x20 || u == 0x7f {
                out.push_str("\\x");
                out.push(char::from(LOWER_HEX[(u >> 4) as usize & 0xF]));
                out.push(char::from(LOWER_HEX[u as usize & 0xF]));
            } else if u < 0x10000 {
                out.push_str("\\u");
                for s in [12, 8, 4, 0] {
                    out.push(char::from(LOWER_HEX[(u >> s) as usize & 0xF]));
                }
            } else {
                out.push_str("\\U");
                for s in [28, 24, 20, 16, 12, 8, 4, 0] {
                    out.push(char::from(LOWER_HEX[(u >> s) as usize & 0xF]));
                }
            }
        }
    }
}

/// `strconv.Quote` (or `QuoteToASCII` when `ascii_only`).
pub(crate) fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(r: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(8);
    out.push('\'');
    push_escaped_rune(&mut out, r, '\'', ascii_only);
    out.push('\'');
    out
}

/// `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        if c.len_utf8() > 1 {
            return c != '\u{feff}';
        }
        !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}')
    })
}

/// Why a literal could not be unquoted; Go reports `invalid syntax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError;

fn unhex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// `strconv.UnquoteChar`: decodes the first character or escape of `s`, where
/// `quote` is the enclosing quote. Returns the char, whether it must be written
/// as a single byte (`\x`/octal escapes), and the rest.
pub(crate) fn unquote_char(s: &str, quote: u8) -> Result<(char, bool, &str), SyntaxError> {
    let b = s.as_bytes();
    let Some(&c) = b.first() else {
        return Err(SyntaxError);
    };
    if c == quote && (quote == b'\'' || quote == b'"') {
        return Err(SyntaxError);
    }
    if c != b'\\' {
        let ch = s.chars().next().ok_or(SyntaxError)?;
        return Ok((ch, false, &s[ch.len_utf8()..]));
    }
    if b.len() <= 1 {
        return Err(SyntaxError);
    }
    let c = b[1];
    if !c.is_ascii() {
        // a backslash before a multi-byte character is no escape (and `s[2..]` would
        // cut that character)
        return Err(SyntaxError);
    }
    let rest = &s[2..];
    let simple = |ch: char| Ok((ch, false, rest));
    match c {
        b'a' => simple('\u{07}'),
        b'b' => simple('\u{08}'),
        b'f' => simple('\u{0C}'),
        b'n' => simple('\n'),
        b'r' => simple('\r'),
        b't' => simple('\t'),
        b'v' => simple('\u{0B}'),
        b'x' | b'u' | b'U' => {
            let n = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let rb = rest.as_bytes();
            if rb.len() < n {
                return Err(SyntaxError);
            }
            let mut v: u32 = 0;
            for &d in &rb[..n] {
                v = (v << 4) | unhex(d).ok_or(SyntaxError)?;
            }
            let rest = &rest[n..];
            if c == b'x' {
                // A single byte; only ASCII can be represented in a Rust string.
                return char::from_u32(v)
                    .map(|ch| (ch, true, rest))
                    .ok_or(SyntaxError);
            }
            let ch = char::from_u32(v).ok_or(SyntaxError)?;
            Ok((ch, false, rest))
        }
        b'0'..=b'7' => {
            let rb = s.as_bytes();
            if rb.len() < 4 {
                return Err(SyntaxError);
            }
            let mut v: u32 = 0;
            for &d in &rb[1..4] {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(SyntaxError);
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            if v > 255 {
                return Err(SyntaxError);
            }
            let ch = char::from_u32(v).ok_or(SyntaxError)?;
            Ok((ch, true, &s[4..]))
        }
        b'\\' => simple('\\'),
        b'\'' | b'"' => {
            if c != quote {
                return Err(SyntaxError);
            }
            simple(char::from(c))
        }
        _ => Err(SyntaxError),
    }
}

/// `strconv.Unquote` for `"..."` and `` `...` `` literals. Byte escapes above
/// 0x7f (`"\xff"`) cannot form valid UTF-8 on their own; they are decoded as
/// bytes and the result is converted lossily.
pub(crate) fn unquote(s: &str) -> Result<String, SyntaxError> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return Err(SyntaxError);
    }
    let q = b[0];
    if q != b[b.len() - 1] {
        return Err(SyntaxError);
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err(SyntaxError);
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' => {
            if !inner.contains('\\') && !inner.contains('"') && !inner.contains('\n') {
                return Ok(inner.to_owned());
            }
            let mut bytes: Vec<u8> = Vec::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                if rest.starts_with('\n') {
                    return Err(SyntaxError);
                }
                let (ch, single_byte, r) = unquote_char(rest, b'"')?;
                if single_byte {
                    // Fits in a byte: checked by unquote_char.
                    bytes.push(u8::try_from(u32::from(ch)).map_err(|_| SyntaxError)?);
                } else {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                rest = r;
            }
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => Err(SyntaxError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backslash_before_a_multibyte_character_is_invalid_syntax_not_a_panic() {
        assert_eq!(unquote_char("\\é", b'"'), Err(SyntaxError));
        assert_eq!(unquote_char("\\☺x", b'\''), Err(SyntaxError));
    }

    #[test]
    fn quotes_like_strconv() {
        assert_eq!(
            quote("a\"b\\c\n\t\u{1}é", false),
            "\"a\\\"b\\\\c\\n\\t\\x01é\""
        );
        assert_eq!(quote("é☺\u{200b}", true), "\"\\u00e9\\u263a\\u200b\"");
        assert_eq!(quote("\u{1F600}", true), "\"\\U0001f600\"");
        assert_eq!(quote_rune('\'', false), "'\\''");
        assert_eq!(quote_rune('x', false), "'x'");
        assert!(can_backquote("a\tb"));
        assert!(!can_backquote("a`b"));
        assert!(!can_backquote("a\nb"));
    }

    #[test]
    fn unquotes_go_literals() {
        assert_eq!(unquote(r#""a\tb\u00e9\x41\101""#), Ok("a\tbéAA".to_owned()));
        assert_eq!(unquote("`raw\\n`"), Ok("raw\\n".to_owned()));
        assert_eq!(unquote(r#""\z""#), Err(SyntaxError));
        assert_eq!(unquote(r#""\'""#), Err(SyntaxError));
        assert_eq!(unquote_char("\\'", b'\''), Ok(('\'', false, "")));
        assert_eq!(unquote_char("é'", b'\''), Ok(('é', false, "'")));
    }
}
