//! End-to-end latency: when each event was created at the simulator
//! ([`Stamps`]) and when its line appeared in a `file` sink's output ([`tail`]).
//!
//! Event names are `<prefix><seq>`; the tailer reads the KEE JSON lines the `dump`
//! receiver writes, takes `metadata.name`, and records `seen - created` once per
//! sequence number (later copies count as duplicates).

use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::stats::Latencies;

/// Creation instants by sequence number, written by the generator thread and read by
/// the tailer.
#[derive(Debug)]
pub struct Stamps {
    base: Instant,
    /// Nanoseconds after `base` plus one; 0 = not created yet.
    created: Vec<AtomicU64>,
}

impl Stamps {
    /// Room for `n` events.
    pub fn new(n: usize) -> Stamps {
        Stamps {
            base: Instant::now(),
            created: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records that event `seq` is being created now.
    pub fn mark(&self, seq: usize) {
        // a run lasts minutes: nanoseconds fit in u64 for 584 years
        let ns = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        if let Some(slot) = self.created.get(seq) {
            slot.store(ns + 1, Ordering::Release);
        }
    }

    /// When event `seq` was created.
    pub fn created(&self, seq: usize) -> Option<Instant> {
        let ns = self.created.get(seq)?.load(Ordering::Acquire);
        (ns > 0).then(|| self.base + Duration::from_nanos(ns - 1))
    }

    /// Capacity.
    pub fn len(&self) -> usize {
        self.created.len()
    }
}

/// What the tailer saw.
#[derive(Debug, Default)]
pub struct Tailed {
    /// Latency of each distinct event.
    pub latencies: Latencies,
    /// Distinct events seen.
    pub delivered: usize,
    /// Lines for events already seen.
    pub duplicates: usize,
    /// When the last new event was seen.
    pub last_seen: Option<Instant>,
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    metadata: Meta<'a>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow)]
    name: &'a str,
}

/// Parses `<prefix><seq>` out of a KEE JSON line.
fn seq_of(line: &[u8], prefix: &str) -> Option<usize> {
    let l: Line<'_> = serde_json::from_slice(line).ok()?;
    l.metadata.name.strip_prefix(prefix)?.parse().ok()
}

/// One followed file.
pub(crate) struct Follower {
    path: PathBuf,
    file: Option<std::fs::File>,
    partial: Vec<u8>,
}

impl Follower {
    /// Follows `path` (which may not exist yet).
    pub(crate) fn new(path: PathBuf) -> Follower {
        Follower {
            path,
            file: None,
            partial: Vec::new(),
        }
    }

    /// Calls `on_line` for every complete line written since the last call,
    /// following the file across rotation (the `file` sink renames it and starts a new
    /// one at `path`).
    pub(crate) fn poll(&mut self, buf: &mut Vec<u8>, on_line: &mut impl FnMut(&[u8])) {
        if self.file.is_none() {
            self.file = std::fs::File::open(&self.path).ok();
        }
        self.drain(buf, on_line);
        let rotated = match (&self.file, std::fs::metadata(&self.path)) {
            (Some(f), Ok(current)) => f
                .metadata()
                .is_ok_and(|open| (open.dev(), open.ino()) != (current.dev(), current.ino())),
            _ => false,
        };
        if rotated {
            // lines written to the old file before the rename
            self.drain(buf, on_line);
            self.file = std::fs::File::open(&self.path).ok();
            self.partial.clear();
            self.drain(buf, on_line);
        }
    }

    /// Reads the open file to its end, splitting complete lines.
    fn drain(&mut self, buf: &mut Vec<u8>, on_line: &mut impl FnMut(&[u8])) {
        let Some(f) = self.file.as_mut() else { return };
        buf.clear();
        if f.read_to_end(buf).is_err() || buf.is_empty() {
            return;
        }
        let mut rest: &[u8] = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                on_line(&rest[..i]);
            } else {
                self.partial.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.partial);
                on_line(&line);
            }
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
    }
}

