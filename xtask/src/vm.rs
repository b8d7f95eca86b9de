//! The VM lanes: the capture tests inside QEMU on Debian's stock kernels, where fentry works
//! (scripts/vm/run does the booting): Debian 12's 6.1, where sock_send_length / sk_data_ready
//! do not exist, and Debian 13's 6.12, which has them, consume_skb's `location`, and the struct
//! changes of the ≥ 6.8 kernels Ubuntu 24.04 and Fedora run (iov_iter's `__iov`, ...).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use crate::{build::Binaries, test::LaneResult};

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
    for s in STRATEGIES {
        // One marker line per strategy with the test runner's exit status, parsed below.
        script.push_str(&format!(
            "echo \"== capture tests, --probe {s}\"; OBSERVER_TEST_START_SECS=1500 OBSERVER_PROBE={s} OBSERVER_BIN_DIR=/opt/observer ./capture --test-threads=1 {extra}; echo \"@@LANE {s} $?\"; "
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
    // Stream the guest's console (tests take minutes under emulation) and keep it to parse.
    let mut text = String::new();
    for line in BufReader::new(out.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        text.push_str(&line);
        text.push('\n');
    }
    out.wait()?;
    eprintln!(
        "xtask: the {distro} guest took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // The guest prints `uname -r` first; vm/run's own lines start with "vm:" or "[vm]".
    let kernel = text
        .lines()
        .map(str::trim)
        .find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("?")
        .to_string();
    let mut results = Vec::new();
    for s in STRATEGIES {
        let status = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("@@LANE {s} ")))
            .and_then(|v| v.trim().parse::<i32>().ok());
        let section = section_of(&text, s);
        results.push(LaneResult {
            lane: format!("VM {kernel}, --probe {s}"),
            passed: status == Some(0),
            tests: crate::test::test_lines(&section),
            notes: Vec::new(),
        });
    }
    Ok(results)
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
