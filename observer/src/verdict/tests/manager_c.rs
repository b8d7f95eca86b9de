//! The checks of manager.c (and notify-recv.c): truncation, size, credentials, NUL bytes,
//! barriers, no unit, and units that are not services.

use super::*;

#[test]
fn control_truncated() {
    // recvmsg_safe() MSG_CTRUNC: manager.c:2533 v252.39, :2851 v257.13, notify-recv.c:124 v262.
    let mut m = msg(b"FDSTORE=1");
    m.fds = 769;
    let r = "Got message with truncated control data (too many fds sent?), ignoring.";
    table(
        &m,
        &from(MAIN),
        Some(&svc(NotifyAccess::All)),
        &[
            (252, ControlTruncated, r, Warning, Mgr),
            (262, ControlTruncated, r, Warning, Mgr),
        ],
    );
    let mut m = msg(b"READY=1");
    m.control_truncated = true;
    assert_eq!(run(&m, &from(MAIN), None, 257).kind, ControlTruncated);
}

#[test]
fn oversize_and_its_order_against_credentials() {
    let mut m = msg(&[b'x'; 10]);
    m.len = 4097;
    let u = svc(NotifyAccess::All);
    // v252: size is checked after credentials (manager.c:2576 v252.39); v257 at receive (:2855).
    table(
        &m,
        &from(MAIN),
        Some(&u),
        &[
            (
                252,
                Oversize,
                "Received notify message exceeded maximum size. Ignoring.",
                Warning,
                Mgr,
            ),
            (
                254,
                Oversize,
                "Received notify message exceeded maximum size. Ignoring.",
                Warning,
                Mgr,
            ),
            (
                257,
                Oversize,
                "Got message with truncated payload data, ignoring.",
                Warning,
                Mgr,
            ),
            (
                262,
                Oversize,
                "Got message with truncated payload data, ignoring.",
                Warning,
                Mgr,
            ),
        ],
    );
    let nobody = Sender {
        pid: None,
        ..from(0)
    };
    assert_eq!(run(&m, &nobody, None, 252).kind, NoCredentials);
    assert_eq!(run(&m, &nobody, None, 257).kind, Oversize);
    // Exactly NOTIFY_BUFFER_MAX bytes fit: iov_len is 4096 (manager.c:2500 v252.39).
    let mut full = b"STATUS=".to_vec();
    full.resize(4096, b'a');
    for v in [252, 257, 262] {
        assert_eq!(run(&msg(&full), &from(MAIN), Some(&u), v).kind, Accepted);
    }
}

#[test]
fn no_credentials() {
    // manager.c:2571 v252.39, :2904 v257.13; notify-recv.c:189 v262.
    let s = Sender {
        pid: Some(0),
        ..from(0)
    };
    table(
        &msg(b"READY=1"),
        &s,
        None,
        &[
            (
                252,
                NoCredentials,
                "Received notify message without valid credentials. Ignoring.",
                Warning,
                Mgr,
            ),
            (
                257,
                NoCredentials,
                "Received notify message without valid credentials. Ignoring.",
                Warning,
                Mgr,
            ),
            (
                258,
                NoCredentials,
                "Got notification datagram lacking valid credential information, ignoring.",
                Warning,
                Mgr,
            ),
        ],
    );
    let mut m = msg(b"READY=1");
    m.creds_attached = false;
    assert_eq!(run(&m, &from(MAIN), None, 262).kind, NoCredentials);
}

#[test]
fn sender_died_only_in_257() {
    // pidref_set_pid() pin: manager.c:2916 v257.13; v252 looks the unit up by PID instead.
    let s = Sender {
        alive: Some(false),
        ..from(MAIN)
    };
    let r = "Notify sender died before message is processed. Ignoring.";
    table(
        &msg(b"READY=1"),
        &s,
        Some(&svc(NotifyAccess::Main)),
        &[
            (257, SenderDied, r, Debug, Mgr),
            (
                252,
                Accepted,
                "Got notification message from PID 53 (READY=1)",
                Debug,
                Per,
            ),
            (
                262,
                Accepted,
                "Got notification message from PID 53: READY=1",
                Debug,
                Per,
            ),
        ],
    );
}

