//! Robustness: arbitrary input never panics the parser or the evaluator, and
//! runaway templates stop at the configured limits instead of hanging,
//! exhausting memory or overflowing the stack.

mod common;

use herald_template::{Limits, Template, Value};
use proptest::prelude::*;

/// Fragments that exercise the lexer and parser's interesting paths.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{{".to_owned()),
        Just("}}".to_owned()),
        Just("{{- ".to_owned()),
        Just(" -}}".to_owned()),
        Just("{{/*".to_owned()),
        Just("*/}}".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("|".to_owned()),
        Just(":=".to_owned()),
        Just("=".to_owned()),
        Just(",".to_owned()),
        Just("$x".to_owned()),
        Just("$".to_owned()),
        Just(".".to_owned()),
        Just(".A.b".to_owned()),
        Just("if".to_owned()),
        Just("else".to_owned()),
        Just("end".to_owned()),
        Just("range".to_owned()),
        Just("with".to_owned()),
        Just("break".to_owned()),
        Just("define \"d\"".to_owned()),
        Just("template \"d\"".to_owned()),
        Just("block \"b\" .".to_owned()),
        Just("printf".to_owned()),
        Just("index".to_owned()),
        Just("\"str\"".to_owned()),
        Just("`raw`".to_owned()),
        Just("'c'".to_owned()),
        Just("0x1F".to_owned()),
        Just("1e3".to_owned()),
        Just("-".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        "[a-z0-9 .$|(){}\"'`\\-:=,_\n]{0,6}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics(parts in proptest::collection::vec(fragment(), 0..24)) {
        let src: String = parts.concat();
        let _ = Template::parse("p", &src);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(src in "\\PC{0,80}") {
        let _ = Template::parse("p", &src);
    }

    #[test]
    fn parsed_templates_render_without_panicking(parts in proptest::collection::vec(fragment(), 0..16)) {
        let src: String = parts.concat();
        if let Ok(t) = Template::parse("p", &src) {
            let t = t.with_limits(Limits { max_output_bytes: 4096, max_range_iterations: 1000, max_depth: 32 });
            let _ = t.render(&common::map());
            let _ = t.render(&common::event());
            let _ = t.render(&Value::Nil);
        }
    }

    #[test]
    fn parse_errors_point_inside_the_source(src in "[{}a-z .|()\"\n-]{0,40}") {
        if let Err(e) = Template::parse("p", &src) {
            let lines = src.split('\n').count();
            prop_assert!(e.line >= 1 && e.line <= lines, "line {} of {}", e.line, lines);
            prop_assert!(e.column >= 1);
        }
    }
}

fn limits() -> Limits {
    Limits {
        max_output_bytes: 10_000,
        max_range_iterations: 1_000,
        max_depth: 50,
    }
}

fn run(src: &str) -> Result<String, herald_template::ExecError> {
    Template::parse("t", src)
        .unwrap()
        .with_limits(limits())
        .render(&Value::Nil)
}

#[test]
fn output_size_is_bounded() {
    let e = run("{{ range 900 }}0123456789ABCDEF{{ end }}").unwrap_err();
    assert!(e.limit_exceeded, "{e}");
    let e = run(r#"{{ repeat 100000000 "x" }}"#).unwrap_err();
    assert!(e.to_string().contains("exceeds the output limit"), "{e}");
    let e = run(r#"{{ printf "%900000d" 1 }}"#).unwrap_err();
    assert!(e.to_string().contains("exceeds the output limit"), "{e}");
    // Doubling a string in a loop is caught long before memory runs out.
    let e = run(r#"{{ $s := "xx" }}{{ range 100 }}{{ $s = cat $s $s }}{{ end }}"#).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
}

#[test]
fn iterations_are_bounded() {
    let e = run("{{ range 5000 }}{{ end }}").unwrap_err();
    assert!(e.limit_exceeded);
    assert!(e.to_string().contains("1000 iterations"), "{e}");
    let e = run("{{ until 1000000000 }}").unwrap_err();
    assert!(e.to_string().contains("iteration limit"), "{e}");
    // Nested loops share one budget.
    let e = run("{{ range 40 }}{{ range 40 }}{{ end }}{{ end }}").unwrap_err();
    assert!(e.limit_exceeded);
    assert!(run("{{ range 30 }}{{ range 30 }}{{ end }}{{ end }}").is_ok());
}

#[test]
fn recursion_is_bounded() {
    let e = run(r#"{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" 1 }}"#)
        .unwrap_err();
    assert!(e.limit_exceeded);
    assert!(
        e.to_string()
            .contains("exceeded maximum template depth (50)"),
        "{e}"
    );
}

#[test]
fn value_nesting_is_bounded() {
    let e =
        run("{{ $l := list }}{{ range 500 }}{{ $l = list $l }}{{ end }}{{ len $l }}").unwrap_err();
    assert!(e.to_string().contains("value nesting exceeds"), "{e}");
}

#[test]
fn self_referencing_maps_are_refused() {
    let e = run(r#"{{ $d := dict }}{{ $_ := set $d "me" $d }}"#).unwrap_err();
    assert!(
        e.to_string().contains("cannot store a map inside itself"),
        "{e}"
    );
    let e = run(r#"{{ $d := dict }}{{ $_ := set $d "l" (list 1 $d) }}"#).unwrap_err();
    assert!(
        e.to_string().contains("cannot store a map inside itself"),
        "{e}"
    );
}

#[test]
fn deepest_accepted_nesting_fits_a_small_thread_stack() {
    // Build the deepest template the parser accepts and the deepest execution
    // the default limits allow, and run both on a 2 MiB stack (Rust's default
    // for spawned threads).
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let depth = 99;
            let src = "{{ if 1 }}".repeat(depth) + "x" + &"{{ end }}".repeat(depth);
            let t = Template::parse("deep", &src).unwrap();
            assert_eq!(t.render(&Value::Nil).unwrap(), "x");
            let parens = "(".repeat(depth) + "1" + &")".repeat(depth);
            let t = Template::parse("parens", &format!("{{{{ {parens} }}}}")).unwrap();
            assert_eq!(t.render(&Value::Nil).unwrap(), "1");
            let recursive = r#"{{ define "r" }}{{ if gt . 0 }}{{ template "r" (sub . 1) }}{{ end }}{{ end }}{{ template "r" 90 }}done"#;
            let t = Template::parse("rec", recursive).unwrap();
            assert_eq!(t.render(&Value::Nil).unwrap(), "done");
        })
        .unwrap();
    handle.join().unwrap();
}
