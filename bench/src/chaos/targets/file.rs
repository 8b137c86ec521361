//! `file`: each ruler writes its own file (`${HERALD_BENCH_DUMP}`, set per ruler);
//! a thread follows every file of the directory and records the `key` of each line.
//! The file is the receiver that never fails: the others' outages are measured
//! against it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::{Deliveries, LAYOUT, Target, TargetEnv, keys_of};
use crate::chaos::plan::TargetFault;
use crate::error::Result;
use crate::tail::Follower;

/// The receiver's name.
pub const NAME: &str = "file";

/// The file a ruler of this directory writes (`HERALD_BENCH_DUMP`).
pub fn ruler_file(dir: &std::path::Path, ruler: &str) -> PathBuf {
    dir.join(format!("{ruler}.log"))
}

/// Follows the files of a directory.
pub struct FileTarget {
    deliveries: Deliveries,
    stop: Arc<AtomicBool>,
}

/// Starts following `env.dir` (the rulers write `<ruler>.log` there).
pub fn start(env: &TargetEnv) -> BoxFuture<'_, Result<Option<Box<dyn Target>>>> {
    Box::pin(async move {
        std::fs::create_dir_all(&env.dir)
            .map_err(crate::error::io_err("cannot create", &env.dir))?;
        let deliveries = Deliveries::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s, dir) = (deliveries.clone(), stop.clone(), env.dir.clone());
        std::thread::Builder::new()
            .name("chaos-file".into())
            .spawn(move || follow(&dir, &d, &s))
            .map_err(|source| crate::error::BenchError::Spawn {
                program: "file follower thread".into(),
                source,
            })?;
        let t: Box<dyn Target> = Box::new(FileTarget { deliveries, stop });
        Ok(Some(t))
    })
}

/// Polls every `*.log` file of `dir` every 10 ms until `stop`.
fn follow(dir: &std::path::Path, deliveries: &Deliveries, stop: &AtomicBool) {
    let mut followers: BTreeMap<PathBuf, Follower> = BTreeMap::new();
    let mut buf = Vec::with_capacity(1 << 16);
    while !stop.load(Ordering::Relaxed) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "log") && !followers.contains_key(&p) {
                    followers.insert(p.clone(), Follower::new(p));
                }
            }
        }
        let now = Instant::now();
        for f in followers.values_mut() {
            f.poll(&mut buf, &mut |line| {
                for key in keys_of(line) {
                    deliveries.record(key, now);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for FileTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Target for FileTarget {
    fn name(&self) -> &'static str {
        NAME
    }

    fn receiver_yaml(&self) -> String {
        format!("  - name: {NAME}\n    file:\n      path: \"${{HERALD_BENCH_DUMP}}\"\n{LAYOUT}")
    }

    fn faults(&self) -> &'static [TargetFault] {
        &[]
    }

    fn set_fault(&mut self, _fault: Option<TargetFault>) -> Result<()> {
        Ok(())
    }

    fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[tokio::test]
    async fn lines_of_every_ruler_file_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let env = TargetEnv {
            dir: dir.path().join("file"),
        };
        let t = start(&env).await.unwrap().unwrap();
        for (ruler, key) in [("ruler-0", "a-1"), ("ruler-1", "b-1"), ("ruler-0", "a-1")] {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(ruler_file(&env.dir, ruler))
                .unwrap();
            writeln!(f, "{{\"key\":\"{key}\"}}").unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while t.deliveries().snapshot().len() < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(t.deliveries().snapshot().len(), 3);
        assert_eq!(t.deliveries().distinct(), 2);
        assert!(t.receiver_yaml().contains("HERALD_BENCH_DUMP"));
    }
}
