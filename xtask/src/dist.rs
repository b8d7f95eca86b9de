//! `cargo xtask dist`: the files an install needs, from the sources — the man pages and shell
//! completions regenerated from cli.rs into dist/, the release binary (eBPF programs embedded),
//! and the Debian package (cargo-deb, per observer's [package.metadata.deb]).

use std::{path::PathBuf, process::Command};

use anyhow::Context as _;

use crate::build::{run, workspace_root};

/// Builds target/debian/observer_*.deb and returns its path; `regenerate`: rewrite dist/ from
/// cli.rs first (the test lane does not: there the sync test has already checked dist/).
pub fn run_dist(regenerate: bool) -> anyhow::Result<PathBuf> {
    if regenerate {
        // The generator is the sync test itself, in its rewrite mode: one code path for both.
        run(Command::new("cargo")
            .args(["test", "-p", "observer", "--lib", "dist_files"])
            .env("UPDATE_DIST", "1"))?;
    }
    run(Command::new("cargo").args(["build", "--release", "-p", "observer"]))?;
    let out = Command::new("cargo")
        .args(["deb", "-p", "observer", "--no-build"])
        .current_dir(workspace_root())
        .output()
        .context("cargo deb (installed by scripts/setup)")?;
    anyhow::ensure!(
        out.status.success(),
        "cargo deb failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // cargo-deb prints the package's path as its last line.
    let deb = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| PathBuf::from(l.trim()))
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("cargo deb did not name the package it built")?;
    eprintln!("xtask: built {}", deb.display());
    Ok(deb)
}
