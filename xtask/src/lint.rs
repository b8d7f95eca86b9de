//! `cargo xtask lint`: what must be clean before a commit, in the order that fails fastest —
//! formatting, then clippy with warnings as errors on userspace (every crate but the eBPF one,
//! all targets) and on the eBPF crate for the BPF target (the two passes of aya-template).

use std::process::Command;

use crate::build;

pub fn run() -> anyhow::Result<()> {
    build::run(Command::new("cargo").args(["fmt", "--all", "--check"]))?;
    build::run(Command::new("cargo").args([
        "clippy",
        "--workspace",
        "--exclude",
        "observer-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    build::run(Command::new("cargo").args([
        "clippy",
        "-p",
        "observer-ebpf",
        "--target",
        "bpfel-unknown-none",
        "-Zbuild-std=core",
        "--",
        "-D",
        "warnings",
    ]))?;
    eprintln!("xtask: lint clean");
    Ok(())
}
