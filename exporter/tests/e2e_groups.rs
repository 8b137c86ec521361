//! End-to-end: consumer groups across member process kills and exporter restarts, and
//! leader-election failover between two exporter processes.
//!
//! Group members run as separate processes (this test binary re-executed in "child"
//! mode) so a member can be killed with SIGKILL.

#[path = "e2e/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::*;
use herald_exporter::handoff::{Checkpoint, Decision, Handover};

const CHILD_ENV: &str = "HERALD_E2E_CHILD";

/// Child mode: joins a group and prints `HERALD got <offset>` for every event; in
/// `ack` mode it acknowledges each batch, in `hold` mode it never does.
#[test]
#[allow(clippy::print_stdout)] // the parent process reads these lines
fn child_member() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split(',');
    let (url, group, member, mode) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut m = Member::join(&url, &group, &member, 10).await;
        println!("HERALD joined {}", m.welcome.committed_offset);
        loop {
            let Some(b) = m.next(Duration::from_secs(60)).await else {
                break;
            };
            let offsets: Vec<u64> = b.events.iter().map(|e| e.offset).collect();
            for o in &offsets {
                println!("HERALD got {o}");
            }
            if mode == "ack" {
                m.ack(offsets.clone()).await;
                for o in &offsets {
                    println!("HERALD acked {o}");
                }
            }
        }
    });
}

struct ChildMember {
    child: Child,
    joined: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<u64>>>,
    acked: Arc<Mutex<Vec<u64>>>,
}

impl ChildMember {
    fn spawn(url: &str, group: &str, member: &str, mode: &str) -> ChildMember {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_member",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, format!("{url},{group},{member},{mode}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let joined = Arc::new(AtomicBool::new(false));
        let got = Arc::new(Mutex::new(Vec::new()));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let (j, g, a) = (joined.clone(), got.clone(), acked.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // the test harness may have written "test child_member ... " on
                // the same line before it
                if line.contains("HERALD joined ") {
                    j.store(true, Ordering::SeqCst);
                } else if let Some(o) = line.strip_prefix("HERALD got ") {
                    g.lock().unwrap().push(o.parse().unwrap());
                } else if let Some(o) = line.strip_prefix("HERALD acked ") {
                    a.lock().unwrap().push(o.parse().unwrap());
                }
            }
        });
        ChildMember {
            child,
            joined,
            got,
            acked,
        }
    }

    fn joined(&self) -> bool {
        self.joined.load(Ordering::SeqCst)
    }

    fn got(&self) -> Vec<u64> {
        self.got.lock().unwrap().clone()
    }

    fn acked(&self) -> Vec<u64> {
        self.acked.lock().unwrap().clone()
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ChildMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn group_members_split_redeliver_after_kill_and_offsets_survive_restart() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config("config.yaml", "");
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;

    // two acking members split the stream with no overlap (both are connected before
    // the events come, or the first could take them all)
    let a = ChildMember::spawn(&ex.grpc, "g", "a", "ack");
    let b = ChildMember::spawn(&ex.grpc, "g", "b", "ack");
    until("both members joined", Duration::from_secs(30), || {
        a.joined() && b.joined()
    })
    .await;
    create_events(&sim, "a", "p1", 100);
    ex.wait_logged(100).await;
    until("100 acks", Duration::from_secs(30), || {
        a.acked().len() + b.acked().len() >= 100
    })
    .await;
    let (sa, sb): (BTreeSet<u64>, BTreeSet<u64>) = (
        a.acked().into_iter().collect(),
        b.acked().into_iter().collect(),
    );
    assert!(
        sa.is_disjoint(&sb),
        "overlap: {:?}",
        sa.intersection(&sb).collect::<Vec<_>>()
    );
    assert_eq!(
        sa.union(&sb).copied().collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>()
    );
    assert!(
        !sa.is_empty() && !sb.is_empty(),
        "both members got work: {} / {}",
        sa.len(),
        sb.len()
    );
    drop(a);
    drop(b);

    // a member that holds events without acking is killed; the other gets them
    let mut holder = ChildMember::spawn(&ex.grpc, "g", "holder", "hold");
    until("holder joined", Duration::from_secs(20), || true).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    create_events(&sim, "a", "p2", 50);
    until("holder got events", Duration::from_secs(30), || {
        !holder.got().is_empty()
    })
    .await;
    let survivor = ChildMember::spawn(&ex.grpc, "g", "survivor", "ack");
    until(
        "events flowing to the survivor",
        Duration::from_secs(30),
        || !survivor.acked().is_empty() || holder.got().len() >= 10,
    )
    .await;
    let held: BTreeSet<u64> = holder.got().into_iter().collect();
    holder.kill9();
    until("all 150 acknowledged", Duration::from_secs(30), || {
        let acked: BTreeSet<u64> = survivor.acked().into_iter().collect();
        (101..=150).all(|o| acked.contains(&o))
    })
    .await;
    let acked: BTreeSet<u64> = survivor.acked().into_iter().collect();
    assert!(
        held.is_subset(&acked),
        "held {held:?} were not redelivered to the survivor"
    );
    drop(survivor);
    tokio::time::sleep(Duration::from_millis(1500)).await; // committed offsets are flushed every second

    // the group's committed offset survives an exporter restart
    assert_eq!(ex.terminate(), Some(0));
    let ex = ExporterProc::start(&setup, &cfg, "data", &[]).await;
    ex.wait_ready().await;
    let status = ex.status().await;
    let g = status
        .groups
        .iter()
        .find(|g| g.name == "g")
        .expect("group g persisted");
    assert_eq!(g.committed_offset, 150);
    assert_eq!(g.lag, 0);
    let mut m = Member::join(&ex.grpc, "g", "late", 100).await;
    assert_eq!(m.welcome.committed_offset, 150);
    assert!(
        m.next(Duration::from_millis(800)).await.is_none(),
        "nothing old is delivered again"
    );
    create_events(&sim, "a", "p3", 1);
    let b = m
        .next(Duration::from_secs(10))
        .await
        .expect("the new event");
    assert_eq!(b.events[0].offset, 151);
}

