//! herald ruler: consumes the exporter's event log as a member of a consumer group,
//! evaluates kubernetes-event-exporter's route tree and delivers events to sinks,
//! acknowledging each event only when every receiver it reached has finished with it.

pub mod app;
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
pub mod subscription;
pub mod upstream;

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
