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
    // Type=notify with NotifyAccess=none: systemd 252 makes it main, READY=1 is accepted.
    ("tb-notify-access-none.service", &["accepted"], "active"),
    // MAINPID= handover to a forked child with READY=1 from the main PID: accepted; then the
    // old main process, no longer the main PID, sends STATUS=old: rejected.
    (
        "tb-notify-mainpid.service",
        &["accepted", "rejected"],
        "active",
    ),
    // STATUS=, READY=1; on `systemctl reload` RELOADING=1 + MONOTONIC_USEC=, then READY=1; on
    // `systemctl stop` STOPPING=1 (see ACTIONS): all from the main PID, all accepted.
    (
        "tb-notify-reload.service",
        &["accepted", "accepted", "accepted", "accepted", "accepted"],
        "inactive",
    ),
    // EXTEND_TIMEOUT_USEC= carries a slow start past TimeoutStartSec=, READY=1, three
    // WATCHDOG=1, an unparsable ERRNO= (accepted, with a warning), ERRNO=5; then the pings stop
    // and the watchdog kills it.
    (
        "tb-notify-watchdog.service",
        &[
            "accepted", "accepted", "accepted", "accepted", "accepted", "accepted", "accepted",
        ],
        "failed",
    ),
    // NotifyAccess=exec: ExecStartPre= (the control PID) and the main process are accepted; a
    // child of ExecStartPost= and, once running, a child of the main process are rejected.
    (
        "tb-notify-exec.service",
        &["accepted", "accepted", "rejected", "rejected"],
        "active",
    ),
];

/// `systemctl` verbs run, in this order, once a scenario's start has settled; each one waits
/// for its job, and the events it causes are collected before the next.
const ACTIONS: &[(&str, &[&str])] = &[("tb-notify-reload.service", &["reload", "stop"])];

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
        .filter(|l| about_notifications(l))
        .collect()
}

/// The journal lines systemd writes while handling a notification: the message itself, what
/// it made of its fields, and the MAINPID= checks on the new main process.
fn about_notifications(line: &str) -> bool {
    [
        "otification message",
        "notify message",
        "New main PID",
        "Supervising process",
    ]
    .iter()
    .any(|k| line.contains(k))
}

