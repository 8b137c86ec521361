//! The `hook:` block of a receiver, decoded with located errors.
//!
//! ```yaml
//! hook:
//!   script: /etc/herald/hooks/route.star  # or `source: |` with the script inline
//!   timeout: 100ms                        # per event
//!   onError: use-default                  # use-default | skip | fail
//!   enrichPod: false                      # the full Pod as event["pod"] for Pod events
//!   skipOnPodNotFound: false              # skip a Pod's event when the Pod is gone
//! ```
//!
//! The script is read and checked here, when the configuration is loaded: a
//! syntax error, a missing file or a script without `transform` is a
//! configuration error with the script's file:line (with the `hooks` cargo
//! feature; a build without it warns here and refuses to start the receiver).

use std::fmt;
#[cfg(feature = "hooks")]
use std::sync::Arc;
use std::time::Duration;

use herald_config::{DecodeOptions, Diagnostics, Located, Location, Node, decode_with};
use serde::Deserialize;

use crate::config::GoDuration;

/// The default time a script may run for one event.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);

/// Longest `timeout` accepted: a hook runs in front of the receiver's queue.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);

/// What happens to an event whose hook failed or ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Send it with the receiver's settings as configured.
    #[default]
    UseDefault,
    /// Do not send it to this receiver (acknowledged, counted).
    Skip,
    /// Do not acknowledge it: hold it and this receiver's later events, and try
    /// the hook again after a backoff. Nothing is lost; the receiver waits.
    Fail,
}

impl OnError {
    const NAMES: [&'static str; 3] = ["use-default", "skip", "fail"];

    fn parse(text: &str) -> Option<OnError> {
        match text {
            "use-default" => Some(OnError::UseDefault),
            "skip" => Some(OnError::Skip),
            "fail" => Some(OnError::Fail),
            _ => None,
        }
    }

    /// Returns the value as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::UseDefault => "use-default",
            OnError::Skip => "skip",
            OnError::Fail => "fail",
        }
    }
}

/// Where a hook's script comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOrigin {
    /// `script: <path>`.
    File(String),
    /// `source: |` inline, written at this line of the config.
    Inline(Location),
}

impl fmt::Display for ScriptOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptOrigin::File(path) => f.write_str(path),
            ScriptOrigin::Inline(loc) => write!(f, "the inline hook source at line {}", loc.line),
        }
    }
}

/// A receiver's `hook:` block.
#[derive(Clone)]
pub struct HookConfig {
    /// Where the script comes from.
    pub origin: ScriptOrigin,
    /// How long the script may run for one event.
    pub timeout: Duration,
    /// What happens when it fails or runs out of time.
    pub on_error: OnError,
    /// Whether the script gets the full Pod of a Pod's event as `event["pod"]`.
    pub enrich_pod: bool,
    /// With `enrich_pod`: skip a Pod's event when the Pod no longer exists.
    pub skip_on_pod_not_found: bool,
    /// Where the block is written.
    pub location: Location,
    /// The checked script, ready to run.
    #[cfg(feature = "hooks")]
    pub(crate) script: Arc<super::script::Script>,
}

impl fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookConfig")
            .field("origin", &self.origin)
            .field("timeout", &self.timeout)
            .field("on_error", &self.on_error)
            .field("enrich_pod", &self.enrich_pod)
            .field("skip_on_pod_not_found", &self.skip_on_pod_not_found)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHook {
    #[serde(default)]
    script: Option<Located<String>>,
    #[serde(default)]
    source: Option<Located<String>>,
    #[serde(default)]
    timeout: Option<Located<GoDuration>>,
    #[serde(default)]
    on_error: Option<Located<String>>,
    #[serde(default)]
    enrich_pod: bool,
    #[serde(default)]
    skip_on_pod_not_found: Option<Located<bool>>,
}

