//! `cargo xtask test`: everything, in the order that fails fastest — unit tests (pure logic),
//! the fuzz targets briefly, the capture tests on this kernel with each strategy it allows, the
//! recording, hostile-input and hostile-namespace tests, the real-systemd lanes (verdicts;
//! package, service and journal; Prometheus metrics), then the VM lanes: the capture tests on
//! Debian's kernels, and the verdict tests against systemd as PID 1 of a Debian 13 guest.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use anyhow::bail;

use crate::{
    build::{self, Binaries},
    libtest::{self, Outcome, TestResult},
};

/// One run of a test binary under some condition (kernel, strategy).
pub struct LaneResult {
    pub lane: String,
    pub passed: bool,
    /// Each test the runner reported, from its JSON events.
    pub tests: Vec<TestResult>,
    /// Lines shown under the lane's name (what the lane measured).
    pub notes: Vec<String>,
}

/// One lane alone, with arguments for its test executable (`cargo xtask test LANE -- ARGS`).
pub enum Only {
    Capture(Vec<String>),
    Recording(Vec<String>),
    Hostile(Vec<String>),
    Namespaces(Vec<String>),
    Verdicts(Vec<u32>, Vec<String>),
    Ship(Vec<String>),
    Metrics(Vec<String>),
    Manager(Vec<String>),
    Vm(Vec<String>, Vec<String>),
    VmSystemd(Vec<String>, Vec<String>),
}

pub fn run_only(only: Only) -> anyhow::Result<()> {
    let bins = build::release_binaries()?;
    let results = match only {
        Only::Capture(args) => host_capture_tests(&bins, &args)?,
        Only::Recording(args) => vec![lane(
            format!("host {}, record/replay", kernel_release()),
            tests_in(&bins.recording_tests, &bins).args(&args),
        )?],
        Only::Hostile(args) => vec![hostile_tests(&bins, &args)?],
        Only::Namespaces(args) => vec![namespace_tests(&bins, &args)?],
        Only::Verdicts(versions, args) => {
            let versions = if versions.is_empty() {
                systemd_versions()?
            } else {
                versions
            };
            verdict_tests(&bins, &versions, &args)?
        }
        Only::Ship(args) => vec![ship_tests(&bins, &args)?],
        Only::Metrics(args) => vec![metrics_tests(&bins, &args)?],
        Only::Manager(args) => vec![manager_tests(&args)?],
        Only::Vm(kernels, args) => crate::vm::run_capture_tests_on(&bins, &kernels, &args)?,
        Only::VmSystemd(probes, args) => {
            let deb = crate::dist::run_dist(false)?;
            crate::vm::run_systemd_guest(&bins, &deb, &probes, &args)?
        }
    };
    report(&results)
}

pub fn run(with_vm: bool) -> anyhow::Result<()> {
    build::run(Command::new("cargo").args([
        "test",
        "--workspace",
        "--exclude",
        "observer-tests",
        "--exclude",
        "observer-ebpf",
    ]))?;
    let fuzz = crate::fuzz::run(crate::fuzz::TEST_SECONDS)?;
    let bins = build::release_binaries()?;
    let mut results = vec![fuzz];
    results.extend(host_capture_tests(&bins, &[])?);
    results.push(recording_tests(&bins)?);
    results.push(hostile_tests(&bins, &[])?);
    results.push(namespace_tests(&bins, &[])?);
    results.extend(verdict_tests(&bins, &systemd_versions()?, &[])?);
    results.push(ship_tests(&bins, &[])?);
    results.push(metrics_tests(&bins, &[])?);
    results.push(manager_tests(&[])?);
    if with_vm {
        results.extend(crate::vm::run_capture_tests(&bins)?);
        let deb = crate::dist::run_dist(false)?;
        results.extend(crate::vm::run_systemd_guest(&bins, &deb, &[], &[])?);
    }
    report(&results)
}

