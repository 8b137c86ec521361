//! Receiver hooks: a Starlark function that sees every event before the
//! receiver sends it, and may change the receiver's settings for that event or
//! skip it.
//!
//! ```yaml
//! receivers:
//!   - name: loki
//!     loki: { url: http://loki:3100/loki/api/v1/push }
//!     hook:
//!       script: /etc/herald/hooks/tenants.star
//!       timeout: 100ms
//!       onError: use-default
//! ```
//!
//! ```python
//! def transform(config, event):
//!     if event["reason"] == "OOMKilling":
//!         config["tenant"] = "oncall"
//!     return config          # or None: this receiver skips the event
//! ```
//!
//! * [`config`](HookConfig): the `hook:` block; the script is loaded and
//!   checked with the configuration;
//! * `script` (`hooks` feature): the interpreter, a deadline per run;
//! * [`PodSource`]: the Pods of `enrichPod`, read by the process running the hook;
//! * `runner` (`hooks` feature): the driver's [`DeliveryHook`](crate::driver::DeliveryHook)
//!   for a script: the dicts, the checks of what comes back, `onError`.
//!
//! What a hook may change per event is up to the sink
//! ([`RequestBuilder::hook_offer`](crate::driver::RequestBuilder::hook_offer)):
//! Loki's `tenant` and `labels`, a webhook's `path` and `headers`. Every
//! receiver's hook can skip events.

mod config;
mod pods;
#[cfg(feature = "hooks")]
mod runner;
#[cfg(feature = "hooks")]
mod script;

pub(crate) use config::decode;
pub use config::{DEFAULT_TIMEOUT, HookConfig, MAX_TIMEOUT, OnError, ScriptOrigin};
pub use pods::{PodLookup, PodSource};
#[cfg(feature = "hooks")]
pub use runner::{NoPodSource, ScriptHook};
#[cfg(feature = "hooks")]
pub use script::{LoadError, RunError, Script};

/// Returns whether this build can run hooks (the `hooks` cargo feature).
pub const fn available() -> bool {
    cfg!(feature = "hooks")
}
