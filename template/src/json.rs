//! Go-compatible JSON encoding of [`Value`]s, byte for byte what
//! `encoding/json` writes: struct fields in declaration order under their JSON
//! names (with `omitempty` and embedded-struct inlining), map keys sorted,
//! `<`, `>`, `&` escaped as `\u003c`... (unless disabled), U+2028/U+2029 always
//! escaped, floats in ES6 style, and Kubernetes time types as
//! `metav1.Time`/`MicroTime` marshal them.

use crate::fmt::json_float;
use crate::gotime;
use crate::value::{StructValue, Time, TimeKind, Value};

/// Why a value cannot be encoded (Go's `json.Marshal` error text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

/// Where encoded bytes go.
pub trait JsonSink {
    /// Appends text.
    fn push_str(&mut self, s: &str);
    /// Appends one ASCII byte.
    fn push_byte(&mut self, b: u8);
}

impl JsonSink for String {
    #[inline]
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    #[inline]
    fn push_byte(&mut self, b: u8) {
        // Callers only pass ASCII.
        self.push(char::from(b));
    }
}

impl JsonSink for Vec<u8> {
    #[inline]
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    #[inline]
    fn push_byte(&mut self, b: u8) {
        self.push(b);
    }
}

/// Encodes `v` like Go's `json.Marshal` (or an `Encoder` with
/// `SetEscapeHTML(false)` when `escape_html` is false, minus the newline).
///
/// Values Go refuses to encode (NaN and infinite floats, times outside years
/// 0–9999) are written as `null` here; use [`write_go_json`] to get the error.
pub fn to_go_json(v: &Value, escape_html: bool) -> String {
    let mut out = String::with_capacity(256);
    let mut enc = Encoder::new(escape_html, true, None);
    // Lenient encoding never fails.
    let _ = enc.value(&mut out, v, 0);
    out
}

/// Appends the encoding of `v` to `out` (a `String` or `Vec<u8>`), without
/// intermediate allocations for scalars and strings.
///
/// # Errors
/// Fails where Go's `json.Marshal` fails; `out` may then hold partial output.
pub fn write_go_json<S: JsonSink>(
    out: &mut S,
    v: &Value,
    escape_html: bool,
) -> Result<(), JsonError> {
    Encoder::new(escape_html, false, None).value(out, v, 0)
}

pub(crate) fn encode_go_json(
    out: &mut String,
    v: &Value,
    escape_html: bool,
) -> Result<(), JsonError> {
    write_go_json(out, v, escape_html)
}

/// Go's `json.MarshalIndent(v, "", "  ")`.
pub(crate) fn encode_go_json_pretty(out: &mut String, v: &Value) -> Result<(), JsonError> {
    Encoder::new(true, false, Some("  ")).value(out, v, 0)
}

const MAX_DEPTH: usize = 1000;

struct Encoder {
    escape_html: bool,
    lenient: bool,
    indent: Option<&'static str>,
    /// Reused for formatting times.
    scratch: String,
}

impl Encoder {
    fn new(escape_html: bool, lenient: bool, indent: Option<&'static str>) -> Encoder {
        Encoder {
            escape_html,
            lenient,
            indent,
            scratch: String::new(),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Per-byte escape class: 0 copies as is, 1 always escapes, 2 escapes only
/// when HTML escaping is on, 3 may start U+2028/U+2029.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 1;
        i += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[b'<' as usize] = 2;
    t[b'>' as usize] = 2;
    t[b'&' as usize] = 2;
    t[0xE2] = 3;
    t
};

/// Appends a JSON string literal with Go's escaping.
pub(crate) fn write_string<S: JsonSink>(out: &mut S, s: &str, escape_html: bool) {
    out.push_byte(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match ESCAPE[usize::from(c)] {
            0 => {
                i += 1;
                continue;
            }
            2 if !escape_html => {
                i += 1;
                continue;
            }
            3 => {
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
                if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)) {
                    out.push_str(&s[start..i]);
                    out.push_str(if b[i + 2] == 0xA8 {
                        "\\u2028"
                    } else {
                        "\\u2029"
                    });
                    i += 3;
                    start = i;
                } else {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        out.push_str(&s[start..i]);
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\x08' => out.push_str("\\b"),
            b'\x0c' => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                out.push_str("\\u00");
                out.push_byte(HEX[usize::from(c >> 4)]);
                out.push_byte(HEX[usize::from(c & 0xF)]);
            }
        }
        i += 1;
        start = i;
    }
    out.push_str(&s[start..]);
    out.push_byte(b'"');
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Uint(u) => *u == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Duration(d) => d.0 == 0,
        Value::Named(n) => n.value == 0,
        Value::Time(_) | Value::Struct(_) => false,
    }
}

