//! kubernetes-event-exporter's top-level keys, decoded with the types of its Go
//! config struct (so a quoted number for an integer key is an error, as there) and
//! resolved with its defaults and checks: 0 stands for the default of
//! `maxEventAgeSeconds` (5), `kubeQPS` (5), `kubeBurst` (10) and `cacheSize` (1024);
//! `throttlePeriod` is the deprecated name of `maxEventAgeSeconds` (setting both is
//! an error); `logLevel` and `logFormat` accept zerolog's names only; a non-empty
//! `metricsNamePrefix` must match `^[a-zA-Z][a-zA-Z0-9_:]*_$`.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::validate::validate_sections;
use super::{
    Config, DEFAULT_CACHE_SIZE, DEFAULT_KUBE_BURST, DEFAULT_KUBE_QPS, DEFAULT_LEADER_ELECTION_ID,
    DEFAULT_MAX_EVENT_AGE_SECONDS, ExporterConfig, LeaderElection, LogFormat, LogLevel, Role,
    RulerConfig,
};
use crate::de::{DecodeOptions, HINT_SEPARATOR, Partial, decode_partial};
use crate::diagnostics::Diagnostics;
use crate::located::Located;
use crate::node::{Node, NodeValue};
use crate::suggest::{one_of, suggest};

/// The file's top level, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawConfig {
    version: Option<Located<String>>,
    log_level: Located<String>,
    log_format: Located<String>,
    throttle_period: Located<i64>,
    max_event_age_seconds: Located<i64>,
    cluster_name: String,
    namespace: String,
    leader_election: RawLeaderElection,
    #[serde(deserialize_with = "de_route")]
    route: Option<Node>,
    #[serde(deserialize_with = "de_receivers")]
    receivers: Option<Node>,
    #[serde(deserialize_with = "de_rules")]
    rules: Option<Node>,
    #[serde(rename = "kubeQPS")]
    kube_qps: Located<f32>,
    kube_burst: Located<i64>,
    metrics_name_prefix: Located<String>,
    omit_lookup: bool,
    cache_size: Located<i64>,
    exporter: ExporterConfig,
    ruler: RulerConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLeaderElection {
    enabled: bool,
    #[serde(rename = "leaderElectionID")]
    leader_election_id: String,
}

/// Decodes and checks the whole configuration. Returns `None` when any
/// error was found (all of them are in `diags`).
pub(crate) fn decode_config(root: &Node, role: Role, diags: &mut Diagnostics) -> Option<Config> {
    if !matches!(root.value, NodeValue::Map(_) | NodeValue::Null) {
        diags
            .error(
                root.loc,
                format!(
                    "the configuration must be a mapping of keys, found {}",
                    root.kind()
                ),
            )
            .with_hint("start the file with top-level keys such as `logLevel: info` and `route:`");
        return None;
    }
    // Values with type errors are left out (their defaults apply) so the checks
    // below still report every other problem of the file in the same run.
    let (raw, clean): (RawConfig, bool) =
        match decode_partial(root, &DecodeOptions::default(), diags) {
            Partial::Clean(raw) => (raw, true),
            Partial::WithErrors(raw) => (raw, false),
            Partial::Failed => return None,
        };
    let errors_before = diags.error_count();
    let config = resolve(raw, diags);
    validate_sections(&config, root, role, diags);
    (clean && diags.error_count() == errors_before).then_some(config)
}

