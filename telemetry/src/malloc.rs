//! glibc allocator tuning for the exporter, applied first thing in its `main`.
//!
//! glibc's malloc gives each thread that meets contention an arena of its own (up to
//! eight per core). Under tokio, memory allocated on one worker thread is often freed
//! on another, so every arena keeps its own half-empty pages: the exporter's peak RSS
//! with 100,000 cached objects was 65.7 MiB with the default and 55.5 MiB with one
//! arena, at the same events per CPU-second (bench/README.md, "exporter memory"):
//! the exporter's hot path is one pipeline thread, so a single arena costs no
//! measurable lock contention. The ruler does not use it: its receivers allocate on
//! every worker thread at once, and one arena cost it 15–20 % of its events per
//! CPU-second for 4 MiB less RSS.
//!
//! An operator's own `MALLOC_ARENA_MAX` wins: glibc reads it at start-up and
//! herald then leaves the setting alone. Other C libraries (musl) are untouched.

/// The arena count herald sets when the environment does not choose one.
pub const DEFAULT_ARENAS: i32 = 1;

/// What [`limit_arenas`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArenaLimit {
    /// The limit was set to this many arenas.
    Set(i32),
    /// `MALLOC_ARENA_MAX` is set; glibc applied it already.
    FromEnvironment,
    /// Not glibc, or glibc refused the setting.
    Unavailable,
}

/// Caps glibc's malloc arenas at [`DEFAULT_ARENAS`] unless `MALLOC_ARENA_MAX` is set.
/// Call it before any thread is started.
pub fn limit_arenas() -> ArenaLimit {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return ArenaLimit::FromEnvironment;
    }
    if set_arena_max(DEFAULT_ARENAS) {
        ArenaLimit::Set(DEFAULT_ARENAS)
    } else {
        ArenaLimit::Unavailable
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_arena_max(n: i32) -> bool {
    // SAFETY: mallopt only updates malloc's tunables under its own lock; it takes
    // plain integers and touches no memory of ours. It is called before threads
    // exist, so no arena is being created concurrently.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, n) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_n: i32) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_arena_limit() {
        // the test harness runs this with threads alive: mallopt still applies
        // to arenas created from now on, which is all this checks
        assert!(set_arena_max(DEFAULT_ARENAS));
        match limit_arenas() {
            ArenaLimit::Set(n) => assert_eq!(n, DEFAULT_ARENAS),
            ArenaLimit::FromEnvironment => {
                assert!(std::env::var_os("MALLOC_ARENA_MAX").is_some());
            }
            ArenaLimit::Unavailable => panic!("glibc refused M_ARENA_MAX"),
        }
    }
}
