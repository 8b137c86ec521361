//! `herald check-config` and `herald route`: validate a configuration file and show
//! where an event would go.

use std::io::Write;
use std::path::Path;

use herald_config::{LoadedConfig, Role};
use herald_ruler::plan::{LoadError, Plan};
use herald_ruler::route::Selection;

/// Loads `path` and compiles the route tree and receivers; every problem is collected.
///
/// # Errors
/// The rendered diagnostics (file:line, message, hint) when anything is wrong.
pub fn load(path: &Path) -> Result<(LoadedConfig, Plan), String> {
    herald_ruler::plan::load(path, Role::All).map_err(|e| match e {
        LoadError::Invalid(rendered) | LoadError::Unreadable(rendered) => rendered,
    })
}

/// `herald check-config [--strict] FILE`: prints every problem; returns false when any
/// is an error, or with `strict` when there is any warning (for CI pipelines: a file
/// that starts with warnings, e.g. a rule that never matches, fails the check).
///
/// # Errors
/// Writing to `out` failed.
pub fn check_config(path: &Path, strict: bool, out: &mut dyn Write) -> std::io::Result<bool> {
    match load(path) {
        Ok((loaded, plan)) => {
            let warnings = loaded.diagnostics.warning_count();
            if !loaded.diagnostics.is_empty() {
                writeln!(out, "{}", loaded.diagnostics.render(&loaded.source))?;
            }
            if strict && warnings > 0 {
                writeln!(
                    out,
                    "{}: FAILED ({warnings} warning(s), fatal with --strict)",
                    path.display()
                )?;
                return Ok(false);
            }
            let rules = plan.rules.rules().len();
            let rules = if rules > 0 {
                format!("; {rules} rule(s)")
            } else {
                String::new()
            };
            writeln!(
                out,
                "{}: OK ({} receiver(s): {}{rules}; {warnings} warning(s))",
                path.display(),
                plan.receivers.len(),
                plan.receiver_names().join(", "),
            )?;
            Ok(true)
        }
        Err(rendered) => {
            writeln!(out, "{rendered}")?;
            Ok(false)
        }
    }
}

/// `herald check-rule FILE`: checks a kube-events `Rule` object as the ruler would
/// load it; prints every problem and returns false when any is an error.
///
/// # Errors
/// The file cannot be read, or writing to `out` failed.
pub fn check_rule(path: &Path, out: &mut dyn Write) -> Result<bool, String> {
    let r = herald_ruler::rule_object::check_file(path)?;
    let io = |e: std::io::Error| e.to_string();
    if !r.diagnostics.is_empty() {
        writeln!(out, "{}", r.diagnostics.render(&r.source)).map_err(io)?;
    }
    if r.diagnostics.error_count() > 0 {
        writeln!(
            out,
            "{}: FAILED ({} error(s))",
            path.display(),
            r.diagnostics.error_count()
        )
        .map_err(io)?;
        return Ok(false);
    }
    let scope = match &r.scope {
        Some(herald_ruler::rules::Scope::Cluster) | None => "cluster".to_owned(),
        Some(herald_ruler::rules::Scope::Namespace(ns)) => format!("namespace {ns}"),
        Some(herald_ruler::rules::Scope::Workspace(ws)) => format!("workspace {ws}"),
    };
    writeln!(
        out,
        "{}: OK ({} rule(s), {} enabled; scope: {scope}; {} warning(s))",
        path.display(),
        r.rules,
        r.enabled,
        r.diagnostics.warning_count()
    )
    .map_err(io)?;
    Ok(true)
}

/// `herald route FILE --event EVENT.json`: prints the receivers the event reaches (by
/// the route tree, or by a kube-events rule, named) and what each would be sent (for
/// an alert rule, the alert's labels and annotations).
///
/// # Errors
/// The config is invalid, the event file cannot be read or parsed, or writing fails.
pub fn route(config: &Path, event: &Path, out: &mut dyn Write) -> Result<(), String> {
    let (loaded, plan) = load(config)?;
    let bytes =
        std::fs::read(event).map_err(|e| format!("cannot read {}: {e}", event.display()))?;
    let mut ev =
        herald_proto::parse_kube_event(&bytes).map_err(|e| format!("{}: {e}", event.display()))?;
    ev.cluster_name.clone_from(&loaded.config.cluster_name);
    let mut sel = Selection::new(plan.tree.receivers());
    plan.tree.route(&ev, &mut sel);
    // receivers selected by the route tree, then those only a kube-events rule selects
    let mut reached: Vec<(usize, Option<herald_rules::RuleMatch>)> =
        sel.receivers().iter().map(|&i| (i, None)).collect();
    let mut view = None;
    let mut scratch = Vec::new();
    for i in 0..plan.receivers.len() {
        let Some(active) = plan
            .rules
            .first_match(i, &ev, &mut view, &|_: &str| None, &mut scratch)
        else {
            continue;
        };
        let v = view.get_or_insert_with(|| herald_rules::event_view(&ev));
        let produced = active
            .rule
            .produce(&ev, v, &|| herald_sinks::event_value(&ev));
        match reached.iter_mut().find(|(r, _)| *r == i) {
            Some(slot) => slot.1 = Some(produced),
            None => reached.push((i, Some(produced))),
        }
    }
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| e.to_string());
    if reached.is_empty() {
        return w(
            out,
            "no receiver: the event is dropped by the route tree".into(),
        );
    }
    let names = plan.receiver_names();
    w(
        out,
        format!(
            "receivers: {}",
            reached
                .iter()
                .map(|(i, m)| match m {
                    Some(m) => format!("{} (rule {})", names[*i], m.rule),
                    None => names[*i].clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )?;
    for (i, m) in &reached {
        let rc = &plan.receivers[*i];
        w(out, format!("\n--- {} ({})", rc.name, rc.sink.kind()))?;
        if let Some(m) = m
            .as_ref()
            .filter(|m| m.rule_type == herald_rules::RuleType::Alert)
        {
            let show = |map: &std::collections::BTreeMap<String, String>| {
                map.iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            w(out, format!("alert labels: {}", show(&m.labels)))?;
            w(out, format!("alert annotations: {}", show(&m.annotations)))?;
            for e in &m.errors {
                w(out, format!("({e})"))?;
            }
            continue;
        }
        match herald_sinks::preview(rc, &ev) {
            Ok(p) => w(out, p)?,
            Err(e) => w(out, format!("(rendering fails for this event: {e})"))?,
        }
    }
    Ok(())
}
