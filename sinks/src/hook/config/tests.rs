//! Tests of the `hook:` block: its errors with their lines, and what a build
//! without the `hooks` feature does with it.

use std::io::Write as _;

use crate::config::tests::parse;

fn script_file(source: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".star").tempfile().unwrap();
    f.write_all(source.as_bytes()).unwrap();
    f
}

fn with_hook(hook: &str) -> String {
    format!(
        "receivers:\n  - name: hooked\n    webhook:\n      endpoint: http://127.0.0.1:1/x\n    hook:\n{hook}"
    )
}

fn errors(diags: &herald_config::Diagnostics) -> Vec<(usize, String, String)> {
    diags
        .errors()
        .map(|d| {
            (
                d.location.map_or(0, |l| l.line),
                d.message.clone(),
                d.hint.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_hook_needs_exactly_one_of_script_and_source() {
    let (r, diags) = parse(&with_hook("      timeout: 50ms\n"));
    assert!(r.is_empty());
    let e = errors(&diags);
    assert_eq!(e.len(), 1, "{diags}");
    assert_eq!(e[0].0, 6);
    assert!(e[0].1.contains("a hook needs a script"), "{diags}");
    assert!(e[0].2.contains("transform(config, event)"), "{diags}");

    let f = script_file("def transform(config, event):\n    return config\n");
    let (r, diags) = parse(&with_hook(&format!(
        "      script: {}\n      source: |\n        def transform(c, e):\n          return c\n",
        f.path().display()
    )));
    assert!(r.is_empty());
    let e = errors(&diags);
    assert_eq!(e.len(), 1, "{diags}");
    assert_eq!(e[0].0, 8, "the inline source");
    assert!(e[0].1.contains("both `script` and `source`"), "{diags}");
}

#[test]
fn a_script_that_does_not_exist_is_located() {
    let (r, diags) = parse(&with_hook("      script: /nonexistent/route.star\n"));
    assert!(r.is_empty());
    let e = errors(&diags);
    assert_eq!(e.len(), 1, "{diags}");
    assert_eq!(e[0].0, 6);
    assert!(
        e[0].1
            .contains("cannot read hook script `/nonexistent/route.star`"),
        "{diags}"
    );
    assert!(e[0].2.contains("ConfigMap"), "{diags}");
}

#[test]
fn bad_timeouts_and_on_error_values_are_located() {
    let f = script_file("def transform(config, event):\n    return config\n");
    let (r, diags) = parse(&with_hook(&format!(
        "      script: {}\n      timeout: 0s\n      onError: usedefault\n",
        f.path().display()
    )));
    assert!(r.is_empty());
    let e = errors(&diags);
    assert_eq!(e.len(), 2, "{diags}");
    assert_eq!(e[0].0, 7);
    assert!(e[0].1.contains("greater than 0"), "{diags}");
    assert_eq!(e[1].0, 8);
    assert!(e[1].1.contains("unknown onError `usedefault`"), "{diags}");
    assert!(e[1].2.contains("did you mean `use-default`?"), "{diags}");

    let (_, diags) = parse(&with_hook(&format!(
        "      script: {}\n      timeout: 1m\n",
        f.path().display()
    )));
    let e = errors(&diags);
    assert_eq!(e.len(), 1, "{diags}");
    assert!(e[0].1.contains("longer than the 10s allowed"), "{diags}");
}

#[cfg(feature = "hooks")]
mod with_hooks {
    use super::*;
    use crate::hook::{OnError, ScriptOrigin};

    #[test]
    fn a_valid_hook_is_loaded_with_its_settings() {
        let f = script_file("def transform(config, event):\n    return config\n");
        let (r, diags) = parse(&with_hook(&format!(
            "      script: {}\n      timeout: 250ms\n      onError: fail\n",
            f.path().display()
        )));
        assert_eq!(diags.error_count() + diags.warning_count(), 0, "{diags}");
        let hook = r[0].hook.as_ref().expect("a hook");
        assert_eq!(hook.timeout, std::time::Duration::from_millis(250));
        assert_eq!(hook.on_error, OnError::Fail);
        assert_eq!(
            hook.origin,
            ScriptOrigin::File(f.path().display().to_string())
        );
    }

    #[test]
    fn defaults_are_100ms_and_use_default() {
        let (r, diags) = parse(&with_hook(
            "      source: |\n        def transform(config, event):\n            return config\n",
        ));
        assert_eq!(diags.error_count(), 0, "{diags}");
        let hook = r[0].hook.as_ref().expect("a hook");
        assert_eq!(hook.timeout, crate::hook::DEFAULT_TIMEOUT);
        assert_eq!(hook.on_error, OnError::UseDefault);
        assert!(matches!(hook.origin, ScriptOrigin::Inline(_)));
    }

    #[test]
    fn a_syntax_error_is_a_startup_error_with_the_scripts_line() {
        let f = script_file("def transform(config, event):\n    return config +\n");
        let (r, diags) = parse(&with_hook(&format!(
            "      script: {}\n",
            f.path().display()
        )));
        assert!(r.is_empty());
        let e = errors(&diags);
        assert_eq!(e.len(), 1, "{diags}");
        assert_eq!(e[0].0, 6, "the config line of `script:`");
        let place = format!("{}:2:", f.path().display());
        assert!(e[0].1.starts_with(&place), "{diags}");
        assert!(e[0].2.contains("Starlark"), "{diags}");
    }

    #[test]
    fn a_script_without_transform_is_a_startup_error() {
        let f = script_file("def transfrom(config, event):\n    return config\n");
        let (r, diags) = parse(&with_hook(&format!(
            "      script: {}\n",
            f.path().display()
        )));
        assert!(r.is_empty());
        let e = errors(&diags);
        assert_eq!(e.len(), 1, "{diags}");
        assert!(e[0].1.contains("does not define `transform`"), "{diags}");
    }
}

#[cfg(not(feature = "hooks"))]
mod without_hooks {
    use super::*;
    use crate::SinkSet;
    use crate::driver::SinkMetrics;

    #[tokio::test]
    async fn a_build_without_hooks_warns_and_refuses_to_start_the_receiver() {
        let f = script_file("def transform(config, event):\n    return config\n");
        let (r, diags) = parse(&with_hook(&format!(
            "      script: {}\n",
            f.path().display()
        )));
        assert_eq!(diags.error_count(), 0, "{diags}");
        let warning = diags.warnings().next().expect("a warning");
        assert_eq!(warning.location.map(|l| l.line), Some(6));
        assert!(warning.message.contains("no `hooks` feature"), "{diags}");
        let e = SinkSet::build(&r, &SinkMetrics::new()).await.unwrap_err();
        assert!(e.to_string().contains("`hooks` feature"), "{e}");
    }
}

#[test]
fn skip_on_pod_not_found_needs_enrich_pod() {
    let f = script_file("def transform(config, event):\n    return config\n");
    let (r, diags) = parse(&with_hook(&format!(
        "      script: {}\n      skipOnPodNotFound: true\n",
        f.path().display()
    )));
    assert!(r.is_empty());
    let e = errors(&diags);
    assert_eq!(e.len(), 1, "{diags}");
    assert_eq!(e[0].0, 7);
    assert!(
        e[0].1.contains("skipOnPodNotFound needs enrichPod: true"),
        "{diags}"
    );
}
