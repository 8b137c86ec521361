//! What the scenarios feed herald: sample events (`fixtures/events.json`), the route
//! tree and receivers (`fixtures/route.yaml`, `fixtures/receivers.yaml`), the config
//! files of the processes, and the objects and events written to the simulator.

use chrono::{DateTime, Utc};
use herald_kubesim::Simulator;
use herald_proto::Event;
use serde_json::{Value, json};

pub use self::samples::Sample;
use crate::error::{BenchError, Result};

#[path = "../fixtures/samples.rs"]
mod samples;

/// The route tree (`route:`), 23 rules.
pub const ROUTE_YAML: &str = include_str!("../fixtures/route.yaml");
/// The receivers (`receivers:`), file sinks with layouts.
pub const RECEIVERS_YAML: &str = include_str!("../fixtures/receivers.yaml");
/// 100 kube-events rules (a `Rule` object).
pub const RULES_YAML: &str = include_str!("../fixtures/rules.yaml");

/// The receiver names of [`RECEIVERS_YAML`], in order.
pub const RECEIVER_NAMES: &[&str] = &[
    "dump",
    "alerts",
    "payments-slack",
    "oncall",
    "storage-team",
    "infra",
    "audit",
];

/// Loads the sample events.
///
/// # Errors
/// The fixture does not parse.
pub fn samples() -> Result<Vec<Sample>> {
    samples::load().map_err(|message| BenchError::Fixture {
        name: "events.json",
        message,
    })
}

/// `n` logged events cycling through the samples, each with its own name, uid, offset
/// (1-based) and a count from 1 to 9.
pub fn domain_events(samples: &[Sample], n: usize) -> Vec<Event> {
    let now = Utc::now();
    (0..n)
        .map(|i| {
            let mut e = samples[i % samples.len()].event.clone();
            let seq = i as u64;
            e.metadata.name = format!("{}-{seq:x}", e.metadata.name);
            e.metadata.uid = format!("{:08x}-0000-4000-8000-{seq:012x}", i % samples.len());
            e.offset = seq + 1;
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            let count = (i % 9) as i32 + 1;
            e.count = count;
            e.occurrence = count;
            e.observed_at = Some(now);
            e
        })
        .collect()
}

/// Which receivers a ruler config uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receivers {
    /// [`RECEIVERS_YAML`]: every receiver renders its layout into a file.
    Files,
    /// `inMemory` receivers with the same names keeping one event each: routing only,
    /// nothing rendered.
    Discard,
    /// [`Receivers::Discard`] with a hook on every receiver whose `transform` returns
    /// the config unchanged: the cost of running a hook.
    DiscardHooked,
}

/// The hook of [`Receivers::DiscardHooked`].
pub const TRIVIAL_HOOK: &str = "def transform(config, event):\n    return config\n";

/// The ruler config file (route tree, receivers, `ruler:` section).
pub fn ruler_config(receivers: Receivers, member: &str, credits: u32) -> String {
    let receivers = match receivers {
        Receivers::Files => RECEIVERS_YAML.to_owned(),
        Receivers::Discard | Receivers::DiscardHooked => {
            let mut s = String::from("receivers:\n");
            for name in RECEIVER_NAMES {
                s.push_str(&format!(
                    "  - name: {name}\n    inMemory:\n      maxEvents: 1\n"
                ));
                if receivers == Receivers::DiscardHooked {
                    s.push_str(&format!("    hook:\n      source: {TRIVIAL_HOOK:?}\n"));
                }
            }
            s
        }
    };
    format!(
        "logLevel: warn\nclusterName: bench\n{ROUTE_YAML}\n{receivers}\nruler:\n  memberId: {member}\n  credits: {credits}\n  shutdownGrace: 5s\n"
    )
}

/// The enabled rules of `fixtures/rules.yaml`, compiled.
///
/// # Errors
/// The fixture does not decode or a rule does not compile.
pub fn rules() -> Result<Vec<herald_rules::CompiledRule>> {
    #[derive(serde::Deserialize)]
    struct RuleObject {
        spec: Spec,
    }
    #[derive(serde::Deserialize)]
    struct Spec {
        rules: Vec<herald_rules::RuleSpec>,
    }
    let fixture = |message: String| BenchError::Fixture {
        name: "rules.yaml",
        message,
    };
    let obj: RuleObject = serde_saphyr::from_str(RULES_YAML).map_err(|e| fixture(e.to_string()))?;
    obj.spec
        .rules
        .iter()
        .map(|r| {
            herald_rules::CompiledRule::compile(r).map_err(|e| fixture(format!("{}: {e}", r.name)))
        })
        .filter(|r| r.as_ref().map_or(true, |r| r.enabled))
        .collect()
}

