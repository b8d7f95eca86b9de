//! Headless Chromium (Debian's `chromium`, installed by scripts/setup): opens a page the way a
//! reader would, to check the DOM it builds and keep a screenshot.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

/// Runs chromium headless on `page` with `args`; each run gets its own profile directory, so
/// runs in parallel (or a browser left open) do not share one.
fn run(page: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let profile = std::env::temp_dir().join(format!(
        "observer-chromium-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let url = format!(
        "file://{}",
        page.canonicalize().map_err(|e| e.to_string())?.display()
    );
    let out = Command::new("timeout")
        .arg(Duration::from_secs(120).as_secs().to_string())
        .args(["chromium", "--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(&url)
        .output()
        .map_err(|e| format!("cannot run chromium (scripts/setup installs it): {e}"))?;
    let _ = std::fs::remove_dir_all(&profile);
    if !out.status.success() {
        return Err(format!(
            "chromium failed on {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// The DOM Chromium built from `page`, serialized.
pub fn dump_dom(page: &Path) -> Result<String, String> {
    run(page, &["--dump-dom"]).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A PNG of `page` at `width`×`height`, written to `png`.
pub fn screenshot(page: &Path, png: &PathBuf, width: u32, height: u32) -> Result<(), String> {
    let _ = std::fs::remove_file(png);
    run(
        page,
        &[
            &format!("--screenshot={}", png.display()),
            &format!("--window-size={width},{height}"),
            "--hide-scrollbars",
        ],
    )?;
    match std::fs::metadata(png) {
        Ok(m) if m.len() > 0 => Ok(()),
        _ => Err(format!("chromium wrote no screenshot to {}", png.display())),
    }
}
