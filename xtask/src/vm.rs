//! The VM lanes: the capture tests inside QEMU on Debian's stock kernels, where fentry works
//! (scripts/vm/run does the booting): Debian 12's 6.1, where sock_send_length / sk_data_ready
//! do not exist, and Debian 13's 6.12, which has them, consume_skb's `location`, and the struct
//! changes of the ≥ 6.8 kernels Ubuntu 24.04 and Fedora run (iov_iter's `__iov`, ...).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use crate::{build::Binaries, libtest::Outcome, test::LaneResult};

/// Strategies tested in the guest. Each is a separate test run, so results say which failed.
const STRATEGIES: [&str; 2] = ["fentry", "tracepoint"];

/// The kernels booted (scripts/vm/run --kernel), each with its distribution for messages.
pub const KERNELS: [(&str, &str); 2] = [("bookworm", "Debian 12"), ("trixie", "Debian 13")];

/// Every strategy on every kernel; lanes are named after the kernel release the guest reports.
pub fn run_capture_tests(bins: &Binaries) -> anyhow::Result<Vec<LaneResult>> {
    run_capture_tests_on(bins, &[], &[])
}

/// The capture tests on the kernels named in `suites` (all when empty), each test run given
/// `args` too (a test name filter, …).
pub fn run_capture_tests_on(
    bins: &Binaries,
    suites: &[String],
    args: &[String],
) -> anyhow::Result<Vec<LaneResult>> {
    let mut results = Vec::new();
    for (suite, distro) in KERNELS {
        if suites.is_empty() || suites.iter().any(|s| s == suite) {
            results.extend(run_on(bins, suite, distro, args)?);
        }
    }
    Ok(results)
}

/// One guest on `suite`'s kernel runs the capture tests with each strategy.
fn run_on(
    bins: &Binaries,
    suite: &str,
    distro: &str,
    args: &[String],
) -> anyhow::Result<Vec<LaneResult>> {
    let mut script = String::from("uname -r; ");
    // Test names and filters are plain words, put in the guest's shell line as they are.
    if let Some(a) = args.iter().find(|a| {
        !a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:".contains(c))
    }) {
        anyhow::bail!("a VM test argument must be a test name, a filter or a --flag: {a:?}");
    }
    let extra = args.join(" ");
    let runner = crate::test::runner_args().join(" ");
    for s in STRATEGIES {
        // One marker line per strategy with the test runner's exit status, parsed below.
        script.push_str(&format!(
            "echo \"== capture tests, --probe {s}\"; OBSERVER_TEST_START_SECS=1500 OBSERVER_PROBE={s} OBSERVER_BIN_DIR=/opt/observer ./capture {runner} {extra}; echo \"@@LANE {s} $?\"; "
        ));
    }
    let root = crate::build::workspace_root();
    eprintln!("xtask: booting {distro}'s kernel under QEMU for the fentry lanes");
    let started = std::time::Instant::now();
    let mut out = Command::new(root.join("scripts/vm/run"))
        .args(["--kernel", suite, "--timeout", "3600", "--mem", "2G"])
        .arg("--file")
        .arg(&bins.observer)
        .arg("--file")
        .arg(&bins.nsend)
        .arg("--file")
        .arg(format!("{}:capture", bins.capture_tests.display()))
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()?;
    let (text, _) = console(&mut out)?;
    eprintln!(
        "xtask: the {distro} guest took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(capture_lanes(&text))
}

/// Each strategy's lane from a capture guest's console: its tests' JSON events between its
/// header and its `@@LANE` marker, passed when the marker says the runner exited 0.
fn capture_lanes(text: &str) -> Vec<LaneResult> {
    // The guest prints `uname -r` first; vm/run's own lines start with "vm:" or "[vm]".
    let kernel = text
        .lines()
        .map(str::trim)
        .find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("?")
        .to_string();
    let mut results = Vec::new();
    for s in STRATEGIES {
        let section = section_of(text, s);
        results.push(LaneResult {
            lane: format!("VM {kernel}, --probe {s}"),
            passed: lane_status(text, s) == Some(0),
            tests: crate::libtest::results(&section),
            notes: Vec::new(),
        });
    }
    results
}

/// The exit status the guest's `@@LANE STRATEGY N` marker gives.
fn lane_status(text: &str, strategy: &str) -> Option<i32> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("@@LANE {strategy} ")))
        .and_then(|v| v.trim().parse::<i32>().ok())
}

/// The guest output between this strategy's header and its marker.
fn section_of(text: &str, strategy: &str) -> String {
    let start = format!("== capture tests, --probe {strategy}");
    let end = format!("@@LANE {strategy} ");
    let from = text
        .find(&start)
        .map(|i| i + start.len())
        .unwrap_or(text.len());
    let to = text[from..]
        .find(&end)
        .map(|i| from + i)
        .unwrap_or(text.len());
    text[from..to].to_string()
}

