//! This machine: an optimized re-run of the bench, leftovers of killed benches, the capture
//! strategies and tools available, and what the report says about the hardware.

use std::{fs, path::Path, process::Command, thread};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::build;

/// `cargo xtask` builds xtask without optimizations; the bench's readers must keep up with a
/// tracer printing 100 000 lines/s without taking CPU from what is measured, so the bench runs
/// itself again, built with them.
pub(super) fn rerun_optimized() -> anyhow::Result<()> {
    build::run(Command::new("cargo").args(["build", "--release", "--quiet", "-p", "xtask"]))?;
    let exe = crate::build::target_dir().join("release/xtask");
    eprintln!("xtask: running the bench optimized ({})", exe.display());
    let status = Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .status()
        .with_context(|| format!("running {}", exe.display()))?;
    if !status.success() {
        bail!("the bench failed ({status})");
    }
    Ok(())
}

/// Socket directories of earlier benches that were killed before they could clean up.
pub(super) fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir("/tmp") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("observer-bench-")
            && pid.parse::<u32>().is_ok()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The strategies `observer check` reports usable, in the order it lists them.
pub(super) fn usable_strategies(observer: &Path) -> anyhow::Result<Vec<String>> {
    let mut v = Vec::new();
    for c in crate::check::strategies(observer)? {
        if c.usable() {
            v.push(c.name);
        } else {
            eprintln!(
                "xtask: the {} strategy is {} on this kernel: not benchmarked",
                c.name, c.status
            );
        }
    }
    Ok(v)
}

pub(super) fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

pub(super) fn machine() -> Value {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default().trim().to_string();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| {
            l.strip_prefix("PRETTY_NAME=")
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    json!({
        "cpu": cpu,
        "cpus": thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": read("/proc/sys/kernel/osrelease"),
        "os": os,
        "loadavg": loadavg(),
    })
}

/// The 1, 5 and 15 minute load averages.
pub(super) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
