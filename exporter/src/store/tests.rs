use super::*;

fn ev(uid: &str, occ: i32, observed_s: i64) -> pb::Event {
    pb::Event {
        idempotency_key: format!("{uid}-{occ}"),
        occurrence: occ,
        observed_at: Some(prost_types::Timestamp {
            seconds: observed_s,
            nanos: 0,
        }),
        metadata: Some(pb::ObjectMeta {
            uid: uid.into(),
            ..Default::default()
        }),
        raw_json: vec![b'x'; 100].into(),
        ..Default::default()
    }
}

fn batch(events: Vec<pb::Event>, rv: Option<&str>) -> AppendBatch {
    let seen = events
        .iter()
        .map(|e| {
            (
                e.metadata.as_ref().unwrap().uid.clone(),
                e.occurrence,
                1_000,
            )
        })
        .collect();
    AppendBatch {
        events,
        seen,
        checkpoint: rv.map(str::to_owned),
    }
}

#[test]
fn append_read_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log_id;
    {
        let s = Store::open(dir.path()).unwrap();
        assert!(s.is_cold().unwrap());
        log_id = s.log_id().to_owned();
        let a = s
            .append(batch(vec![ev("a", 1, 10), ev("b", 1, 11)], Some("100")))
            .unwrap();
        assert_eq!((a.first, a.next), (1, 3));
        let a = s.append(batch(vec![ev("a", 2, 12)], Some("105"))).unwrap();
        assert_eq!((a.first, a.next), (3, 4));
        let got = s.read(1, 10, usize::MAX).unwrap();
        assert_eq!(
            got.iter().map(|e| e.offset).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(got[2].idempotency_key, "a-2");
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.log_id(), log_id, "log id is persistent");
    assert!(!s.is_cold().unwrap());
    assert_eq!(s.bounds().first, 1);
    assert_eq!(s.bounds().last, 3);
    assert_eq!(s.checkpoint().unwrap().as_deref(), Some("105"));
    assert_eq!(s.checkpoint_at(2).unwrap().as_deref(), Some("100"));
    assert_eq!(s.checkpoint_at(0).unwrap(), None);
    let seen = s.load_seen(0).unwrap().hot;
    assert!(!seen.is_new("a", 2));
    assert!(seen.is_new("a", 3));
    let a = s.append(batch(vec![ev("c", 1, 13)], None)).unwrap();
    assert_eq!(a.first, 4);
}

#[test]
fn read_respects_limits_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.append(batch(
        (0..10).map(|i| ev(&format!("u{i}"), 1, i)).collect(),
        None,
    ))
    .unwrap();
    assert_eq!(s.read(3, 4, usize::MAX).unwrap().len(), 4);
    // byte limit still returns at least one event
    assert_eq!(s.read(3, 4, 1).unwrap().len(), 1);
    let got = s.read_offsets(&[2, 5, 99]).unwrap();
    assert_eq!(got.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![2, 5]);
    assert_eq!(
        s.offset_at_time(Utc.timestamp_opt(5, 0).unwrap()).unwrap(),
        6
    );
    assert_eq!(
        s.offset_at_time(Utc.timestamp_opt(100, 0).unwrap())
            .unwrap(),
        11
    );
}

#[test]
fn prune_by_age_and_bytes_counts_loss_and_never_reuses_offsets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.append(batch(
            (0..10).map(|i| ev(&format!("u{i}"), 1, i)).collect(),
            Some("7"),
        ))
        .unwrap();
        let now = Utc.timestamp_opt(100, 0).unwrap();
        // age: events observed before t=95 go; offsets ≤ 3 were consumed
        let p = s
            .prune(now, chrono::Duration::seconds(95), u64::MAX, 3)
            .unwrap();
        assert_eq!(p.removed, 5);
        assert_eq!(p.lost, 2);
        assert_eq!(s.bounds().first, 6);
        assert_eq!(s.bounds().lost, 2);
        // bytes: keep at most two events' worth
        let per_event = s.bounds().bytes / 5;
        let p = s
            .prune(now, chrono::Duration::days(1), per_event * 2, u64::MAX)
            .unwrap();
        assert_eq!(p.removed, 3);
        assert_eq!(s.bounds().events(), 2);
        let p = s
            .prune(now, chrono::Duration::seconds(0), u64::MAX, 10)
            .unwrap();
        assert_eq!((p.removed, p.lost), (2, 0));
        assert_eq!(s.bounds().events(), 0);
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.bounds().lost, 2);
    assert_eq!(s.checkpoint().unwrap().as_deref(), Some("7"));
    let a = s.append(batch(vec![ev("z", 1, 200)], None)).unwrap();
    assert_eq!(a.first, 11, "offsets are never reused after retention");
}

