//! Integration tests of herald-config (one test binary for the crate).

mod decode;
mod expand;
mod load;
mod model;
mod yaml;

use std::collections::HashMap;

use herald_config::{ConfigError, Diagnostic, Diagnostics, LoadedConfig, Severity};

/// An environment lookup over a fixed table.
pub fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

/// Loads `text` as `config.yaml` with an empty environment.
pub fn load(text: &str) -> Result<LoadedConfig, ConfigError> {
    herald_config::load_str("config.yaml", text, |_| None)
}

/// Loads `text`, expecting success.
pub fn load_ok(text: &str) -> LoadedConfig {
    match load(text) {
        Ok(loaded) => loaded,
        Err(e) => panic!("expected the config to load, got:\n{e}"),
    }
}

/// Loads `text`, expecting errors, and returns the diagnostics.
pub fn load_err(text: &str) -> Diagnostics {
    match load(text) {
        Ok(loaded) => panic!("expected errors, loaded: {:?}", loaded.config),
        Err(ConfigError::Invalid(diags)) => diags,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The only diagnostic of `severity` whose message contains `needle`.
pub fn find<'d>(diags: &'d Diagnostics, severity: Severity, needle: &str) -> &'d Diagnostic {
    let found: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.severity == severity && d.message.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "want one {severity} containing {needle:?} in:\n{diags}"
    );
    found[0]
}
