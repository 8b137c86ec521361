//! The soak (scenario 4's second promise): the end-to-end pipeline with one ruler at
//! 1,000 events/s for 10 minutes, sampling the ruler's and the exporter's RSS. The
//! ruler must stay flat: RSS growth over the second half of the run (after queues,
//! caches and allocator pools have warmed up) is checked against a small bound.

use std::time::Duration;

use super::Ctx;
use super::e2e::Pipeline;
use crate::error::Result;
use crate::procfs::mib;
use crate::report::{Row, Target};
use crate::stats::{RssSampler, rss_trend};

/// Allowed ruler RSS growth over the second half of the soak (MiB).
const MAX_GROWTH_MIB: f64 = 4.0;

/// Runs the scenario.
///
/// # Errors
/// A process fails.
pub async fn run(ctx: &mut Ctx) -> Result<Vec<Row>> {
    // the API server's event TTL keeps the simulator (in this process) bounded
    let cap_mib = ctx.sizes.soak_log_max_mib;
    let mut p = Pipeline::start(
        ctx,
        "soak",
        1,
        Some(Duration::from_secs(120)),
        cap_mib.map(|m| m << 20),
    )
    .await?;
    let every = ctx.sizes.sample_every;
    let ruler_rss = RssSampler::start(p.rulers[0].pid(), every);
    let exporter_rss = RssSampler::start(p.exporter.proc.pid(), every);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (ctx.sizes.e2e_rate * ctx.sizes.soak.as_secs_f64()) as usize;
    let drive = p
        .drive(&ctx.samples, "soak-", n, Some(ctx.sizes.e2e_rate))
        .await?;
    let ruler_points = ruler_rss.finish();
    let exporter_points = exporter_rss.finish();
    let secs = ctx.sizes.soak.as_secs();
    let capped = cap_mib.map_or_else(String::new, |m| format!(", log capped at {m} MiB"));
    let mut row = drive.row(
        format!(
            "soak: e2e @{} ev/s for {secs} s, 1 ruler{capped}",
            ctx.sizes.e2e_rate
        ),
        &p,
    );
    row.peak_rss_mib = Some(mib(p.rulers[0].memory().peak));
    let ruler = rss_trend(&ruler_points);
    let exporter = rss_trend(&exporter_points);
    if let Some(t) = ruler {
        row = row.note(format!(
            "ruler RSS mid {:.1} → end {:.1} MiB (max {:.1})",
            mib(t.mid),
            mib(t.end),
            mib(t.max)
        ));
    }
    if let Some(t) = exporter {
        row = row.note(format!(
            "exporter RSS mid {:.1} → end {:.1} MiB (max {:.1})",
            mib(t.mid),
            mib(t.end),
            mib(t.max)
        ));
    }
    if let Some(bytes) = p.exporter.metric("herald_exporter_log_bytes").await {
        row = row.note(format!(
            "log at the end {:.1} MiB",
            bytes / f64::from(1 << 20)
        ));
    }
    if let Some(used) = disk_usage(&p.data_dir) {
        row = row.note(format!("data directory on disk {:.1} MiB", mib(used)));
    }
    if let Some(lost) = p
        .exporter
        .metric("herald_exporter_log_lost_events_total")
        .await
    {
        row = row.note(format!(
            "{lost} removed by retention before the ruler acknowledged them"
        ));
    }
    row = row.target(
        Target::MaxRssGrowthMib(MAX_GROWTH_MIB),
        ruler.map(|t| t.growth_mib()),
    );
    p.stop().await?;
    ctx.add_rss_series("soak: ruler RSS (MiB)", &ruler_points);
    ctx.add_rss_series("soak: exporter RSS (MiB)", &exporter_points);
    Ok(vec![row])
}

/// Bytes the files under `dir` occupy on disk (allocated blocks, not their lengths),
/// or `None` when it cannot be read.
fn disk_usage(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        let meta = entry.metadata().ok()?;
        total += if meta.is_dir() {
            disk_usage(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_allocated_blocks_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), vec![1u8; 100_000]).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![1u8; 50_000]).unwrap();
        let used = disk_usage(dir.path()).unwrap();
        assert!((150_000..=200_000).contains(&used), "{used}");
        assert_eq!(disk_usage(&dir.path().join("missing")), None);
    }
}