#[test]
fn groups_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.save_groups(&[(
            "ruler".into(),
            GroupRecord {
                committed: 42,
                filter: Some(pb::Filter {
                    types: vec!["Warning".into()],
                    ..Default::default()
                }),
                last_active_ms: 7,
                next: 50,
                acked_ranges: vec![44, 45, 48, 48],
            },
        )])
        .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let g = s.load_groups().unwrap();
    assert_eq!(g["ruler"].committed, 42);
    assert_eq!(g["ruler"].filter.as_ref().unwrap().types, vec!["Warning"]);
    assert_eq!(
        (g["ruler"].next, &g["ruler"].acked_ranges[..]),
        (50, &[44, 45, 48, 48][..])
    );
}

#[test]
fn seen_expiry_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut b = batch(vec![ev("old", 1, 1)], None);
    b.seen = vec![("old".into(), 1, 10), ("older".into(), 1, 5)];
    s.append(b).unwrap();
    let mut b = batch(vec![ev("new", 1, 2)], None);
    b.seen = vec![("new".into(), 1, 1_000), ("mixed".into(), 1, 400)];
    s.append(b).unwrap();
    assert_eq!(s.expire_seen(500).unwrap(), 2, "the first record only");
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    let seen = s.load_seen(0).unwrap().hot;
    assert_eq!(seen.len(), 2);
    assert!(seen.is_new("old", 1));
    assert!(!seen.is_new("new", 1));
    // a record still in use keeps its older entries on disk, but loading drops them
    let seen = s.load_seen(500).unwrap().hot;
    assert_eq!(seen.len(), 1);
    assert!(seen.is_new("mixed", 1));
    // records appended after a reopen continue the sequence
    let mut b = batch(vec![ev("later", 1, 3)], None);
    b.seen = vec![("later".into(), 1, 2_000)];
    s.append(b).unwrap();
    drop(s);
    let seen = Store::open(dir.path()).unwrap().load_seen(0).unwrap().hot;
    assert!(!seen.is_new("later", 1) && !seen.is_new("new", 1));
}

#[test]
fn the_highest_occurrence_wins_across_records() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    for (occ, ms) in [(3, 10), (2, 20)] {
        let mut b = batch(vec![], None);
        b.seen = vec![("a".into(), occ, ms)];
        s.append(b).unwrap();
    }
    let seen = s.load_seen(0).unwrap().hot;
    assert!(!seen.is_new("a", 3));
    assert!(seen.is_new("a", 4));
}

use chrono::TimeZone;

#[test]
fn marks_are_found_with_their_offsets_and_a_takeover_position_replaces_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.mark_at_or_below(u64::MAX).unwrap(), None);
    s.append(batch(vec![ev("a", 1, 10), ev("b", 1, 11)], Some("100")))
        .unwrap();
    s.append(batch(vec![ev("c", 1, 12)], None)).unwrap();
    assert_eq!(s.mark_at_or_below(1).unwrap(), None);
    assert_eq!(s.mark_at_or_below(3).unwrap(), Some((2, "100".into())));
    // a new leader adopts its predecessor's position at the end of this log
    s.set_checkpoint("250").unwrap();
    assert_eq!(
        s.mark_at_or_below(u64::MAX).unwrap(),
        Some((3, "250".into()))
    );
    assert_eq!(s.checkpoint().unwrap().as_deref(), Some("250"));
    assert_eq!(s.checkpoint_at(2).unwrap().as_deref(), Some("100"));
    // at the same offset, a later position replaces it
    s.set_checkpoint("260").unwrap();
    assert_eq!(s.mark_at_or_below(3).unwrap(), Some((3, "260".into())));
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.checkpoint().unwrap().as_deref(), Some("260"), "durable");
    assert_eq!(s.bounds().last, 3, "no offset is used up");
}

