//! `herald groups`: every receiver's own group is listed; `seek --receiver` replays the
//! log to that receiver only; a group with live members is not deleted, an idle one is.

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::cluster::{Cluster, Combined, archive_config};
use crate::support::probe::{counts, eventually, fully_acknowledged, json_lines, log_status};
use crate::support::procs::{bin, run_to_end_async};

async fn herald(args: &[&str]) -> Output {
    let mut cmd = Command::new(bin("herald"));
    cmd.args(args);
    run_to_end_async(cmd, Duration::from_secs(30)).await
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn keys(path: &std::path::Path) -> BTreeMap<String, usize> {
    counts(
        json_lines(path)
            .iter()
            .map(|l| l["key"].as_str().expect("key").to_owned()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn seek_replays_to_one_receiver_and_delete_refuses_a_live_group() {
    let cluster = Cluster::start().await;
    let archive = cluster.path("archive.log");
    let config = cluster.write(
        "config.yaml",
        &archive_config(
            &archive,
            "      layout:
        key: \"{{ .IdempotencyKey }}\"
",
        ),
    );
    let mut run = Combined::start(&cluster, &config).await;
    let grpc = run.grpc_url();
    // host:port without a scheme is accepted
    let addr = grpc.trim_start_matches("http://").to_owned();
    cluster.create_numbered("grp", 0..20, |_| true);
    eventually("20 acknowledged", Duration::from_secs(20), || {
        fully_acknowledged(&grpc, "ruler", 20)
    })
    .await;
    assert!(keys(&archive).values().all(|n| *n == 1));

    let out = herald(&["groups", "list", "--exporter", &addr]).await;
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = listing
        .lines()
        .find(|l| l.starts_with("ruler.archive "))
        .unwrap_or_else(|| panic!("no row for the receiver's group:\n{listing}"));
    assert!(row.contains("combined"), "the member is listed: {row}");

    // replay from offset 11: events 11..=20 are delivered once more, to this receiver
    let out = herald(&[
        "groups",
        "seek",
        "--exporter",
        &grpc,
        "--receiver",
        "archive",
        "--to",
        "11",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("group ruler.archive moved: next event 11"),
        "{}",
        text(&out)
    );
    eventually("the replay delivered", Duration::from_secs(20), || async {
        let n: usize = keys(&archive).values().sum();
        (n == 30).then_some(()).ok_or(format!("{n} lines, want 30"))
    })
    .await;
    let k = keys(&archive);
    assert_eq!(k.values().filter(|n| **n == 2).count(), 10, "{k:?}");
    assert_eq!(k.len(), 20);

    // a group with a live member is not deleted
    let out = herald(&[
        "groups",
        "delete",
        "--exporter",
        &grpc,
        "--receiver",
        "archive",
    ])
    .await;
    assert!(!out.status.success());
    assert!(text(&out).contains("live member"), "{}", text(&out));

    // a durable tail's group, once the tail is gone, is
    let out = herald(&[
        "tail",
        "--exporter",
        &grpc,
        "--group",
        "audit",
        "--from",
        "earliest",
        "--limit",
        "3",
        "-o",
        "json",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = herald(&["groups", "delete", "--exporter", &grpc, "--group", "audit"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let status = log_status(&grpc).await.expect("status");
    assert!(
        status.groups.iter().all(|g| g.name != "audit"),
        "{:?}",
        status.groups
    );
    let out = herald(&["groups", "delete", "--exporter", &grpc, "--group", "audit"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no consumer group named audit"),
        "{}",
        text(&out)
    );

    let status = run.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", run.proc.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_added_later_starts_where_the_others_are() {
    let cluster = Cluster::start().await;
    let (archive, newer) = (cluster.path("archive.log"), cluster.path("newer.log"));
    let receiver = |name: &str, path: &std::path::Path| {
        format!(
            "  - name: {name}\n    file:\n      path: {}\n      layout:\n        key: \"{{{{ .IdempotencyKey }}}}\"\n",
            path.display()
        )
    };
    let config = |receivers: &[String]| {
        let routes: String = receivers
            .iter()
            .map(|r| {
                let name = r.trim_start().trim_start_matches("- name: ");
                let name = name.split_whitespace().next().unwrap_or_default();
                format!("        - receiver: {name}\n")
            })
            .collect();
        format!(
            "{}omitLookup: true\nroute:\n  routes:\n    - match:\n{routes}receivers:\n{}",
            crate::support::cluster::BASE_CONFIG,
            receivers.concat()
        )
    };
    let first = cluster.write("one.yaml", &config(&[receiver("archive", &archive)]));
    let mut run = Combined::start(&cluster, &first).await;
    cluster.create_numbered("old", 0..10, |_| true);
    let grpc = run.grpc_url();
    eventually("10 acknowledged", Duration::from_secs(20), || {
        fully_acknowledged(&grpc, "ruler", 10)
    })
    .await;
    let status = run.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", run.proc.log());

    // the new receiver joins a running system: it starts where `archive` is, so the
    // ten old events are not replayed into it
    let second = cluster.write(
        "two.yaml",
        &config(&[receiver("archive", &archive), receiver("newer", &newer)]),
    );
    let mut run = Combined::start(&cluster, &second).await;
    let new_keys = cluster.create_numbered("new", 0..10, |_| true);
    let grpc = run.grpc_url();
    // both groups: the process is ready once one lane is subscribed, and under load
    // `newer` may subscribe after `archive` has acknowledged everything
    eventually(
        "20 acknowledged by both",
        Duration::from_secs(20),
        || async {
            fully_acknowledged(&grpc, "ruler", 20).await?;
            let status = log_status(&grpc).await?;
            if status.groups.iter().any(|g| g.name == "ruler.newer") {
                Ok(())
            } else {
                Err(format!("no group ruler.newer yet: {:?}", status.groups))
            }
        },
    )
    .await;
    let status = run.proc.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}; log:\n{}", run.proc.log());
    let got_new = keys(&newer);
    assert_eq!(
        got_new.keys().cloned().collect::<Vec<_>>(),
        new_keys,
        "the added receiver gets exactly the events after it was added"
    );
    let got_archive = keys(&archive);
    assert_eq!(got_archive.len(), 20);
    assert!(got_archive.values().all(|n| *n == 1), "{got_archive:?}");
}