/// Writes how a time marshals into `buf`; `false` means `null`.
fn time_json(t: &Time, buf: &mut String) -> Result<bool, JsonError> {
    buf.clear();
    match t.kind() {
        TimeKind::Go => {
            let c = gotime::civil(t.unix(), t.subsec_nanos(), t.offset());
            if !(0..=9999).contains(&c.year) {
                return Err(JsonError(
                    "json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]"
                        .into(),
                ));
            }
            gotime::format_into(buf, t, "2006-01-02T15:04:05.999999999Z07:00");
        }
        TimeKind::Seconds | TimeKind::Micro if t.is_zero() => return Ok(false),
        TimeKind::Seconds => {
            gotime::format_into(buf, &t.clone().utc(), "2006-01-02T15:04:05Z07:00")
        }
        TimeKind::Micro => {
            gotime::format_into(buf, &t.clone().utc(), "2006-01-02T15:04:05.000000Z07:00");
        }
    }
    Ok(true)
}

impl Encoder {
    fn newline<S: JsonSink>(&self, out: &mut S, depth: usize) {
        if let Some(ind) = self.indent {
            out.push_byte(b'\n');
            for _ in 0..depth {
                out.push_str(ind);
            }
        }
    }

    fn value<S: JsonSink>(
        &mut self,
        out: &mut S,
        v: &Value,
        depth: usize,
    ) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError(format!(
                "json: unsupported value: encountered a cycle via {}",
                v.type_name()
            )));
        }
        match v {
            Value::Nil => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => push_i64(out, *i),
            Value::Uint(u) => push_int(out, false, *u),
            Value::Duration(d) => push_i64(out, d.0),
            Value::Named(n) => push_i64(out, n.value),
            Value::Float(f) => match json_float(*f) {
                Some(s) => out.push_str(&s),
                None if self.lenient => out.push_str("null"),
                None => {
                    return Err(JsonError(format!(
                        "json: unsupported value: {}",
                        crate::fmt::format_float(*f, b'g', -1)
                    )));
                }
            },
            Value::String(s) => write_string(out, s, self.escape_html),
            Value::Bytes(b) => {
                use base64::Engine;
                let enc = base64::engine::general_purpose::STANDARD.encode(b);
                write_string(out, &enc, self.escape_html);
            }
            Value::Time(t) => match time_json(t, &mut self.scratch) {
                Ok(true) => write_string(out, &self.scratch, self.escape_html),
                Ok(false) => out.push_str("null"),
                Err(_) if self.lenient => out.push_str("null"),
                Err(e) => return Err(e),
            },
            Value::List(l) => {
                out.push_byte(b'[');
                for (i, item) in l.items().iter().enumerate() {
                    if i > 0 {
                        out.push_byte(b',');
                    }
                    self.newline(out, depth + 1);
                    self.value(out, item, depth + 1)?;
                }
                if !l.is_empty() {
                    self.newline(out, depth);
                }
                out.push_byte(b']');
            }
            Value::Map(m) => {
                out.push_byte(b'{');
                let entries = m.entries();
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_byte(b',');
                    }
                    self.newline(out, depth + 1);
                    write_string(out, k, self.escape_html);
                    out.push_byte(b':');
                    if self.indent.is_some() {
                        out.push_byte(b' ');
                    }
                    self.value(out, item, depth + 1)?;
                }
                if !entries.is_empty() {
                    self.newline(out, depth);
                }
                out.push_byte(b'}');
            }
            Value::Struct(s) => self.structure(out, s, depth)?,
        }
        Ok(())
    }

    fn structure<S: JsonSink>(
        &mut self,
        out: &mut S,
        s: &StructValue,
        depth: usize,
    ) -> Result<(), JsonError> {
        if let Some(text) = s.text() {
            write_string(out, text, self.escape_html);
            return Ok(());
        }
        out.push_byte(b'{');
        let mut first = true;
        for f in s.struct_type().json_fields() {
            let Ok((_, val)) = s.follow(&f.path) else {
                // A nil embedded pointer hides its fields.
                continue;
            };
            if f.omitempty && is_empty_value(val) {
                continue;
            }
            if !first {
                out.push_byte(b',');
            }
            first = false;
            self.newline(out, depth + 1);
            write_string(out, &f.name, self.escape_html);
            out.push_byte(b':');
            if self.indent.is_some() {
                out.push_byte(b' ');
            }
            self.value(out, val, depth + 1)?;
        }
        if !first {
            self.newline(out, depth);
        }
        out.push_byte(b'}');
        Ok(())
    }
}