/// 30 batches of 1,000 events; batch `c` observed at second 1,000 + c.
fn fill(s: &Store) {
    for chunk in 0..30 {
        let events = (0..1000)
            .map(|i| ev(&format!("u{chunk}-{i}"), 1, 1_000 + chunk))
            .collect();
        s.append(batch(events, None)).unwrap();
    }
}

/// Reads served from the newest records kept in memory answer exactly what the
/// database answers (checked against the same store reopened, with nothing kept),
/// across the byte bound of what is kept and after retention removed records.
#[test]
fn reads_from_the_recent_records_match_the_database() {
    let dir = tempfile::tempdir().unwrap();
    // records of ~150 bytes: 30,000 of them exceed what is kept, so both paths serve
    let reads = |s: &Store| {
        let mut got = Vec::new();
        for (from, max, max_bytes) in [
            (1, 10, usize::MAX),
            (29_990, 100, usize::MAX),
            (29_995, 3, usize::MAX),
            (29_995, 100, 200),
            (30_000, 10, usize::MAX),
            (30_001, 10, usize::MAX),
            (20_000, 5, usize::MAX),
        ] {
            got.push(s.read_stored(from, max, max_bytes).unwrap());
        }
        got.push(s.read_offsets_stored(&[29_998, 29_999, 30_000]).unwrap());
        got.push(s.read_offsets_stored(&[5, 29_999, 30_005]).unwrap());
        got
    };
    let (warm, pruned_warm) = {
        let s = Store::open(dir.path()).unwrap();
        fill(&s);
        let warm = reads(&s);
        assert_eq!(warm[3].len(), 1, "at least one record even past max_bytes");
        assert!(warm[5].is_empty(), "nothing past the newest offset");
        // retention removes everything observed before second 1,029: offsets ≤ 29,000
        let now = chrono::DateTime::from_timestamp(1_029 + 3600, 0).unwrap();
        while s
            .prune(now, chrono::Duration::hours(1), u64::MAX, u64::MAX)
            .unwrap()
            .removed
            > 0
        {}
        (warm, reads(&s))
    };
    assert!(pruned_warm[0].iter().all(|e| e.offset > 29_000));
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(pruned_warm, reads(&s), "after retention");
    drop(s);
    let dir2 = tempfile::tempdir().unwrap();
    let s = Store::open(dir2.path()).unwrap();
    fill(&s);
    drop(s);
    let cold = Store::open(dir2.path()).unwrap();
    assert_eq!(warm, reads(&cold), "before retention");
}

#[test]
fn merged_runs_keep_the_newest_entry_of_each_key_and_replace_their_parts() {
    use super::{RunEntry, RunIndex};
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let entry = |key: u128, occurrence: i32, last_seen_s: u32| RunEntry {
        key,
        occurrence,
        last_seen_s,
    };
    // three runs over 300 keys; keys 100..200 are in the first and second, with a
    // higher occurrence in the second; run 6 is never written (deleted meanwhile)
    let first: Vec<RunEntry> = (0..200).map(|k| entry(k * 7, 1, 100)).collect();
    let second: Vec<RunEntry> = (100..300).map(|k| entry(k * 7, 2, 200)).collect();
    s.write_seen_run(2, &RunIndex::build(110, &first), &first)
        .unwrap();
    s.write_seen_run(4, &RunIndex::build(210, &second), &second)
        .unwrap();
    let merged = s.merge_seen_runs(&[2, 4, 6], 7).unwrap();
    let summary = (
        merged.len,
        merged.merged_from,
        merged.threshold_s,
        merged.newest_s,
    );
    assert_eq!(summary, (300, 2, 210, 200));
    assert!(
        s.find_in_seen_run(2, 0, 0).unwrap().is_some(),
        "the parts stay until deleted"
    );
    // a start that finds the parts beside the merged run (a crash before their
    // deletion) deletes them
    let loaded = s.load_seen(0).unwrap();
    assert_eq!(loaded.runs.len(), 1, "the parts are gone");
    let (id, index) = &loaded.runs[0];
    assert_eq!((*id, index), (7, &merged));
    assert!(s.find_in_seen_run(2, 0, 0).unwrap().is_none());
    for k in 0..300u128 {
        let block = merged.block_of(k * 7).unwrap();
        let found = s.find_in_seen_run(7, block, k * 7).unwrap().unwrap();
        let want = if k < 100 {
            entry(k * 7, 1, 100)
        } else {
            entry(k * 7, 2, 200)
        };
        assert_eq!(found, want, "key {k}");
        assert!(merged.may_hold(&super::Probe::new(k * 7)));
    }
    assert_eq!(s.find_in_seen_run(7, 0, 1).unwrap(), None);
}

