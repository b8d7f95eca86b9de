//! The fuzz lane of `cargo xtask test`: each cargo-fuzz target (fuzz/) runs briefly from its
//! seeds; a crash (panic, sanitizer report, timeout) fails the lane and names the input file.

use std::process::Command;

use anyhow::Context as _;

use crate::{
    build::workspace_root,
    libtest::{Outcome, TestResult},
    test::LaneResult,
};

/// The targets in fuzz/Cargo.toml.
const TARGETS: [&str; 3] = ["reader", "notify", "said"];
/// Per target in `cargo xtask test`: long enough to get past the seeds into mutations, short
/// enough for every run.
pub const TEST_SECONDS: u32 = 20;
/// One input taking this long is a hang (a real one is milliseconds even under ASan).
const INPUT_TIMEOUT_SECS: u32 = 30;

pub fn run(seconds: u32) -> anyhow::Result<LaneResult> {
    let fuzz_dir = workspace_root().join("fuzz");
    let cargo_fuzz = || {
        let mut cmd = Command::new("cargo");
        // From fuzz/ so that fuzz/.cargo/config.toml applies; the variable is also set here
        // (observer/build.rs: no eBPF build for parsers' tests).
        cmd.arg("fuzz")
            .current_dir(&fuzz_dir)
            .env("OBSERVER_NO_EBPF", "1");
        cmd
    };
    eprintln!("xtask: building the fuzz targets (cargo fuzz build)");
    let built = cargo_fuzz()
        .arg("build")
        .status()
        .context("running cargo fuzz (scripts/setup installs it)")?;
    if !built.success() {
        return Ok(LaneResult {
            lane: lane_name(seconds),
            passed: false,
            tests: vec![TestResult::new(
                "build of the fuzz targets",
                Outcome::Failed,
            )],
            notes: Vec::new(),
        });
    }
    let mut tests = Vec::new();
    for target in TARGETS {
        // The first corpus directory collects what the run finds (kept between local runs,
        // git-ignored); the seeds are read only.
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        let out = cargo_fuzz()
            .args(["run", target])
            .arg(&corpus)
            .arg(fuzz_dir.join("seeds").join(target))
            .arg("--")
            .arg(format!(
                "-dict={}",
                fuzz_dir
                    .join("dicts")
                    .join(format!("{target}.dict"))
                    .display()
            ))
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
            .output()?;
        let log = String::from_utf8_lossy(&out.stderr);
        // libFuzzer's closing status line, e.g. "#16857 DONE cov: 4563 ft: 13123 corp: 989/3219Kb".
        if let Some(done) = log.lines().rev().find(|l| l.contains("DONE ")) {
            eprintln!("xtask: {target}: {done}");
        }
        if !out.status.success() {
            // The crash report and the reproducing command are at the end.
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("{}", lines[lines.len().saturating_sub(60)..].join("\n"));
        }
        tests.push(TestResult::new(
            format!("fuzz {target}"),
            Outcome::from_passed(out.status.success()),
        ));
    }
    Ok(LaneResult {
        lane: lane_name(seconds),
        passed: tests.iter().all(|t| t.outcome == Outcome::Ok),
        tests,
        notes: Vec::new(),
    })
}

fn lane_name(seconds: u32) -> String {
    format!("fuzz (cargo fuzz, {seconds} s per target, from fuzz/seeds)")
}