/// The in-process form of the full config: route tree plus file receivers writing to
/// `/dev/null`.
///
/// # Errors
/// The fixtures do not load or compile.
pub fn plan() -> Result<herald_ruler::plan::Plan> {
    let text = format!("{ROUTE_YAML}\n{RECEIVERS_YAML}");
    let lookup = |name: &str| {
        name.starts_with("HERALD_BENCH_")
            .then(|| "/dev/null".to_owned())
    };
    let mut loaded =
        herald_config::load_str_for("bench.yaml", &text, lookup, herald_config::Role::Ruler)
            .map_err(|e| BenchError::Fixture {
                name: "route.yaml + receivers.yaml",
                message: e.to_string(),
            })?;
    herald_ruler::plan::plan(&loaded.config, &mut loaded.diagnostics).ok_or_else(|| {
        BenchError::Fixture {
            name: "route.yaml + receivers.yaml",
            message: loaded.diagnostics.render(&loaded.source),
        }
    })
}

/// Settings of the exporter config file.
#[derive(Debug, Clone, Copy)]
pub struct ExporterSettings {
    /// Look up involved objects (KEE's default; `omitLookup: false`).
    pub lookups: bool,
    /// KEE `cacheSize`: involved objects kept.
    pub cache_size: usize,
    /// `exporter.retention.maxBytes` (`None`: herald's default).
    pub log_max_bytes: Option<u64>,
}

/// The exporter config file.
pub fn exporter_config(s: ExporterSettings) -> String {
    let retention = s
        .log_max_bytes
        .map(|b| format!("  retention:\n    maxBytes: {b}\n"))
        .unwrap_or_default();
    format!(
        "logLevel: warn\nclusterName: bench\nkubeQPS: 100000\nkubeBurst: 100000\nmaxEventAgeSeconds: 3600\nomitLookup: {}\ncacheSize: {}\nexporter:\n  lookup:\n    concurrency: 64\n  watch:\n    timeout: 300s\n{retention}",
        !s.lookups, s.cache_size
    )
}

/// Writes the samples' namespaces and involved objects (labels, annotations, owners)
/// to the simulator so that lookups find them.
///
/// # Errors
/// The simulator rejects a write.
pub fn install_objects(sim: &Simulator, samples: &[Sample]) -> Result<()> {
    for s in samples {
        let io = &s.event.involved_object;
        if !io.namespace.is_empty() {
            sim.put_object(
                "v1",
                "Namespace",
                json!({"name": io.namespace, "labels": io.namespace_labels}),
            )?;
        }
        let owners: Vec<Value> = io
            .owner_references
            .iter()
            .map(|r| {
                json!({
                    "apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid,
                    "controller": r.controller, "blockOwnerDeletion": r.block_owner_deletion,
                })
            })
            .collect();
        let mut meta = json!({
            "name": io.name,
            "uid": io.uid,
            "labels": io.labels,
            "annotations": io.annotations,
            "ownerReferences": owners,
        });
        if !io.namespace.is_empty() {
            meta["namespace"] = json!(io.namespace);
        }
        sim.put_object(&io.api_version, &io.kind, meta)?;
    }
    Ok(())
}