/// The verdict tests inside a Debian 13 guest whose init is systemd 257 (scripts/vm/run
/// --init systemd): the observer installed from the .deb (`dpkg -i`), the tests driving the
/// guest's own PID 1 (`OBSERVER_TESTBED=host`), once as a user runs it — no --probe, which
/// must pick fentry there — and once with `--probe tracepoint`.
///
/// `probes` picks the runs (both when empty); `args` go to each run of the test executable (a
/// test name filter, …), and VERDICTS_SCENARIO / VERDICTS_DUMP pass through to the guest.
pub fn run_systemd_guest(
    bins: &Binaries,
    deb: &std::path::Path,
    probes: &[String],
    args: &[String],
) -> anyhow::Result<Vec<LaneResult>> {
    let root = crate::build::workspace_root();
    // (lane strategy, environment of the test run)
    let all: [(&str, &str); 2] = [
        ("fentry", "OBSERVER_EXPECT_STRATEGY=fentry"),
        (
            "tracepoint",
            "OBSERVER_PROBE=tracepoint OBSERVER_EXPECT_STRATEGY=tracepoint",
        ),
    ];
    if let Some(p) = probes.iter().find(|p| !all.iter().any(|(s, _)| s == p)) {
        anyhow::bail!("--probe {p}: the guest runs fentry or tracepoint");
    }
    let runs: Vec<(&str, &str)> = all
        .into_iter()
        .filter(|(s, _)| probes.is_empty() || probes.iter().any(|p| p == s))
        .collect();
    let mut passed_env = String::new();
    for name in ["VERDICTS_SCENARIO", "VERDICTS_DUMP"] {
        if let Ok(v) = std::env::var(name) {
            passed_env.push_str(&format!("{name}={} ", shell_quote(&v)));
        }
    }
    let test_args: String = args
        .iter()
        .map(|a| format!(" {}", shell_quote(a)))
        .collect();
    let runner = crate::test::runner_args().join(" ");
    // The package's service records everything both runs send, as it would on a user's
    // machine; checked afterwards (RECORD_CHECKS). Under TCG (systemd-detect-virt says "qemu",
    // not "kvm") the scenarios get their emulated-CPU drop-ins (OBSERVER_EMULATED).
    let mut script = String::from(
        "uname -r; dpkg -i ./observer.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; echo '@@DPKG failed'; }; \
         dpkg-query -W observer; command -v observer; observer check; mkdir -p /tmp/target; \
         systemctl enable --now observer-record.service; \
         [ \"$(systemd-detect-virt)\" = qemu ] && export OBSERVER_EMULATED=1; ",
    );
    for &(s, env) in &runs {
        script.push_str(&format!(
            "echo \"== verdict tests, --probe {s}\"; rm -f /tmp/summary; \
             env {passed_env}{env} OBSERVER_TESTBED=host OBSERVER_BIN_DIR=/usr/bin OBSERVER_TESTBED_UNITS=/opt/observer/units \
             OBSERVER_TEST_START_SECS=1500 OBSERVER_VERDICT_SUMMARY=/tmp/summary CARGO_TARGET_DIR=/tmp/target \
             VERDICTS_KEEP=1 ./verdicts {runner}{test_args}; rc=$?; \
             for f in /tmp/observer-verdicts-*.rec; do [ -e \"$f\" ] && mv \"$f\" /results/{s}-$(basename \"$f\"); done; \
             sed 's/^/@@NOTE {s} /' /tmp/summary 2>/dev/null; echo \"@@LANE {s} $rc\"; "
        ));
    }
    // The service's checks expect every scenario of both runs.
    let whole = runs.len() == all.len() && args.is_empty() && passed_env.is_empty();
    if whole {
        script.push_str(RECORD_CHECKS);
    }
    // Recordings of failed runs come back here (VERDICTS_KEEP).
    let results_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("vm-systemd");
    let _ = std::fs::remove_dir_all(&results_dir);
    std::fs::create_dir_all(&results_dir)?;
    eprintln!(
        "xtask: booting Debian 13 with systemd 257 as PID 1 under QEMU for the verdict lanes"
    );
    let started = std::time::Instant::now();
    let mut out = Command::new(root.join("scripts/vm/run"))
        .args([
            "--kernel",
            "trixie",
            "--init",
            "systemd",
            "--timeout",
            "3600",
        ])
        .args(["--mem", "2G"])
        .arg("--results")
        .arg(&results_dir)
        .arg("--file")
        .arg(format!("{}:observer.deb", deb.display()))
        .arg("--file")
        .arg(format!("{}:verdicts", bins.verdict_tests.display()))
        .arg("--file")
        .arg(format!(
            "{}:units",
            root.join("tests/testbed/units").display()
        ))
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()?;
    let (text, status) = console(&mut out)?;
    eprintln!(
        "xtask: the systemd guest took {:.0} s (scripts/vm/run exit {status})",
        started.elapsed().as_secs_f64()
    );
    // "6.12" of `uname -r`, "257" of the guest's "[vm] guest up ... (systemd 257 (...))" line.
    let kernel = text
        .lines()
        .map(str::trim)
        .find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|k| k.split('.').take(2).collect::<Vec<_>>().join("."))
        .unwrap_or_else(|| "?".into());
    let systemd = text
        .lines()
        .find_map(|l| {
            l.split_once("(systemd ")?
                .1
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into());
    let installed = !text.contains("@@DPKG failed");
    let mut results = Vec::new();
    for &(s, _) in &runs {
        let status = lane_status(&text, s);
        let section = section_between(
            &text,
            &format!("== verdict tests, --probe {s}"),
            &format!("@@LANE {s} "),
        );
        let notes: Vec<String> = text
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix(&format!("@@NOTE {s} "))
                    .map(str::to_owned)
            })
            .collect();
        // "systemd 257: M/K messages judged like systemd" (the system manager's test).
        let judged = notes
            .iter()
            .find(|n| n.starts_with("systemd ") && !n.contains("user manager"))
            .and_then(|n| n.split_whitespace().nth(2).map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        let tests = crate::libtest::results(&section);
        let ok = tests.iter().filter(|t| t.outcome == Outcome::Ok).count();
        let mut lane_notes = vec![format!("{ok} passed, {} failed", tests.len() - ok)];
        if !installed {
            lane_notes.push("dpkg -i of the .deb failed in the guest".into());
        }
        lane_notes.extend(notes);
        results.push(LaneResult {
            lane: format!(
                "VM {kernel} + systemd {systemd} as PID 1, --probe {s}: verdicts {judged}"
            ),
            passed: installed && status == Some(0) && !tests.is_empty(),
            tests,
            notes: lane_notes,
        });
    }
    if whole {
        results.push(record_service_lane(&text, installed, &kernel, &systemd));
    }
    eprintln!(
        "xtask: recordings of failed runs, if any: {}",
        results_dir.display()
    );
    Ok(results)
}

