//! The `fmt` printer: `Sprint`, `Sprintln` and `Sprintf` over [`Value`]s, a port
//! of Go's `fmt/print.go` and `fmt/format.go` (flags, width, precision, verbs,
//! `%!v(BADVERB)` style errors, Stringer handling, maps/slices/structs).

use super::float::{format_float, format_float_b, format_float_x};
use super::quote::{can_backquote, quote, quote_rune};
use crate::gotime::{format_duration, time_string};
use crate::value::{Time, Value};

const LDIGITS: &[u8; 16] = b"0123456789abcdef";
const UDIGITS: &[u8; 16] = b"0123456789ABCDEF";
/// Go's `tooLarge` limit for widths and precisions.
const MAX_WIDTH: usize = 1_000_000;
/// Nesting beyond this is not printed (cannot happen for acyclic data).
const MAX_DEPTH: usize = 512;

#[derive(Default, Clone, Copy)]
struct Flags {
    wid: usize,
    prec: usize,
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
}

pub(crate) struct Printer<'a> {
    out: &'a mut String,
    f: Flags,
    erroring: bool,
}

impl<'a> Printer<'a> {
    pub(crate) fn new(out: &'a mut String) -> Printer<'a> {
        Printer {
            out,
            f: Flags::default(),
            erroring: false,
        }
    }

    // === padding ===

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.out.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.out.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.out.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.out.push_str(s);
        }
    }

    // === basic kinds ===

    fn fmt_boolean(&mut self, b: bool) {
        self.pad(if b { "true" } else { "false" });
    }

    fn fmt_bool(&mut self, b: bool, verb: char, v: &Value) {
        match verb {
            't' | 'v' => self.fmt_boolean(b),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn fmt_integer_base(
        &mut self,
        u: u64,
        negative: bool,
        base: u64,
        verb: char,
        digits: &[u8; 16],
    ) {
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                let w = self.f.wid;
                self.write_padding(w);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut buf: Vec<u8> = Vec::with_capacity(24 + prec);
        let mut u = u;
        loop {
            buf.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while buf.len() < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[10] + (b'x' - b'a'));
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let old = self.f.zero;
        self.f.zero = false;
        // Only ASCII digits and signs were written.
        let s = String::from_utf8(buf).unwrap_or_default();
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_c(&mut self, u: u64) {
        let c = u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        let mut b = [0u8; 4];
        let s = c.encode_utf8(&mut b);
        self.pad(s);
    }

    fn fmt_qc(&mut self, u: u64) {
        let c = u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}');
        let s = quote_rune(c, self.f.plus);
        self.pad(&s);
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut s = format!("{u:X}");
        let prec = if self.f.prec_present && self.f.prec > 4 {
            self.f.prec
        } else {
            4
        };
        while s.len() < prec {
            s.insert(0, '0');
        }
        s.insert_str(0, "U+");
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && super::quote::is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_integer(&mut self, u: u64, signed: bool, verb: char, v: &Value) {
        let negative = signed && (u as i64) < 0;
        let mag = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        match verb {
            'v' | 'd' => self.fmt_integer_base(mag, negative, 10, verb, LDIGITS),
            'b' => self.fmt_integer_base(mag, negative, 2, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer_base(mag, negative, 8, verb, LDIGITS),
            'x' => self.fmt_integer_base(mag, negative, 16, verb, LDIGITS),
            'X' => self.fmt_integer_base(mag, negative, 16, verb, UDIGITS),
            'c' => self.fmt_c(u),
            'q' => self.fmt_qc(u),
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn fmt_float_num(&mut self, f: f64, verb: char, mut prec: i32) {
        if self.f.prec_present {
            prec = i32::try_from(self.f.prec).unwrap_or(i32::MAX);
        }
        let body = match verb {
            'b' => format_float_b(f),
            'x' => format_float_x(f, false, prec),
            'X' => format_float_x(f, true, prec),
            _ => format_float(f, verb as u8, prec),
        };
        let mut num: Vec<u8> = Vec::with_capacity(body.len() + 1);
        if body.starts_with('-') || body.starts_with('+') {
            num.extend_from_slice(body.as_bytes());
        } else {
            num.push(b'+');
            num.extend_from_slice(body.as_bytes());
        }
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num.get(1).is_some_and(|&c| c == b'I' || c == b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            let s = String::from_utf8(num).unwrap_or_default();
            self.pad(&s);
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = match verb {
                'v' | 'g' | 'G' | 'x' => {
                    if prec == -1 {
                        6
                    } else {
                        i64::from(prec)
                    }
                }
                _ => 0,
            };
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let s = String::from_utf8(num).unwrap_or_default();
        if self.f.plus || !s.starts_with('+') {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > s.len() {
                self.out.push_str(&s[..1]);
                let n = self.f.wid - s.len();
                self.write_padding(n);
                self.out.push_str(&s[1..]);
                return;
            }
            self.pad(&s);
            return;
        }
        self.pad(&s[1..]);
    }

    fn fmt_float(&mut self, f: f64, verb: char, v: &Value) {
        match verb {
            'v' => self.fmt_float_num(f, 'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => {
                if self.f.sharp_v {
                    self.fmt_float_num(f, 'g', -1);
                } else {
                    self.fmt_float_num(f, verb, -1);
                }
            }
            'f' | 'e' | 'E' | 'F' => {
                if self.f.sharp_v {
                    self.fmt_float_num(f, 'g', -1);
                } else {
                    let verb = if verb == 'F' { 'f' } else { verb };
                    self.fmt_float_num(f, verb, 6);
                }
            }
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.f.prec)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let q = format!("`{s}`");
            self.pad(&q);
            return;
        }
        let q = quote(s, self.f.plus);
        self.pad(&q);
    }

    fn fmt_sbx(&mut self, b: &[u8], digits: &[u8; 16]) {
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                let w = self.f.wid;
                self.write_padding(w);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            let n = self.f.wid - width;
            self.write_padding(n);
        }
        let x = char::from(digits[10] + (b'x' - b'a'));
        if self.f.sharp {
            self.out.push('0');
            self.out.push(x);
        }
        for (i, &c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.out.push(' ');
                if self.f.sharp {
                    self.out.push('0');
                    self.out.push(x);
                }
            }
            self.out.push(char::from(digits[usize::from(c >> 4)]));
            self.out.push(char::from(digits[usize::from(c & 0xF)]));
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            let n = self.f.wid - width;
            self.write_padding(n);
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sbx(s.as_bytes(), LDIGITS),
            'X' => self.fmt_sbx(s.as_bytes(), UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn fmt_bytes(&mut self, b: &[u8], verb: char, v: &Value) {
        match verb {
            'v' | 'd' => {
                if self.f.sharp_v {
                    self.out.push_str("[]byte{");
                    for (i, &c) in b.iter().enumerate() {
                        if i > 0 {
                            self.out.push_str(", ");
                        }
                        self.out.push_str(&format!("0x{c:x}"));
                    }
                    self.out.push('}');
                } else {
                    self.out.push('[');
                    for (i, &c) in b.iter().enumerate() {
                        if i > 0 {
                            self.out.push(' ');
                        }
                        self.fmt_integer_base(u64::from(c), false, 10, verb, LDIGITS);
                    }
                    self.out.push(']');
                }
            }
            's' => {
                let s = String::from_utf8_lossy(b);
                self.fmt_s(&s);
            }
            'x' => self.fmt_sbx(b, LDIGITS),
            'X' => self.fmt_sbx(b, UDIGITS),
            'q' => {
                let s = String::from_utf8_lossy(b);
                self.fmt_q(&s);
            }
            _ => {
                self.out.push('[');
                for (i, &c) in b.iter().enumerate() {
                    if i > 0 {
                        self.out.push(' ');
                    }
                    self.fmt_integer(u64::from(c), false, verb, v);
                }
                self.out.push(']');
            }
        }
    }

    fn bad_verb(&mut self, verb: char, v: Option<&Value>) {
        self.erroring = true;
        self.out.push_str("%!");
        self.out.push(verb);
        self.out.push('(');
        match v {
            Some(Value::Nil) | None => self.out.push_str("<nil>"),
            Some(v) => {
                self.out.push_str(&v.type_name());
                self.out.push('=');
                self.print_arg(v, 'v');
            }
        }
        self.out.push(')');
        self.erroring = false;
    }

    /// Go's `handleMethods`: `String()` for stringable verbs, `GoString()` for
    /// `%#v`.
    fn handle_methods(&mut self, v: &Value, verb: char) -> bool {
        if self.erroring {
            return false;
        }
        if self.f.sharp_v {
            if let Value::Time(t) = v {
                let s = go_string_time(t);
                self.out.push_str(&s);
                return true;
            }
            return false;
        }
        if !matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
            return false;
        }
        let s = match v {
            Value::Time(t) => time_string(t),
            Value::Duration(d) => format_duration(d.0),
            Value::Named(n) => n.go_string(),
            Value::Struct(s) => match s.text() {
                Some(t) => t.to_owned(),
                None => return false,
            },
            _ => return false,
        };
        self.fmt_string(&s, verb, v);
        true
    }

    /// Go's `printArg`.
    pub(crate) fn print_arg(&mut self, v: &Value, verb: char) {
        if let Value::Nil = v {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            }
            return;
        }
        match verb {
            'T' => {
                let t = v.type_name();
                self.fmt_s(&t);
                return;
            }
            'p' => {
                self.bad_verb(verb, Some(v));
                return;
            }
            _ => {}
        }
        match v {
            Value::Bool(b) => self.fmt_bool(*b, verb, v),
            Value::Int(i) => self.fmt_integer(*i as u64, true, verb, v),
            Value::Uint(u) => self.fmt_integer(*u, false, verb, v),
            Value::Float(f) => self.fmt_float(*f, verb, v),
            Value::String(s) => self.fmt_string(s, verb, v),
            Value::Bytes(b) => self.fmt_bytes(b, verb, v),
            _ => {
                if !self.handle_methods(v, verb) {
                    self.print_value(v, verb, 0);
                }
            }
        }
    }

    /// Go's reflection-based `printValue`.
    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if depth > 0 && !v.is_nil() && self.handle_methods(v, verb) {
            return;
        }
        if depth > MAX_DEPTH {
            self.out.push_str("...");
            return;
        }
        match v {
            Value::Nil => {
                if self.f.sharp_v {
                    self.out.push_str("interface {}(nil)");
                } else {
                    self.out.push_str("<nil>");
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, v),
            Value::Int(i) => self.fmt_integer(*i as u64, true, verb, v),
            Value::Uint(u) => self.fmt_integer(*u, false, verb, v),
            Value::Float(f) => self.fmt_float(*f, verb, v),
            Value::String(s) => self.fmt_string(s, verb, v),
            Value::Bytes(b) => self.fmt_bytes(b, verb, v),
            Value::Duration(d) => self.fmt_integer(d.0 as u64, true, verb, v),
            Value::Named(n) => self.fmt_integer(n.value as u64, true, verb, v),
            Value::Time(t) if self.erroring => self.out.push_str(&time_string(t)),
            Value::Time(_) => self.bad_verb(verb, Some(v)),
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.out.push_str(&v.type_name());
                    self.out.push('{');
                } else {
                    self.out.push_str("map[");
                }
                let entries = m.entries();
                for (i, (k, val)) in entries.iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.out.push_str(", ");
                        } else {
                            self.out.push(' ');
                        }
                    }
                    let key = Value::String(k.clone());
                    self.print_value(&key, verb, depth + 1);
                    self.out.push(':');
                    self.print_value(val, verb, depth + 1);
                }
                self.out.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::List(l) => {
                if self.f.sharp_v {
                    self.out.push_str(&v.type_name());
                    self.out.push('{');
                } else {
                    self.out.push('[');
                }
                for (i, item) in l.items().iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.out.push_str(", ");
                        } else {
                            self.out.push(' ');
                        }
                    }
                    self.print_value(item, verb, depth + 1);
                }
                self.out.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Struct(s) => {
                if s.is_pointer() {
                    self.out.push('&');
                }
                if self.f.sharp_v {
                    self.out.push_str(s.struct_type().name());
                }
                self.out.push('{');
                let mut first = true;
                for (def, val) in s.struct_type().fields().iter().zip(s.values()) {
                    if matches!(def.kind(), crate::value::FieldKind::Method) {
                        continue;
                    }
                    if !first {
                        if self.f.sharp_v {
                            self.out.push_str(", ");
                        } else {
                            self.out.push(' ');
                        }
                    }
                    first = false;
                    if self.f.plus_v || self.f.sharp_v {
                        self.out.push_str(def.name());
                        self.out.push(':');
                    }
                    self.print_value(val, verb, depth + 1);
                }
                self.out.push('}');
            }
        }
    }

    // === entry points ===

    pub(crate) fn do_print(&mut self, args: &[Value]) {
        let mut prev_string = false;
        for (i, arg) in args.iter().enumerate() {
            let is_string = matches!(arg, Value::String(_));
            if i > 0 && !is_string && !prev_string {
                self.out.push(' ');
            }
            self.f = Flags::default();
            self.print_arg(arg, 'v');
            prev_string = is_string;
        }
    }

    pub(crate) fn do_println(&mut self, args: &[Value]) {
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                self.out.push(' ');
            }
            self.f = Flags::default();
            self.print_arg(arg, 'v');
        }
        self.out.push('\n');
    }

    pub(crate) fn do_printf(&mut self, format: &str, args: &[Value]) {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut reordered = false;
        let mut i = 0usize;
        'format: while i < end {
            let mut good_arg_num = true;
            let lasti = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.out.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            // Flags and the fast path.
            while i < end {
                let c = fb[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < args.len() {
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            self.print_arg(&args[arg_num], char::from(c));
                            arg_num += 1;
                            i += 1;
                            continue 'format;
                        }
                        break;
                    }
                }
                i += 1;
            }
            // Argument index.
            let mut after_index;
            (arg_num, i, after_index) = self.arg_number(
                arg_num,
                fb,
                i,
                args.len(),
                &mut reordered,
                &mut good_arg_num,
            );
            // Width.
            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, n) = int_from_arg(args, arg_num);
                self.f.wid = usize::try_from(w.unsigned_abs()).unwrap_or(0);
                self.f.wid_present = ok;
                arg_num = n;
                if !ok {
                    self.out.push_str("%!(BADWIDTH)");
                }
                if w < 0 {
                    self.f.minus = true;
                    self.f.zero = false;
                }
                after_index = false;
            } else {
                let (w, ok, ni) = parsenum(fb, i, end);
                self.f.wid = w;
                self.f.wid_present = ok;
                i = ni;
                if after_index && ok {
                    good_arg_num = false;
                }
            }
            // Precision.
            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(
                    arg_num,
                    fb,
                    i,
                    args.len(),
                    &mut reordered,
                    &mut good_arg_num,
                );
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, n) = int_from_arg(args, arg_num);
                    arg_num = n;
                    if p < 0 {
                        self.f.prec = 0;
                        self.f.prec_present = false;
                    } else {
                        self.f.prec = usize::try_from(p.unsigned_abs()).unwrap_or(0);
                        self.f.prec_present = ok;
                    }
                    if !self.f.prec_present {
                        self.out.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ok, ni) = parsenum(fb, i, end);
                    i = ni;
                    self.f.prec = if ok { p } else { 0 };
                    self.f.prec_present = true;
                }
            }
            if !after_index {
                (arg_num, i, _) = self.arg_number(
                    arg_num,
                    fb,
                    i,
                    args.len(),
                    &mut reordered,
                    &mut good_arg_num,
                );
            }
            if i >= end {
                self.out.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('?');
            i += verb.len_utf8();
            if verb == '%' {
                self.out.push('%');
            } else if !good_arg_num {
                self.out.push_str("%!");
                self.out.push(verb);
                self.out.push_str("(BADINDEX)");
            } else if arg_num >= args.len() {
                self.out.push_str("%!");
                self.out.push(verb);
                self.out.push_str("(MISSING)");
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus_v = self.f.plus;
                    self.f.plus = false;
                }
                self.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
        if !reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.out.push_str("%!(EXTRA ");
            for (i, arg) in args[arg_num..].iter().enumerate() {
                if i > 0 {
                    self.out.push_str(", ");
                }
                if arg.is_nil() {
                    self.out.push_str("<nil>");
                } else {
                    self.out.push_str(&arg.type_name());
                    self.out.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.out.push(')');
        }
    }

    fn arg_number(
        &mut self,
        arg_num: usize,
        fb: &[u8],
        i: usize,
        num_args: usize,
        reordered: &mut bool,
        good: &mut bool,
    ) -> (usize, usize, bool) {
        if fb.len() <= i || fb[i] != b'[' {
            return (arg_num, i, false);
        }
        *reordered = true;
        let (index, wid, ok) = parse_arg_number(&fb[i..]);
        if ok && index >= 0 && (index as usize) < num_args {
            return (index as usize, i + wid, true);
        }
        *good = false;
        (arg_num, i + wid, ok)
    }
}

