//! Turns the config file's `route:` and `receivers:` into what the ruler runs: the
//! compiled route tree and the receiver configurations, reporting every problem (with
//! file:line) at once. `herald check-config` and `herald route` use the same function.

use herald_config::{Config, DecodeOptions, Diagnostics, decode_with};
use herald_sinks::{ReceiverConfig, parse_receivers};

use crate::route::{RouteConfig, RouteTree};

/// The ruler's compiled configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The route tree, compiled against `receivers` (index = position).
    pub tree: RouteTree,
    /// Receiver configurations in file order.
    pub receivers: Vec<ReceiverConfig>,
}

impl Plan {
    /// Receiver names in tree index order.
    pub fn receiver_names(&self) -> Vec<String> {
        self.receivers.iter().map(|r| r.name.clone()).collect()
    }
}

/// Decodes and compiles `route` and `receivers`; None when any error was reported.
pub fn plan(config: &Config, diags: &mut Diagnostics) -> Option<Plan> {
    let before = diags.error_count();
    let receivers = match &config.receivers {
        Some(node) => parse_receivers(node, diags),
        None => Vec::new(),
    };
    let route: RouteConfig = match &config.route {
        Some(node) => decode_with(
            node,
            &DecodeOptions {
                path: "route",
                strict_types: &[],
            },
            diags,
        )
        .unwrap_or_default(),
        None => RouteConfig::default(),
    };
    let names: Vec<String> = receivers.iter().map(|r| r.name.clone()).collect();
    let tree = RouteTree::compile(&route, &names, diags);
    if receivers.is_empty() && diags.error_count() == before {
        diags.warning(
            Option::<herald_config::Location>::None,
            "no receivers are defined: events are acknowledged without being sent anywhere",
        );
    }
    match tree {
        Some(tree) if diags.error_count() == before => Some(Plan { tree, receivers }),
        _ => None,
    }
}
