//! Results: one [`Row`] per measurement, printed as a markdown table and written as
//! JSON so that runs can be compared.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Result, io_err};

/// What a row promises: one of herald's performance targets (listed in bench/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// At least this many events per CPU-second.
    MinEventsPerCpuSecond(f64),
    /// p99 latency below this many milliseconds.
    MaxP99Ms(f64),
    /// Peak RSS below this many MiB.
    MaxPeakRssMib(f64),
    /// RSS growth over the second half of the run below this many MiB.
    MaxRssGrowthMib(f64),
}

impl Target {
    fn describe(self) -> String {
        match self {
            Target::MinEventsPerCpuSecond(v) => format!("≥ {} ev/CPU-s", thousands(v)),
            Target::MaxP99Ms(v) => format!("p99 < {v} ms"),
            Target::MaxPeakRssMib(v) => format!("RSS < {v} MiB"),
            Target::MaxRssGrowthMib(v) => format!("RSS growth < {v} MiB"),
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Row {
    /// Scenario and variant, e.g. `exporter ingest: list (cold start)`.
    pub scenario: String,
    /// Events processed.
    pub events: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// `events / seconds`.
    pub events_per_sec: f64,
    /// Events per CPU-second of the measured process(es) or thread; None when no CPU
    /// time was measured.
    pub events_per_cpu_sec: Option<f64>,
    /// CPU-seconds used by the measured process(es) or thread.
    pub cpu_seconds: Option<f64>,
    /// Median latency (milliseconds).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency (milliseconds).
    pub p99_ms: Option<f64>,
    /// Peak RSS of the measured process (MiB).
    pub peak_rss_mib: Option<f64>,
    /// The promise this row checks.
    pub target: Option<Target>,
    /// Whether the target was met.
    pub target_met: Option<bool>,
    /// Anything else worth knowing (other processes' figures, ratios…).
    pub notes: String,
}

impl Row {
    /// A row for `events` processed in `wall`, using `cpu` of CPU time.
    #[allow(clippy::cast_precision_loss)] // event counts are far below 2^52
    pub fn new(
        scenario: impl Into<String>,
        events: u64,
        wall: Duration,
        cpu: Option<Duration>,
    ) -> Row {
        let seconds = wall.as_secs_f64();
        let cpu_seconds = cpu.map(|c| c.as_secs_f64());
        Row {
            scenario: scenario.into(),
            events,
            seconds,
            events_per_sec: if seconds > 0.0 {
                events as f64 / seconds
            } else {
                0.0
            },
            events_per_cpu_sec: cpu_seconds.filter(|c| *c > 0.0).map(|c| events as f64 / c),
            cpu_seconds,
            ..Row::default()
        }
    }

    /// Sets the latency percentiles.
    pub fn latency(mut self, p50: Option<Duration>, p99: Option<Duration>) -> Row {
        self.p50_ms = p50.map(|d| d.as_secs_f64() * 1000.0);
        self.p99_ms = p99.map(|d| d.as_secs_f64() * 1000.0);
        self
    }

    /// Sets the peak RSS (bytes).
    pub fn peak_rss(mut self, bytes: Option<u64>) -> Row {
        self.peak_rss_mib = bytes.map(crate::procfs::mib);
        self
    }

    /// Appends a note.
    pub fn note(mut self, note: impl AsRef<str>) -> Row {
        if !self.notes.is_empty() {
            self.notes.push_str("; ");
        }
        self.notes.push_str(note.as_ref());
        self
    }

    /// Sets the target and evaluates it against this row (`measured` is used by
    /// [`Target::MaxRssGrowthMib`], whose value is not a table column).
    pub fn target(mut self, target: Target, measured: Option<f64>) -> Row {
        let met = match target {
            Target::MinEventsPerCpuSecond(min) => self.events_per_cpu_sec.map(|v| v >= min),
            Target::MaxP99Ms(max) => self.p99_ms.map(|v| v < max),
            Target::MaxPeakRssMib(max) => self.peak_rss_mib.map(|v| v < max),
            Target::MaxRssGrowthMib(max) => measured.map(|v| v < max),
        };
        self.target = Some(target);
        self.target_met = met;
        self
    }
}

/// The machine the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs available to the harness.
    pub cores: usize,
    /// CPU model.
    pub cpu_model: String,
    /// Cargo profile of the binaries measured (`release` or `debug`).
    pub profile: String,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Whether this was a smoke run (tiny sizes: numbers are not meaningful).
    pub smoke: bool,
    /// The machine.
    pub machine: Machine,
    /// The rows, in the order measured.
    pub rows: Vec<Row>,
    /// Time series (RSS over time), by name: `(seconds since start, MiB)`.
    pub series: Vec<Series>,
}

/// A named time series.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// What is measured, e.g. `soak: ruler RSS (MiB)`.
    pub name: String,
    /// `(seconds since start, value)` points.
    pub points: Vec<(f64, f64)>,
}

fn thousands(v: f64) -> String {
    // rounding to an integer for display
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = v.round().max(0.0) as u64;
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".to_owned(), f)
}

impl Report {
    /// Renders the markdown table (plus a header line with the machine).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "herald-bench{} — {} cores ({}), {} binaries, started {}\n",
            if self.smoke {
                " --smoke (tiny sizes, numbers not meaningful)"
            } else {
                ""
            },
            self.machine.cores,
            self.machine.cpu_model,
            self.machine.profile,
            self.started_at
        );
        out.push_str("| scenario | events | seconds | events/s | events/s per CPU-s | p50 ms | p99 ms | peak RSS MiB | target | met | notes |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario.replace('|', "/"),
                thousands(r.events as f64),
                r.seconds,
                thousands(r.events_per_sec),
                opt(r.events_per_cpu_sec, thousands),
                opt(r.p50_ms, |v| format!("{v:.1}")),
                opt(r.p99_ms, |v| format!("{v:.1}")),
                opt(r.peak_rss_mib, |v| format!("{v:.1}")),
                r.target.map_or_else(String::new, Target::describe),
                match r.target_met {
                    Some(true) => "yes",
                    Some(false) => "**NO**",
                    None => "",
                },
                r.notes.replace('|', "/"),
            );
        }
        out
    }

    /// Writes the JSON form to `path`, creating its directory.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        }
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text).map_err(io_err("cannot write", path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rows: Vec<Row>) -> Report {
        Report {
            started_at: "2026-11-22T02:00:00Z".into(),
            smoke: false,
            machine: Machine {
                cores: 2,
                cpu_model: "test cpu".into(),
                profile: "release".into(),
            },
            rows,
            series: Vec::new(),
        }
    }

    #[test]
    fn rates_are_derived_from_counts_and_times() {
        let r = Row::new(
            "x",
            1000,
            Duration::from_secs(2),
            Some(Duration::from_millis(500)),
        );
        assert!((r.events_per_sec - 500.0).abs() < 1e-9);
        assert_eq!(r.events_per_cpu_sec, Some(2000.0));
        let r = Row::new("x", 1000, Duration::ZERO, Some(Duration::ZERO));
        assert_eq!(r.events_per_sec, 0.0);
        assert_eq!(r.events_per_cpu_sec, None);
    }

    #[test]
    fn targets_are_evaluated() {
        let r = Row::new(
            "x",
            100_000,
            Duration::from_secs(1),
            Some(Duration::from_secs(1)),
        )
        .target(Target::MinEventsPerCpuSecond(50_000.0), None);
        assert_eq!(r.target_met, Some(true));
        let r = Row::new("x", 10, Duration::from_secs(1), None)
            .latency(
                Some(Duration::from_millis(5)),
                Some(Duration::from_millis(80)),
            )
            .target(Target::MaxP99Ms(50.0), None);
        assert_eq!(r.target_met, Some(false));
        let r = Row::new("x", 10, Duration::from_secs(1), None)
            .target(Target::MaxPeakRssMib(64.0), None);
        assert_eq!(r.target_met, None, "no measurement, no verdict");
        let r = Row::new("x", 10, Duration::from_secs(1), None)
            .target(Target::MaxRssGrowthMib(8.0), Some(1.5));
        assert_eq!(r.target_met, Some(true));
    }

    #[test]
    fn markdown_has_one_line_per_row_and_marks_misses() {
        let rows = vec![
            Row::new("a | b", 1_234_567, Duration::from_secs(1), None)
                .note("n1")
                .note("n2"),
            Row::new(
                "c",
                10,
                Duration::from_secs(1),
                Some(Duration::from_secs(1)),
            )
            .target(Target::MinEventsPerCpuSecond(100.0), None),
        ];
        let md = report(rows).markdown();
        assert!(md.contains("| a / b | 1,234,567 | 1.00 | 1,234,567 | – |"));
        assert!(md.contains("n1; n2"));
        assert!(md.contains("**NO**"));
        assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 3);
    }

    #[test]
    fn json_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/results.json");
        report(vec![
            Row::new("x", 5, Duration::from_secs(1), None).target(Target::MaxP99Ms(50.0), None),
        ])
        .write_json(&path)
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["rows"][0]["scenario"], "x");
        assert_eq!(v["rows"][0]["target"]["kind"], "max_p99_ms");
        assert_eq!(v["machine"]["cores"], 2);
    }
}
