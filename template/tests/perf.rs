//! Throughput check for the ruler's hot path. Timing assertions only make
//! sense in optimised builds, so the test is ignored by default:
//! `cargo test --release -p herald-template --test perf -- --ignored --nocapture`
//! (timings go to stderr).

mod common;

use std::time::Instant;

use herald_template::{Layout, Template, to_go_json, write_go_json};

fn per_op<F: FnMut()>(iterations: u32, mut f: F) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

#[test]
#[ignore = "timing; run in release mode"]
fn hot_path_throughput() {
    let event = common::event();
    let t = Template::parse("msg", "{{ .InvolvedObject.Name }} {{ .Reason | upper }}").unwrap();
    let mut out = String::with_capacity(256);
    let simple = per_op(200_000, || {
        out.clear();
        t.render_into(&event, &mut out).unwrap();
    });
    assert_eq!(out, "web-1 BACKOFF");

    let t2 = Template::parse(
        "rich",
        r#"{{ .InvolvedObject.Kind }}/{{ .InvolvedObject.Namespace }}/{{ .InvolvedObject.Name }}: {{ .Reason }} ({{ .Count }}x) {{ .InvolvedObject.Labels.app | default "none" }} {{ if eq .Type "Warning" }}!{{ end }}"#,
    )
    .unwrap();
    let rich = per_op(100_000, || {
        out.clear();
        t2.render_into(&event, &mut out).unwrap();
    });

    let mut buf = String::with_capacity(2048);
    let json = per_op(100_000, || {
        buf.clear();
        write_go_json(&mut buf, &event, true).unwrap();
    });
    assert_eq!(to_go_json(&event, true), common::EVENT_JSON);

    let layout = Layout::compile(
        &serde_json::json!({
            "msg": "{{ .Message }}",
            "kind": "{{ .InvolvedObject.Kind }}",
            "labels": {"app": "{{ .InvolvedObject.Labels.app }}"},
            "count": "{{ .Count }}",
            "static": "value",
            "priority": 3
        }),
        "layout",
    )
    .unwrap();
    let layout_ns = per_op(100_000, || {
        buf.clear();
        layout.render_json(&event, &mut buf, true).unwrap();
    });

    eprintln!("simple template  {simple:>8.0} ns/render");
    eprintln!("rich template    {rich:>8.0} ns/render");
    eprintln!("event JSON       {json:>8.0} ns/encode");
    eprintln!("layout to JSON   {layout_ns:>8.0} ns/render");
    if !cfg!(debug_assertions) {
        assert!(simple < 1_000.0, "simple template took {simple} ns");
        assert!(
            rich + json < 10_000.0,
            "rich render + JSON took {} ns",
            rich + json
        );
    }
}
