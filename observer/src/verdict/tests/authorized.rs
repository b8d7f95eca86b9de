//! `service_notify_message_authorized()`: NotifyAccess= none, main, exec and the NOTIFYACCESS=
//! override, and which main PID systemd had when it read the message.

use super::*;

#[test]
fn notify_access_none() {
    // service.c:4079 v252.39 (with '.'), :4526 v257.13 (without); warning in both.
    let u = svc(NotifyAccess::None);
    table(
        &msg(b"READY=1"),
        &from(MAIN),
        Some(&u),
        &[
            (
                252,
                AccessNone,
                "Got notification message from PID 53, but reception is disabled.",
                Warning,
                Per,
            ),
            (
                257,
                AccessNone,
                "Got notification message from PID 53, but reception is disabled",
                Warning,
                Per,
            ),
            (
                262,
                AccessNone,
                "Got notification message from PID 53, but reception is disabled",
                Warning,
                Per,
            ),
        ],
    );
}

#[test]
fn notify_access_main() {
    // service.c:4085/4087 v252.39 warning → :4537/4539 v257.13 debug.
    let mut u = svc(NotifyAccess::Main);
    let r = "Got notification message from PID 56, but reception only permitted for main PID 53";
    table(
        &msg(b"READY=1"),
        &from(56),
        Some(&u),
        &[
            (252, NotMainPid, r, Warning, Per),
            (254, NotMainPid, r, Warning, Per),
            (255, NotMainPid, r, Warning, Per),
            (257, NotMainPid, r, Debug, Per),
            (262, NotMainPid, r, Debug, Per),
        ],
    );
    u.main_pid = None;
    let r = "Got notification message from PID 56, but reception only permitted for main PID which is currently not known";
    table(
        &msg(b"READY=1"),
        &from(56),
        Some(&u),
        &[
            (252, MainPidUnknown, r, Warning, Per),
            (257, MainPidUnknown, r, Debug, Per),
        ],
    );
    assert!(
        run(&msg(b"X=1"), &from(56), Some(&u), 257)
            .hint
            .contains("NotifyAccess=all")
    );
}

#[test]
fn main_pid_when_read_from_exec_main() {
    // A main process that notifies and exits at once: MainPID may read 0 (or never have been
    // seen) by the time the observer asks, but ExecMain* say it was the main PID when systemd
    // read the message (main_pid_when_read(): exec_status_start()/exec_status_exit() in
    // service_set_main_pid()/service_sigchld_event(), notify read before SIGCHLD).
    const MS: u64 = 1_000_000;
    let run_at = |history: Option<u32>,
                  e: Option<(u32, u64, u64)>,
                  state: ServiceState,
                  sent_ms: Option<u64>,
                  access: NotifyAccess| {
        let mut u = svc(access);
        u.main_pid = history;
        u.state = Some(state);
        u.exec_main = e.map(|(pid, start_ms, exit_ms)| ExecMain {
            pid,
            start_us: start_ms * 1000,
            exit_us: exit_ms * 1000,
        });
        let mut m = msg(b"READY=1");
        m.sent_ns = sent_ms.map(|t| t * MS);
        let v = run(&m, &from(56), Some(&u), 252);
        (v.kind, v.reason)
    };
    use NotifyAccess::{Exec as E, Main as M};
    use ServiceState::{AutoRestart, Dead, Exited, Running, Start};
    let unknown = "Got notification message from PID 56, but reception only permitted for main PID which is currently not known";
    let not_main = |m: u32| {
        format!(
            "Got notification message from PID 56, but reception only permitted for main PID {m}"
        )
    };
    let accepted = "Got notification message from PID 56 (READY=1)";
    // (MainPID from history, ExecMain (pid, start ms, exit ms), state at the send, sent ms, access) → verdict
    let rows: &[(_, _, _, _, _, (Kind, String))] = &[
        // Exited after its send, never seen as MainPID: accepted (the flaky case).
        (
            None,
            Some((56, 10, 30)),
            Start,
            Some(20),
            M,
            (Accepted, accepted.into()),
        ),
        // Not exited yet.
        (
            None,
            Some((56, 10, 0)),
            Start,
            Some(20),
            M,
            (Accepted, accepted.into()),
        ),
        (
            None,
            Some((56, 10, 0)),
            Running,
            Some(20),
            E,
            (Accepted, accepted.into()),
        ),
        // History lagging behind a handover to 56: systemd's own record wins.
        (
            Some(53),
            Some((56, 10, 0)),
            Running,
            Some(20),
            M,
            (Accepted, accepted.into()),
        ),
        // Sent before it became the main PID, or after its exit: the history decides.
        (
            None,
            Some((56, 10, 30)),
            Start,
            Some(5),
            M,
            (MainPidUnknown, unknown.into()),
        ),
        (
            Some(53),
            Some((56, 10, 30)),
            Start,
            Some(5),
            M,
            (NotMainPid, not_main(53)),
        ),
        (
            None,
            Some((56, 10, 30)),
            Start,
            Some(30),
            M,
            (MainPidUnknown, unknown.into()),
        ),
        // Another process is the main PID: named in the rejection even when history lags.
        (
            None,
            Some((60, 10, 0)),
            Start,
            Some(20),
            M,
            (NotMainPid, not_main(60)),
        ),
        // service_set_state() dropped the main PID (no exit stamped): not main.
        (
            None,
            Some((56, 10, 0)),
            Dead,
            Some(20),
            M,
            (MainPidUnknown, unknown.into()),
        ),
        (
            None,
            Some((56, 10, 0)),
            Exited,
            Some(20),
            M,
            (MainPidUnknown, unknown.into()),
        ),
        (
            None,
            Some((56, 10, 0)),
            AutoRestart,
            Some(20),
            M,
            (MainPidUnknown, unknown.into()),
        ),
        // Never started (ExecMainPID 0), no ExecMain (old recordings), no send time: history.
        (
            None,
            Some((0, 0, 0)),
            Start,
            Some(20),
            M,
            (MainPidUnknown, unknown.into()),
        ),
        (
            None,
            None,
            Start,
            Some(20),
            M,
            (MainPidUnknown, unknown.into()),
        ),
        (
            None,
            Some((56, 10, 0)),
            Start,
            None,
            M,
            (MainPidUnknown, unknown.into()),
        ),
        (
            Some(56),
            None,
            Start,
            Some(20),
            M,
            (Accepted, accepted.into()),
        ),
    ];
    for (i, (history, e, state, sent, access, want)) in rows.iter().enumerate() {
        assert_eq!(
            &run_at(*history, *e, *state, *sent, *access),
            want,
            "row {i}"
        );
    }
}

