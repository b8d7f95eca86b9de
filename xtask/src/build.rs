//! Building the binaries the tests and the VM lane run.

use std::{path::PathBuf, process::Command};

use anyhow::{Context as _, bail};

/// Paths of the release binaries: observer, nsend, and the integration test executables.
pub struct Binaries {
    pub observer: PathBuf,
    pub nsend: PathBuf,
    pub capture_tests: PathBuf,
    pub verdict_tests: PathBuf,
    pub recording_tests: PathBuf,
    pub hostile_tests: PathBuf,
    pub namespace_tests: PathBuf,
    pub ship_tests: PathBuf,
    pub metrics_tests: PathBuf,
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (relative to the workspace), else
/// `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => workspace_root().join(d),
        None => workspace_root().join("target"),
    }
}

/// Runs a command from the workspace root, echoing it; fails if it fails.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("{cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// `cargo build --release` of the observer and the test crate's binaries, `which` of them.
fn build_release(which: &[&str]) -> anyhow::Result<()> {
    run(Command::new("cargo")
        .args([
            "build",
            "--release",
            "-p",
            "observer",
            "-p",
            "observer-tests",
        ])
        .args(which))
}

/// Builds the release `observer` and the load generator `nload` (the benches); returns their
/// directory.
pub fn bench_binaries() -> anyhow::Result<PathBuf> {
    build_release(&["--bin", "observer", "--bin", "nload"])?;
    Ok(target_dir().join("release"))
}

pub fn release_binaries() -> anyhow::Result<Binaries> {
    build_release(&["--bins"])?;
    eprintln!("xtask: building the integration test executables");
    let out = Command::new("cargo")
        .args([
            "test",
            "--release",
            "-p",
            "observer-tests",
            "--tests",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(workspace_root())
        .output()?;
    if !out.status.success() {
        bail!(
            "building the integration tests failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let executable = |name: &str| {
        messages
            .iter()
            .find(|v| v["target"]["name"] == name && v["executable"].is_string())
            .and_then(|v| v["executable"].as_str().map(PathBuf::from))
            .with_context(|| format!("no {name} test executable in cargo's output"))
    };
    let release = target_dir().join("release");
    Ok(Binaries {
        observer: release.join("observer"),
        nsend: release.join("nsend"),
        capture_tests: executable("capture")?,
        verdict_tests: executable("verdicts")?,
        recording_tests: executable("recording")?,
        hostile_tests: executable("hostile")?,
        namespace_tests: executable("namespaces")?,
        ship_tests: executable("ship")?,
        metrics_tests: executable("metrics")?,
    })
}