#[test]
fn a_pass_stops_at_its_bound_and_asks_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let n = PRUNE_PASS_MAX + 500;
    let events = (0..n).map(|i| ev(&format!("u{i:06}"), 1, 10)).collect();
    s.append(batch(events, None)).unwrap();
    let now = Utc.timestamp_opt(100, 0).unwrap();
    let first = s
        .prune(now, chrono::Duration::seconds(50), u64::MAX, u64::MAX)
        .unwrap();
    assert_eq!(
        first,
        Pruned {
            removed: PRUNE_PASS_MAX,
            lost: 0,
            more: true
        }
    );
    assert_eq!(s.bounds().first, PRUNE_PASS_MAX + 1, "offsets start at 1");
    let second = s
        .prune(now, chrono::Duration::seconds(50), u64::MAX, u64::MAX)
        .unwrap();
    assert_eq!((second.removed, second.more), (500, false));
    assert_eq!(s.bounds().events(), 0);
}

/// The sum of the stored records' sizes, counted from the table itself.
fn counted_bytes(s: &Store) -> u64 {
    let txn = s.inner.db.begin_read().unwrap();
    let log = txn.open_table(LOG).unwrap();
    log.iter()
        .unwrap()
        .map(|r| r.unwrap().1.value().len() as u64)
        .sum()
}

#[test]
fn concurrent_appends_and_retention_keep_the_byte_count_exact() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let observed = now.timestamp();
    let appender = {
        let s = s.clone();
        std::thread::spawn(move || {
            for i in 0..600 {
                s.append(batch(vec![ev(&format!("u{i:06}"), 1, observed)], None))
                    .unwrap();
            }
        })
    };
    // retention passes as fast as they go, while the appends run (as the exporter's
    // housekeeping and ingest do on two blocking threads)
    while !appender.is_finished() {
        s.prune(now, chrono::Duration::days(1), 20_000, u64::MAX)
            .unwrap();
    }
    appender.join().unwrap();
    assert_eq!(s.bounds().bytes, counted_bytes(&s), "in memory");
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.bounds().bytes, counted_bytes(&s), "as persisted");
}

#[test]
fn a_byte_count_that_drifted_before_is_recounted_once_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        let events = (0..20).map(|i| ev(&format!("u{i}"), 1, 10)).collect();
        s.append(batch(events, None)).unwrap();
        // what a store written before the writers were serialised can hold: a count
        // far above the records, and no mark that it was counted
        let txn = s.inner.db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(META_BYTES, 1_000_000u64.to_le_bytes().as_slice())
                .unwrap();
            meta.remove(META_BYTES_COUNTED).unwrap();
        }
        txn.commit().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let counted = counted_bytes(&s);
    assert!(counted > 0);
    assert_eq!(s.bounds().bytes, counted);
    // retention at a bound above the true size removes nothing
    let p = s
        .prune(
            Utc::now(),
            chrono::Duration::days(365 * 100),
            counted,
            u64::MAX,
        )
        .unwrap();
    assert_eq!(p.removed, 0);
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.bounds().bytes, counted, "the recount was persisted");
}