/// The capture tests on this machine's kernel, with the strategy `auto` picks and, if that was
/// fentry, with the tracepoint one too.
fn host_capture_tests(bins: &Binaries, args: &[String]) -> anyhow::Result<Vec<LaneResult>> {
    let mut out = Vec::new();
    for probe in ["tracepoint", "fentry"] {
        if probe == "fentry" && !fentry_allowed(bins) {
            eprintln!("xtask: this kernel refuses fentry: the VM lane tests that strategy");
            continue;
        }
        eprintln!("xtask: capture tests on this kernel with --probe {probe}");
        out.push(lane(
            format!("host {}, --probe {probe}", kernel_release()),
            tests_in(&bins.capture_tests, bins)
                .args(args)
                .env("OBSERVER_PROBE", probe),
        )?);
    }
    Ok(out)
}

/// Recording round trips, a SIGKILLed recorder, rotation and damaged files, on this kernel.
fn recording_tests(bins: &Binaries) -> anyhow::Result<LaneResult> {
    eprintln!("xtask: recording tests on this kernel");
    lane(
        format!("host {}, record/replay", kernel_release()),
        &mut tests_in(&bins.recording_tests, bins),
    )
}

/// The systemd versions the testbed boots (`scripts/testbed versions`).
pub fn systemd_versions() -> anyhow::Result<Vec<u32>> {
    let out = Command::new(build::workspace_root().join("scripts/testbed"))
        .arg("versions")
        .output()?;
    if !out.status.success() {
        bail!("scripts/testbed versions failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect())
}

/// The verdict tests against each real systemd in `versions` (booted by scripts/testbed), one
/// lane per version; `filter` is passed to the test executable (a test name, `--nocapture`).
pub fn verdict_tests(
    bins: &Binaries,
    versions: &[u32],
    filter: &[String],
) -> anyhow::Result<Vec<LaneResult>> {
    let mut out = Vec::new();
    for v in versions {
        eprintln!("xtask: verdict tests against systemd {v} in a container");
        let summary = std::env::temp_dir().join(format!("observer-verdicts-{v}.summary"));
        let _ = std::fs::remove_file(&summary);
        let mut result = lane(
            format!("host, real systemd {v} (testbed): verdicts"),
            tests_in(&bins.verdict_tests, bins)
                .args(filter)
                .env("OBSERVER_SYSTEMD", v.to_string())
                .env("OBSERVER_VERDICT_SUMMARY", &summary)
                .current_dir(build::workspace_root().join("tests")),
        )?;
        // "systemd N: M/K messages judged like systemd", one line per test.
        if let Ok(text) = std::fs::read_to_string(&summary) {
            result.notes.extend(text.lines().map(str::to_owned));
        }
        let _ = std::fs::remove_file(&summary);
        out.push(result);
    }
    Ok(out)
}

/// Hostile input (issue 17): hand-made recordings, special files, senders that rewrite their
/// buffer or pass more iovecs than are captured, command-line mistakes; on this kernel.
fn hostile_tests(bins: &Binaries, args: &[String]) -> anyhow::Result<LaneResult> {
    eprintln!("xtask: hostile-input tests on this kernel");
    lane(
        format!("host {}, hostile input", kernel_release()),
        tests_in(&bins.hostile_tests, bins).args(args),
    )
}

/// Hostile and hung namespaces set up as an unprivileged user would (issue 17), on this kernel.
fn namespace_tests(bins: &Binaries, args: &[String]) -> anyhow::Result<LaneResult> {
    eprintln!("xtask: hostile namespace tests on this kernel");
    lane(
        format!("host {}, hostile namespaces", kernel_release()),
        tests_in(&bins.namespace_tests, bins).args(args),
    )
}

/// The .deb (built by `cargo xtask dist`) installed into a real systemd 252 container, its
/// hardened service recording there, and the journal sink against that container's journald.
fn ship_tests(bins: &Binaries, args: &[String]) -> anyhow::Result<LaneResult> {
    let deb = crate::dist::run_dist(false)?;
    eprintln!("xtask: package, service and journal tests against systemd 252 in a container");
    lane(
        "host, real systemd 252 (testbed): package, service, journal".into(),
        tests_in(&bins.ship_tests, bins)
            .args(args)
            .env("OBSERVER_DEB", &deb)
            .current_dir(build::workspace_root().join("tests")),
    )
}

/// The systemd the metrics lane boots: the one whose journal says least about a rejection.
const METRICS_SYSTEMD: u32 = 257;

/// Prometheus metrics (issue 19): a real Prometheus (Debian's, run by the test on a loopback
/// port) scraping the observer beside a real systemd 257 container; promtool on the endpoint,
/// the textfile and the shipped rules.
fn metrics_tests(bins: &Binaries, args: &[String]) -> anyhow::Result<LaneResult> {
    eprintln!(
        "xtask: metrics tests: Prometheus scraping the observer beside systemd {METRICS_SYSTEMD}"
    );
    lane(
        format!("host, real systemd {METRICS_SYSTEMD} (testbed) and Prometheus: metrics"),
        tests_in(&bins.metrics_tests, bins)
            .args(args)
            .env("OBSERVER_SYSTEMD", METRICS_SYSTEMD.to_string())
            .current_dir(build::workspace_root().join("tests")),
    )
}

/// The arguments every lane gives its test executable: one test at a time; the root-only
/// tests too (`#[ignore]`d for a plain `cargo test`, which would run them unprivileged or
/// against a stale binary); JSON events with each test's time, read by `libtest`.
pub fn runner_args() -> Vec<&'static str> {
    let mut args = vec!["--test-threads=1", "--include-ignored"];
    args.extend(libtest::JSON_ARGS);
    args
}

/// The library's tests that boot a systemd container (`#[ignore]`d in the unit lane): the
/// D-Bus client against systemd 252 (observer/src/manager/tests.rs).
fn manager_tests(args: &[String]) -> anyhow::Result<LaneResult> {
    eprintln!("xtask: the manager's D-Bus client against a real systemd 252 container");
    lane(
        "host, real systemd 252 (testbed): the manager's D-Bus client".into(),
        Command::new("cargo")
            .args(["test", "-p", "observer", "--lib", "--"])
            .args(["--ignored", "manager::tests::against_testbed"])
            .args(
                runner_args()
                    .into_iter()
                    .filter(|a| *a != "--include-ignored"),
            )
            .args(args),
    )
}

/// A test executable, one test at a time, using the release binaries.
fn tests_in(exe: &std::path::Path, bins: &Binaries) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(runner_args())
        .env("OBSERVER_BIN_DIR", bins.observer.parent().unwrap());
    cmd
}