#[test]
fn a_reaped_sender_no_unit_watches_has_no_unit() {
    // manager_get_units_for_pidref(): the cgroup of a reaped PID cannot be read, and only the
    // main and control PIDs are watched (manager.c:2633 v252.39 logs "Cannot find unit"; v257
    // stops earlier at the pidfd, manager.c:2916 v257.13). Seen in the testbed: a child under
    // NotifyAccess=all reaped by its parent before PID 1 read its STATUS= (252, 254, 262: P4,
    // P4, P7; 257: "Notify sender died…" P7).
    let s = Sender {
        alive: Some(false),
        ..from(60)
    };
    let no_unit = "Cannot find unit for notify message of PID 60, ignoring.";
    table(
        &msg(b"STATUS=dying"),
        &s,
        Some(&svc(NotifyAccess::All)),
        &[
            (252, NoUnit, no_unit, Warning, Mgr),
            (254, NoUnit, no_unit, Warning, Mgr),
            (256, NoUnit, no_unit, Debug, Mgr),
            (
                257,
                SenderDied,
                "Notify sender died before message is processed. Ignoring.",
                Debug,
                Mgr,
            ),
            (262, NoUnit, no_unit, Debug, Mgr),
        ],
    );
    // The same child alive (a zombie still counts): its cgroup names the unit.
    assert_eq!(
        run(
            &msg(b"STATUS=dying"),
            &from(60),
            Some(&svc(NotifyAccess::All)),
            262
        )
        .kind,
        Accepted
    );
    // A reaped control process is still watched.
    let mut u = svc(NotifyAccess::All);
    u.control_pid = Some(60);
    assert_eq!(run(&msg(b"STATUS=x"), &s, Some(&u), 252).kind, Accepted);
}

#[test]
fn an_exited_sender_races_its_reaping() {
    // A zombie at the read: its parent may reap it before manager_get_units_for_pidref() reads
    // its cgroup (seen in the systemd-257-as-PID-1 guest: "Cannot find unit for notify message
    // of PID 534, ignoring." where the read saw the sender not yet reaped). Both outcomes are
    // named, each line a `may`, and a caveat says which race.
    let s = Sender {
        exited: true,
        ..from(60)
    };
    let no_unit = "Cannot find unit for notify message of PID 60, ignoring.";
    for (v, level) in [(252, Warning), (256, Debug), (257, Debug), (262, Debug)] {
        let verdict = run(&msg(b"STATUS=dying"), &s, Some(&svc(NotifyAccess::All)), v);
        assert_eq!(verdict.kind, Accepted, "{v}");
        assert!(
            verdict.logs.iter().all(|l| l.may),
            "{v}: {:#?}",
            verdict.logs
        );
        let line = verdict.logs.iter().find(|l| l.message == no_unit);
        assert_eq!(
            line.map(|l| l.level),
            Some(level),
            "{v}: {:#?}",
            verdict.logs
        );
        let died = verdict
            .logs
            .iter()
            .any(|l| l.message.starts_with("Notify sender died"));
        assert_eq!(
            died,
            v == 257,
            "{v}: only v257 pins the sender with its pidfd"
        );
        assert!(
            verdict
                .caveats
                .iter()
                .any(|c| c.contains("had exited when systemd read")),
            "{v}: {:?}",
            verdict.caveats
        );
    }
    // Its main process is watched by PID: found whether reaped or not, no race.
    let mut u = svc(NotifyAccess::All);
    u.main_pid = Some(60);
    let verdict = run(&msg(b"STATUS=x"), &s, Some(&u), 257);
    assert!(verdict.logs.iter().all(|l| !l.may), "{:#?}", verdict.logs);
    assert!(verdict.caveats.is_empty(), "{:?}", verdict.caveats);
}

#[test]
fn embedded_nul() {
    // manager.c:2583 v252.39, :2933 v257.13; notify-recv.c:194 v262. A trailing NUL is fine.
    table(
        &msg(b"READY=1\0X=1"),
        &from(MAIN),
        None,
        &[
            (
                252,
                EmbeddedNul,
                "Received notify message with embedded NUL bytes. Ignoring.",
                Warning,
                Mgr,
            ),
            (
                257,
                EmbeddedNul,
                "Received notify message with embedded NUL bytes. Ignoring.",
                Warning,
                Mgr,
            ),
            (
                262,
                EmbeddedNul,
                "Got notification message with embedded NUL, ignoring.",
                Warning,
                Mgr,
            ),
        ],
    );
    assert_eq!(
        run(
            &msg(b"READY=1\0"),
            &from(MAIN),
            Some(&svc(NotifyAccess::Main)),
            252
        )
        .kind,
        Accepted
    );
}

