//! Finds (and first builds) the `herald-exporter` and `herald-ruler` binaries of the
//! same cargo profile as this harness, so `cargo run --release -p herald-bench` always
//! measures up-to-date release binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::info;

use crate::error::{BenchError, Result};

/// The binaries under test.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `herald-exporter`.
    pub exporter: PathBuf,
    /// `herald-ruler`.
    pub ruler: PathBuf,
    /// Cargo profile they were built with (`release`, `debug`, or `custom`).
    pub profile: String,
}

/// The directory holding this executable's sibling binaries (`target/<profile>`),
/// also when running as a test (`target/<profile>/deps`).
fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|source| BenchError::Spawn {
        program: "herald-bench".into(),
        source,
    })?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    Ok(dir)
}

/// Locates the binaries in `bin_dir`, or builds them with cargo (same profile and
/// target directory as this harness) and locates them next to it.
///
/// # Errors
/// Cargo fails, or a binary is missing afterwards.
pub fn prepare(bin_dir: Option<&Path>) -> Result<Binaries> {
    let (dir, profile) = match bin_dir {
        Some(d) => (d.to_path_buf(), "custom".to_owned()),
        None => {
            let dir = profile_dir()?;
            let profile = dir
                .file_name()
                .map_or_else(|| "debug".to_owned(), |n| n.to_string_lossy().into_owned());
            build(&profile, &dir)?;
            (dir, profile)
        }
    };
    let bins = Binaries {
        exporter: dir.join("herald-exporter"),
        ruler: dir.join("herald-ruler"),
        profile,
    };
    for b in [&bins.exporter, &bins.ruler] {
        if !b.is_file() {
            return Err(BenchError::Build(format!("{} does not exist", b.display())));
        }
    }
    Ok(bins)
}

/// Locates `herald-ruler` built with the `hooks` feature: `hooks/herald-ruler` under
/// `bin_dir`, or builds it with cargo into `<target>/hooks` (a target directory of
/// its own: the feature changes how serde_json parses numbers for everything in the
/// build, so it must not replace the binaries the other scenarios measure).
///
/// # Errors
/// Cargo fails, or the binary is missing afterwards.
pub fn prepare_hooks_ruler(bin_dir: Option<&Path>, profile: &str) -> Result<PathBuf> {
    let bin = match bin_dir {
        Some(d) => d.join("hooks").join("herald-ruler"),
        None => {
            let dir = profile_dir()?;
            let target = dir
                .parent()
                .map(|t| t.join("hooks"))
                .ok_or_else(|| BenchError::Build("no target directory".into()))?;
            run_cargo(
                profile,
                &target,
                &["-p", "herald-ruler", "--features", "hooks"],
            )?;
            target
                .join(dir.file_name().unwrap_or_default())
                .join("herald-ruler")
        }
    };
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(BenchError::Build(format!(
            "{} does not exist",
            bin.display()
        )))
    }
}

fn build(profile: &str, dir: &Path) -> Result<()> {
    match dir.parent() {
        // build into the target directory this harness runs from
        Some(target) => run_cargo(
            profile,
            target,
            &["-p", "herald-exporter", "-p", "herald-ruler"],
        ),
        None => Err(BenchError::Build("no target directory".into())),
    }
}

fn run_cargo(profile: &str, target: &Path, packages: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.arg("build").args(packages).arg("--bins");
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    cmd.env("CARGO_TARGET_DIR", target);
    info!(command = ?cmd, "building the binaries under test");
    let status = cmd.status().map_err(|source| BenchError::Spawn {
        program: cargo.to_string_lossy().into_owned(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError::Build(format!("cargo exited with {status}")))
    }
}
