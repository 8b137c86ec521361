//! Lease leader election against the simulator.

use std::time::Duration;

use herald_exporter::kube::leader::{CHECKPOINT_ANNOTATION, HOLDER_ANNOTATION, MIN_WRITE_INTERVAL};
use herald_exporter::kube::{KubeApi, LeaderElector, LeaseOptions};
use herald_kubesim::Simulator;
use tokio::time::Instant;

use crate::common::{api, eventually, sim};

const NS: &str = "default";
const LEASE: &str = "herald-test";
const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases/herald-test";

fn options(identity: &str) -> LeaseOptions {
    LeaseOptions {
        name: LEASE.into(),
        namespace: NS.into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_secs(1),
        retry_period: Duration::from_millis(200),
        min_write_interval: MIN_WRITE_INTERVAL,
    }
}

fn elector(api: &KubeApi, identity: &str) -> LeaderElector {
    LeaderElector::new(api.clone(), options(identity)).unwrap()
}

async fn holder(api: &KubeApi) -> String {
    let lease = api.get_lease(NS, LEASE).await.unwrap();
    lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn two_candidates(sim: &Simulator) -> KubeApi {
    let (api, _) = api(sim).await;
    api
}

#[tokio::test]
async fn one_wins_the_other_waits_and_takes_over_on_release() {
    let sim = sim().await;
    let api = two_candidates(&sim).await;
    let a = elector(&api, "a").acquire().await.unwrap();
    assert_eq!(a.previous_holder, None);
    assert_eq!(holder(&api).await, "a");

    let b_elector = elector(&api, "b");
    let b = tokio::spawn(async move { b_elector.acquire().await.unwrap() });
    a.set_checkpoint("rv:4711".into());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!b.is_finished(), "b must wait while a renews");
    assert!(a.is_leader());
    let lease = api.get_lease(NS, LEASE).await.unwrap();
    assert_eq!(
        lease["metadata"]["annotations"][CHECKPOINT_ANNOTATION],
        "rv:4711"
    );

    let released = Instant::now();
    a.release().await;
    let b = tokio::time::timeout(Duration::from_secs(2), b)
        .await
        .expect("b acquires promptly after the release")
        .unwrap();
    assert!(
        released.elapsed() < Duration::from_secs(1),
        "{:?}",
        released.elapsed()
    );
    assert_eq!(b.previous_holder.as_deref(), Some("a"));
    assert_eq!(b.previous_checkpoint.as_deref(), Some("rv:4711"));
    let lease = api.get_lease(NS, LEASE).await.unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert_eq!(lease["metadata"]["annotations"][HOLDER_ANNOTATION], "b");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_leader_that_stops_renewing_is_replaced_after_the_lease_duration() {
    let sim = sim().await;
    let api = two_candidates(&sim).await;
    let a = elector(&api, "a").acquire().await.unwrap();
    a.set_checkpoint("cp".into());
    let b_elector = elector(&api, "b");
    let b = tokio::spawn(async move { b_elector.acquire().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = Instant::now();
    drop(a); // a crashed: no release
    let b = tokio::time::timeout(Duration::from_secs(6), b)
        .await
        .expect("b takes over")
        .unwrap();
    let waited = stopped.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "took over too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(4),
        "took over too late: {waited:?}"
    );
    assert_eq!(b.previous_holder.as_deref(), Some("a"));
    assert_eq!(b.previous_checkpoint.as_deref(), Some("cp"));
    assert_eq!(holder(&api).await, "b");
    sim.shutdown().await;
}

fn lease_requests(sim: &Simulator, method: &str, status: u16) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == method && r.path == LEASE_PATH && r.status == status)
        .count()
}

#[tokio::test]
async fn a_stale_update_conflict_is_handled_by_reading_again() {
    let sim = sim().await;
    let api = two_candidates(&sim).await;
    let opts = LeaseOptions {
        lease_duration: Duration::from_secs(5),
        renew_deadline: Duration::from_secs(3),
        ..options("a")
    };
    let a = LeaderElector::new(api.clone(), opts)
        .unwrap()
        .acquire()
        .await
        .unwrap();
    // Right after a renew (a now sleeps one retry period), hold a's next write at the
    // server (a renew writes the Lease it got back from its last write, without reading
    // it first). While that write waits, the Lease changes underneath (the test edits an
    // annotation), so the write carries a stale resourceVersion and gets 409.
    sim.clear_requests();
    assert!(eventually(5, || lease_requests(&sim, "PUT", 200) >= 1).await);
    sim.faults()
        .stall_next(LEASE_PATH, 1, Duration::from_millis(600));
    sim.clear_requests();
    // the retry period is 200 ms: a's write is held by now
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        lease_requests(&sim, "GET", 200),
        0,
        "a renews without reading"
    );
    let mut lease = api.get_lease(NS, LEASE).await.unwrap();
    lease["metadata"]["annotations"]["test/touched"] = "yes".into();
    api.replace_lease(NS, LEASE, &lease).await.unwrap();
    assert!(
        eventually(5, || lease_requests(&sim, "PUT", 409) == 1).await,
        "a's stale write must have been rejected"
    );
    // The test's own write succeeded; a renews again after reading the Lease anew.
    assert!(eventually(5, || lease_requests(&sim, "PUT", 200) >= 2).await);
    assert!(
        lease_requests(&sim, "GET", 200) >= 2,
        "the test's read and a's"
    );
    assert!(a.is_leader());
    assert_eq!(holder(&api).await, "a");
    let lease = api.get_lease(NS, LEASE).await.unwrap();
    assert_eq!(lease["metadata"]["annotations"]["test/touched"], "yes");
    sim.shutdown().await;
}

#[tokio::test]
async fn leadership_is_lost_when_the_api_fails_past_the_renew_deadline() {
    let sim = sim().await;
    let api = two_candidates(&sim).await;
    let a = elector(&api, "a").acquire().await.unwrap();
    sim.faults()
        .fail_next(LEASE_PATH, 1000, herald_kubesim::HttpFault::InternalError);
    let failing = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), a.lost())
        .await
        .expect("leadership is given up");
    assert!(
        failing.elapsed() >= Duration::from_millis(700),
        "{:?}",
        failing.elapsed()
    );
    assert!(!a.is_leader());
    sim.faults().clear();
    sim.shutdown().await;
}