/// Runs one lane's test executable, showing its output as it comes (JSON events as libtest's
/// text would say them), and reads its results from the events.
fn lane(name: String, cmd: &mut Command) -> anyhow::Result<LaneResult> {
    let mut child = cmd.stdout(Stdio::piped()).spawn()?;
    let mut text = String::new();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        if let Some(shown) = libtest::human(&line) {
            println!("{shown}");
        }
        text.push_str(&line);
        text.push('\n');
    }
    Ok(LaneResult {
        lane: name,
        passed: child.wait()?.success(),
        tests: libtest::results(&text),
        notes: Vec::new(),
    })
}

/// Whether this kernel loads the fentry strategy (asks the observer itself).
fn fentry_allowed(bins: &Binaries) -> bool {
    crate::check::strategies(&bins.observer)
        .is_ok_and(|s| s.iter().any(|c| c.name == "fentry" && c.usable()))
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Prints each lane's tests and a closing `N passed, N failed` line; fails if any lane failed.
pub fn report(results: &[LaneResult]) -> anyhow::Result<()> {
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    println!("\n== integration tests by lane");
    for r in results {
        println!(
            "{} — {}",
            r.lane,
            if r.passed { "passed" } else { "FAILED" }
        );
        for note in &r.notes {
            println!("    {note}");
        }
        for t in &r.tests {
            let secs = t.secs.map(|s| format!(" ({s:.1} s)")).unwrap_or_default();
            println!("    {:<7} {}{secs}", t.outcome.word(), t.name);
            match t.outcome {
                Outcome::Ok => passed += 1,
                Outcome::Failed => failed += 1,
                Outcome::Ignored => ignored += 1,
            }
        }
        if !r.passed && r.tests.iter().all(|t| t.outcome != Outcome::Failed) {
            failed += 1; // the runner failed without naming a test (crash, boot failure)
        }
    }
    if ignored > 0 {
        println!("{passed} passed, {failed} failed, {ignored} ignored");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    if failed > 0 || results.iter().any(|r| !r.passed) {
        bail!("some integration tests failed");
    }
    Ok(())
}
