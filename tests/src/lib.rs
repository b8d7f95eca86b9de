//! Helpers for the root-only integration tests: run the real `observer` binary, bind receivers,
//! send real datagrams, and read back the JSON events.

pub mod browser;
pub mod crafted;
pub mod fixture;
pub mod hostile;
pub mod observer;
pub mod prometheus;
pub mod reader;
pub mod sender;
pub mod testbed;

use std::{io::Error, path::PathBuf};

/// errno of a failed send, by name (what the observer reports too).
pub fn errno_name(e: &Error) -> String {
    match e.raw_os_error() {
        Some(libc::EAGAIN) => "EAGAIN".into(),
        Some(libc::ENOENT) => "ENOENT".into(),
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::ECONNREFUSED) => "ECONNREFUSED".into(),
        Some(n) => format!("errno {n}"),
        None => e.to_string(),
    }
}

/// The workspace's target directory (`CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A binary built by this workspace: `$OBSERVER_BIN_DIR/NAME`, else next to the running test
/// executable's profile directory, else `target/release/NAME`.
pub fn workspace_bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("OBSERVER_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    // Test executables live in target/<profile>/deps/.
    if let Some(profile_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(PathBuf::from))
    {
        let candidate = profile_dir.join(name);
        if candidate.exists() {
            return candidate;
        }
    }
    target_dir().join("release").join(name)
}

/// Which capture strategy the tests ask for (`OBSERVER_PROBE`, default `auto`).
pub fn probe() -> String {
    std::env::var("OBSERVER_PROBE").unwrap_or_else(|_| "auto".into())
}

/// A unique name for this test's sockets and cgroups.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "observer-test-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Skips (passes with a note) unless running as root: these tests load BPF programs.
#[macro_export]
macro_rules! require_root {
    () => {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root (loads BPF programs)");
            return;
        }
    };
}
