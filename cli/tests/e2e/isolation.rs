//! A receiver that is down never holds back another one.
//!
//! simulator → exporter → two rulers → a `file` receiver and a `webhook` receiver whose
//! target answers 503 for a long stretch, with a queue of 50 (the defect this guards
//! against: the file stopped after ~50 events once the webhook's queue was full). While
//! the webhook is down the file keeps up with the events as they are written — also
//! across a `kill -9` of a ruler and of the exporter; once the webhook is back it gets
//! every event exactly once (by idempotency key), oldest first.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::cluster::{BASE_CONFIG, Cluster, Combined, Exporter, Ruler};
use crate::support::probe::{counts, eventually, fully_acknowledged, json_lines, metric, scrape};
use crate::support::target::{Mode, Target};

/// Events created while the webhook is down, in steps.
const STEPS: usize = 6;
/// Events per step.
const PER_STEP: usize = 40;
/// `ruler.credits`.
const CREDITS: usize = 20;
/// The webhook's `delivery.queueSize`.
const QUEUE: usize = 50;

fn config(cluster: &Cluster, target: &Target) -> std::path::PathBuf {
    cluster.write(
        "config.yaml",
        &format!(
            r#"{BASE_CONFIG}omitLookup: true
exporter:
  subscribers:
    ackTimeout: 30s
ruler:
  credits: {CREDITS}
  shutdownGrace: 2s
route:
  routes:
    - match:
        - receiver: archive
        - receiver: hook
receivers:
  - name: archive
    file:
      path: "${{HERALD_E2E_ARCHIVE}}"
      layout:
        key: "{{{{ .IdempotencyKey }}}}"
  - name: hook
    webhook:
      endpoint: {url}
      headers:
        X-Key: "{{{{ .IdempotencyKey }}}}"
    delivery:
      queueSize: {QUEUE}
      retry:
        initialBackoff: 50ms
        maxBackoff: 200ms
"#,
            url = target.url
        ),
    )
}

