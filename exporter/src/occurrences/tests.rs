//! Tests of the two-tier occurrence memory against a model of what was committed,
//! with restarts at arbitrary moments (runs written or not).

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::*;
use crate::store::AppendBatch;

const T0: u64 = 1_800_000_000_000;
const HOUR: u64 = 3_600_000;

fn tiering() -> Tiering {
    Tiering {
        hot_for: Duration::from_secs(20),
        demote_every: Duration::from_secs(10),
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path()).unwrap()
}

/// Commits remembered occurrences as ingest does: one record per batch, then the fence.
fn commit(store: &Store, mem: &Occurrences, batch: &mut Vec<(String, i32, u64)>) {
    if batch.is_empty() {
        return;
    }
    let (n, stamp) = (batch.len(), batch.iter().map(|e| e.2).max().unwrap());
    store
        .append(AppendBatch {
            seen: std::mem::take(batch),
            ..AppendBatch::default()
        })
        .unwrap();
    mem.fence().committed(n, stamp);
}

/// Remembers `(uid, occurrence, at ms)` and commits them in one batch. The fence is
/// the newest committed stamp, and only what is a whole second before it may move.
fn remember_and_commit(store: &Store, mem: &mut Occurrences, entries: &[(&str, i32, u64)]) {
    let mut batch = Vec::new();
    for (uid, occurrence, at) in entries {
        let now = mem.stamp(*at);
        assert!(mem.is_new(uid, *occurrence, now));
        mem.insert(uid, *occurrence, now);
        batch.push((uid.to_string(), *occurrence, now));
    }
    commit(store, mem, &mut batch);
}

/// Observations of 400 Event objects whose counts grow one at a time, over ten
/// minutes, with batches committed late and restarts checked at random moments: the
/// memory must answer exactly as the model (hot, cold in memory, cold on disk), and a
/// memory loaded from the store must know every committed occurrence and nothing that
/// was not committed.
async fn against_the_model(seed: u64) -> ColdStats {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut mem = Occurrences::new(store.clone(), LoadedSeen::default(), tiering(), T0);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counts: HashMap<String, i32> = HashMap::new();
    let mut committed: HashMap<String, i32> = HashMap::new();
    let mut remembered: HashMap<String, i32> = HashMap::new();
    let mut batch = Vec::new();
    let mut t = T0;
    let mut restarts = 0;
    let mut total = ColdStats::default();
    let add = |total: &mut ColdStats, s: ColdStats| {
        total.lookups += s.lookups;
        total.block_reads += s.block_reads;
        total.found += s.found;
        total.merges += s.merges;
    };
    for step in 0..3_000 {
        t += rng.random_range(0..400);
        let now = mem.stamp(t);
        let uid = format!("event-{}", rng.random_range(0..400));
        let count = counts.entry(uid.clone()).or_insert(1);
        if rng.random_range(0..3) == 0 {
            *count += 1;
        }
        let occurrence = *count;
        let known = remembered.get(&uid).copied().unwrap_or(0);
        let new = mem.is_new(&uid, occurrence, now);
        assert_eq!(
            new,
            occurrence > known,
            "step {step}: {uid} #{occurrence}, known #{known}"
        );
        if new {
            mem.insert(&uid, occurrence, now);
            remembered.insert(uid.clone(), occurrence);
            batch.push((uid, occurrence, now));
        }
        if rng.random_range(0..5) == 0 {
            for (uid, occurrence, _) in &batch {
                committed.insert(uid.clone(), *occurrence);
            }
            commit(&store, &mem, &mut batch);
        }
        mem.maintain(t, HOUR);
        if rng.random_range(0..7) == 0 {
            tokio::task::yield_now().await;
        }
        if rng.random_range(0..500) == 0 {
            // a crash between two transactions: what was not committed is lost, runs
            // not written yet are not, merges may be half done
            restarts += 1;
            add(&mut total, mem.stats());
            mem.stop().await;
            batch.clear();
            remembered.clone_from(&committed);
            let loaded = store.load_seen(t - HOUR).unwrap();
            mem = Occurrences::new(store.clone(), loaded, tiering(), t);
            for (uid, occurrence) in &committed {
                assert!(
                    !mem.is_new(uid, *occurrence, t),
                    "after a restart at step {step}: {uid} #{occurrence} forgotten"
                );
                assert!(
                    mem.is_new(uid, occurrence + 1, t),
                    "after a restart at step {step}: {uid} #{} known but not committed",
                    occurrence + 1
                );
            }
        }
    }
    assert!(restarts > 1, "{restarts} restarts checked");
    mem.written().await;
    add(&mut total, mem.stats());
    total
}

#[tokio::test]
async fn answers_match_the_model_across_tiers_and_restarts() {
    let mut merges = 0;
    for seed in [1, 7, 42] {
        let s = against_the_model(seed).await;
        assert!(s.found > 100 && s.block_reads > 0, "seed {seed}: {s:?}");
        merges += s.merges;
    }
    assert!(merges >= 3, "{merges} merges");
}