/// The PIDs in systemd's "Got notification message from PID N…" lines: the SCM_CREDENTIALS pid
/// it received, in its PID namespace.
fn journal_sender_pids(lines: &[String]) -> Vec<u64> {
    let mut out: Vec<u64> = lines
        .iter()
        .filter_map(|l| {
            let rest = l.split_once("otification message from PID ")?.1;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    out.sort();
    out
}

/// The manager's side as the observer saw it: every datagram that reached the manager was read
/// by it (`delivered`), the failed sends were not, and the credentials it received name the
/// PIDs systemd's journal prints for the same messages (as root, systemd-notify's forged main
/// PID; as nobody, its own PID on the retry without credentials). A failure's text, if any.
fn manager_side(
    events: &[Value],
    deliveries: &[Value],
    journal: &[String],
    unit: &str,
) -> Option<String> {
    let mut seen = Vec::new();
    for shown in events {
        // Shown before systemd read it (a busy PID 1): the delivery record that followed.
        let later = deliveries
            .iter()
            .find(|d| d["mono_ns"] == shown["mono_ns"] && d["tid"] == shown["tid"]);
        let merged;
        let e = match later {
            Some(d) if shown["delivered"] == "unknown" => {
                merged = merge(shown, d);
                &merged
            }
            _ => shown,
        };
        let want = e["verdict"] != "not-delivered";
        if e["delivered"] != want {
            return Some(format!(
                "{unit}: delivered is {} (want {want}): {e}",
                e["delivered"]
            ));
        }
        if want {
            let Some(pid) = e["manager_creds"]["pid"].as_u64() else {
                return Some(format!("{unit}: no manager_creds: {e}"));
            };
            // systemd prints the PID only for messages it logs (252 logs none for a lone
            // BARRIER=1): compare those.
            let logged = e["logs"].as_array().is_some_and(|ls| {
                ls.iter().any(|l| {
                    l["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("otification message from PID"))
                })
            });
            if logged {
                seen.push(pid);
            }
            if e["queue_delay_us"].as_u64().is_none() {
                return Some(format!("{unit}: no queue_delay_us: {e}"));
            }
        }
    }
    seen.sort();
    let logged = journal_sender_pids(journal);
    (seen != logged).then(|| {
        format!("{unit}: the manager received credentials of PIDs {seen:?}, its journal names {logged:?}")
    })
}

/// An event with the keys of the delivery record that completed it.
fn merge(event: &Value, delivery: &Value) -> Value {
    let mut out = event.clone();
    for k in ["delivered", "queue_delay_us", "manager_creds", "read_by"] {
        out[k] = delivery[k].clone();
    }
    out
}

/// What systemd logged about notification messages for `unit`.
fn journal_lines(tb: &Testbed, unit: &str) -> Vec<String> {
    tb.journal(unit)
        .into_iter()
        .filter(|l| about_notifications(l))
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
    // A recorder alongside: replaying its file must give the same verdicts, and diagnose must
    // name each failing scenario's cause (checked at the end).
    let recording =
        std::env::temp_dir().join(format!("observer-verdicts-{}.rec", std::process::id()));
    let recorder = Observer::record(&recording, &["-u", "tb-*"]);

    let ours = format!("container {}", tb.leader);
    let mut failures = Vec::new();
    let mut all_events = Vec::new();
    for (unit, want, state) in SCENARIOS {
        tb.exec(&["systemctl", "start", "--no-block", unit]);
        tb.settle(unit, Duration::from_secs(30));
        let mut events = obs.events_until_quiet(Duration::from_secs(2));
        let actions = ACTIONS
            .iter()
            .find(|(u, _)| u == unit)
            .map_or(&[][..], |a| a.1);
        for verb in actions {
            tb.exec(&["systemctl", verb, unit]);
            events.extend(obs.events_until_quiet(Duration::from_secs(2)));
        }
        // Only this container's socket: another testbed may run the same units meanwhile.
        events.retain(|e| e["socket"] == ours);
        // Some scenarios change state on their own after the last datagram (a watchdog timeout).
        let settled = tb.wait_state(unit, state, Duration::from_secs(10));
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
        // With --nocapture: what systemd said; VERDICTS_DUMP=1 adds the observer's records.
        eprintln!("{unit}: {got:?}, {settled}; journal {journal:#?}");
        if std::env::var_os("VERDICTS_DUMP").is_some() {
            for e in &events {
                eprintln!("{e}");
            }
        }
        predicted.sort();
        journal.sort();
        if got != *want || predicted != journal || settled != *state {
            failures.push(format!(
                "{unit}: verdicts {got:?} (want {want:?}), reasons {reasons:?}\n  predicted {predicted:#?}\n  journal   {journal:#?}\n  state {settled} (want {state})"
            ));
        }
        failures.extend(manager_side(&events, &obs.deliveries, &journal, unit));
        all_events.extend(events);
    }
    recorder.stop();
    failures.extend(replay_matches(&recording, &all_events, &ours));
    failures.extend(diagnose_names_the_causes(&recording, &ours));
    failures.extend(report_shows_the_timelines(&recording, &ours));
    let _ = std::fs::remove_file(&recording);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `observer replay --json` of the recording: the same datagrams, units and verdicts as the live
/// trace (the fields both observers decide alike; each stamps and pairs reads on its own).
fn replay_matches(file: &std::path::Path, live: &[Value], ours: &str) -> Option<String> {
    let out = std::process::Command::new(observer_tests::workspace_bin("observer"))
        .args(["replay", "--json"])
        .arg(file)
        .output()
        .unwrap();
    if !out.status.success() {
        return Some(format!(
            "replay failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let keys = [
        "pid", "comm", "unit", "verdict", "kind", "reason", "payload", "result", "creds", "fds",
        "logs",
    ];
    let pick = |e: &Value| -> Vec<Value> { keys.iter().map(|k| e[*k].clone()).collect() };
    let replayed: Vec<Vec<Value>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["record"] == "event" && e["socket"] == ours)
        .map(|e| pick(&e))
        .collect();
    let live: Vec<Vec<Value>> = live.iter().map(pick).collect();
    (replayed != live).then(|| {
        format!("replay differs from the live trace:\n  replay {replayed:#?}\n  live {live:#?}")
    })
}

/// `observer diagnose FILE`: each failing scenario's story names the cause and the fix.
fn diagnose_names_the_causes(file: &std::path::Path, ours: &str) -> Vec<String> {
    let out = std::process::Command::new(observer_tests::workspace_bin("observer"))
        .args(["diagnose", "-u", "tb-*"])
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("diagnose:\n{text}");
    let expect: &[(&str, &[&str])] = &[
        (
            "tb-notify-python.service",
            &["started after", "READY=1 from PID"],
        ),
        (
            "tb-notify-child-nobody.service",
            &[
                "start timed out after",
                "TimeoutStartSec=5.0 s",
                "but reception only permitted for main PID",
                "→ set NotifyAccess=all",
                "send failed with EPERM",
            ],
        ),
        (
            "tb-notify-never.service",
            &[
                "start timed out after",
                "no READY=1 arrived: nothing from the unit's processes",
                "NOTIFY_SOCKET",
            ],
        ),
        (
            "tb-notify-watchdog.service",
            &[
                "watchdog timeout (WatchdogSec=2.0 s)",
                "last accepted WATCHDOG=1",
                "ERRNO=5 (Input/output error)",
            ],
        ),
        (
            "tb-notify-mainpid.service",
            &["started after", "1 message rejected", "MAINPID=", "MainPID"],
        ),
        (
            "tb-notify-simple-none.service",
            &["reception is disabled", "NotifyAccess=none"],
        ),
    ];
    let mut failures = Vec::new();
    for (unit, needles) in expect {
        let head = format!("● {unit} ({ours})");
        let Some(section) = text.split("\n\n").find(|s| s.starts_with(&head)) else {
            failures.push(format!("diagnose has no story for {unit}"));
            continue;
        };
        for n in *needles {
            if !section.contains(n) {
                failures.push(format!("diagnose of {unit} lacks {n:?}:\n{section}"));
            }
        }
    }
    failures
}

/// `observer report FILE -o target/report.html`, opened in headless Chromium: each scenario
/// unit has its section, with its messages marked in their verdict's colour in the table and
/// in the chart, and its timeouts and MainPID handovers flagged. The screenshot stays in
/// target/report.png.
fn report_shows_the_timelines(file: &std::path::Path, ours: &str) -> Vec<String> {
    let page = observer_tests::target_dir().join("report.html");
    let out = std::process::Command::new(observer_tests::workspace_bin("observer"))
        .args(["report", "-u", "tb-*", "-o"])
        .arg(&page)
        .arg(file)
        .output()
        .unwrap();
    if !out.status.success() {
        return vec![format!(
            "report failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )];
    }
    let dom = match observer_tests::browser::dump_dom(&page) {
        Ok(dom) => dom,
        Err(e) => return vec![e],
    };
    let mut failures = Vec::new();
    let png = observer_tests::target_dir().join("report.png");
    if let Err(e) = observer_tests::browser::screenshot(&page, &png, 1400, 6000) {
        failures.push(e);
    }
    const REJECTED: &str = "#C62828";
    const ACCEPTED: &str = "#2E7D32";
    const NOT_DELIVERED: &str = "#EF6C00";
    for (verdict, colour) in [
        ("rejected", REJECTED),
        ("accepted", ACCEPTED),
        ("not-delivered", NOT_DELIVERED),
    ] {
        let legend = format!("<li class=\"legend-{verdict}\" data-colour=\"{colour}\">");
        if !dom.contains(&legend) {
            failures.push(format!("the legend lacks {legend}"));
        }
    }
    // (unit, table rows it must have, colours its chart must draw marks in)
    let expect: &[(&str, &[&str], &[&str])] = &[
        (
            "tb-notify-python.service",
            &["mark message accepted"],
            &[ACCEPTED],
        ),
        (
            "tb-notify-child-nobody.service",
            &[
                "mark message rejected",
                "mark message not-delivered",
                "mark message accepted",
                "mark flag start-timeout",
                "mark flag mainpid",
            ],
            &[REJECTED, NOT_DELIVERED, ACCEPTED],
        ),
        ("tb-notify-never.service", &["mark flag start-timeout"], &[]),
        (
            "tb-notify-watchdog.service",
            &["mark message accepted", "mark flag watchdog-timeout"],
            &[ACCEPTED],
        ),
        (
            "tb-notify-mainpid.service",
            &[
                "mark message rejected",
                "mark message accepted mainpid-request",
                "mark flag mainpid",
            ],
            &[REJECTED],
        ),
    ];
    // This container's section of a unit (other testbeds may run the same units meanwhile).
    let section_of = |unit: &str| {
        let at = dom.find(&format!("data-unit=\"{unit}\" data-manager=\"{ours}\""))?;
        Some(&dom[at..at + dom[at..].find("</section>").unwrap_or(dom.len() - at)])
    };
    for (unit, rows, colours) in expect {
        let Some(section) = section_of(unit) else {
            failures.push(format!("the report has no section for {unit}"));
            continue;
        };
        if !section.contains(&format!("<h2>{unit}</h2>")) || !section.contains("<svg") {
            failures.push(format!("{unit}: no heading or no chart"));
        }
        if !section.contains(&format!("<pre class=\"diagnose\">● {unit}")) {
            failures.push(format!("{unit}: no diagnose text beside the chart"));
        }
        for r in *rows {
            if !section.contains(&format!("<tr class=\"{r}")) {
                failures.push(format!("{unit}: no {r:?} row in the marks table"));
            }
        }
        for c in *colours {
            let drawn = section.split("<circle").skip(1).any(|tag| {
                tag[..tag.find('>').unwrap_or(tag.len())].contains(&format!("fill=\"{c}\""))
            });
            if !drawn {
                failures.push(format!("{unit}: no mark drawn in {c} in the chart"));
            }
        }
    }
    // tb-notify-never sent nothing: no message marks.
    if section_of("tb-notify-never.service").is_some_and(|s| s.contains("mark message")) {
        failures.push("tb-notify-never.service: message marks, but it sent nothing".into());
    }
    if !failures.is_empty() {
        failures.push(format!("(the page: {})", page.display()));
    }
    failures
}

/// A user manager (user@1000.service) inside the container: its socket is found and its units'
/// messages are judged as that manager does.
#[test]
fn user_manager_verdicts_match_systemd_252() {
    require_root!();
    let tb = Testbed::start(&format!("observer-verdicts-user-{}", std::process::id()));
    let um = tb.start_user_manager(1000);
    // (user unit, made from this system unit, verdicts, final state)
    let scenarios: [(&str, &str, &[&str], &str); 2] = [
        (
            "tb-user-python.service",
            "tb-notify-python.service",
            &["accepted"],
            "active",
        ),
        // As a user, systemd-notify cannot claim its parent's PID (EPERM), and its retry comes
        // from its own PID: not the main PID.
        (
            "tb-user-child.service",
            "tb-notify-child-nobody.service",
            &["not-delivered", "rejected", "accepted"],
            "failed",
        ),
    ];
    let files: Vec<(PathBuf, String)> = scenarios
        .iter()
        .map(|(u, from, _, _)| (units_dir().join(from), u.to_string()))
        .collect();
    um.install_units(&files);
    let mut obs = Observer::start_with(&["-u", "tb-user-*"]);
    let ours = format!("container {} user manager (uid 1000)", tb.leader);
    let watching = obs.start["watching"].to_string();
    assert!(
        watching.contains(&ours),
        "the user manager's notify socket is found: {watching}"
    );
    let mut failures = Vec::new();
    for (unit, _, want, state) in scenarios {
        um.systemctl(&["start", "--no-block", unit]);
        let settled = um.settle(unit, Duration::from_secs(30));
        let mut events = obs.events_until_quiet(Duration::from_secs(2));
        events.retain(|e| e["socket"] == ours.as_str());
        let got: Vec<&str> = events
            .iter()
            .map(|e| e["verdict"].as_str().unwrap_or("?"))
            .collect();
        let mut predicted = predicted_lines(&events, unit);
        let mut journal: Vec<String> = um
            .journal(unit)
            .into_iter()
            .filter(|l| about_notifications(l))
            .collect();
        predicted.sort();
        journal.sort();
        if got != want || predicted != journal || settled != state {
            failures.push(format!(
                "{unit}: verdicts {got:?} (want {want:?})\n  predicted {predicted:#?}\n  journal   {journal:#?}\n  state {settled} (want {state})"
            ));
        }
        failures.extend(manager_side(&events, &obs.deliveries, &journal, unit));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