/// Index of a numbered event from its key `iso-uid-NNN-1`.
fn index(key: &str) -> usize {
    key.trim_start_matches("iso-uid-")
        .trim_end_matches("-1")
        .parse()
        .unwrap_or_else(|_| panic!("unexpected key {key}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_webhook_never_holds_back_the_file_receiver() {
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Unavailable).await;
    let config = config(&cluster, &target);
    let mut exporter = Exporter::start(&cluster, &config).await;
    let grpc = exporter.grpc_url();
    let archive = |m: &str| cluster.path(&format!("archive-{m}.log"));
    let files = [archive("a"), archive("b"), archive("a2")];
    let start_ruler = |m: &'static str| {
        let file = archive(m).display().to_string();
        let (config, grpc, cluster) = (config.clone(), grpc.clone(), &cluster);
        async move { Ruler::start(cluster, &config, &grpc, m, &[("HERALD_E2E_ARCHIVE", &file)]).await }
    };
    let mut ruler_a = start_ruler("a").await;
    let ruler_b = start_ruler("b").await;
    let archived = || -> BTreeSet<String> {
        files
            .iter()
            .flat_map(|f| json_lines(f))
            .map(|l| l["key"].as_str().expect("key").to_owned())
            .collect()
    };

    let mut wanted = BTreeSet::new();
    let mut ruler_a2 = None;
    for step in 0..STEPS {
        let range = step * PER_STEP..(step + 1) * PER_STEP;
        wanted.extend(cluster.create_numbered("iso", range, |_| true));
        // every event written so far reaches the file while the webhook is down
        eventually(
            &format!("the file keeps up (step {step})"),
            Duration::from_secs(15),
            || async {
                let missing = wanted.difference(&archived()).count();
                (missing == 0).then_some(()).ok_or(format!(
                    "{missing} of {} events not in the file",
                    wanted.len()
                ))
            },
        )
        .await;
        match step {
            1 => ruler_a.proc.kill9(),
            2 => exporter.kill9_and_restart().await,
            3 => ruler_a2 = Some(start_ruler("a2").await),
            _ => {}
        }
    }
    assert!(
        target.accepted().is_empty(),
        "the webhook accepted nothing while down"
    );
    // the webhook's lag is visible per receiver (the ruler's gauge is polled every 10 s)
    eventually(
        "the webhook's lag on the ruler",
        Duration::from_secs(25),
        || async {
            let m = scrape(&ruler_b.metrics_url()).await;
            let lag = metric(
                &m,
                "herald_ruler_consumer_lag",
                &[("receiver", "hook"), ("group", "ruler.hook")],
            );
            (lag > 0.0).then_some(()).ok_or(format!("lag {lag}"))
        },
    )
    .await;
    // the file's own group is fully acknowledged (once what was in flight at the kills
    // came back after the reclaim window) while the webhook's still holds its backlog
    eventually(
        "the file's group acknowledged, the webhook's holding its backlog",
        Duration::from_secs(20),
        || async {
            let status = crate::support::probe::log_status(&grpc).await?;
            let group = |name: &str| {
                status
                    .groups
                    .iter()
                    .find(|g| g.name == name)
                    .cloned()
                    .ok_or(format!("no group {name}"))
            };
            let (hook, file) = (group("ruler.hook")?, group("ruler.archive")?);
            let backlog = wanted.len() - 2 * QUEUE - 2 * CREDITS;
            if file.lag == 0 && hook.lag as usize >= backlog {
                Ok(())
            } else {
                Err(format!("file {file:?}, webhook {hook:?}"))
            }
        },
    )
    .await;

    // the webhook comes back: it gets everything, exactly once, oldest first
    target.set_mode(Mode::Accept);
    eventually(
        "every event at the webhook",
        Duration::from_secs(60),
        || async {
            let got: BTreeSet<String> = target
                .accepted()
                .iter()
                .map(|h| h.header("x-key"))
                .collect();
            let missing = wanted.difference(&got).count();
            (missing == 0)
                .then_some(())
                .ok_or(format!("{missing} missing at the webhook"))
        },
    )
    .await;
    eventually(
        "the log fully acknowledged",
        Duration::from_secs(20),
        || fully_acknowledged(&grpc, "ruler", wanted.len() as u64),
    )
    .await;
    let accepted: Vec<String> = target
        .accepted()
        .iter()
        .map(|h| h.header("x-key"))
        .collect();
    let per_key = counts(accepted.iter().cloned());
    // at-least-once: only what a killed ruler or the killed exporter had in flight (one
    // credit window) may come twice; the claims usually make it zero
    let twice: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    let twice: Vec<_> = if twice.len() <= 2 * CREDITS && per_key.values().all(|n| *n <= 2) {
        Vec::new()
    } else {
        twice
    };
    let joins: Vec<String> = [exporter.proc.log(), ruler_b.proc.log()]
        .concat()
        .lines()
        .filter(|l| {
            (l.contains("subscriber joined") || l.contains("\"subscribed\""))
                && l.contains("ruler.hook")
        })
        .map(str::to_owned)
        .collect();
    assert!(
        twice.is_empty(),
        "delivered more than once: {twice:?}\nhook subscriptions:\n{}",
        joins.join("\n")
    );
    // oldest first: the backlog comes out of the log in offset order. Two rulers catch
    // up side by side and events in flight at a kill come back after the reclaim
    // window, so the order is checked in aggregate: the first third of the requests
    // carries older events than the last third.
    let third = accepted.len() / 3;
    let mean = |keys: &[String]| keys.iter().map(|k| index(k)).sum::<usize>() / keys.len().max(1);
    let (early, late) = (
        mean(&accepted[..third]),
        mean(&accepted[accepted.len() - third..]),
    );
    assert!(
        early + 40 < late,
        "not oldest first: the first third averages event {early}, the last third {late}"
    );
    drop(ruler_a2);
}

#[tokio::test(flavor = "multi_thread")]
async fn in_herald_run_a_dead_webhook_never_holds_back_the_file_receiver() {
    let cluster = Cluster::start().await;
    let target = Target::start(Mode::Unavailable).await;
    let config = config(&cluster, &target);
    let file = cluster.path("archive-run.log");
    let file_env = file.display().to_string();
    let mut herald =
        Combined::start_with_env(&cluster, &config, &[("HERALD_E2E_ARCHIVE", &file_env)]).await;
    // four times the webhook's queue
    let wanted: BTreeSet<String> = cluster
        .create_numbered("iso", 0..200, |_| true)
        .into_iter()
        .collect();
    eventually(
        "every event in the file",
        Duration::from_secs(20),
        || async {
            let got: BTreeSet<String> = json_lines(&file)
                .iter()
                .map(|l| l["key"].as_str().expect("key").to_owned())
                .collect();
            let missing = wanted.difference(&got).count();
            (missing == 0)
                .then_some(())
                .ok_or(format!("{missing} missing"))
        },
    )
    .await;
    target.set_mode(Mode::Accept);
    eventually(
        "every event at the webhook",
        Duration::from_secs(30),
        || async {
            let got: BTreeSet<String> = target
                .accepted()
                .iter()
                .map(|h| h.header("x-key"))
                .collect();
            let missing = wanted.difference(&got).count();
            (missing == 0)
                .then_some(())
                .ok_or(format!("{missing} missing"))
        },
    )
    .await;
    let status = herald.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", herald.proc.log());
}
