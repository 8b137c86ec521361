//! One Alertmanager alert (`postableAlert`) from one delivery.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use herald_proto::Event;
use herald_rules::{RuleType, alert_labels};
use serde_json::{Map, Value, json};

use crate::driver::{Delivery, EncodeError};

/// What every alert of a receiver shares.
#[derive(Debug, Clone, Copy)]
pub struct AlertDefaults {
    /// `endsAt` = last seen + this.
    pub resolve_timeout: Duration,
}

/// Builds the alert of `d`; `generator_url` is the rendered `generatorURL`, `now`
/// the fallback time of an event without timestamps.
///
/// # Errors
/// A label name Alertmanager refuses.
pub fn build_alert(
    d: &Delivery,
    defaults: AlertDefaults,
    generator_url: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Value, EncodeError> {
    let ev = &d.event;
    let (labels, annotations) = match d.rule.as_deref() {
        Some(m) if m.rule_type == RuleType::Alert => (m.labels.clone(), m.annotations.clone()),
        other => {
            let name = match other {
                Some(m) => m.rule.as_str(),
                None if ev.reason.is_empty() => "KubernetesEvent",
                None => ev.reason.as_str(),
            };
            let mut annotations = BTreeMap::new();
            annotations.insert("message".to_owned(), ev.message.clone());
            (alert_labels(ev, name, &BTreeMap::new()), annotations)
        }
    };
    let mut label_map = Map::new();
    for (k, v) in labels {
        if v.is_empty() {
            continue;
        }
        if !valid_label_name(&k) {
            return Err(EncodeError::Invalid(format!(
                "label name `{k}` is not valid for Alertmanager (letters, digits and `_`, not starting with a digit)"
            )));
        }
        label_map.insert(k, Value::String(v));
    }
    let annotations: Map<String, Value> = annotations
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let (starts, last) = times(ev, now);
    let timeout = chrono::Duration::from_std(defaults.resolve_timeout)
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    let ends = last.max(starts) + timeout;
    let mut alert = json!({
        "labels": label_map,
        "annotations": annotations,
        "startsAt": starts.to_rfc3339_opts(SecondsFormat::Millis, true),
        "endsAt": ends.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    if let (Some(url), Some(obj)) = (generator_url.filter(|u| !u.is_empty()), alert.as_object_mut()) {
        obj.insert("generatorURL".to_owned(), Value::String(url.to_owned()));
    }
    Ok(alert)
}

/// When the event first happened and when it was last seen.
fn times(ev: &Event, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let observed = ev.observed_at;
    let series_last = ev.series.as_ref().and_then(|s| s.last_observed_time);
    let first = ev
        .first_timestamp
        .or(ev.event_time)
        .or(ev.last_timestamp)
        .or(observed)
        .unwrap_or(now);
    let last = ev
        .last_timestamp
        .or(series_last)
        .or(ev.event_time)
        .or(ev.first_timestamp)
        .or(observed)
        .unwrap_or(now);
    (first, last)
}

/// Alertmanager's (Prometheus') label name rule.
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
