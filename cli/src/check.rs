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
            writeln!(
                out,
                "{}: OK ({} receiver(s): {}; {warnings} warning(s))",
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
/// prints the receivers it reaches, the rule that selected each, and what each would
/// be sent.
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
        "offline: involved objects are not looked up; rules on labels or annotations see only involvedObject.labels / involvedObject.annotations given in {}",
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
        if hits.is_empty() {
            writeln!(out, "no receiver: the event is dropped by the route tree")?;
            continue;
        }
        let reached: Vec<&str> = hits.iter().map(|h| names[h.receiver].as_str()).collect();
        writeln!(out, "receivers: {}", reached.join(", "))?;
        for h in &hits {
            writeln!(
                out,
                "  {} <- {} ({}:{})",
                names[h.receiver],
                h.rule.path,
                config.display(),
                h.rule.line
            )?;
        }
        for h in &hits {
            let rc = &plan.receivers[h.receiver];
            writeln!(out, "\n--- {} ({})", rc.name, rc.sink.kind())?;
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