#[tokio::test]
async fn nothing_is_demoted_past_the_commit_fence() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut mem = Occurrences::new(store.clone(), LoadedSeen::default(), tiering(), T0);
    let mut batch = Vec::new();
    for (i, uid) in ["a", "b", "c"].into_iter().enumerate() {
        let now = mem.stamp(T0 + 1_000 * i as u64);
        assert!(mem.is_new(uid, 1, now));
        mem.insert(uid, 1, now);
        batch.push((uid.to_string(), 1, now));
    }
    // a minute later, nothing committed yet: everything stays hot
    mem.maintain(T0 + 60_000, HOUR);
    assert_eq!((mem.hot_len(), mem.runs()), (3, 0));
    // "a" and "b" committed, "c" still in flight
    let c = batch.pop().unwrap();
    commit(&store, &mem, &mut batch);
    mem.maintain(T0 + 120_000, HOUR);
    assert_eq!(
        (mem.hot_len(), mem.runs()),
        (2, 1),
        "only what is before the fence moved"
    );
    mem.written().await;
    let mut fresh = Occurrences::new(store.clone(), store.load_seen(0).unwrap(), tiering(), T0);
    assert!(!fresh.is_new("a", 1, T0 + 130_000), "from the run");
    assert!(fresh.is_new("c", 1, T0 + 130_000), "never committed");
    assert_eq!(c.0, "c");
}

#[tokio::test]
async fn a_start_replays_only_what_the_runs_do_not_cover() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut mem = Occurrences::new(store.clone(), LoadedSeen::default(), tiering(), T0);
    let mut batch = Vec::new();
    // 1,000 Event objects over 100 s, committed in batches of 10
    for i in 0..1_000u64 {
        let t = T0 + i * 100;
        let now = mem.stamp(t);
        let uid = format!("e{i}");
        assert!(mem.is_new(&uid, 1, now));
        mem.insert(&uid, 1, now);
        batch.push((uid, 1, now));
        if i % 10 == 9 {
            commit(&store, &mem, &mut batch);
        }
        mem.maintain(t, HOUR);
    }
    mem.written().await;
    assert!(mem.runs() >= 7, "{} runs", mem.runs());
    let loaded = store.load_seen(0).unwrap();
    assert!(
        loaded.hot.len() < 400,
        "a start loads the records after the newest run, not all 1,000: {}",
        loaded.hot.len()
    );
    let mut fresh = Occurrences::new(store.clone(), loaded, tiering(), T0 + 100_000);
    for i in 0..1_000 {
        assert!(!fresh.is_new(&format!("e{i}"), 1, T0 + 100_000), "e{i}");
    }
    assert!(fresh.is_new("e1000", 1, T0 + 100_000));
    // the records the runs cover are gone from the database
    let records = store.seen_record_entries().unwrap();
    assert!(
        records < 400,
        "{records} entries left in occurrence records"
    );
}

#[tokio::test]
async fn runs_expire_with_the_retention_in_memory_and_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut mem = Occurrences::new(store.clone(), LoadedSeen::default(), tiering(), T0);
    remember_and_commit(&store, &mut mem, &[("old", 1, T0), ("next", 1, T0 + 2_000)]);
    mem.maintain(T0 + 60_000, HOUR);
    assert_eq!(mem.runs(), 1);
    mem.written().await;
    // an hour and a half later (retention: one hour)
    let later = T0 + 90 * 60_000;
    assert!(!mem.is_new("old", 1, later) || mem.runs() == 0);
    let mut mem = Occurrences::new(
        store.clone(),
        store.load_seen(later - HOUR).unwrap(),
        tiering(),
        later,
    );
    assert_eq!(mem.runs(), 0, "the expired run is not loaded");
    assert!(mem.is_new("old", 1, later));
    assert_eq!(
        store.expire_seen(u64::MAX).unwrap(),
        0,
        "and it was deleted"
    );
}

#[tokio::test]
async fn a_refreshed_entry_outlives_its_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut mem = Occurrences::new(store.clone(), LoadedSeen::default(), tiering(), T0);
    remember_and_commit(&store, &mut mem, &[("a", 5, T0), ("next", 1, T0 + 2_000)]);
    mem.maintain(T0 + 60_000, HOUR); // both go cold: nothing is in flight
    assert_eq!((mem.hot_len(), mem.runs()), (0, 1));
    // seen again 50 minutes later (a re-list): found cold, refreshed
    let t = T0 + 50 * 60_000;
    assert!(!mem.is_new("a", 5, t));
    assert_eq!(mem.stats().found, 1);
    mem.maintain(t + 60_000, HOUR);
    mem.written().await;
    // 70 minutes after the first sighting the first run has expired, the refresh not
    let t = T0 + 70 * 60_000;
    let mut fresh = Occurrences::new(
        store.clone(),
        store.load_seen(t - HOUR).unwrap(),
        tiering(),
        t,
    );
    assert!(!fresh.is_new("a", 5, t));
    assert!(fresh.is_new("a", 6, t));
}
