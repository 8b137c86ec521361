//! Go's `fmt` and `strconv` formatting of [`Value`]s: what templates print, and
//! `print`/`printf`/`println`.

mod float;
mod print;
pub(crate) mod quote;

pub(crate) use float::{format_float, json_float};
use print::Printer;

use crate::value::Value;

/// `fmt.Sprint(args...)` appended to `out`.
pub(crate) fn sprint(out: &mut String, args: &[Value]) {
    Printer::new(out).do_print(args);
}

/// `fmt.Sprintln(args...)` appended to `out`.
pub(crate) fn sprintln(out: &mut String, args: &[Value]) {
    Printer::new(out).do_println(args);
}

/// `fmt.Sprintf(format, args...)` appended to `out`.
pub(crate) fn sprintf(out: &mut String, format: &str, args: &[Value]) {
    Printer::new(out).do_printf(format, args);
}

/// Appends `v` the way a template action prints it (`fmt.Fprint` after
/// dereferencing a top-level pointer), with fast paths for common scalars.
pub(crate) fn print_action(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Int(i) => {
            use std::fmt::Write;
            let _ = write!(out, "{i}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Struct(s) if s.is_pointer() => {
            let deref = Value::Struct(std::sync::Arc::new(s.without_pointer()));
            Printer::new(out).print_arg(&deref, 'v');
        }
        _ => Printer::new(out).print_arg(v, 'v'),
    }
}