fn parse_arg_number(f: &[u8]) -> (i64, usize, bool) {
    if f.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..f.len() {
        if f[i] == b']' {
            let (w, ok, ni) = parsenum(f, 1, i);
            if !ok || ni != i {
                return (0, i + 1, false);
            }
            return (i64::try_from(w).unwrap_or(0) - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

fn parsenum(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut isnum = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > MAX_WIDTH {
            return (0, false, end);
        }
        num = num * 10 + usize::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    let Some(a) = args.get(arg_num) else {
        return (0, false, arg_num);
    };
    let (mut n, mut ok) = match a {
        Value::Int(i) => (*i, true),
        Value::Uint(u) => i64::try_from(*u).map_or((0, false), |v| (v, true)),
        Value::Duration(d) => (d.0, true),
        Value::Named(n) => (n.value, true),
        _ => (0, false),
    };
    if n.unsigned_abs() > MAX_WIDTH as u64 {
        n = 0;
        ok = false;
    }
    (n, ok, arg_num + 1)
}

/// Go's `time.Time.GoString()`.
fn go_string_time(t: &Time) -> String {
    let c = crate::gotime::civil(t.unix(), t.subsec_nanos(), t.offset());
    let month = crate::value::month_name(i64::from(c.month)).unwrap_or("January");
    let loc = match t.zone() {
        None => "time.UTC".to_owned(),
        Some(z) => format!("time.Location({})", quote(&z.name, false)),
    };
    format!(
        "time.Date({}, time.{}, {}, {}, {}, {}, {}, {})",
        c.year, month, c.day, c.hour, c.minute, c.second, c.nanos, loc
    )
}