/// Follows `files` until `expected` distinct events were seen, `stop` is set, or
/// `timeout` passes. Runs on the calling thread (polls every millisecond).
pub fn tail(
    files: Vec<PathBuf>,
    prefix: &str,
    stamps: &Stamps,
    expected: usize,
    stop: &AtomicBool,
    timeout: Duration,
) -> Tailed {
    let deadline = Instant::now() + timeout;
    let mut followers: Vec<Follower> = files.into_iter().map(Follower::new).collect();
    let mut seen = vec![false; stamps.len()];
    let mut out = Tailed::default();
    let mut buf = Vec::with_capacity(1 << 20);
    while out.delivered < expected && Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut on_line = |line: &[u8]| {
            let Some(seq) = seq_of(line, prefix) else {
                return;
            };
            let Some(slot) = seen.get_mut(seq) else {
                return;
            };
            if *slot {
                out.duplicates += 1;
                return;
            }
            *slot = true;
            out.delivered += 1;
            out.last_seen = Some(now);
            if let Some(created) = stamps.created(seq) {
                out.latencies.push(now.saturating_duration_since(created));
            }
        };
        for f in &mut followers {
            f.poll(&mut buf, &mut on_line);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn follows_a_file_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.log");
        let stamps = Arc::new(Stamps::new(3));
        let stop = Arc::new(AtomicBool::new(false));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"{\"metadata\":{\"name\":\"r-0\"}}\n").unwrap();
        let (files, st, sp) = (vec![path.clone()], stamps.clone(), stop.clone());
        let t = std::thread::spawn(move || tail(files, "r-", &st, 3, &sp, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(30));
        // rotate like lumberjack: a last line to the old file, rename, new file
        f.write_all(b"{\"metadata\":{\"name\":\"r-1\"}}\n").unwrap();
        std::fs::rename(&path, dir.path().join("dump-1.log")).unwrap();
        let mut g = std::fs::File::create(&path).unwrap();
        g.write_all(b"{\"metadata\":{\"name\":\"r-2\"}}\n").unwrap();
        let out = t.join().unwrap();
        assert_eq!(out.delivered, 3, "lines after the rotation were missed");
    }

    #[test]
    fn names_are_parsed_from_kee_json() {
        let line = br#"{"metadata":{"name":"e2e-7-42","namespace":"x"},"reason":"BackOff"}"#;
        assert_eq!(seq_of(line, "e2e-7-"), Some(42));
        assert_eq!(seq_of(line, "other-"), None);
        assert_eq!(seq_of(b"not json", "e2e-7-"), None);
    }

    #[test]
    fn stamps_round_trip() {
        let s = Stamps::new(3);
        assert_eq!(s.created(1), None);
        s.mark(1);
        let t = s.created(1).unwrap();
        assert!(t <= Instant::now());
        assert_eq!(s.created(7), None);
        s.mark(7); // out of range is ignored
    }

    #[test]
    fn tails_lines_across_partial_writes_and_counts_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        let b = dir.path().join("b.log");
        let stamps = Arc::new(Stamps::new(4));
        for i in 0..4 {
            stamps.mark(i);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (files, st, sp) = (vec![a.clone(), b.clone()], stamps.clone(), stop.clone());
        let t = std::thread::spawn(move || tail(files, "t-", &st, 4, &sp, Duration::from_secs(10)));
        let mut fa = std::fs::File::create(&a).unwrap();
        fa.write_all(br#"{"metadata":{"name":"t-0"}}"#).unwrap();
        fa.write_all(b"\n{\"metadata\":{\"na").unwrap();
        fa.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        fa.write_all(b"me\":\"t-1\"}}\n{\"metadata\":{\"name\":\"t-0\"}}\n")
            .unwrap();
        let mut fb = std::fs::File::create(&b).unwrap();
        fb.write_all(b"{\"metadata\":{\"name\":\"t-2\"}}\n{\"metadata\":{\"name\":\"t-3\"}}\n")
            .unwrap();
        let out = t.join().unwrap();
        assert_eq!(out.delivered, 4);
        assert_eq!(out.duplicates, 1);
        assert_eq!(out.latencies.len(), 4);
        assert!(out.last_seen.is_some());
    }
}
