//! `pipe` sink tests with regular files and real FIFOs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::unix::pipe;

use super::*;
use crate::config::tests::parse;
use crate::driver::{AckRef, Delivery, RequestBuilder as _, Sink};
use crate::model::tests::compat_example;

fn config(path: &Path) -> PipeConfig {
    PipeConfig {
        path: path.to_path_buf(),
        de_dot: false,
        layout: None,
    }
}

fn mkfifo(dir: &Path) -> PathBuf {
    let path = dir.join("events.fifo");
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());
    path
}

fn expected_line() -> Vec<u8> {
    let mut out = Vec::new();
    crate::model::kee_json(&compat_example(), false, &mut out);
    out.push(b'\n');
    out
}

async fn request(sink: &PipeSink) -> crate::util::Lines {
    let d = Delivery::from_event(compat_example(), AckRef::detached());
    sink.builder().build_request(&[sink.builder().encode(&d).unwrap()])
}

#[test]
fn the_example_parses() {
    let (r, diags) = parse(include_str!("../../examples/pipe.yaml"));
    assert!(!diags.has_errors(), "{diags}");
    let c = r[0].sink.downcast_ref::<crate::pipe::PipeConfig>().expect("not pipe");
    assert_eq!(c.path, PathBuf::from("/dev/stdout"));
    assert!(c.layout.is_some());
}

#[test]
fn a_path_is_required() {
    let (_, diags) = parse("receivers:\n  - name: p\n    pipe: {deDot: true}\n");
    assert_eq!(
        diags.errors().next().unwrap().message,
        "pipe needs a `path`"
    );
}

#[tokio::test]
async fn truncates_a_regular_file_at_startup_and_writes_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "stale content\n").unwrap();
    let sink = PipeSink::open(&config(&path)).await.unwrap();
    let req = request(&sink).await;
    sink.send(&req).await.unwrap();
    sink.send(&req).await.unwrap();
    let expected = expected_line().repeat(2);
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}

#[tokio::test]
async fn writes_to_a_fifo_and_recovers_when_the_reader_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path());
    let mut reader = pipe::OpenOptions::new().open_receiver(&fifo).unwrap();
    let sink = PipeSink::open(&config(&fifo)).await.unwrap();
    let req = request(&sink).await;
    sink.send(&req).await.unwrap();
    let want = expected_line();
    let mut got = vec![0; want.len()];
    reader.read_exact(&mut got).await.unwrap();
    assert_eq!(got, want);

    // The reader goes away: the write fails (EPIPE), then reopening fails
    // at once (no reader) instead of blocking.
    drop(reader);
    let e = sink.send(&req).await.unwrap_err();
    assert!(e.is_retriable(), "{e}");
    let e = sink.send(&req).await.unwrap_err();
    assert!(
        e.is_retriable() && e.to_string().starts_with("cannot reopen"),
        "{e}"
    );

    let mut reader = pipe::OpenOptions::new().open_receiver(&fifo).unwrap();
    sink.send(&req).await.unwrap();
    let mut got = vec![0; want.len()];
    reader.read_exact(&mut got).await.unwrap();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_stalled_reader_times_out_and_the_torn_line_is_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path());
    let mut reader = pipe::OpenOptions::new().open_receiver(&fifo).unwrap();
    let sink = PipeSink::open(&config(&fifo)).await.unwrap();
    // More than a pipe buffer: the write cannot finish while nobody reads.
    let big = sink.builder().build_request(&[vec![b'x'; 1 << 20].into()]);
    let timed_out = tokio::time::timeout(Duration::from_millis(200), sink.send(&big)).await;
    assert!(timed_out.is_err());
    let req = request(&sink).await;
    let send = tokio::spawn(async move { sink.send(&req).await });
    let mut all = Vec::new();
    let want = expected_line();
    let read_all = async {
        while !all.ends_with(&want) {
            let mut buf = vec![0; 65536];
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                // Between the interrupted writer closing and the retry
                // reopening, the FIFO has no writer.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            all.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .expect("the retried line never arrived");
    send.await.unwrap().unwrap();
    // The partial payload is cut by a newline, then the next line is intact.
    let tail = &all[all.len() - want.len() - 1..];
    assert_eq!(tail[0], b'\n');
    assert!(all[..all.len() - want.len() - 1].iter().all(|b| *b == b'x'));
}

#[tokio::test]
async fn an_unopenable_path_fails_at_startup() {
    let Err(e) = PipeSink::open(&config(Path::new("/nonexistent-dir/fifo"))).await else {
        panic!("opened a path in a missing directory")
    };
    assert!(e.to_string().contains("/nonexistent-dir/fifo"), "{e}");
}
