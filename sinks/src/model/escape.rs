//! Go `encoding/json` string encoding with HTML escaping, as `json.Marshal`
//! writes strings: `"` and `\` escaped, `\b \f \n \r \t` by name, other
//! control characters as `\u00XX`, `<`, `>` and `&` as `\u003c`, `\u003e`,
//! `\u0026`, and U+2028/U+2029 as `\u2028`/`\u2029`.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes that start an escape: control characters, `"`, `\\`, `<`, `>`, `&`,
/// and 0xE2 (the first byte of U+2028/U+2029, checked further below).
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table[0xE2] = true;
    table
};

/// Appends `s` as a JSON string literal (with quotes) to `out`.
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|b| SPECIAL[usize::from(*b)]) {
        i += offset;
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'<' => Some(b"\\u003c"),
            b'>' => Some(b"\\u003e"),
            b'&' => Some(b"\\u0026"),
            0xE2 => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(0x80), Some(0xA8)) => Some(b"\\u2028"),
                (Some(0x80), Some(0xA9)) => Some(b"\\u2029"),
                _ => None,
            },
            _ => None,
        };
        match escape {
            Some(esc) => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(esc);
                i += if b == 0xE2 { 3 } else { 1 };
                start = i;
            }
            None if b < 0x20 => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                i += 1;
                start = i;
            }
            // 0xE2 starting another character: copied as is.
            None => i += 1,
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_go_encoding_json() {
        assert_eq!(enc("plain"), r#""plain""#);
        assert_eq!(enc("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            enc("<a href=\"x\">&</a>"),
            r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#
        );
        assert_eq!(enc("l1\nl2\r\t\u{8}\u{c}"), r#""l1\nl2\r\t\b\f""#);
        assert_eq!(enc("\u{1}\u{1f}"), r#""\u0001\u001f""#);
        assert_eq!(enc("x\u{2028}y\u{2029}z"), r#""x\u2028y\u2029z""#);
        assert_eq!(enc("ünïcødé ✓"), "\"ünïcødé ✓\"");
        assert_eq!(enc(""), r#""""#);
    }
}