#[test]
fn trailing_backslash_is_reported_as_oom() {
    // strv_split_newlines() -EINVAL → log_oom() (manager.c:2591 v252.39) / log_oom_warning() (:2942 v257.13).
    table(
        &msg(b"STATUS=C:\\"),
        &from(MAIN),
        None,
        &[
            (252, SplitFailed, "Out of memory.", Error, Mgr),
            (257, SplitFailed, "Out of memory.", Warning, Mgr),
            (262, SplitFailed, "Out of memory.", Warning, Mgr),
        ],
    );
}

#[test]
fn barrier() {
    // manager_process_barrier_fd(): manager.c:2444 v252.39, :2722 v257.13.
    let mut m = msg(b"BARRIER=1");
    m.fds = 1;
    let v = run(&m, &from(77), None, 257);
    assert!(
        v.accepted
            && v.kind == Barrier
            && v.reason == "Received barrier notification message from PID 77."
    );
    // v252 has no debug line for it (added in v254, manager.c:2683 v254.26).
    assert!(run(&m, &from(77), None, 252).logs.is_empty());
    m.fds = 0;
    table(
        &m,
        &from(77),
        None,
        &[(
            252,
            BarrierBadFds,
            "Got incorrect number of fds with BARRIER=1, closing them.",
            Warning,
            Mgr,
        )],
    );
    let mut m = msg(b"BARRIER=1\nREADY=1");
    m.fds = 1;
    table(
        &m,
        &from(77),
        Some(&svc(NotifyAccess::All)),
        &[
            (
                252,
                BarrierExtraFields,
                "Extra notification messages sent with BARRIER=1, ignoring everything.",
                Warning,
                Mgr,
            ),
            (
                262,
                BarrierExtraFields,
                "Extra notification messages sent with BARRIER=1, ignoring everything.",
                Warning,
                Mgr,
            ),
        ],
    );
    // Only the exact line counts (strv_contains()).
    assert_eq!(
        run(
            &msg(b"BARRIER=0"),
            &from(MAIN),
            Some(&svc(NotifyAccess::Main)),
            257
        )
        .kind,
        Accepted
    );
}

#[test]
fn no_unit_level_changed_in_256() {
    // manager.c:2633 v252.39, :2767 v255.22 log_warning → :2862 v256.17 (4414bd5932), :2964
    // v257.13 log_debug.
    let r = "Cannot find unit for notify message of PID 99, ignoring.";
    table(
        &msg(b"READY=1"),
        &from(99),
        None,
        &[
            (252, NoUnit, r, Warning, Mgr),
            (255, NoUnit, r, Warning, Mgr),
            (256, NoUnit, r, Debug, Mgr),
            (257, NoUnit, r, Debug, Mgr),
            (262, NoUnit, r, Debug, Mgr),
        ],
    );
}

#[test]
fn non_service_unit() {
    // manager_invoke_notify_message(): manager.c:2489 v252.39 (ellipsize+cescape),
    // :2764 v257.13 (cellescape).
    let u = UnitState::new("session-3.scope", NotifyAccess::None);
    table(
        &msg(b"READY=1\nSTATUS=waiting for things"),
        &from(9),
        Some(&u),
        &[
            (
                252,
                NotAService,
                "Got notification message \"READY=1, STATUS=w\\342\\200\\246gs\", ignoring.",
                Debug,
                Per,
            ),
            (
                257,
                NotAService,
                "Got notification message from unexpected unit type, ignoring: READY=1, STATUS=waiting for things",
                Debug,
                Per,
            ),
        ],
    );
    table(
        &msg(b"A=1"),
        &from(9),
        Some(&u),
        &[(
            252,
            NotAService,
            "Got notification message \"A=1\", ignoring.",
            Debug,
            Per,
        )],
    );
}
