//! The chaos run's report: the story and what actually happened, the verdict table
//! per receiver, memory per process; as markdown and as JSON.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::Options;
use super::plan::Step;
use super::verdict::{Counts, HOLD_SLACK};
use crate::error::{Result, io_err};

/// A fault as it was carried out.
#[derive(Debug, Clone, Serialize)]
pub struct Executed {
    /// Seconds since the workload started.
    pub at_s: f64,
    /// The fault.
    pub fault: String,
    /// What was done.
    pub what: String,
}

/// One receiver's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Receiver {
    /// The receiver.
    pub name: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Duplicates the README allows for this run's faults.
    pub duplicate_bound: usize,
    /// Duplicates within the bound (None when they cannot be seen).
    pub duplicates_within_bound: Option<bool>,
    /// Not held back by another receiver's outage (None without one).
    pub not_held_back: Option<bool>,
}

impl Receiver {
    /// The verdict for `counts`; `others_faulted`: another receiver's target had a
    /// fault window.
    pub fn new(
        name: &str,
        counts: Counts,
        duplicate_bound: usize,
        others_faulted: bool,
    ) -> Receiver {
        let duplicates_within_bound = counts.duplicated.map(|d| d <= duplicate_bound);
        let not_held_back = others_faulted.then(|| {
            counts.stall_while_other_down_s.unwrap_or_default()
                <= counts.stall_otherwise_s + HOLD_SLACK.as_secs_f64()
        });
        Receiver {
            name: name.to_owned(),
            counts,
            duplicate_bound,
            duplicates_within_bound,
            not_held_back,
        }
    }

    /// Nothing lost, nothing unknown received.
    pub fn complete(&self) -> bool {
        self.counts.lost == 0 && self.counts.unexpected == 0
    }

    /// Within the README's bounds.
    pub fn within_bounds(&self) -> bool {
        self.duplicates_within_bound != Some(false) && self.not_held_back != Some(false)
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Seconds the workload wrote.
    pub duration_s: u64,
    /// Event writes per second asked for.
    pub rate: f64,
    /// Cargo profile of the binaries.
    pub profile: String,
    /// The command that reproduces the story.
    pub command: String,
    /// The story as drawn from the seed.
    pub story: Vec<Executed>,
    /// What happened.
    pub executed: Vec<Executed>,
    /// Processes that died or exited uncleanly, and the like.
    pub findings: Vec<String>,
    /// Occurrences written (Events created plus repeats).
    pub written: usize,
    /// Events created.
    pub created: usize,
    /// Repeats (count bumps).
    pub repeated: usize,
    /// Each exporter's last log offset at the end.
    pub logged: Vec<(String, Option<u64>)>,
    /// Per receiver.
    pub receivers: Vec<Receiver>,
    /// RSS (MiB) of each process at the end.
    pub memory_mib: Vec<(String, f64)>,
    /// Seconds the receivers took to catch up after the faults.
    pub settle_s: f64,
    /// No loss, no unexpected key, no process died by itself.
    pub ok: bool,
    /// And every bound held.
    pub within_bounds: bool,
}

impl Report {
    /// Assembles the report.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        opts: &Options,
        profile: &str,
        story: &[Step],
        executed: Vec<Executed>,
        findings: Vec<String>,
        written: usize,
        (created, repeated): (usize, usize),
        logged: Vec<(String, Option<u64>)>,
        receivers: Vec<Receiver>,
        memory_mib: Vec<(String, f64)>,
        settle: Duration,
    ) -> Report {
        let mut executed = executed;
        executed.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        let ok = findings.is_empty() && receivers.iter().all(Receiver::complete);
        let within_bounds = receivers.iter().all(Receiver::within_bounds);
        Report {
            seed: opts.seed,
            duration_s: opts.duration.as_secs(),
            rate: opts.rate,
            profile: profile.to_owned(),
            command: format!(
                "cargo run --release -p herald-bench -- chaos --seed {} --secs {} --rate {}",
                opts.seed,
                opts.duration.as_secs(),
                opts.rate
            ),
            story: story
                .iter()
                .map(|s| Executed {
                    at_s: s.at.as_secs_f64(),
                    fault: s.fault.to_string(),
                    what: String::new(),
                })
                .collect(),
            executed,
            findings,
            written,
            created,
            repeated,
            logged,
            receivers,
            memory_mib,
            settle_s: settle.as_secs_f64(),
            ok,
            within_bounds,
        }
    }

