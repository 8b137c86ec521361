//! `file` sink tests: lumberjack naming, rotation, pruning, reopen.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::rotate::{Limits, RotatingFile};
use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, Sink};
use crate::model::tests::compat_example;

fn fixed_clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 14, 10, 0, 3).unwrap()
}

fn limits(max_size: u64) -> Limits {
    Limits {
        max_size,
        max_age: None,
        max_backups: 0,
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn line(c: char, len: usize) -> String {
    let mut s: String = std::iter::repeat_n(c, len - 1).collect();
    s.push('\n');
    s
}

#[test]
fn the_example_parses() {
    let (r, diags) = parse(include_str!("../../examples/file.yaml"));
    assert!(!diags.has_errors(), "{diags}");
    let c = r[0].sink.downcast_ref::<crate::file::FileConfig>().expect("not file");
    assert_eq!(c.path, PathBuf::from("/var/log/herald/events.log"));
    assert_eq!(c.max_size_bytes, 100 * 1024 * 1024);
    assert_eq!((c.max_age_days, c.max_backups), (7, 10));
}

#[test]
fn zero_maxsize_means_100_megabytes_and_negative_values_are_errors() {
    let (r, _) = parse("receivers:\n  - name: f\n    file: {path: /tmp/x.log}\n");
    let c = r[0].sink.downcast_ref::<crate::file::FileConfig>().expect("wrong sink type");
    assert_eq!(c.max_size_bytes, 100 * 1024 * 1024);
    let (_, diags) = parse("receivers:\n  - name: f\n    file: {path: /tmp/x.log, maxage: -1}\n");
    assert_eq!(
        diags.errors().next().unwrap().message,
        "maxage must not be negative"
    );
}

#[test]
fn paths_that_can_never_be_written_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain"), "").unwrap();
    let (_, diags) = parse(&format!(
        "receivers:\n  - name: f\n    file:\n      path: {}\n",
        dir.path().display()
    ));
    let e = diags.errors().next().unwrap();
    assert!(e.message.ends_with("is a directory"), "{diags}");
    assert_eq!(e.location.unwrap().line, 4);
    let (_, diags) = parse(&format!(
        "receivers:\n  - name: f\n    file:\n      path: {}/plain/sub/events.log\n",
        dir.path().display()
    ));
    let e = diags.errors().next().unwrap();
    assert!(e.message.ends_with("plain` is not a directory"), "{diags}");
}

#[test]
fn appends_to_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.log");
    std::fs::write(&path, "old\n").unwrap();
    let mut f = RotatingFile::open(path.clone(), limits(1000)).unwrap();
    f.write_lines(&["new\n"]).unwrap();
    assert_eq!(read(&path), "old\nnew\n");
}

#[test]
fn rotates_before_a_line_would_exceed_the_size_with_lumberjack_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.log");
    let mut f = RotatingFile::open(path.clone(), limits(100))
        .unwrap()
        .with_clock(fixed_clock);
    let (a, b, c) = (line('a', 40), line('b', 40), line('c', 40));
    f.write_lines(&[&a, &b, &c]).unwrap();
    assert_eq!(
        files(dir.path()),
        ["events-2024-05-14T10-00-03.000.log", "events.log"]
    );
    assert_eq!(
        read(dir.path().join("events-2024-05-14T10-00-03.000.log")),
        a.clone() + &b
    );
    assert_eq!(read(&path), c);
}

#[test]
fn a_line_larger_than_the_limit_is_written_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.log");
    let mut f = RotatingFile::open(path.clone(), limits(10))
        .unwrap()
        .with_clock(fixed_clock);
    let big = line('x', 25);
    f.write_lines(&["ab\n", big.as_str(), "cd\n"]).unwrap();
    let names = files(dir.path());
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(read(dir.path().join(&names[0])), "ab\n");
    assert_eq!(read(dir.path().join(&names[1])), big);
    assert_eq!(read(&path), "cd\n");
}

