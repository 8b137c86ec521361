//! Process plumbing shared by herald's binaries: kubernetes-event-exporter's Go-style
//! flags, the async runtime and the shutdown signal.

/// Rewrites Go `flag`-style arguments (`-conf=x`, `-metrics-address :2112`) into the
/// GNU style clap parses (`--config=x`, `--metrics-address :2112`). KEE's `-conf`
/// becomes `--config`. Single-letter flags (`-h`, `-V`) and values are untouched.
pub fn normalize_go_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || !a.starts_with('-') || a.starts_with("--") || a.len() <= 2 {
            out.push(rename(a));
            continue;
        }
        out.push(rename(format!("-{a}")));
    }
    out
}

fn rename(a: String) -> String {
    match a.split_once('=') {
        Some(("--conf", v)) => format!("--config={v}"),
        None if a == "--conf" => "--config".to_owned(),
        _ => a,
    }
}

/// Builds the async runtime with `worker_threads` threads (`0`: one per CPU
/// core, tokio's default).
///
/// One thread is the default of both processes. Measured on 2 cores, a second
/// thread made the ruler spend twice the CPU per event and the exporter's watch
/// path 35 % more: tasks hand every event from thread to thread, so each
/// allocation is freed on another thread than the one that made it (glibc's
/// arena locks then contend, with a futex wake-up per handover), and workers
/// wake each other to steal work. Rulers scale out by replicas; blocking work
/// (the exporter's log transactions, file writes, hooks) runs on tokio's
/// blocking threads whatever this is.
///
/// # Errors
/// The operating system refused to start the threads.
pub fn runtime(worker_threads: u32) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Ok(n @ 1..) = usize::try_from(worker_threads) {
        builder.worker_threads(n);
    }
    builder.enable_all().build()
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C) and starts the graceful shutdown.
///
/// A second signal while shutting down ends the process at once (exit code 130):
/// an operator who asks twice does not want to wait for the grace period. Nothing
/// is lost by it: the durable log is crash-safe and unacknowledged events are
/// redelivered.
pub async fn shutdown_signal() {
    termination().await;
    tracing::info!("shutdown signal received; send it again to exit immediately");
    tokio::spawn(async {
        termination().await;
        tracing::warn!("second shutdown signal: exiting without waiting for the drain");
        std::process::exit(FORCED_EXIT_CODE);
    });
}

/// The exit code of a forced (second-signal) exit, as shells report an interrupt.
pub const FORCED_EXIT_CODE: i32 = 130;

async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_has_the_threads_asked_for() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        for (asked, workers) in [(1, 1), (3, 3), (0, cores)] {
            let rt = runtime(asked).unwrap();
            assert_eq!(rt.metrics().num_workers(), workers, "asked for {asked}");
            // timers and I/O are enabled
            rt.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(1)).await });
        }
    }

    fn n(args: &[&str]) -> Vec<String> {
        normalize_go_flags(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn go_flags_become_gnu_flags() {
        assert_eq!(
            n(&[
                "bin",
                "-conf=/data/config.yaml",
                "-metrics-address",
                ":2112",
                "-kubeconfig=/k"
            ]),
            vec![
                "bin",
                "--config=/data/config.yaml",
                "--metrics-address",
                ":2112",
                "--kubeconfig=/k"
            ]
        );
        assert_eq!(
            n(&["bin", "--conf", "x", "-h"]),
            vec!["bin", "--config", "x", "-h"]
        );
        assert_eq!(n(&["bin", "--config", "-"]), vec!["bin", "--config", "-"]);
    }
}
