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

use std::{
    io::Error,
    path::{Path, PathBuf},
    time::SystemTime,
};

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

/// A binary built by this workspace: `$OBSERVER_BIN_DIR/NAME` (set by `cargo xtask test`,
/// which has just built it), else next to the running test executable's profile directory,
/// else `target/release/NAME`. Without OBSERVER_BIN_DIR the observer found is refused when
/// it is missing or older than its sources: a test of yesterday's binary proves nothing.
pub fn workspace_bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("OBSERVER_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    // Test executables live in target/<profile>/deps/.
    let found = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join(name)))
        .filter(|candidate| candidate.exists())
        .unwrap_or_else(|| target_dir().join("release").join(name));
    if name == "observer" {
        refuse_stale(&found);
    }
    found
}

/// Panics, in one line naming the lane to run instead, if `bin` is missing or older than the
/// newest file of the crates it is built from.
fn refuse_stale(bin: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
    let newest = ["observer", "observer-common", "observer-ebpf", "Cargo.lock"]
        .iter()
        .filter_map(|p| newest_file(&root.join(p)))
        .max_by_key(|(t, _)| *t);
    let why = match (built, newest) {
        (None, _) => "does not exist".to_string(),
        (Some(b), Some((t, path))) if t > b => format!(
            "is older than {}",
            path.strip_prefix(&root).unwrap_or(&path).display()
        ),
        _ => return,
    };
    panic!(
        "{} {why}: run the tests through `cargo xtask test {}`, which builds it (and sets OBSERVER_BIN_DIR)",
        bin.display(),
        lane()
    );
}

/// The newest modification time under `path` (a file, or a directory walked whole, its
/// `target` directories left out), with the file that has it.
fn newest_file(path: &Path) -> Option<(SystemTime, PathBuf)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_dir() {
        return Some((meta.modified().ok()?, path.to_path_buf()));
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter(|e| e.file_name() != "target")
        .filter_map(|e| newest_file(&e.path()))
        .max_by_key(|(t, _)| *t)
}

/// The xtask lane of the running test executable (`target/…/deps/capture-HASH` → capture).
fn lane() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = stem.split('-').next().unwrap_or_default();
    match name {
        "verdicts" => "verdicts --systemd N".into(),
        "" => "LANE".into(),
        other => other.into(),
    }
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

/// Fails unless running as root: these tests load BPF programs or boot containers. They are
/// also `#[ignore = "needs root: …"]`, so a plain `cargo test` lists them as ignored with the
/// lane that runs them (`cargo xtask test` passes --include-ignored); this catches
/// --include-ignored without root, which used to pass silently.
#[macro_export]
macro_rules! require_root {
    () => {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            panic!("needs root (loads BPF programs, boots containers): run as root through cargo xtask test");
        }
    };
}
