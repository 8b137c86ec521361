//! `herald check-config` and `herald route`: validate a configuration file and show
//! where an event would go.

use std::io::Write;
use std::path::Path;

use herald_config::{LoadedConfig, Role};
use herald_ruler::plan::{LoadError, Plan};

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

/// Why `herald route` failed.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The configuration file is invalid (rendered diagnostics).
    #[error("{0}")]
    Config(String),
    /// The event file cannot be read or holds no Kubernetes Event (list).
    #[error("{0}")]
    Input(String),
    /// Writing the answer failed.
    #[error(transparent)]
    Output(#[from] std::io::Error),
}

/// `herald route FILE --event EVENTS.json`: for each Event in the file (one Event, an
/// `EventList` such as `kubectl get events -o json` prints, or a JSON array of Events)
/// prints the receivers it reaches, what selected each (a route rule, by path and line,
/// or a kube-events rule, by name), and what each would be sent (for an alert rule, the
/// alert's labels and annotations).
///
/// Offline, no involved object is looked up: rules on labels and annotations see
/// `involvedObject.labels` / `involvedObject.annotations` when the file gives them.
///
/// # Errors
/// [`RouteError::Config`] for an invalid config, [`RouteError::Input`] for an event
/// file that cannot be read or parsed, [`RouteError::Output`] when writing fails.
pub fn route(config: &Path, event: &Path, out: &mut dyn Write) -> Result<(), RouteError> {
    let (loaded, plan) = load(config).map_err(RouteError::Config)?;
    let events = read_events(event).map_err(RouteError::Input)?;
    writeln!(
        out,
        "offline: involved objects are not looked up; rules on labels or annotations see only involvedObject.labels / involvedObject.annotations given in {}, namespace selectors only involvedObject.namespaceLabels",
        event.display()
    )?;
    if events.is_empty() {
        writeln!(out, "no events in {}", event.display())?;
        return Ok(());
    }
    let names = plan.receiver_names();
    let total = events.len();
    for (n, mut ev) in events.into_iter().enumerate() {
        ev.cluster_name.clone_from(&loaded.config.cluster_name);
        if total > 1 {
            writeln!(
                out,
                "\n=== event {} of {total}: {}/{} ({} {})",
                n + 1,
                ev.metadata.namespace,
                ev.metadata.name,
                ev.event_type,
                ev.reason
            )?;
        }
        let hits = plan.tree.explain(&ev);
        // receivers selected by the route tree, then those only a kube-events rule selects
        let mut reached: Vec<(usize, Option<herald_rules::RuleMatch>)> =
            hits.iter().map(|h| (h.receiver, None)).collect();
        let mut view = None;
        let mut scratch = Vec::new();
        for i in 0..plan.receivers.len() {
            let Some(active) =
                plan.rules
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
        // a receiver's own namespaceSelector is applied in its lane, after routing
        let mut excluded = Vec::new();
        reached.retain(|(i, _)| {
            let selector = plan.receivers[*i].namespace_selector.as_ref();
            let keep = selector.is_none_or(|s| {
                s.matches(
                    &ev.involved_object.namespace,
                    &ev.involved_object.namespace_labels,
                )
            });
            if let (false, Some(s)) = (keep, selector) {
                excluded.push((*i, s.to_string()));
            }
            keep
        });
        for (i, selector) in &excluded {
            writeln!(
                out,
                "not sent to {}: its namespaceSelector ({selector}) does not match {}",
                names[*i],
                match ev.involved_object.namespace.as_str() {
                    "" => "a cluster-scoped object".to_owned(),
                    ns => format!("namespace `{ns}`"),
                }
            )?;
        }
        if reached.is_empty() {
            if excluded.is_empty() {
                writeln!(out, "no receiver: the event is dropped by the route tree")?;
            } else {
                writeln!(out, "no receiver")?;
            }
            continue;
        }
        let listed: Vec<&str> = reached.iter().map(|(i, _)| names[*i].as_str()).collect();
        writeln!(out, "receivers: {}", listed.join(", "))?;
        for (i, m) in &reached {
            match m {
                Some(m) => writeln!(out, "  {} <- rule {}", names[*i], m.rule)?,
                None => {
                    for h in hits.iter().filter(|h| h.receiver == *i) {
                        writeln!(
                            out,
                            "  {} <- {} ({}:{})",
                            names[*i],
                            h.rule.path,
                            config.display(),
                            h.rule.line
                        )?;
                    }
                }
            }
        }
        for (i, m) in &reached {
            let rc = &plan.receivers[*i];
            writeln!(out, "\n--- {} ({})", rc.name, rc.sink.kind())?;
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
                writeln!(out, "alert labels: {}", show(&m.labels))?;
                writeln!(out, "alert annotations: {}", show(&m.annotations))?;
                for e in &m.errors {
                    writeln!(out, "({e})")?;
                }
                continue;
            }
            match herald_sinks::preview(rc, &ev) {
                Ok(p) => writeln!(out, "{p}")?,
                Err(e) => writeln!(out, "(rendering fails for this event: {e})")?,
            }
        }
    }
    Ok(())
}

/// Reads one Event, an `EventList` (`items`) or a JSON array of Events, each with the
/// involved object's labels and annotations the file gives.
fn read_events(path: &Path) -> Result<Vec<herald_proto::Event>, String> {
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{name}: not JSON: {e}"))?;
    let (items, listed) = match value {
        serde_json::Value::Array(items) => (items, true),
        serde_json::Value::Object(mut map) if map.get("items").is_some_and(|i| i.is_array()) => {
            match map.remove("items") {
                Some(serde_json::Value::Array(items)) => (items, true),
                _ => (Vec::new(), true),
            }
        }
        other => (vec![other], false),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let involved = item.get("involvedObject").cloned();
            let mut ev = herald_proto::kube_json::parse_kube_event_value(item).map_err(|e| {
                if listed {
                    format!("{name}: item {i}: {e}")
                } else {
                    format!("{name}: {e}")
                }
            })?;
            for (key, map) in [
                ("labels", &mut ev.involved_object.labels),
                ("annotations", &mut ev.involved_object.annotations),
                ("namespaceLabels", &mut ev.involved_object.namespace_labels),
            ] {
                if let Some(given) = involved
                    .as_ref()
                    .and_then(|o| o.get(key))
                    .and_then(|v| v.as_object())
                {
                    for (k, v) in given {
                        if let Some(v) = v.as_str() {
                            map.insert(k.clone(), v.to_owned());
                        }
                    }
                }
            }
            Ok(ev)
        })
        .collect()
}