#[test]
fn keeps_only_maxbackups_newest_backups_with_unique_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let mut f = RotatingFile::open(
        path.clone(),
        Limits {
            max_size: 5,
            max_age: None,
            max_backups: 2,
        },
    )
    .unwrap()
    .with_clock(fixed_clock);
    for n in 0..5 {
        f.write_lines(&[format!("{n}{n}{n}\n")]).unwrap();
    }
    // Rotations in the same millisecond get the next free millisecond; the
    // two newest backups survive.
    assert_eq!(
        files(dir.path()),
        [
            "events-2024-05-14T10-00-03.002.json",
            "events-2024-05-14T10-00-03.003.json",
            "events.json"
        ]
    );
    assert_eq!(
        read(dir.path().join("events-2024-05-14T10-00-03.003.json")),
        "333\n"
    );
    assert_eq!(read(&path), "444\n");
}

#[test]
fn devices_are_never_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("out.log");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let mut f = RotatingFile::open(link.clone(), limits(10))
        .unwrap()
        .with_clock(fixed_clock);
    for _ in 0..5 {
        f.write_lines(&["0123456\n"]).unwrap();
    }
    f.reopen();
    f.write_lines(&["0123456\n"]).unwrap();
    assert_eq!(files(dir.path()), ["out.log"]);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn deletes_backups_older_than_maxage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.log");
    let old = dir.path().join("events-2024-05-01T00-00-00.000.log");
    let recent = dir.path().join("events-2024-05-13T00-00-00.000.log");
    let unrelated = dir.path().join("other-2024-05-01T00-00-00.000.log");
    for p in [&old, &recent, &unrelated] {
        std::fs::write(p, "x\n").unwrap();
    }
    let mut f = RotatingFile::open(
        path,
        Limits {
            max_size: 4,
            max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            max_backups: 0,
        },
    )
    .unwrap()
    .with_clock(fixed_clock);
    f.write_lines(&["aaa\n", "bbb\n"]).unwrap();
    let names = files(dir.path());
    assert!(
        !names.contains(&"events-2024-05-01T00-00-00.000.log".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"events-2024-05-13T00-00-00.000.log".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"other-2024-05-01T00-00-00.000.log".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn reopen_follows_external_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.log");
    let config = FileConfig {
        path: path.clone(),
        layout: None,
        max_size_bytes: 1 << 20,
        max_age_days: 0,
        max_backups: 0,
        de_dot: false,
    };
    let sink = FileSink::open(&config).await.unwrap();
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    let request = sink.builder().build_request(&[sink.builder().encode(&d).unwrap()]);
    sink.send(&request).await.unwrap();
    let moved = dir.path().join("events.log.1");
    std::fs::rename(&path, &moved).unwrap();
    sink.send(&request).await.unwrap();
    assert_eq!(
        read(&moved).lines().count(),
        2,
        "written to the open handle until reopened"
    );
    sink.reopen().await;
    sink.send(&request).await.unwrap();
    let content = read(&path);
    assert_eq!(content.lines().count(), 1);
    let mut expected = Vec::new();
    crate::model::kee_json(&d.event, false, &mut expected);
    assert_eq!(content.trim_end().as_bytes(), expected.as_slice());
}

#[tokio::test]
async fn an_unwritable_path_fails_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let config = FileConfig {
        path: blocker.join("events.log"),
        layout: None,
        max_size_bytes: 1 << 20,
        max_age_days: 0,
        max_backups: 0,
        de_dot: false,
    };
    let Err(e) = FileSink::open(&config).await else {
        panic!("opened a file below a regular file")
    };
    assert!(e.to_string().starts_with("cannot open `"), "{e}");
}

#[tokio::test]
async fn creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/events.log");
    let config = FileConfig {
        path: path.clone(),
        layout: None,
        max_size_bytes: 1 << 20,
        max_age_days: 0,
        max_backups: 0,
        de_dot: false,
    };
    FileSink::open(&config).await.unwrap();
    assert!(path.exists());
}