    /// The markdown verdict.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "## herald chaos: seed {}, {} s at {} writes/s ({} binaries)\n",
            self.seed, self.duration_s, self.rate, self.profile
        );
        let _ = writeln!(s, "Reproduce: `{}`\n", self.command);
        let logged: Vec<String> = self
            .logged
            .iter()
            .map(|(n, o)| format!("{n} {}", o.map_or("–".to_owned(), |o| o.to_string())))
            .collect();
        let _ = writeln!(
            s,
            "Occurrences written: {} ({} Events created, {} repeats); logged (last offset of each exporter's log): {}; receivers caught up {:.1} s after the faults.\n",
            self.written,
            self.created,
            self.repeated,
            logged.join(", "),
            self.settle_s
        );
        let _ = writeln!(
            s,
            "| receiver | delivered | lost | superseded (410) | duplicated (bound) | delay p50 / p99 / max | longest stall while another was down / otherwise | verdict |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|");
        for r in &self.receivers {
            let c = &r.counts;
            let ms = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{:.0} ms", v));
            let dup = match c.duplicated {
                Some(d) => format!("{d} (≤ {})", r.duplicate_bound),
                None => "deduped by the target".to_owned(),
            };
            let stall = format!(
                "{} / {:.1} s",
                c.stall_while_other_down_s
                    .map_or("–".to_owned(), |v| format!("{v:.1} s")),
                c.stall_otherwise_s
            );
            let mut verdict = Vec::new();
            if c.lost > 0 {
                let (a, b) = c.lost_written_s.unwrap_or_default();
                let found: Vec<String> = c
                    .lost_found_in_log
                    .iter()
                    .map(|(n, k)| match k {
                        Some(k) => format!("{k} in {n}'s log"),
                        None => format!("{n}'s log unreadable"),
                    })
                    .collect();
                verdict.push(format!(
                    "**LOSS**: written {a:.1}–{b:.1} s into the run, {} of them with a later occurrence delivered; {} (e.g. {})",
                    c.skipped,
                    found.join(", "),
                    c.lost_examples.join(", ")
                ));
            }
            if c.unexpected > 0 {
                verdict.push(format!("**{} unknown keys**", c.unexpected));
            }
            if r.duplicates_within_bound == Some(false) {
                verdict.push("**duplicates over the bound**".to_owned());
            }
            if r.not_held_back == Some(false) {
                verdict.push("**held back by another receiver**".to_owned());
            }
            if verdict.is_empty() {
                verdict.push("ok".to_owned());
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} / {} / {} | {} | {} |",
                r.name,
                c.delivered,
                c.lost,
                c.superseded,
                dup,
                ms(c.delay_p50_ms),
                ms(c.delay_p99_ms),
                ms(c.delay_max_ms),
                stall,
                verdict.join("; ")
            );
        }
        let mem: Vec<String> = self
            .memory_mib
            .iter()
            .map(|(n, m)| format!("{n} {m:.1}"))
            .collect();
        let _ = writeln!(s, "\nRSS at the end (MiB): {}\n", mem.join(", "));
        if !self.findings.is_empty() {
            let _ = writeln!(s, "Findings:\n");
            for f in &self.findings {
                let _ = writeln!(s, "* {}", f.replace('\n', "\n  "));
            }
            s.push('\n');
        }
        let _ = writeln!(s, "Faults as they happened:\n");
        for e in &self.executed {
            let _ = writeln!(s, "* {:7.1} s: {} — {}", e.at_s, e.fault, e.what);
        }
        let _ = writeln!(
            s,
            "\nResult: {}{}",
            if self.ok { "PASS" } else { "FAIL" },
            if self.within_bounds {
                ", within the README's bounds"
            } else {
                ", **outside the README's bounds**"
            }
        );
        s
    }

    /// Writes the report as JSON.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        }
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text).map_err(io_err("cannot write", path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(lost: usize, duplicated: Option<usize>, during: f64, otherwise: f64) -> Counts {
        Counts {
            delivered: 10,
            lost,
            duplicated,
            stall_while_other_down_s: Some(during),
            stall_otherwise_s: otherwise,
            ..Counts::default()
        }
    }

    #[test]
    fn loss_fails_and_bounds_are_judged() {
        let ok = Receiver::new("file", counts(0, Some(3), 2.0, 5.0), 1000, true);
        assert!(ok.complete() && ok.within_bounds());
        let lost = Receiver::new("file", counts(1, Some(0), 2.0, 5.0), 1000, true);
        assert!(!lost.complete());
        let dups = Receiver::new("file", counts(0, Some(1001), 2.0, 5.0), 1000, true);
        assert!(dups.complete() && !dups.within_bounds());
        let held = Receiver::new("file", counts(0, Some(0), 40.0, 5.0), 1000, true);
        assert_eq!(held.not_held_back, Some(false));
        let alone = Receiver::new("file", counts(0, None, 40.0, 5.0), 0, false);
        assert_eq!(alone.not_held_back, None);
        assert_eq!(alone.duplicates_within_bound, None);
        assert!(alone.within_bounds());
    }

    #[test]
    fn the_table_names_losses() {
        let mut c = counts(2, Some(0), 1.0, 1.0);
        c.lost_examples = vec!["u-1".into(), "u-2".into()];
        // a standby's log read whole, and one that could not be read: said so, not "0"
        c.lost_found_in_log = vec![("exporter-0".into(), Some(2)), ("exporter-1".into(), None)];
        let opts = Options {
            seed: 5,
            duration: Duration::from_secs(120),
            rate: 40.0,
            settle: Duration::from_secs(60),
            bin_dir: None,
        };
        let r = Report::new(
            &opts,
            "debug",
            &[],
            Vec::new(),
            Vec::new(),
            12,
            (10, 2),
            vec![("exporter-0".into(), Some(12))],
            vec![Receiver::new("webhook", c, 0, false)],
            vec![("exporter-0".into(), 30.0)],
            Duration::from_secs(3),
        );
        assert!(!r.ok);
        let md = r.markdown();
        assert!(md.contains("(e.g. u-1, u-2)"), "{md}");
        assert!(
            md.contains("2 in exporter-0's log, exporter-1's log unreadable"),
            "{md}"
        );
        assert!(md.contains("--seed 5 --secs 120"), "{md}");
        assert!(md.contains("Result: FAIL"), "{md}");
    }
}