/// observer-record.service: the checks print libtest's JSON events, read as that lane's tests.
fn record_service_lane(text: &str, installed: bool, kernel: &str, systemd: &str) -> LaneResult {
    let section = section_between(text, "== observer-record.service", "@@RECORD done");
    let tests = crate::libtest::results(&section);
    let ok = tests.iter().filter(|t| t.outcome == Outcome::Ok).count();
    LaneResult {
        lane: format!(
            "VM {kernel} + systemd {systemd} as PID 1: observer-record.service from the .deb"
        ),
        passed: installed && !tests.is_empty() && ok == tests.len(),
        notes: vec![format!("{ok} passed, {} failed", tests.len() - ok)],
        tests,
    }
}

/// The package's hardened service, enabled before the verdict runs: it ran through both,
/// captured with fentry, its recording replays the scenarios' datagrams (both runs), and
/// diagnose names a failed scenario's cause.
const RECORD_CHECKS: &str = r#"echo "== observer-record.service"
ck() { if eval "$2"; then r=ok; else r=failed; fi; echo "{ \"type\": \"test\", \"name\": \"$1\", \"event\": \"$r\" }"; }
rec=/var/lib/observer/notify.rec
ck record_service_stayed_active '[ "$(systemctl is-active observer-record.service)" = active ] && [ "$(systemctl show -p NRestarts --value observer-record.service)" = 0 ]'
ck record_service_captures_with_fentry 'journalctl -u observer-record.service --no-pager -o cat | grep -q "capturing with the fentry strategy"'
systemctl stop observer-record.service
observer replay --json $rec >/tmp/replay.json 2>/tmp/replay.err
n=$(grep '"record":"event"' /tmp/replay.json | grep -c '"unit":"tb-notify-python.service"')
echo "recording: $(ls -l $rec* | wc -l) file(s), $(grep -c '"record":"event"' /tmp/replay.json) events, tb-notify-python.service $n"
acc=$(grep '"record":"event"' /tmp/replay.json | grep '"unit":"tb-notify-python.service"' | grep -c '"verdict":"accepted"')
ck record_replays_both_runs '[ "$acc" -ge 2 ]'
grep '"record":"event"' /tmp/replay.json | grep '"unit":"tb-notify-python.service"' | python3 -c 'import json, sys
for l in sys.stdin:
    e = json.loads(l); print("  tb-notify-python.service:", e.get("ts"), e.get("payload"), e.get("verdict"), e.get("note") or "", e.get("reason") or "")'
observer diagnose -u tb-notify-never.service $rec >/tmp/diagnose.txt 2>&1
sed -n 1,12p /tmp/diagnose.txt
ck record_diagnose_names_the_cause 'grep -q "no READY=1 arrived" /tmp/diagnose.txt'
echo "@@RECORD done"
"#;

/// `text` as one word for sh -c.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The text between `start` and the next `end`.
fn section_between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or(text.len());
    let to = text[from..]
        .find(end)
        .map(|i| from + i)
        .unwrap_or(text.len());
    text[from..to].to_string()
}

/// Streams a guest's console (scripts/vm/run's stdout: tests take minutes under emulation) as
/// it comes, keeps it to parse, and waits for the run to end.
fn console(run: &mut std::process::Child) -> anyhow::Result<(String, std::process::ExitStatus)> {
    let mut text = String::new();
    for line in BufReader::new(run.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        text.push_str(&line);
        text.push('\n');
    }
    Ok((text, run.wait()?))
}

#[cfg(test)]
mod tests;