/// Applies kubernetes-event-exporter's defaults and checks.
fn resolve(raw: RawConfig, diags: &mut Diagnostics) -> Config {
    if let Some(version) = &raw.version
        && version.value != "v1"
    {
        version
            .error(
                diags,
                format!("unsupported config version `{}`", version.value),
            )
            .with_hint("the only version is `v1`; remove the key to use it");
    }
    let (log_level, log_caller) = log_level(&raw.log_level, diags);
    Config {
        log_level,
        log_caller,
        log_format: log_format(&raw.log_format, diags),
        max_event_age_seconds: max_event_age(
            &raw.throttle_period,
            &raw.max_event_age_seconds,
            diags,
        ),
        cluster_name: raw.cluster_name,
        namespace: (!raw.namespace.is_empty()).then_some(raw.namespace),
        leader_election: LeaderElection {
            enabled: raw.leader_election.enabled,
            leader_election_id: if raw.leader_election.leader_election_id.is_empty() {
                DEFAULT_LEADER_ELECTION_ID.to_owned()
            } else {
                raw.leader_election.leader_election_id
            },
        },
        route: raw.route,
        receivers: raw.receivers,
        rules: raw.rules,
        kube_qps: kube_qps(&raw.kube_qps, diags),
        kube_burst: kube_burst(&raw.kube_burst, diags),
        metrics_name_prefix: metrics_name_prefix(raw.metrics_name_prefix, diags),
        omit_lookup: raw.omit_lookup,
        cache_size: cache_size(&raw.cache_size, diags),
        exporter: raw.exporter,
        ruler: raw.ruler,
    }
}

/// `logLevel`: empty means info and also logging the caller.
fn log_level(raw: &Located<String>, diags: &mut Diagnostics) -> (LogLevel, bool) {
    if raw.is_empty() {
        return (LogLevel::Info, true);
    }
    match LogLevel::parse(raw) {
        Some(level) => (level, false),
        None => {
            let d = raw.error(diags, format!("invalid log level `{}`", raw.value));
            match suggest(raw, LogLevel::NAMES) {
                Some(near) => d.with_hint(format!("did you mean `{near}`?")),
                None => d.with_hint(format!("expected {}", one_of(LogLevel::NAMES))),
            };
            (LogLevel::Info, false)
        }
    }
}

/// `logFormat`: `json`, or `pretty`/empty.
fn log_format(raw: &Located<String>, diags: &mut Diagnostics) -> LogFormat {
    match raw.as_str() {
        "" | "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        other => {
            let d = raw.error(diags, format!("unknown log format `{other}`"));
            match suggest(other, &["json", "pretty"]) {
                Some(near) => d.with_hint(format!("did you mean `{near}`?")),
                None => d.with_hint("expected `json` or `pretty`"),
            };
            LogFormat::Pretty
        }
    }
}

/// `maxEventAgeSeconds` and its deprecated alias `throttlePeriod`.
fn max_event_age(throttle: &Located<i64>, max_age: &Located<i64>, diags: &mut Diagnostics) -> i64 {
    for v in [throttle, max_age].into_iter().filter(|v| v.value < 0) {
        v.warning(
            diags,
            format!(
                "a negative value ({}) skips the whole existing backlog on the first start",
                v.value
            ),
        )
        .with_hint(
            "kubernetes-event-exporter dropped every event with a negative value; herald only skips the events that exist when it first starts. Write a number of seconds, or 0 for the default (5)",
        );
    }
    match (throttle.value, max_age.value) {
        (0, 0) => DEFAULT_MAX_EVENT_AGE_SECONDS,
        (0, max) => max,
        (throttle_value, 0) => {
            throttle
                .warning(diags, "`throttlePeriod` is deprecated")
                .with_hint("rename it to `maxEventAgeSeconds`");
            throttle_value
        }
        (_, max) => {
            throttle
                .error(
                    diags,
                    "`throttlePeriod` and `maxEventAgeSeconds` cannot both be set",
                )
                .with_hint(
                    "`throttlePeriod` is the deprecated name of `maxEventAgeSeconds`; remove it",
                );
            max
        }
    }
}

/// `route` must be a mapping (or absent/null); checked while decoding so it
/// is reported with the other type errors.
fn de_route<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Node>, D::Error> {
    let node = Option::<Node>::deserialize(d)?.filter(|n| !n.is_null());
    match &node {
        Some(n) if n.as_map().is_none() => Err(de::Error::custom(format!(
            "expected a mapping (the route tree), found {}{HINT_SEPARATOR}write `route:` followed by `routes:`, `match:` or `drop:` on indented lines",
            n.describe()
        ))),
        _ => Ok(node),
    }
}

