//! One table per version gate, with rows on both sides of it. Each test cites the statements it
//! mirrors as file:line at the tags read (S: src/core/service.c, M: src/core/manager.c), and the
//! commit that moved the gate.

use super::*;

/// (version, accepted, message, log level) of one field's note.
type NoteRow = (u32, Option<bool>, &'static str, Option<LogLevel>);

fn note_table(m: &Message, s: &Sender, u: &UnitState, k: Key, rows: &[NoteRow]) {
    for (v, accepted, message, level) in rows {
        let got = run(m, s, Some(u), *v);
        let n = note(&got, k);
        assert_eq!(
            (n.accepted, n.message.as_str(), n.log_level),
            (*accepted, *message, *level),
            "v{v}: {got:#?}"
        );
    }
}

#[test]
fn main_and_exec_refusals_go_to_debug_in_256() {
    // 5734d5d04c (first in v256): log_unit_warning() at S:4309/4311 (main) and S:4318-4325 (exec)
    // v255.22, log_unit_debug() at the same lines in v256.17; S:4537/4539, :4548-4555 v257.13.
    let mut u = svc(NotifyAccess::Main);
    let r = "Got notification message from PID 56, but reception only permitted for main PID 53";
    table(
        &msg(b"READY=1"),
        &from(56),
        Some(&u),
        &[
            (253, NotMainPid, r, Warning, Per),
            (255, NotMainPid, r, Warning, Per),
            (256, NotMainPid, r, Debug, Per),
            (257, NotMainPid, r, Debug, Per),
        ],
    );
    u.main_pid = None;
    let r = "Got notification message from PID 56, but reception only permitted for main PID which is currently not known";
    table(
        &msg(b"READY=1"),
        &from(56),
        Some(&u),
        &[
            (255, MainPidUnknown, r, Warning, Per),
            (256, MainPidUnknown, r, Debug, Per),
        ],
    );
    let mut u = svc(NotifyAccess::Exec);
    u.control_pid = Some(60);
    let r = "Got notification message from PID 61, but reception only permitted for main PID 53 and control PID 60";
    table(
        &msg(b"READY=1"),
        &from(61),
        Some(&u),
        &[
            (255, NotExecPid, r, Warning, Per),
            (256, NotExecPid, r, Debug, Per),
        ],
    );
}

#[test]
fn reception_disabled_loses_its_period_in_256() {
    // f8d6694783 (v256): "…reception is disabled." S:4303 v255.22 → without '.' S:4303 v256.17.
    // Warning on both sides (the only refusal that stays a warning).
    let u = svc(NotifyAccess::None);
    let head = "Got notification message from PID 53, but reception is disabled";
    let dotted = format!("{head}.");
    let m = msg(b"READY=1");
    for (v, want) in [
        (253, dotted.as_str()),
        (255, dotted.as_str()),
        (256, head),
        (261, head),
    ] {
        let got = run(&m, &from(MAIN), Some(&u), v);
        assert_eq!(
            (got.kind, got.reason.as_str(), got.log_level),
            (AccessNone, want, Warning),
            "v{v}"
        );
    }
}

#[test]
fn non_service_text_changes_in_256() {
    // a2098d8bf7 (v256): ellipsize()+cescape() "Got notification message \"%s\", ignoring."
    // M:2620 v255.22 → cellescape() "…from unexpected unit type, ignoring: %s" M:2687 v256.17.
    let u = UnitState::new("session-3.scope", NotifyAccess::None);
    table(
        &msg(b"READY=1"),
        &from(MAIN),
        Some(&u),
        &[
            (
                255,
                NotAService,
                "Got notification message \"READY=1\", ignoring.",
                Debug,
                Per,
            ),
            (
                256,
                NotAService,
                "Got notification message from unexpected unit type, ignoring: READY=1",
                Debug,
                Per,
            ),
        ],
    );
}

#[test]
fn mainpid_in_stop_states_from_256() {
    // f5b72af50d + 31197c684a (v256): the IN_SET() next to MAINPID= gains SERVICE_STOP and
    // SERVICE_STOP_SIGTERM: S:4370 v255.22 (without), S:4358 v256.17 (with).
    use ServiceState::*;
    for state in [Stop, StopSigterm] {
        let mut u = svc(NotifyAccess::All);
        u.state = Some(state);
        u.mainpid_target = facts(70, Some("foo.service"));
        note_table(
            &msg(b"MAINPID=70"),
            &from(MAIN),
            &u,
            Key::MainPid,
            &[
                (
                    255,
                    Some(false),
                    "ignored (no log): the main PID only changes in states start, start-post, running, reload, reload-signal, reload-notify",
                    None,
                ),
                (
                    256,
                    Some(true),
                    "New main PID 70 belongs to service, we are happy.",
                    Some(Debug),
                ),
            ],
        );
    }
    // refresh-extensions (dfdeb0b1cb, v258: S:4782 v258.10), reload-post (b03e1b09af, v259:
    // S:4959 v259.8), refresh-credentials (fff07be411, v260: S:5108 v260.4).
    for (state, first) in [
        (RefreshExtensions, 258),
        (ReloadPost, 259),
        (RefreshCredentials, 260),
    ] {
        let mut u = svc(NotifyAccess::All);
        u.state = Some(state);
        u.mainpid_target = facts(70, Some("foo.service"));
        for (v, taken) in [(first - 1, Some(false)), (first, Some(true))] {
            let got = run(&msg(b"MAINPID=70"), &from(MAIN), Some(&u), v);
            assert_eq!(note(&got, Key::MainPid).accepted, taken, "{state:?} v{v}");
        }
    }
}

#[test]
fn foreign_mainpid_refusal_is_a_warning_from_256() {
    // a3980843ef (v256): log_unit_debug() S:4386 v255.22 → log_unit_warning() S:4377 v256.17.
    let mut u = svc(NotifyAccess::All);
    u.state = Some(ServiceState::Running);
    u.mainpid_target = facts(70, Some("bar.service"));
    let r = "New main PID 70 does not belong to service, refusing.";
    note_table(
        &msg(b"MAINPID=70"),
        &from(MAIN),
        &u,
        Key::MainPid,
        &[
            (254, Some(false), r, Some(Debug)),
            (255, Some(false), r, Some(Debug)),
            (256, Some(false), r, Some(Warning)),
            (260, Some(false), r, Some(Warning)),
        ],
    );
}

#[test]
fn not_our_child_after_a_handover() {
    // service_set_main_pid(): "Supervising process … which is not our child." at warning, same
    // text in every release (S:179 v252.39, :215 v255.22, :256 v258.10, :281 v261.2).
    let line = "Supervising process 70 which is not our child. We'll most likely not notice when it exits.";
    let cant = "Can't determine if process 70 is our child, assuming it is not: Cannot assign requested address";
    let mut u = svc(NotifyAccess::All);
    u.state = Some(ServiceState::Running);
    u.mainpid_target = facts(70, Some("foo.service"));
    let logged = |u: &UnitState, v: u32| {
        run(&msg(b"MAINPID=70"), &from(MAIN), Some(u), v)
            .logs
            .iter()
            .filter(|l| l.level == Warning)
            .map(|l| l.message.clone())
            .collect::<Vec<_>>()
    };
    u.mainpid_target.as_mut().unwrap().ppid = Some(MAIN);
    for v in 252..=262 {
        assert_eq!(logged(&u, v), [line], "v{v}");
    }
    u.mainpid_target.as_mut().unwrap().ppid = Some(1);
    assert!(logged(&u, 257).is_empty());
    // A parent outside the manager's PID namespace (get_process_ppid() -EADDRNOTAVAIL):
    // pid_is_my_child() == 0 is false, no line (S:176 v252.31, :198 v254.27); pidref_is_my_child()
    // error → "Can't determine…" (6774be4206, v255: S:213 v255.22, :243 v257.13); v258 counts
    // it as not our child (9ed2725867; src/basic/process-util.c pidref_is_my_child() v258.10).
    u.mainpid_target.as_mut().unwrap().ppid = Some(0);
    let none: [&str; 0] = [];
    assert_eq!(logged(&u, 254), none);
    assert_eq!(logged(&u, 255), [cant]);
    assert_eq!(logged(&u, 257), [cant]);
    assert_eq!(logged(&u, 258), [line]);
    assert_eq!(logged(&u, 262), [line]);
}

#[test]
fn mainpid_handover_is_authorized_against_the_previous_main_pid() {
    // "MAINPID=<child>\nREADY=1" from the main PID 53, the child 70 forked before the send.
    // service_notify_message_authorized() runs before MAINPID= is read in every release
    // (S:4133 v252.31, :4643 v257.13, :4943 v259.8), so the sender is checked against 53.
    // ExecMainStartTimestamp of 70 is when systemd took it up to v256 (exec_status_start() with
    // the current time: S:171 v252.31, :217 v256.17), after the send; from v257 it is 70's own
    // start (f781292d6c: pidref_get_start_time(), S:231 v257.13), before the send, which must not
    // make 70 look like the main PID already.
    const MS: u64 = 1_000_000;
    let mut u = svc(NotifyAccess::Main);
    u.state = Some(ServiceState::Start);
    u.mainpid_target = facts(70, Some("foo.service"));
    u.mainpid_target.as_mut().unwrap().ppid = Some(MAIN);
    let mut m = msg(b"MAINPID=70\nREADY=1");
    m.sent_ns = Some(10 * MS);
    let at = |start_ms: u64| ExecMain {
        pid: 70,
        start_us: start_ms * 1000,
        exit_us: 0,
    };
    let accepted_old = "Got notification message from PID 53 (MAINPID=70, READY=1)";
    let accepted_new = "Got notification message from PID 53: MAINPID=70, READY=1";
    // As systemd stamps it: after the send up to v256, before it from v257.
    u.exec_main = Some(at(15));
    table(
        &m,
        &from(MAIN),
        Some(&u),
        &[
            (252, Accepted, accepted_old, Debug, Per),
            (256, Accepted, accepted_old, Debug, Per),
        ],
    );
    u.exec_main = Some(at(5));
    table(
        &m,
        &from(MAIN),
        Some(&u),
        &[
            (257, Accepted, accepted_new, Debug, Per),
            (262, Accepted, accepted_new, Debug, Per),
        ],
    );
    let v = run(&m, &from(MAIN), Some(&u), 257);
    let lines: Vec<_> = v
        .logs
        .iter()
        .map(|l| (l.level, l.message.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (Debug, accepted_new),
            (Debug, "New main PID 70 belongs to service, we are happy."),
            (
                Warning,
                "Supervising process 70 which is not our child. We'll most likely not notice when it exits."
            ),
        ]
    );
    // Up to v256 a start before the send means 70 was taken before it: 53 is no longer main.
    table(
        &m,
        &from(MAIN),
        Some(&u),
        &[(
            256,
            NotMainPid,
            "Got notification message from PID 53, but reception only permitted for main PID 70",
            Debug,
            Per,
        )],
    );
    // After the handover the old process is refused in every release (history now says 70).
    u.main_pid = Some(70);
    let mut old = msg(b"STATUS=old");
    old.sent_ns = Some(20 * MS);
    let r = "Got notification message from PID 53, but reception only permitted for main PID 70";
    table(
        &old,
        &from(MAIN),
        Some(&u),
        &[
            (257, NotMainPid, r, Debug, Per),
            (262, NotMainPid, r, Debug, Per),
        ],
    );
    // If the observer only knows the main PID from after the handover, it cannot tell: caveat.
    let v = run(&m, &from(MAIN), Some(&u), 257);
    assert_eq!(v.kind, NotMainPid);
    assert!(v.caveats.iter().any(|c| c.contains("asks for MAINPID=70")));
}

#[test]
fn notify_access_exec_is_main_and_control_pid_only() {
    // service_notify_message_authorized(), NOTIFY_EXEC: pid == main or control PID (S:4092
    // v252.31, :4316 v256.17), pidref_equal() with either (S:4544 v257.13, :5285 main 7412c16ef8).
    // Nothing else of an Exec*= command (a child of ExecStartPost= included) in any release.
    let mut u = svc(NotifyAccess::Exec);
    u.state = Some(ServiceState::StartPost);
    u.control_pid = Some(60);
    for v in 252..=262 {
        assert_eq!(
            run(&msg(b"STATUS=x"), &from(60), Some(&u), v).kind,
            Accepted
        );
        assert_eq!(
            run(&msg(b"STATUS=x"), &from(MAIN), Some(&u), v).kind,
            Accepted
        );
        let got = run(&msg(b"STATUS=x"), &from(61), Some(&u), v);
        assert_eq!(
            (got.kind, got.log_level),
            (NotExecPid, if v >= 256 { Debug } else { Warning }),
            "v{v}"
        );
    }
}

#[test]
fn combined_ready_reloading_from_254() {
    // c337a1301f (v258, backported to v254.24, v255.18, v256.12, v257.4): READY=1 + RELOADING=1
    // propagates the reload from running and finishes reload-signal without propagating
    // (S:4435 v254.27). v253.26 (S:4280) propagates from reload-signal only and does nothing
    // from running.
    use ServiceState::*;
    let mut u = svc(NotifyAccess::Main);
    u.service_type = Some(ServiceType::NotifyReload);
    u.state = Some(Running);
    let m = msg(b"READY=1\nRELOADING=1");
    let none = "no effect: READY=1 only finishes startup of Type=notify/notify-reload services or a reload (state running, Type=notify-reload)";
    let prop = "reload propagated to units that depend on this one (RELOADING=1 + READY=1)";
    note_table(
        &m,
        &from(MAIN),
        &u,
        Key::Ready,
        &[
            (253, Some(false), none, None),
            (254, Some(true), prop, None),
            (258, Some(true), prop, None),
        ],
    );
    // Before 258 the point release matters: a caveat says so.
    let caveat = |v: u32, u: &UnitState, m: &Message| {
        run(m, &from(MAIN), Some(u), v)
            .caveats
            .iter()
            .any(|c| c.contains("c337a1301f"))
    };
    assert!(!caveat(253, &u, &m));
    assert!(caveat(254, &u, &m));
    assert!(caveat(257, &u, &m));
    assert!(!caveat(258, &u, &m));
    u.state = Some(ReloadSignal);
    let m = msg(b"READY=1\nRELOADING=1\nMONOTONIC_USEC=5");
    note_table(
        &m,
        &from(MAIN),
        &u,
        Key::Ready,
        &[
            (
                253,
                None,
                "reload finished and propagated to units that depend on this one, if MONOTONIC_USEC= is not older than the reload request",
                None,
            ),
            (
                254,
                None,
                "reload finished if MONOTONIC_USEC= is not older than the reload request",
                None,
            ),
        ],
    );
}

#[test]
fn ready_after_stopping_refused_from_259() {
    // 98734ac74d (v259): "Disallow resurrecting a dying service": once STOPPING=1 was received,
    // READY=1 and RELOADING=1 return without a word (S:4870 v259.8, :5262 v261.2; still silent in
    // main 7412c16ef8 :5397). v258.10 acts on them (S:4825/4861). v262 logs an error (S:5530 v262).
    use ServiceState::*;
    let mut u = svc(NotifyAccess::Main);
    u.notify_state = Some(NotifyState::Stopping);
    u.service_type = Some(ServiceType::NotifyReload);
    u.state = Some(ReloadNotify);
    let silent = "ignored (no log): the service sent STOPPING=1 before, and systemd does not let a stopping service become ready or reload again";
    note_table(
        &msg(b"READY=1"),
        &from(MAIN),
        &u,
        Key::Ready,
        &[
            (258, Some(true), "reload finished", None),
            (259, Some(false), silent, None),
            (261, Some(false), silent, None),
            (
                262,
                Some(false),
                "Service must stop after STOPPING=1 notification, refusing attempted transition to READY.",
                Some(Error),
            ),
        ],
    );
    u.state = Some(Running);
    note_table(
        &msg(b"RELOADING=1"),
        &from(MAIN),
        &u,
        Key::Reloading,
        &[
            (
                258,
                Some(true),
                "service enters reload (reload by notification, propagated)",
                None,
            ),
            (259, Some(false), silent, None),
            (
                262,
                Some(false),
                "Service must stop after STOPPING=1 notification, refusing attempted transition to RELOADING.",
                Some(Error),
            ),
        ],
    );
    // The message itself is still accepted, and STOPPING=1 again is not refused.
    assert_eq!(
        run(&msg(b"READY=1"), &from(MAIN), Some(&u), 259).kind,
        Accepted
    );
    assert_ne!(
        note(
            &run(&msg(b"STOPPING=1"), &from(MAIN), Some(&u), 259),
            Key::Stopping
        )
        .message,
        silent
    );
}

#[test]
fn buserror_globs_refused_from_261() {
    // 812aa57d2c (v261): string_is_safe_ascii() S:5213 v260.4 → string_is_safe(e, STRING_ASCII)
    // S:5456 v261.2, which also refuses GLOB_CHARS "*?[".
    let u = svc(NotifyAccess::Main);
    note_table(
        &msg(b"BUSERROR=org.example.*"),
        &from(MAIN),
        &u,
        Key::BusError,
        &[
            (
                260,
                Some(true),
                "recorded as the service's error name",
                None,
            ),
            (
                261,
                Some(false),
                "Got invalid BUSERROR= string, ignoring: org.example.*",
                Some(Warning),
            ),
        ],
    );
}

#[test]
fn watchdog_ping_while_frozen() {
    // 0cf84c9a60 (v258, backported to v257.9): service_reset_watchdog() skips a unit that is
    // frozen or freezing, at debug (S:412 v257.13, :423 v258.10); v256.17 (S:390) resets it.
    let mut u = svc(NotifyAccess::Main);
    u.state = Some(ServiceState::Running);
    u.freezer_state = Some("frozen".into());
    let skip = "Service is currently frozen, skipping resetting watchdog.";
    note_table(
        &msg(b"WATCHDOG=1"),
        &from(MAIN),
        &u,
        Key::Watchdog,
        &[
            (256, Some(true), "watchdog timestamp refreshed", None),
            (257, Some(false), skip, Some(Debug)),
            (258, Some(false), skip, Some(Debug)),
        ],
    );
    let caveats = |v: u32, u: &UnitState| run(&msg(b"WATCHDOG=1"), &from(MAIN), Some(u), v).caveats;
    assert!(caveats(257, &u).iter().any(|c| c.contains("v257.9")));
    assert!(caveats(258, &u).is_empty());
    // Thawing finishes as running: reset as usual; unknown: as before.
    u.freezer_state = Some("thawing".into());
    assert_eq!(
        note(
            &run(&msg(b"WATCHDOG=1"), &from(MAIN), Some(&u), 258),
            Key::Watchdog
        )
        .accepted,
        Some(true)
    );
    u.freezer_state = None;
    assert_eq!(
        note(
            &run(&msg(b"WATCHDOG=1"), &from(MAIN), Some(&u), 262),
            Key::Watchdog
        )
        .accepted,
        Some(true)
    );
}

#[test]
fn every_release_from_252_to_262_is_read() {
    // No "not read" caveat inside 252..=262; one outside.
    let u = svc(NotifyAccess::Main);
    for v in 252..=262 {
        assert!(
            run(&msg(b"READY=1"), &from(MAIN), Some(&u), v)
                .caveats
                .is_empty(),
            "v{v}"
        );
    }
    assert_eq!(
        run(&msg(b"READY=1"), &from(MAIN), Some(&u), 263)
            .caveats
            .len(),
        1
    );
}