/// `fmt.Sprint(v)` as a new string (`%v`).
pub(crate) fn to_string_v(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        _ => {
            let mut s = String::new();
            Printer::new(&mut s).print_arg(v, 'v');
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Duration, StructValue, Time, TimeKind};

    fn f(format: &str, args: &[Value]) -> String {
        let mut s = String::new();
        sprintf(&mut s, format, args);
        s
    }

    #[test]
    fn printf_verbs_and_flags() {
        let i = Value::Int(42);
        assert_eq!(
            f(
                "%d|%5d|%-5d|%05d|%+d|%x|%#x|%X|%o|%#o|%b|%O",
                &[
                    i.clone(),
                    i.clone(),
                    i.clone(),
                    i.clone(),
                    i.clone(),
                    i.clone(),
                    i.clone(),
                    Value::Int(255),
                    i.clone(),
                    i.clone(),
                    Value::Int(5),
                    i.clone()
                ]
            ),
            "42|   42|42   |00042|+42|2a|0x2a|FF|52|052|101|0o52"
        );
        assert_eq!(
            f(
                "%.3d|%8.3d|%c|%q|%U|%#U",
                &[
                    Value::Int(7),
                    Value::Int(-7),
                    Value::Int(65),
                    Value::Int(65),
                    Value::Int(0x1F600),
                    Value::Int(65)
                ]
            ),
            "007|    -007|A|'A'|U+1F600|U+0041 'A'"
        );
        assert_eq!(
            f(
                "%s|%10s|%-10s|%.2s|%q|%x|% x|%#q",
                &[
                    "héllo".into(),
                    "hi".into(),
                    "hi".into(),
                    "héllo".into(),
                    "a\"b".into(),
                    "hi".into(),
                    "hi".into(),
                    "x".into()
                ]
            ),
            "héllo|        hi|hi        |hé|\"a\\\"b\"|6869|68 69|`x`"
        );
        assert_eq!(
            f(
                "%f|%.2f|%e|%g|%8.3f|%-8.2f|%+.1e|%v",
                &[
                    Value::Float(2.34567),
                    Value::Float(2.34567),
                    Value::Float(1234.5678),
                    Value::Float(0.000012),
                    Value::Float(2.34567),
                    Value::Float(2.5),
                    Value::Float(12345.0),
                    Value::Float(1e21)
                ]
            ),
            "2.345670|2.35|1.234568e+03|1.2e-05|   2.346|2.50    |+1.2e+04|1e+21"
        );
        assert_eq!(
            f("%t|%v|%5t", &[true.into(), false.into(), true.into()]),
            "true|false| true"
        );
        assert_eq!(
            f("%%|%T|%T|%T", &["x".into(), Value::Float(1.0), Value::Nil]),
            "%|string|float64|<nil>"
        );
    }

    #[test]
    fn printf_errors_like_go() {
        assert_eq!(f("%d", &["x".into()]), "%!d(string=x)");
        assert_eq!(f("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            f("%d", &[Value::Int(1), "a".into(), Value::Nil]),
            "1%!(EXTRA string=a, <nil>)"
        );
        assert_eq!(f("%", &[]), "%!(NOVERB)");
        assert_eq!(f("%z", &[Value::Int(3)]), "%!z(int=3)");
        assert_eq!(f("%d", &[Value::Nil]), "%!d(<nil>)");
        assert_eq!(f("%[2]d %[1]d", &[Value::Int(1), Value::Int(2)]), "2 1");
        assert_eq!(f("%[3]d", &[Value::Int(1)]), "%!d(BADINDEX)");
        assert_eq!(f("%*d", &[Value::Int(4), Value::Int(7)]), "   7");
        assert_eq!(f("%*d", &["x".into(), Value::Int(7)]), "%!(BADWIDTH)7");
    }

    #[test]
    fn composite_values() {
        let m = Value::map([("b", Value::Int(2)), ("a", Value::from("x"))]);
        let l = Value::list([
            Value::Int(1),
            Value::from("s"),
            Value::Nil,
            Value::Float(2.5),
        ]);
        assert_eq!(to_string_v(&m), "map[a:x b:2]");
        assert_eq!(to_string_v(&l), "[1 s <nil> 2.5]");
        assert_eq!(
            f("%d", std::slice::from_ref(&l)),
            "[1 %!d(string=s) <nil> %!d(float64=2.5)]"
        );
        assert_eq!(
            f("%q", &[Value::list(["a".into(), "b".into()])]),
            "[\"a\" \"b\"]"
        );
        let s = StructValue::builder("T")
            .field("Name", "name", "x")
            .field("N", "n", 3i64)
            .method("Hidden", 1i64)
            .build();
        let s = Value::from(s);
        assert_eq!(to_string_v(&s), "{x 3}");
        assert_eq!(f("%+v", std::slice::from_ref(&s)), "{Name:x N:3}");
        assert_eq!(f("%#v", &[s]), "T{Name:\"x\", N:3}");
        assert_eq!(
            f("%#v", &[m]),
            "map[string]interface {}{\"a\":\"x\", \"b\":2}"
        );
    }

    #[test]
    fn stringers() {
        let t = Value::Time(Time::from_unix(1_715_680_803, 0, TimeKind::Seconds));
        assert_eq!(to_string_v(&t), "2024-05-14 10:00:03 +0000 UTC");
        assert_eq!(
            to_string_v(&Value::Duration(Duration(90_000_000_000))),
            "1m30s"
        );
        assert_eq!(f("%d", &[Value::Duration(Duration(5))]), "5");
        assert_eq!(
            to_string_v(&Value::list([t.clone()])),
            "[2024-05-14 10:00:03 +0000 UTC]"
        );
        assert_eq!(
            f("%#v", &[t]),
            "time.Date(2024, time.May, 14, 10, 0, 3, 0, time.UTC)"
        );
    }

    #[test]
    fn print_and_println_spacing() {
        let mut s = String::new();
        sprint(
            &mut s,
            &[
                Value::Int(1),
                Value::Int(2),
                "a".into(),
                Value::Int(3),
                "b".into(),
                "c".into(),
            ],
        );
        assert_eq!(s, "1 2a3bc");
        let mut s = String::new();
        sprintln(&mut s, &["a".into(), Value::Int(1)]);
        assert_eq!(s, "a 1\n");
    }

    #[test]
    fn action_printing_dereferences_pointers() {
        let s = Value::from(
            StructValue::builder("T")
                .field("A", "a", 1i64)
                .pointer()
                .build(),
        );
        let mut out = String::new();
        print_action(&mut out, &s);
        assert_eq!(out, "{1}");
        assert_eq!(to_string_v(&s), "&{1}");
    }
}