/// A new event for the simulator: sample `i % len` named `name`, stamped `now`.
///
/// # Errors
/// The sample does not convert (a fixture bug).
pub fn sim_event(
    samples: &[Sample],
    i: usize,
    name: &str,
    now: DateTime<Utc>,
) -> Result<herald_kubesim::model::event::Event> {
    let mut v = samples[i % samples.len()].kube.clone();
    let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Some(meta) = v["metadata"].as_object_mut() {
        meta.insert("name".into(), json!(name));
        meta.remove("uid");
        meta.remove("resourceVersion");
        meta.remove("creationTimestamp");
    }
    v["firstTimestamp"] = json!(ts);
    v["lastTimestamp"] = json!(ts);
    v["count"] = json!(1);
    serde_json::from_value(v).map_err(|e| BenchError::Fixture {
        name: "events.json",
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use herald_ruler::route::Selection;

    use super::*;

    #[test]
    fn samples_load_with_enrichment() {
        let s = samples().unwrap();
        assert_eq!(s.len(), 10);
        assert!(
            s.iter()
                .all(|s| s.event.involved_object.lookup == herald_proto::Lookup::Found)
        );
        assert_eq!(s[0].event.involved_object.labels["team"], "payments");
        assert_eq!(
            s[0].event.involved_object.owner_references[0].kind,
            "ReplicaSet"
        );
    }

    #[test]
    fn the_plan_compiles_and_routes_like_the_fixture_comments_say() {
        let plan = plan().unwrap();
        let names = plan.receiver_names();
        assert_eq!(names, RECEIVER_NAMES);
        let s = samples().unwrap();
        let mut sel = Selection::new(plan.tree.receivers());
        let routed = |i: usize, sel: &mut Selection| -> Vec<String> {
            plan.tree.route(&s[i].event, sel);
            sel.receivers().iter().map(|&r| names[r].clone()).collect()
        };
        // a BackOff of a payments pod in prod (count 7, kubelet, owner annotation)
        assert_eq!(
            routed(0, &mut sel),
            ["dump", "alerts", "payments-slack", "oncall", "infra"]
        );
        // a Normal Pulled event in staging: team checkout, version v2, owner annotation
        assert_eq!(
            routed(2, &mut sel),
            ["dump", "payments-slack", "audit", "infra"]
        );
        // kube-system Killing: only dump
        assert_eq!(routed(8, &mut sel), ["dump"]);
    }

    #[test]
    fn every_layout_renders_every_sample() {
        let plan = plan().unwrap();
        for rc in &plan.receivers {
            let Some(c) = rc.sink.downcast_ref::<herald_sinks::file::FileConfig>() else {
                panic!("{} is not a file receiver", rc.name);
            };
            let enc = herald_sinks::util::PayloadEncoder::new(c.layout.clone(), c.de_dot);
            for s in samples().unwrap() {
                let d = herald_sinks::Delivery::from_event(
                    s.event.clone(),
                    herald_sinks::AckRef::detached(),
                );
                let mut out = Vec::new();
                enc.encode(&d, &mut out).unwrap_or_else(|e| {
                    panic!("{} fails for {}: {e}", rc.name, s.event.metadata.name)
                });
                let v: Value = serde_json::from_slice(&out).unwrap();
                assert!(v.is_object());
            }
        }
    }

    #[test]
    fn domain_events_are_distinct_and_numbered() {
        let s = samples().unwrap();
        let evs = domain_events(&s, 25);
        assert_eq!(evs[0].offset, 1);
        assert_eq!(evs[24].offset, 25);
        let uids: std::collections::BTreeSet<_> =
            evs.iter().map(|e| e.metadata.uid.clone()).collect();
        assert_eq!(uids.len(), 25);
        assert!(evs.iter().all(|e| (1..=9).contains(&e.count)));
    }

    #[test]
    fn configs_mention_what_they_configure() {
        let c = ruler_config(Receivers::Discard, "m1", 2000);
        assert!(
            c.contains("inMemory:") && c.contains("memberId: m1") && c.contains("credits: 2000")
        );
        assert!(ruler_config(Receivers::Files, "m", 1).contains("${HERALD_BENCH_DUMP}"));
        let e = exporter_config(ExporterSettings {
            lookups: true,
            cache_size: 100_000,
            log_max_bytes: None,
        });
        assert!(e.contains("omitLookup: false") && e.contains("cacheSize: 100000"));
        assert!(!e.contains("retention"));
        let capped = exporter_config(ExporterSettings {
            lookups: true,
            cache_size: 1,
            log_max_bytes: Some(64 << 20),
        });
        assert!(
            capped.ends_with("  retention:\n    maxBytes: 67108864\n"),
            "{capped}"
        );
    }

    #[tokio::test]
    async fn sample_objects_and_events_are_accepted_by_the_simulator() {
        let sim = Simulator::start(herald_kubesim::SimConfig::default())
            .await
            .unwrap();
        let s = samples().unwrap();
        install_objects(&sim, &s).unwrap();
        for i in 0..s.len() {
            sim.create_typed_event(sim_event(&s, i, &format!("bench-{i}"), Utc::now()).unwrap())
                .unwrap();
        }
        assert_eq!(sim.event_count(), s.len());
        let pod = sim
            .object("v1", "Pod", "prod-payments", "checkout-api-7d9c6b5f4-x2kqp")
            .unwrap();
        assert_eq!(pod["metadata"]["labels"]["team"], "payments");
        sim.shutdown().await;
    }
}