/// Decodes and checks a `hook:` node at `path`; `None` when it has errors
/// (reported in `diags`).
pub(crate) fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<HookConfig> {
    let options = DecodeOptions {
        path,
        strict_types: &[],
    };
    let raw: RawHook = decode_with(node, &options, diags)?;
    let before = diags.error_count();
    let timeout = match &raw.timeout {
        Some(t) if t.value.0.is_zero() => {
            t.error(diags, "hook timeout must be greater than 0")
                .with_hint("the default is 100ms");
            DEFAULT_TIMEOUT
        }
        Some(t) if t.value.0 > MAX_TIMEOUT => {
            t.error(
                diags,
                format!(
                    "hook timeout {:?} is longer than the {}s allowed",
                    t.value.0,
                    MAX_TIMEOUT.as_secs()
                ),
            )
            .with_hint(
                "a hook runs in front of the receiver's queue; keep it short (default 100ms)",
            );
            DEFAULT_TIMEOUT
        }
        Some(t) => t.value.0,
        None => DEFAULT_TIMEOUT,
    };
    let on_error = match &raw.on_error {
        Some(v) => match OnError::parse(&v.value) {
            Some(o) => o,
            None => {
                let d = v.error(diags, format!("unknown onError `{}`", v.value));
                match herald_config::suggest::closest(&v.value, OnError::NAMES) {
                    Some(near) => d.with_hint(format!(
                        "did you mean `{near}`? onError is one of use-default, skip, fail"
                    )),
                    None => d.with_hint("onError is one of use-default, skip, fail"),
                };
                OnError::UseDefault
            }
        },
        None => OnError::UseDefault,
    };
    let (origin, source) = match (&raw.script, &raw.source) {
        (Some(_), Some(inline)) => {
            inline
                .error(diags, "a hook has both `script` and `source`")
                .with_hint("give the script as a file (`script: <path>`) or inline (`source: |`), not both");
            return None;
        }
        (None, None) => {
            diags
                .error(node.loc, "a hook needs a script")
                .with_path(path)
                .with_hint(
                    "add `script: <path to a .star file>` or `source: |` with the script inline; it must define `transform(config, event)`",
                );
            return None;
        }
        (Some(file), None) => match std::fs::read_to_string(&file.value) {
            Ok(text) => (ScriptOrigin::File(file.value.clone()), (file, text)),
            Err(e) => {
                file.error(
                    diags,
                    format!("cannot read hook script `{}`: {e}", file.value),
                )
                .with_hint(
                    "relative paths start at herald's working directory; in Kubernetes, mount the script from a ConfigMap",
                );
                return None;
            }
        },
        (None, Some(inline)) => (
            ScriptOrigin::Inline(inline.location),
            (inline, inline.value.clone()),
        ),
    };
    if let Some(skip) = &raw.skip_on_pod_not_found
        && skip.value
        && !raw.enrich_pod
    {
        skip.error(diags, "skipOnPodNotFound needs enrichPod: true")
            .with_hint("only a hook that reads the Pod knows it is gone");
    }
    if diags.error_count() > before {
        return None;
    }
    let settings = Settings {
        timeout,
        on_error,
        enrich_pod: raw.enrich_pod,
        skip_on_pod_not_found: raw.skip_on_pod_not_found.is_some_and(|s| s.value),
        location: node.loc,
    };
    build(origin, source, settings, diags)
}

/// The checked settings of a hook, besides its script.
struct Settings {
    timeout: Duration,
    on_error: OnError,
    enrich_pod: bool,
    skip_on_pod_not_found: bool,
    location: Location,
}

#[cfg(feature = "hooks")]
fn build(
    origin: ScriptOrigin,
    (written, text): (&Located<String>, String),
    s: Settings,
    diags: &mut Diagnostics,
) -> Option<HookConfig> {
    match super::script::Script::compile(&origin.to_string(), text) {
        Ok(script) => Some(HookConfig {
            origin,
            timeout: s.timeout,
            on_error: s.on_error,
            enrich_pod: s.enrich_pod,
            skip_on_pod_not_found: s.skip_on_pod_not_found,
            location: s.location,
            script: Arc::new(script),
        }),
        Err(e) => {
            written.error(diags, e.to_string()).with_hint(e.hint());
            None
        }
    }
}

#[cfg(not(feature = "hooks"))]
fn build(
    origin: ScriptOrigin,
    (written, _text): (&Located<String>, String),
    s: Settings,
    diags: &mut Diagnostics,
) -> Option<HookConfig> {
    diags
        .warning(
            written.location,
            "this build cannot run hooks (it has no `hooks` feature): a ruler built like it refuses to start this receiver",
        )
        .with_hint("herald-ruler in herald's image has the feature; from source, `cargo build -p herald-ruler --features hooks`");
    Some(HookConfig {
        origin,
        timeout: s.timeout,
        on_error: s.on_error,
        enrich_pod: s.enrich_pod,
        skip_on_pod_not_found: s.skip_on_pod_not_found,
        location: s.location,
    })
}

#[cfg(test)]
mod tests;
