//! Verdicts against a real systemd (252, booted by scripts/testbed): each scenario unit is
//! started for real, and for every datagram the observer's verdict, and the exact lines it says
//! systemd logs for it, must equal what systemd's own journal shows for that unit — plus the
//! unit's resulting state. Root only.

use std::{path::PathBuf, time::Duration};

use observer_tests::{observer::Observer, require_root, testbed::Testbed};
use serde_json::Value;

/// (unit file in tests/testbed/units, verdicts of its datagrams in order, final ActiveState)
const SCENARIOS: &[(&str, &[&str], &str)] = &[
    // The main process (python3) sends READY=1 itself.
    ("tb-notify-python.service", &["accepted"], "active"),
    // bash execs python3: same process, same PID.
    ("tb-notify-bash-exec.service", &["accepted"], "active"),
    // systemd-notify as nobody: forging the parent's PID fails (EPERM), the retry without
    // credentials comes from a child, not the main PID, under NotifyAccess=main: rejected; then
    // its BARRIER=1. The start times out.
    (
        "tb-notify-child-nobody.service",
        &["not-delivered", "rejected", "accepted"],
        "failed",
    ),
    // The same with NotifyAccess=all: accepted.
    (
        "tb-notify-child-nobody-all.service",
        &["not-delivered", "accepted", "accepted"],
        "active",
    ),
    // As root, systemd-notify impersonates its parent, the main PID: accepted.
    (
        "tb-notify-child-root.service",
        &["accepted", "accepted"],
        "active",
    ),
    // Never notifies: nothing arrives, the start times out.
    ("tb-notify-never.service", &[], "failed"),
    // Type=simple with NotifyAccess=none: "reception is disabled".
    ("tb-notify-simple-none.service", &["rejected"], "active"),
    // The main process is systemd-notify itself and exits at once.
    (
        "tb-notify-main-exits.service",
        &["accepted", "accepted"],
        "inactive",
    ),
];

fn units_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testbed/units")
}

/// The journal lines the observer says systemd logs for `unit`'s datagrams, as `journalctl -u`
/// shows them ("unit: message").
fn predicted_lines(events: &[Value], unit: &str) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| e["logs"].as_array().cloned().unwrap_or_default())
        .filter(|l| l["unit"] == unit)
        .map(|l| format!("{unit}: {}", l["message"].as_str().unwrap_or_default()))
        .collect()
}

/// What systemd logged about notification messages for `unit`.
fn journal_lines(tb: &Testbed, unit: &str) -> Vec<String> {
    tb.journal(unit)
        .into_iter()
        .filter(|l| l.contains("otification message") || l.contains("notify message"))
        .collect()
}

#[test]
fn verdicts_match_systemd_252() {
    require_root!();
    let tb = Testbed::start(&format!("observer-verdicts-{}", std::process::id()));
    let files: Vec<PathBuf> = SCENARIOS
        .iter()
        .map(|(u, _, _)| units_dir().join(u))
        .collect();
    tb.install_units(&files);
    let mut obs = Observer::start_with(&["-u", "tb-*"]);
    let watching = obs.start["watching"].to_string();
    assert!(
        watching.contains(&format!("container {}", tb.leader)),
        "the container's notify socket is found: {watching}"
    );

    let mut failures = Vec::new();
    for (unit, want, state) in SCENARIOS {
        tb.exec(&["systemctl", "start", "--no-block", unit]);
        let settled = tb.settle(unit, Duration::from_secs(30));
        let events = obs.events_until_quiet(Duration::from_secs(2));
        let got: Vec<&str> = events
            .iter()
            .map(|e| e["verdict"].as_str().unwrap_or("?"))
            .collect();
        let reasons: Vec<&str> = events
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or("-"))
            .collect();
        for e in &events {
            assert_eq!(e["unit"], *unit, "every event here is for {unit}: {e}");
        }
        let mut predicted = predicted_lines(&events, unit);
        let mut journal = journal_lines(&tb, unit);
        predicted.sort();
        journal.sort();
        if got != *want || predicted != journal || settled != *state {
            failures.push(format!(
                "{unit}: verdicts {got:?} (want {want:?}), reasons {reasons:?}\n  predicted {predicted:#?}\n  journal   {journal:#?}\n  state {settled} (want {state})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