/// `receivers` must be a list (or absent/null).
fn de_receivers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Node>, D::Error> {
    let node = Option::<Node>::deserialize(d)?.filter(|n| !n.is_null());
    match &node {
        Some(n) if n.as_seq().is_none() => Err(de::Error::custom(format!(
            "expected a list of receivers, found {}{HINT_SEPARATOR}write each receiver as a list item: `- name: dump` followed by its sink, e.g. `stdout: {{}}`",
            n.describe()
        ))),
        _ => Ok(node),
    }
}

/// `rules` must be a list (or absent/null).
fn de_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Node>, D::Error> {
    let node = Option::<Node>::deserialize(d)?.filter(|n| !n.is_null());
    match &node {
        Some(n) if n.as_seq().is_none() => Err(de::Error::custom(format!(
            "expected a list of rules, found {}{HINT_SEPARATOR}write each rule as a list item: `- name: BackOff` with `condition:`, `type:` and `receivers:`",
            n.describe()
        ))),
        _ => Ok(node),
    }
}

/// `kubeQPS`: 0 means client-go's default of 5.
fn kube_qps(raw: &Located<f32>, diags: &mut Diagnostics) -> f32 {
    let qps = raw.value;
    if !qps.is_finite() {
        raw.error(diags, "must be a finite number");
        return DEFAULT_KUBE_QPS;
    }
    if qps == 0.0 {
        return DEFAULT_KUBE_QPS;
    }
    if qps < 0.0 {
        raw.warning(
            diags,
            "a negative `kubeQPS` disables client-side rate limiting towards the API server",
        );
    }
    qps
}

/// `kubeBurst`: 0 means client-go's default of 10.
fn kube_burst(raw: &Located<i64>, diags: &mut Diagnostics) -> u32 {
    match raw.value {
        0 => DEFAULT_KUBE_BURST,
        burst => u32::try_from(burst).unwrap_or_else(|_| {
            raw.error(
                diags,
                format!("must be between 0 and {}, found {burst}", u32::MAX),
            );
            DEFAULT_KUBE_BURST
        }),
    }
}

/// `cacheSize`: 0 means 1024.
fn cache_size(raw: &Located<i64>, diags: &mut Diagnostics) -> usize {
    match raw.value {
        0 => DEFAULT_CACHE_SIZE,
        size => usize::try_from(size).unwrap_or_else(|_| {
            raw.error(diags, format!("must not be negative, found {size}"));
            DEFAULT_CACHE_SIZE
        }),
    }
}

/// `metricsNamePrefix`: empty, or `^[a-zA-Z][a-zA-Z0-9_:]*_$`.
///
/// Empty is not a problem: kubernetes-event-exporter's metrics keep their bare names,
/// which is what a KEE user's dashboards query (recommending a prefix would rename
/// them). The startup summary says which names are in effect.
fn metrics_name_prefix(raw: Located<String>, diags: &mut Diagnostics) -> String {
    if raw.is_empty() {
        return raw.value;
    }
    if !is_valid_metrics_prefix(&raw) {
        raw.error(
            diags,
            format!(
                "`{}` does not match `^[a-zA-Z][a-zA-Z0-9_:]*_$`",
                raw.value
            ),
        )
        .with_hint("start with a letter, use letters, digits, `_` and `:`, and end with `_`, e.g. `event_exporter_`");
    }
    raw.value
}

/// Checks `^[a-zA-Z][a-zA-Z0-9_:]*_$`.
fn is_valid_metrics_prefix(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.last() == Some(&b'_')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_prefix_rule() {
        for ok in ["event_exporter_", "a_", "A:b_c_", "x1_"] {
            assert!(is_valid_metrics_prefix(ok), "{ok}");
        }
        for bad in ["", "_a_", "1a_", "event_exporter", "event-exporter_", "é_"] {
            assert!(!is_valid_metrics_prefix(bad), "{bad}");
        }
    }
}