/// Appends an integer without allocating.
fn push_int<S: JsonSink>(out: &mut S, neg: bool, mut u: u64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        out.push_byte(b'-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[pos..]).unwrap_or("0"));
}

fn push_i64<S: JsonSink>(out: &mut S, i: i64) {
    push_int(out, i < 0, i.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{List, Map, StructValue};

    #[test]
    fn scalars_and_strings() {
        assert_eq!(
            to_go_json(&Value::from("<a&b>\u{2028}\"\\\n\u{1}é"), true),
            "\"\\u003ca\\u0026b\\u003e\\u2028\\\"\\\\\\n\\u0001é\""
        );
        assert_eq!(to_go_json(&Value::from("<a>"), false), "\"<a>\"");
        assert_eq!(to_go_json(&Value::Float(1e21), true), "1e+21");
        assert_eq!(to_go_json(&Value::Float(3.0), true), "3");
        assert_eq!(to_go_json(&Value::Int(-42), true), "-42");
        assert_eq!(to_go_json(&Value::Nil, true), "null");
        let mut s = String::new();
        assert_eq!(
            write_go_json(&mut s, &Value::Float(f64::NAN), true),
            Err(JsonError("json: unsupported value: NaN".into()))
        );
        assert_eq!(
            to_go_json(&Value::Bytes(b"hi".to_vec().into()), true),
            "\"aGk=\""
        );
    }

    #[test]
    fn containers_sort_keys_and_pretty_print() {
        let m = Value::map([
            ("b", Value::list([Value::Int(1), Value::Int(2)])),
            ("a", Value::map(Vec::<(&str, Value)>::new())),
        ]);
        assert_eq!(to_go_json(&m, true), "{\"a\":{},\"b\":[1,2]}");
        let mut s = String::new();
        encode_go_json_pretty(&mut s, &m).unwrap();
        assert_eq!(s, "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2\n  ]\n}");
        let mut v: Vec<u8> = Vec::new();
        write_go_json(&mut v, &Value::List(List::from_values(vec![])), true).unwrap();
        assert_eq!(v, b"[]");
        let shared = Value::Map(Map::shared([("k", Value::Bool(true))]));
        assert_eq!(to_go_json(&shared, true), "{\"k\":true}");
    }

    #[test]
    fn structs_follow_encoding_json() {
        let meta = StructValue::builder("v1.ObjectMeta")
            .field_omitempty("Name", "name", "pod")
            .field_omitempty("Namespace", "namespace", "")
            .field_omitempty(
                "CreationTimestamp",
                "creationTimestamp",
                Time::zero(TimeKind::Seconds),
            )
            .method("GetName", "pod")
            .build();
        let ev = StructValue::builder("v1.Event")
            .embedded("ObjectMeta", meta, Some("metadata"))
            .field_omitempty("Count", "count", 0i32)
            .field("EventTime", "eventTime", Time::zero(TimeKind::Micro))
            .field(
                "LastTimestamp",
                "lastTimestamp",
                Time::from_unix(1_715_680_803, 5, TimeKind::Seconds),
            )
            .field_hidden("Secret", "x")
            .build();
        let outer = StructValue::builder("kube.EnhancedEvent")
            .embedded("Event", ev, None)
            .field("ClusterName", "clusterName", "")
            .build();
        assert_eq!(
            to_go_json(&Value::from(outer), true),
            "{\"metadata\":{\"name\":\"pod\",\"creationTimestamp\":null},\"eventTime\":null,\"lastTimestamp\":\"2024-05-14T10:00:03Z\",\"clusterName\":\"\"}"
        );
        let micro = Time::from_unix(1_715_680_803, 120_000, TimeKind::Micro);
        assert_eq!(
            to_go_json(&Value::Time(micro), true),
            "\"2024-05-14T10:00:03.000120Z\""
        );
        let go = Time::from_unix(1_715_680_803, 120_000, TimeKind::Go);
        assert_eq!(
            to_go_json(&Value::Time(go), true),
            "\"2024-05-14T10:00:03.00012Z\""
        );
        assert_eq!(
            to_go_json(&Value::Time(Time::zero(TimeKind::Go)), true),
            "\"0001-01-01T00:00:00Z\""
        );
    }
}
