//! CPU time and memory of processes and threads, read from `/proc` (Linux).
//!
//! * process CPU: `utime + stime` of `/proc/<pid>/stat` (all threads), in clock ticks;
//! * thread CPU: the same fields of `/proc/thread-self/stat`;
//! * memory: `VmRSS` (current) and `VmHWM` (peak) of `/proc/<pid>/status`.

use std::sync::OnceLock;
use std::time::Duration;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every mainstream Linux).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// Parses `utime + stime` (fields 14 and 15) of a `stat` file. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted after the last
/// `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // after ")" come field 3 (state) .. ; utime is field 14 → index 11 here
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let tps = ticks_per_second();
    Duration::from_secs(ticks / tps) + Duration::from_nanos((ticks % tps) * 1_000_000_000 / tps)
}

/// CPU time used so far by process `pid` (all its threads); None once it is gone.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ticks(&stat).map(ticks_to_duration)
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    parse_stat_ticks(&stat).map(ticks_to_duration)
}

/// Memory figures of a process, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss: u64,
    /// Peak resident set size (`VmHWM`).
    pub peak: u64,
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// Memory of process `pid`; None once it is gone.
pub fn process_memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status(&status)
}

/// Number of CPUs available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The CPU model name from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Mebibytes, for tables.
#[allow(clippy::cast_precision_loss)] // display only
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (herald (x) y) S 1 4242 4242 0 -1 4194304 1520 0 0 0 250 37 0 0 20 0 9 0 \
                    123 456 789";
        assert_eq!(parse_stat_ticks(stat), Some(287));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn status_memory_is_read_in_bytes() {
        let status = "Name:\therald\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss: 40 * 1024 * 1024,
                peak: 50 * 1024 * 1024
            })
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn own_process_is_measurable() {
        let me = std::process::id();
        assert!(process_cpu(me).is_some());
        assert!(thread_cpu().is_some());
        let m = process_memory(me).unwrap();
        assert!(m.rss > 0 && m.peak >= m.rss);
    }
}