#[tokio::test(flavor = "multi_thread")]
async fn leader_failover_loses_nothing_and_duplicates_nothing_acknowledged() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config(
        "config.yaml",
        "  leaderElection:\n    leaseDuration: 3s\n    renewDeadline: 2s\n    retryPeriod: 500ms\nleaderElection:\n  enabled: true\n  leaderElectionID: herald-e2e\n",
    );
    let one = ExporterProc::start(&setup, &cfg, "one", &[("POD_NAME", "one")]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let two = ExporterProc::start(&setup, &cfg, "two", &[("POD_NAME", "two")]).await;
    one.wait_ready().await;
    assert!(one.status().await.leader, "the first exporter leads");
    assert!(!two.status().await.leader, "the second is a standby");
    let standby_ready = reqwest::get(format!("{}/-/ready", two.metrics))
        .await
        .unwrap()
        .status();
    assert_eq!(standby_ready, 503, "a standby is not ready");
    assert!(
        Member::try_join(&two.grpc).await.is_err(),
        "a standby refuses subscribers"
    );

    create_events(&sim, "a", "before", 40);
    one.wait_logged(40).await;
    let mut got = Vec::new();
    {
        let mut m = Member::join(&one.grpc, "ruler", "r1", 1000).await;
        while got.len() < 40 {
            let b = m
                .next(Duration::from_secs(10))
                .await
                .expect("events from the leader");
            m.ack(b.events.iter().map(|e| e.offset).collect()).await;
            got.extend(b.events);
        }
        // wait until the acknowledged position is published in the Lease (the last
        // event's resourceVersion: the simulator's global one also counts Lease
        // renewals, which only a later bookmark would carry into the checkpoint)
        let last_rv: u64 = sim
            .event("a", "before-39")
            .and_then(|e| e["metadata"]["resourceVersion"].as_str()?.parse().ok())
            .expect("the last event exists");
        until_lease_checkpoint(&sim, last_rv).await;
    }
    one.kill9();
    create_events(&sim, "a", "during", 25);
    two.wait_ready().await;
    assert!(two.status().await.leader);
    two.wait_logged(25).await;
    let mut m = Member::join(&two.grpc, "ruler", "r1", 1000).await;
    while let Some(b) = m.next(Duration::from_secs(2)).await {
        m.ack(b.events.iter().map(|e| e.offset).collect()).await;
        got.extend(b.events);
    }
    let counts = key_counts(&got);
    assert_eq!(counts.len(), 65, "every event arrives: {counts:?}");
    assert!(
        counts.values().all(|n| *n == 1),
        "no acknowledged event is repeated: {counts:?}"
    );
}

