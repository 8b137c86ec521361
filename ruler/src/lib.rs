//! herald ruler: consumes the exporter's event log as a member of a consumer group,
//! evaluates kubernetes-event-exporter's route tree and delivers events to sinks.
//! Every receiver reads the log through a lane of its own and acknowledges an event
//! once it has finished with it; the lanes share the decoding and routing of each
//! event ([`decoded`]).

pub mod app;
pub mod decoded;
pub mod go_regex;
pub mod held;
pub mod lane;
pub mod plan;
pub mod pods;
pub mod route;
pub mod router;
pub mod rule_object;
pub mod rule_objects;
pub mod rules;
pub mod start;
pub mod subscription;
pub mod upstream;
pub mod wire;

#[cfg(test)]
mod testutil {
    use herald_config::Diagnostics;

    use crate::route::RouteConfig;

    /// Decodes a route from YAML the way the config file is decoded.
    pub fn decode_route(yaml: &str) -> (RouteConfig, Diagnostics) {
        match herald_config::from_str::<RouteConfig>("config.yaml", yaml) {
            Ok(ok) => ok,
            Err(d) => panic!("route does not decode: {d}"),
        }
    }
}