#[test]
fn notify_access_exec() {
    // service.c:4094-4101 v252.39, :4548-4555 v257.13: main or control PID only.
    let mut u = svc(NotifyAccess::Exec);
    u.control_pid = Some(60);
    assert_eq!(
        run(&msg(b"READY=1"), &from(60), Some(&u), 252).kind,
        Accepted
    );
    assert_eq!(
        run(&msg(b"READY=1"), &from(MAIN), Some(&u), 252).kind,
        Accepted
    );
    let head = "Got notification message from PID 61, but reception only permitted for ";
    let cases: [(Option<u32>, Option<u32>, Kind, &str); 4] = [
        (
            Some(MAIN),
            Some(60),
            NotExecPid,
            "main PID 53 and control PID 60",
        ),
        (Some(MAIN), None, NotExecPid, "main PID 53"),
        (None, Some(60), NotExecPid, "control PID 60"),
        (
            None,
            None,
            ExecPidsUnknown,
            "main PID and control PID which are currently not known",
        ),
    ];
    for (m, c, kind, tail) in cases {
        u.main_pid = m;
        u.control_pid = c;
        for (v, level) in [(252, Warning), (257, Debug)] {
            let got = run(&msg(b"READY=1"), &from(61), Some(&u), v);
            assert_eq!(
                (got.kind, got.reason, got.log_level),
                (kind, format!("{head}{tail}"), level)
            );
        }
    }
}

#[test]
fn notify_access_override_from_254() {
    // service_get_notify_access(): the override exists from v254 (service.h:256 v257.13).
    let mut u = svc(NotifyAccess::Main);
    u.notify_access_override = Some(NotifyAccess::All);
    assert_eq!(
        run(&msg(b"READY=1"), &from(56), Some(&u), 252).kind,
        NotMainPid
    );
    assert_eq!(
        run(&msg(b"READY=1"), &from(56), Some(&u), 254).kind,
        Accepted
    );
    // NOTIFYACCESS= itself: parsed from v254 (service.c:4521 v254.26), unknown before.
    let v = run(
        &msg(b"NOTIFYACCESS=all"),
        &from(MAIN),
        Some(&svc(NotifyAccess::Main)),
        254,
    );
    assert_eq!(note(&v, Key::NotifyAccess).accepted, Some(true));
    let v = run(
        &msg(b"NOTIFYACCESS=all"),
        &from(MAIN),
        Some(&svc(NotifyAccess::Main)),
        252,
    );
    assert!(
        note(&v, Key::NotifyAccess)
            .message
            .contains("not interpreted by systemd v252")
    );
    let v = run(
        &msg(b"NOTIFYACCESS=everyone"),
        &from(MAIN),
        Some(&svc(NotifyAccess::Main)),
        257,
    );
    let n = note(&v, Key::NotifyAccess);
    assert_eq!(n.log_level, Some(Warning));
    assert!(n.message.starts_with("Failed to parse NOTIFYACCESS= field value 'everyone' in notification message, ignoring: Invalid argument"));
}

#[test]
fn from_257_an_adopted_main_pid_does_not_reach_back() {
    // The testbed's pystemd handover on systemd 257: READY=1 from main PID 241, then
    // MAINPID=243 (a shell child forked before READY=1 was sent). Judged after both, ExecMain
    // says 243 since 243's own start (f781292d6c, service.c:231 v257.13), before READY=1 was
    // sent; the journal: "Got notification message from PID 241: READY=1" (accepted).
    let mut u = svc(NotifyAccess::Main);
    u.main_pid = Some(241);
    u.exec_main = Some(ExecMain {
        pid: 243,
        start_us: 1_000_000,
        exit_us: 0,
    });
    let mut m = msg(b"READY=1");
    m.sent_ns = Some(1_200_000_000);
    assert_eq!(run(&m, &from(241), Some(&u), 257).kind, Kind::Accepted);
    // Up to 256 ExecMain's start is the handover itself: 243 was already main then.
    assert_eq!(run(&m, &from(241), Some(&u), 256).kind, Kind::NotMainPid);
}