/// Under leader election a member gets back the credits it returns with its acks only
/// once the Lease holds a checkpoint that includes those acks: whenever events beyond
/// its first window reach it, a successor following the Lease would not log again
/// anything it acknowledged before.
#[tokio::test(flavor = "multi_thread")]
async fn returned_credits_wait_until_the_lease_holds_the_acknowledgements() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config(
        "config.yaml",
        "  leaderElection:\n    leaseDuration: 3s\n    renewDeadline: 2s\n    retryPeriod: 500ms\nleaderElection:\n  enabled: true\n  leaderElectionID: herald-e2e\n",
    );
    let ex = ExporterProc::start(&setup, &cfg, "one", &[("POD_NAME", "one")]).await;
    ex.wait_ready().await;
    create_events(&sim, "a", "gated", 30);
    ex.wait_logged(30).await;
    let mut m = Member::join(&ex.grpc, "ruler", "r1", 5).await;
    let mut acked: Vec<String> = Vec::new();
    let mut got = 0;
    while got < 30 {
        let b = m
            .next(Duration::from_secs(10))
            .await
            .expect("credits come back");
        assert!(b.events.len() <= 5, "never more than the window");
        if !acked.is_empty() {
            let text = lease_annotation(&sim).expect("a checkpoint in the Lease");
            let checkpoint = Checkpoint::parse(&text).expect("the checkpoint parses");
            let rule = Handover::from_checkpoint(&checkpoint);
            for rv in &acked {
                assert_eq!(
                    rule.decide(rv),
                    Decision::Handled,
                    "acknowledged change {rv} would be logged again: {text}"
                );
            }
        }
        got += b.events.len();
        acked.extend(
            b.events
                .iter()
                .map(|e| e.metadata.as_ref().unwrap().resource_version.clone()),
        );
        m.ack(b.events.iter().map(|e| e.offset).collect()).await;
    }
    assert_eq!(acked.len(), 30);
}

/// While the leader cannot write its Lease, what a member acknowledges is not
/// published, so its credits do not come back: it stops after its window.
#[tokio::test(flavor = "multi_thread")]
async fn members_wait_while_the_lease_cannot_be_written() {
    let sim = sim().await;
    let setup = Setup::new(&sim);
    let cfg = setup.config(
        "config.yaml",
        "  leaderElection:\n    leaseDuration: 6s\n    renewDeadline: 4s\n    retryPeriod: 500ms\nleaderElection:\n  enabled: true\n  leaderElectionID: herald-e2e\n",
    );
    let ex = ExporterProc::start(&setup, &cfg, "one", &[("POD_NAME", "one")]).await;
    ex.wait_ready().await;
    create_events(&sim, "a", "stalled", 10);
    ex.wait_logged(10).await;
    let mut m = Member::join(&ex.grpc, "ruler", "r1", 5).await;
    let first = m
        .next(Duration::from_secs(10))
        .await
        .expect("the first window");
    assert_eq!(first.events.len(), 5);
    // the leader's next Lease write hangs for 2 s (within its renew deadline)
    sim.faults().stall_next(
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/herald-e2e",
        1,
        Duration::from_secs(2),
    );
    m.ack(first.events.iter().map(|e| e.offset).collect()).await;
    assert!(
        m.next(Duration::from_millis(1200)).await.is_none(),
        "credits came back before the acknowledgements were in the Lease"
    );
    let second = m
        .next(Duration::from_secs(10))
        .await
        .expect("the window reopens once the Lease is written");
    assert_eq!(second.events.len(), 5);
    assert!(ex.status().await.leader, "the leader kept its lease");
}

fn lease_annotation(sim: &herald_kubesim::Simulator) -> Option<String> {
    sim.object("coordination.k8s.io/v1", "Lease", "default", "herald-e2e")?
        .pointer("/metadata/annotations/herald.dev~1checkpoint")?
        .as_str()
        .map(str::to_owned)
}

async fn until_lease_checkpoint(sim: &herald_kubesim::Simulator, rv: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let lease = sim.object("coordination.k8s.io/v1", "Lease", "default", "herald-e2e");
        let cp = lease
            .as_ref()
            .and_then(|l| l.pointer("/metadata/annotations/herald.dev~1checkpoint"))
            .and_then(|v| v.as_str())
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            .and_then(|v| v["rv"].as_str().and_then(|r| r.parse::<u64>().ok()));
        if cp.is_some_and(|c| c >= rv) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoint never reached {rv}: {lease:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
