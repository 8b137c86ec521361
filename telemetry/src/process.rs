//! Process plumbing shared by herald's binaries: kubernetes-event-exporter's Go-style
//! flags and the shutdown signal.

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

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
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
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::*;

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
