//! Text algorithms sprig borrows from `Masterminds/goutils` (abbreviate, wrap,
//! initials, case swapping) and `huandu/xstrings` v1.4 (snake, kebab and camel
//! case), ported with their exact word-splitting rules.

/// Largest char boundary `<= i`.
pub(crate) fn floor(s: &str, i: usize) -> usize {
    crate::parse::floor_boundary(s, i)
}

/// Smallest char boundary `>= i`.
pub(crate) fn ceil(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `s[a..b]` by bytes, widened to char boundaries.
pub(crate) fn slice(s: &str, a: usize, b: usize) -> &str {
    let a = ceil(s, a);
    let b = floor(s, b).max(a);
    &s[a..b]
}

/// goutils `AbbreviateFull` (byte lengths, like Go).
pub(crate) fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> String {
    if s.is_empty() {
        return String::new();
    }
    if max_width < 4 {
        return String::new();
    }
    let len = s.len() as i64;
    if len <= max_width {
        return s.to_owned();
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    let marker = "...";
    if offset <= 4 {
        let end = usize::try_from(max_width - 3).unwrap_or(0);
        return format!("{}{marker}", slice(s, 0, end));
    }
    if max_width < 7 {
        return String::new();
    }
    let off = usize::try_from(offset).unwrap_or(0);
    if offset + max_width - 3 < len {
        let rest = slice(s, off, s.len());
        return format!("{marker}{}", abbreviate_full(rest, 0, max_width - 3));
    }
    let start = usize::try_from(len - (max_width - 3)).unwrap_or(0);
    format!("{marker}{}", slice(s, start, s.len()))
}

/// goutils `WrapCustom`.
pub(crate) fn wrap_custom(
    s: &str,
    wrap_length: i64,
    newline: &str,
    wrap_long_words: bool,
) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let wrap_length = usize::try_from(wrap_length.max(1)).unwrap_or(1);
    let b = s.as_bytes();
    let input_len = b.len();
    let mut offset = 0usize;
    let mut out = String::with_capacity(s.len() + 16);
    while input_len - offset > wrap_length {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (wrap_length + offset + 1).min(input_len);
        let space = b[offset..end].iter().rposition(|&c| c == b' ');
        if let Some(sp) = space {
            let at = offset + sp;
            out.push_str(slice(s, offset, at));
            out.push_str(newline);
            offset = at + 1;
        } else if wrap_long_words {
            let end = wrap_length + offset;
            out.push_str(slice(s, offset, end));
            out.push_str(newline);
            offset = ceil(s, end);
        } else {
            let end = wrap_length + offset;
            match b[end..].iter().position(|&c| c == b' ') {
                None => {
                    out.push_str(slice(s, offset, input_len));
                    offset = input_len;
                }
                Some(i) => {
                    let at = end + i;
                    out.push_str(slice(s, offset, at));
                    out.push_str(newline);
                    offset = at + 1;
                }
            }
        }
    }
    out.push_str(slice(s, offset, input_len));
    out
}

/// goutils `Initials` with whitespace delimiters.
pub(crate) fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for c in s.chars() {
        if c.is_whitespace() {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    out
}

/// Go's `unicode.ToUpper` (simple case mapping: one rune in, one rune out).
pub(crate) fn upper_rune(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower`.
pub(crate) fn lower_rune(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `strings.ToUpper`.
pub(crate) fn to_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars().map(upper_rune).collect()
}

/// Go's `strings.ToLower`.
pub(crate) fn to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().map(lower_rune).collect()
}

/// Go's `strings.Title`.
pub(crate) fn title(s: &str) -> String {
    let is_separator = |r: char| {
        if r.is_ascii() {
            return !(r.is_ascii_alphanumeric() || r == '_');
        }
        if r.is_alphanumeric() {
            return false;
        }
        r.is_whitespace()
    };
    let mut prev = ' ';
    s.chars()
        .map(|r| {
            let out = if is_separator(prev) { upper_rune(r) } else { r };
            prev = r;
            out
        })
        .collect()
}

/// goutils `Uncapitalize`: lowercases the first letter of each word.
pub(crate) fn untitle(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if c.is_whitespace() {
                next = true;
                c
            } else if next {
                next = false;
                lower_rune(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils `SwapCase`.
pub(crate) fn swapcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                lower_rune(c)
            } else if c.is_lowercase() {
                upper_rune(c)
            } else {
                c
            }
        })
        .collect()
}

// === xstrings v1.4 ===

fn is_connector(r: char) -> bool {
    r == '-' || r == '_' || r.is_whitespace()
}

/// A letter but not a CJK ideograph.
fn is_alphabet(r: char) -> bool {
    if !r.is_alphabetic() {
        return false;
    }
    let u = u32::from(r);
    !((0x4E00..=0x9FCC).contains(&u)
        || (0x3400..=0x4D85).contains(&u)
        || (0x20000..=0x2B81D).contains(&u))
}

fn is_punct(r: char) -> bool {
    r.is_ascii_punctuation() && !matches!(r, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
        || (!r.is_ascii() && !r.is_alphanumeric() && !r.is_whitespace() && !r.is_control())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WordType {
    Invalid,
    Number,
    UpperCase,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// xstrings `nextWord`.
fn next_word(s: &str) -> (WordType, &str, &str) {
    let mut chars = s.char_indices().peekable();
    let Some((_, r)) = chars.next() else {
        return (WordType::Invalid, "", "");
    };
    let take_while = |start: usize, pred: &dyn Fn(char) -> bool| -> usize {
        let mut end = start;
        for (i, c) in s[start..].char_indices() {
            if !pred(c) {
                return start + i;
            }
            end = start + i + c.len_utf8();
        }
        end
    };
    let first_len = r.len_utf8();
    let (wt, end) = if is_connector(r) {
        (WordType::Connector, take_while(first_len, &is_connector))
    } else if is_punct(r) {
        (WordType::Punct, take_while(first_len, &is_punct))
    } else if r.is_uppercase() {
        let rest = &s[first_len..];
        match rest.chars().next() {
            None => (WordType::UpperCase, first_len),
            Some(n) if n.is_uppercase() => {
                // Run of capitals; the last one starts the next word when a
                // lowercase letter follows ("HTTPStatus" → "HTTP", "Status").
                let mut end = first_len;
                let mut prev_size = 0;
                let mut next_char = None;
                for c in rest.chars() {
                    if !c.is_uppercase() {
                        next_char = Some(c);
                        break;
                    }
                    prev_size = c.len_utf8();
                    end += prev_size;
                }
                if end < s.len() && next_char.is_some_and(is_alphabet) {
                    end -= prev_size;
                }
                (WordType::UpperCase, end)
            }
            Some(n) if is_alphabet(n) => (
                WordType::UpperCase,
                take_while(first_len, &|c| is_alphabet(c) && !c.is_uppercase()),
            ),
            Some(_) => (WordType::UpperCase, first_len),
        }
    } else if is_alphabet(r) {
        (
            WordType::Alphabet,
            take_while(first_len, &|c| is_alphabet(c) && !c.is_uppercase()),
        )
    } else if r.is_numeric() {
        (WordType::Number, take_while(first_len, &char::is_numeric))
    } else {
        (
            WordType::Other,
            take_while(first_len, &|c| {
                !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c))
            }),
        )
    };
    (wt, &s[..end], &s[end..])
}

fn to_lower_word(out: &mut String, wt: WordType, word: &str, connector: char) {
    if wt != WordType::UpperCase && wt != WordType::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if c.is_uppercase() {
            out.push(lower_rune(c));
        } else {
            out.push(c);
        }
    }
}

/// xstrings v1.4 `camelCaseToLowerCase` (snakecase and kebabcase).
pub(crate) fn camel_to_lower(s: &str, connector: char) -> String {
    use WordType::{Alphabet, Connector, Invalid, Number, Punct};
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(s.len() + 4);
    let (mut wt, mut word, mut rem) = next_word(s);
    while !rem.is_empty() {
        if wt != Connector {
            to_lower_word(&mut out, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, rem) = next_word(rem);
        match prev {
            Number => {
                while wt == Alphabet || wt == Number {
                    to_lower_word(&mut out, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Invalid && wt != Punct {
                    out.push(connector);
                }
            }
            Connector => to_lower_word(&mut out, prev, last, connector),
            Punct => {}
            _ => {
                if wt != Number {
                    if wt != Connector && wt != Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if rem.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rem) = next_word(rem);
                if wt != Alphabet {
                    to_lower_word(&mut out, Number, last, connector);
                    if wt != Connector && wt != Punct {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                to_lower_word(&mut out, Number, last, connector);
                while wt == Alphabet || wt == Number {
                    to_lower_word(&mut out, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Invalid && wt != Connector && wt != Punct {
                    out.push(connector);
                }
            }
        }
    }
    to_lower_word(&mut out, wt, word, connector);
    out
}

/// xstrings v1.4 `ToCamelCase`: `http_server` → `HttpServer`.
pub(crate) fn camelcase(s: &str) -> String {
    let mut chars = s.chars();
    let mut out = String::with_capacity(s.len());
    let mut r0 = '\0';
    let mut found = false;
    for c in chars.by_ref() {
        if !is_connector(c) {
            r0 = upper_rune(c);
            found = true;
            break;
        }
        out.push(c);
    }
    if !found {
        return out;
    }
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            r0 = upper_rune(r0);
        } else {
            r0 = lower_rune(r0);
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations() {
        assert_eq!(
            abbreviate_full("Now is the time for all good men", 0, 10),
            "Now is ..."
        );
        assert_eq!(abbreviate_full("abcdefghijklmno", 0, 10), "abcdefg...");
        assert_eq!(abbreviate_full("abcdefghijklmno", 5, 10), "...fghi...");
        assert_eq!(abbreviate_full("abcdefghijklmno", 10, 10), "...ijklmno");
        assert_eq!(abbreviate_full("abc", 0, 10), "abc");
    }

    #[test]
    fn wrapping() {
        assert_eq!(
            wrap_custom("Here is a line of text", 10, "\n", false),
            "Here is a\nline of\ntext"
        );
        assert_eq!(
            wrap_custom("aaaaaaaaaaaaaaaa bb", 5, "\n", false),
            "aaaaaaaaaaaaaaaa\nbb"
        );
        assert_eq!(
            wrap_custom("aaaaaaaaaa bb", 5, "<br>", true),
            "aaaaa<br>aaaaa<br>bb"
        );
    }

    #[test]
    fn casing() {
        assert_eq!(camel_to_lower("FirstName", '_'), "first_name");
        assert_eq!(camel_to_lower("HTTPServer", '_'), "http_server");
        assert_eq!(camel_to_lower("NoHTTPS", '_'), "no_https");
        assert_eq!(camel_to_lower("GO_PATH", '_'), "go_path");
        assert_eq!(camel_to_lower("GO PATH", '-'), "go-path");
        assert_eq!(camel_to_lower("http2xx", '_'), "http_2xx");
        assert_eq!(camel_to_lower("HTTP20xOK", '_'), "http_20x_ok");
        assert_eq!(camel_to_lower("Duration2m3s", '_'), "duration_2m3s");
        assert_eq!(camel_to_lower("Bld4Floor3rd", '_'), "bld4_floor_3rd");
        assert_eq!(camelcase("http_server"), "HttpServer");
        assert_eq!(camelcase("some words"), "SomeWords");
        assert_eq!(camelcase("_complex__case_"), "_Complex_Case_");
        assert_eq!(
            title("hello-world foo_bar don't"),
            "Hello-World Foo_bar Don'T"
        );
        assert_eq!(untitle("Hello World"), "hello world");
        assert_eq!(swapcase("Hello World"), "hELLO wORLD");
        assert_eq!(initials("First Try"), "FT");
        assert_eq!(to_upper("straße"), "STRAßE");
    }
}
