//! `service_notify_message()` field by field: the debug line, MAINPID=, READY=/RELOADING=/STOPPING=,
//! the value fields and the fd store.

use super::*;

#[test]
fn accepted_debug_line_per_version() {
    // service.c:4140 v252.39 "(%s)"; service.c:4648 v257.13 ": %s".
    let u = svc(NotifyAccess::Main);
    table(
        &msg(b"READY=1\nSTATUS=hi"),
        &from(MAIN),
        Some(&u),
        &[
            (
                252,
                Accepted,
                "Got notification message from PID 53 (READY=1, STATUS=hi)",
                Debug,
                Per,
            ),
            (
                256,
                Accepted,
                "Got notification message from PID 53 (READY=1, STATUS=hi)",
                Debug,
                Per,
            ),
            (
                257,
                Accepted,
                "Got notification message from PID 53: READY=1, STATUS=hi",
                Debug,
                Per,
            ),
            (
                262,
                Accepted,
                "Got notification message from PID 53: READY=1, STATUS=hi",
                Debug,
                Per,
            ),
        ],
    );
    // empty_to_na(): an empty message is still accepted (service.c:4140 v252.39).
    table(
        &msg(b""),
        &from(MAIN),
        Some(&u),
        &[(
            257,
            Accepted,
            "Got notification message from PID 53: n/a",
            Debug,
            Per,
        )],
    );
}

fn mainpid_unit(state: ServiceState, target: Option<PidFacts>) -> UnitState {
    let mut u = svc(NotifyAccess::All);
    u.state = Some(state);
    u.mainpid_target = target;
    u
}

#[test]
fn mainpid_rules() {
    use ServiceState::*;
    let m = msg(b"MAINPID=70");
    let n = |u: &UnitState, s: &Sender, v: u32| note(&run(&m, s, Some(u), v), Key::MainPid).clone();
    // Belongs to the service: service.c:952 v252.39 / :1165 v257.13.
    let u = mainpid_unit(Running, facts(70, Some("foo.service")));
    let got = n(&u, &from(MAIN), 257);
    assert_eq!(
        (got.accepted, got.message.as_str(), got.log_level),
        (
            Some(true),
            "New main PID 70 belongs to service, we are happy.",
            Some(Debug)
        )
    );
    // Foreign PID from an unprivileged sender: refused at debug (service.c:4160 v252.39, :4386
    // v255.22), warning from v256 (a3980843ef; :4377 v256.17, :4673 v257.13).
    let u = mainpid_unit(Running, facts(70, Some("bar.service")));
    for (v, level) in [
        (252, Debug),
        (255, Debug),
        (256, Warning),
        (257, Warning),
        (262, Warning),
    ] {
        let got = n(&u, &from(MAIN), v);
        assert_eq!(
            (got.accepted, got.message.as_str(), got.log_level),
            (
                Some(false),
                "New main PID 70 does not belong to service, refusing.",
                Some(level)
            ),
            "v{v}"
        );
    }
    // … but root may (service.c:4157 v252.39).
    let root = Sender {
        uid: 0,
        ..from(MAIN)
    };
    assert_eq!(n(&u, &root, 252).accepted, Some(true));
    assert!(
        n(&u, &root, 252)
            .message
            .contains("came from a privileged process")
    );
    // The manager, the control process, a zombie (service.c:942/945/948 v252.39).
    let mut u = mainpid_unit(Running, facts(70, None));
    u.control_pid = Some(70);
    assert_eq!(
        n(&u, &from(MAIN), 252).message,
        "New main PID 70 is the control process, refusing."
    );
    let got = note(
        &run(&msg(b"MAINPID=1"), &from(MAIN), Some(&u), 252),
        Key::MainPid,
    )
    .message
    .clone();
    assert_eq!(got, "New main PID 1 is the manager, refusing.");
    let mut u = mainpid_unit(Running, facts(70, Some("foo.service")));
    u.mainpid_target.as_mut().unwrap().zombie = true;
    assert_eq!(
        n(&u, &from(MAIN), 252).message,
        "New main PID 70 does not exist or is a zombie."
    );
    // Gone entirely: v252 reaches the same check; v255+ fails in pidref_set_pidstr() already.
    u.mainpid_target.as_mut().unwrap().exists = false;
    assert_eq!(
        n(&u, &from(MAIN), 254).message,
        "New main PID 70 does not exist or is a zombie."
    );
    assert_eq!(
        n(&u, &from(MAIN), 257).message,
        "Failed to parse MAINPID=70 field in notification message, ignoring: No such process"
    );
    // Not our child: service_set_main_pid() warns (service.c:179 v252.39).
    let mut t = facts(70, Some("foo.service"));
    t.as_mut().unwrap().ppid = Some(50);
    let v = run(&m, &from(MAIN), Some(&mainpid_unit(Running, t)), 252);
    assert!(v.logs.iter().any(|l| l.message == "Supervising process 70 which is not our child. We'll most likely not notice when it exits." && l.level == Warning));
    // Unknown facts: depends.
    assert_eq!(
        n(&mainpid_unit(Running, None), &from(MAIN), 257).accepted,
        None
    );
}

#[test]
fn mainpid_parse_errors_per_version() {
    use ServiceState::*;
    let u = mainpid_unit(Running, None);
    let n = |p: &[u8], v: u32| {
        note(&run(&msg(p), &from(MAIN), Some(&u), v), Key::MainPid)
            .message
            .clone()
    };
    // parse_pid(): service.c:4149 v252.39 "%s"; pidref_set_pidstr(): :4599 v257.13 "%m".
    assert_eq!(
        n(b"MAINPID=abc", 252),
        "Failed to parse MAINPID= field in notification message, ignoring: abc"
    );
    assert_eq!(
        n(b"MAINPID=abc", 255),
        "Failed to parse MAINPID=abc field in notification message, ignoring: Invalid argument"
    );
    assert_eq!(
        n(b"MAINPID=0", 257),
        "Failed to parse MAINPID=0 field in notification message, ignoring: Numerical result out of range"
    );
    // The first MAINPID= wins (strv_find_startswith()).
    let v = run(&msg(b"MAINPID=abc\nMAINPID=70"), &from(MAIN), Some(&u), 257);
    assert!(
        v.field_notes
            .iter()
            .any(|f| f.message.starts_with("duplicate"))
    );
    // State gate: v252 checks the state first and says nothing; v257 parses first.
    let stopped = mainpid_unit(StopPost, None);
    let v252 = run(&msg(b"MAINPID=abc"), &from(MAIN), Some(&stopped), 252);
    assert!(
        note(&v252, Key::MainPid)
            .message
            .starts_with("ignored (no log)")
    );
    let v257 = run(&msg(b"MAINPID=abc"), &from(MAIN), Some(&stopped), 257);
    assert_eq!(note(&v257, Key::MainPid).log_level, Some(Warning));
    // stop/stop-sigterm accept MAINPID= from v256 (service.c:4358 v256.17, :4660 v257.13), not in
    // v254 (:4385 v254.26); the rows on both sides of the gate are in gates.rs.
    let stop = mainpid_unit(Stop, facts(70, Some("foo.service")));
    assert_eq!(
        note(
            &run(&msg(b"MAINPID=70"), &from(MAIN), Some(&stop), 254),
            Key::MainPid
        )
        .accepted,
        Some(false)
    );
    assert_eq!(
        note(
            &run(&msg(b"MAINPID=70"), &from(MAIN), Some(&stop), 257),
            Key::MainPid
        )
        .accepted,
        Some(true)
    );
    // reload-signal exists from v253 (Type=notify-reload).
    let rs = mainpid_unit(ReloadSignal, facts(70, Some("foo.service")));
    assert_eq!(
        note(
            &run(&msg(b"MAINPID=70"), &from(MAIN), Some(&rs), 254),
            Key::MainPid
        )
        .accepted,
        Some(true)
    );
}

#[test]
fn mainpidfd_from_257() {
    // service_notify_message_parse_new_pid(): service.c:4582 v257.13.
    let u = mainpid_unit(ServiceState::Running, None);
    let v = run(&msg(b"MAINPIDFD=1"), &from(MAIN), Some(&u), 257);
    assert_eq!(
        note(&v, Key::MainPidFd).message,
        "Got MAINPIDFD=1 with no fd, ignoring."
    );
    let mut m = msg(b"MAINPIDFD=1");
    m.fds = 1;
    let v = run(&m, &from(MAIN), Some(&u), 257);
    assert!(!v.logs.iter().any(|l| l.message.contains("extra auxiliary")));
    let v = run(&m, &from(MAIN), Some(&u), 256);
    assert!(note(&v, Key::MainPidFd).message.contains("not interpreted"));
    assert!(
        v.logs.iter().any(
            |l| l.message == "Got extra auxiliary fds with notification message, closing them."
        )
    );
    let v = run(
        &msg(b"MAINPID=70\nMAINPIDFDID=x"),
        &from(MAIN),
        Some(&u),
        257,
    );
    assert_eq!(
        note(&v, Key::MainPidFdId).message,
        "Failed to parse MAINPIDFDID= in notification message, refusing: x"
    );
}

#[test]
fn ready_reloading_stopping() {
    use ServiceState::*;
    let u = svc(NotifyAccess::Main);
    // READY=1 in start finishes startup (service.c:4177 v252.39, :4703 v257.13).
    assert_eq!(
        note(
            &run(&msg(b"READY=1"), &from(MAIN), Some(&u), 257),
            Key::Ready
        )
        .accepted,
        Some(true)
    );
    let mut simple = u.clone();
    simple.service_type = Some(ServiceType::Simple);
    assert_eq!(
        note(
            &run(&msg(b"READY=1"), &from(MAIN), Some(&simple), 257),
            Key::Ready
        )
        .accepted,
        Some(false)
    );
    // v252: last of the three wins (STRV_FOREACH_BACKWARDS, service.c:4175 v252.39);
    // v254+: STOPPING wins (service.c:4423 v254.26).
    let mut run_u = u.clone();
    run_u.state = Some(Running);
    let both = msg(b"STOPPING=1\nREADY=1");
    let v252 = run(&both, &from(MAIN), Some(&run_u), 252);
    assert_eq!(note(&v252, Key::Stopping).accepted, Some(false));
    let v254 = run(&both, &from(MAIN), Some(&run_u), 254);
    assert_eq!(note(&v254, Key::Stopping).accepted, Some(true));
    assert!(note(&v254, Key::Ready).message.starts_with("superseded"));
    // MONOTONIC_USEC= read from v253 (service.c:4419 v254.26).
    let v = run(&msg(b"MONOTONIC_USEC=x"), &from(MAIN), Some(&run_u), 254);
    assert_eq!(
        note(&v, Key::MonotonicUsec).message,
        "Failed to parse MONOTONIC_USEC= field in notification message, ignoring: x"
    );
    assert!(
        note(
            &run(&msg(b"MONOTONIC_USEC=x"), &from(MAIN), Some(&run_u), 252),
            Key::MonotonicUsec
        )
        .message
        .contains("not interpreted")
    );
    // v262 latch: READY after STOPPING is refused with an error (service.c:5530 v262).
    let mut dying = run_u.clone();
    dying.notify_state = Some(NotifyState::Stopping);
    let v = run(&msg(b"READY=1"), &from(MAIN), Some(&dying), 262);
    assert_eq!(note(&v, Key::Ready).log_level, Some(Error));
    assert_eq!(
        note(&v, Key::Ready).message,
        "Service must stop after STOPPING=1 notification, refusing attempted transition to READY."
    );
    assert_ne!(
        note(
            &run(&msg(b"READY=1"), &from(MAIN), Some(&dying), 257),
            Key::Ready
        )
        .log_level,
        Some(Error)
    );
}

#[test]
fn value_fields_log_like_systemd() {
    let mut u = svc(NotifyAccess::Main);
    u.state = Some(ServiceState::Running);
    let n = |p: &[u8], k: Key, v: u32| note(&run(&msg(p), &from(MAIN), Some(&u), v), k).clone();
    // service.c:4224 v252.39.
    assert_eq!(n(b"STATUS=\xff", Key::Status, 252).log_level, Some(Warning));
    assert!(
        n(b"STATUS=\xff", Key::Status, 252)
            .message
            .starts_with("Status message in notification message is not UTF-8 clean, ignoring.")
    );
    // service.c:4246 v252.39.
    assert_eq!(
        n(b"ERRNO=5000", Key::Errno, 252).message,
        "Failed to parse ERRNO= field value '5000' in notification message: Numerical result out of range"
    );
    assert_eq!(n(b"ERRNO=ENOENT", Key::Errno, 252).accepted, Some(true));
    // service.c:4258, 4271, 4278 v252.39.
    assert_eq!(
        n(b"EXTEND_TIMEOUT_USEC=1s", Key::ExtendTimeoutUsec, 252).message,
        "Failed to parse EXTEND_TIMEOUT_USEC=1s"
    );
    assert_eq!(
        n(b"WATCHDOG=yes", Key::Watchdog, 252).message,
        "Passed WATCHDOG= field is invalid, ignoring."
    );
    assert_eq!(
        n(b"WATCHDOG_USEC=-1", Key::WatchdogUsec, 262).message,
        "Failed to parse WATCHDOG_USEC=-1"
    );
    // BUSERROR= from v257 (service.c:4838 v257.13); v262 also refuses globs.
    assert_eq!(
        n(b"BUSERROR=a\"b", Key::BusError, 257).message,
        "Got invalid BUSERROR= string, ignoring: a\\\"b"
    );
    assert_eq!(n(b"BUSERROR=a*b", Key::BusError, 257).accepted, Some(true));
    assert_eq!(n(b"BUSERROR=a*b", Key::BusError, 262).accepted, Some(false));
    assert!(
        n(b"BUSERROR=x", Key::BusError, 256)
            .message
            .contains("not interpreted")
    );
    // RESTART_RESET=1 from v258 (service.c:5779 v262), notice level.
    let mut u = u.clone();
    u.n_restarts = Some(4);
    let v = run(&msg(b"RESTART_RESET=1"), &from(MAIN), Some(&u), 258);
    assert_eq!(
        (
            note(&v, Key::RestartReset).message.as_str(),
            note(&v, Key::RestartReset).log_level
        ),
        (
            "Got RESTART_RESET=1, resetting restart counter from 4.",
            Some(Notice)
        )
    );
    // WATCHDOG=trigger logs an error with the status text (service.c:4113 v252.39).
    u.watchdogs_enabled = Some(true);
    let v = run(
        &msg(b"STATUS=busy\nWATCHDOG=trigger"),
        &from(MAIN),
        Some(&u),
        252,
    );
    assert_eq!(note(&v, Key::Watchdog).log_level, Some(Error));
    assert!(
        note(&v, Key::Watchdog)
            .message
            .starts_with("Watchdog request (last status: busy)!")
    );
    // A non-UTF-8 STATUS= in the same message has cleared the text (service.c:4224 v252.39).
    let v = run(
        &msg(b"STATUS=\xff\nWATCHDOG=trigger"),
        &from(MAIN),
        Some(&u),
        257,
    );
    let m = &note(&v, Key::Watchdog).message;
    assert!(m.starts_with("Watchdog request (last status: <unset>)!"));
    // Unknown and X_ fields are noted, never logged.
    let v = run(
        &msg(b"X_APP=1\nFOO=2\nEXIT_STATUS=0"),
        &from(MAIN),
        Some(&u),
        257,
    );
    assert_eq!(v.field_notes.len(), 3);
    assert!(
        v.field_notes
            .iter()
            .all(|f| f.accepted == Some(false) && f.log_level.is_none())
    );
}

#[test]
fn fd_store() {
    let mut u = svc(NotifyAccess::Main);
    u.state = Some(ServiceState::Running);
    u.fd_store_max = Some(0);
    u.fd_store_count = Some(0);
    let mut m = msg(b"FDSTORE=1\nFDNAME=db");
    m.fds = 2;
    // service_add_fd_store_set(): service.c:493 v252.39; the leftover fd → manager.c:2636 v252.39.
    let v = run(&m, &from(MAIN), Some(&u), 252);
    assert!(
        note(&v, Key::FdStore)
            .message
            .starts_with("Cannot store more fds than FileDescriptorStoreMax=0, closing remaining.")
    );
    assert!(
        v.logs
            .iter()
            .any(|l| l.message.starts_with("Got extra auxiliary fds"))
    );
    u.fd_store_max = Some(5);
    let v = run(&m, &from(MAIN), Some(&u), 257);
    assert_eq!(note(&v, Key::FdStore).message, "2 fd(s) stored as \"db\"");
    assert!(
        !v.logs
            .iter()
            .any(|l| l.message.starts_with("Got extra auxiliary fds"))
    );
    // FDSTORE=1 without fds: nothing, silently.
    assert_eq!(
        note(
            &run(&msg(b"FDSTORE=1"), &from(MAIN), Some(&u), 257),
            Key::FdStore
        )
        .accepted,
        Some(false)
    );
    // Invalid FDNAME= falls back to "stored" (service.c:4300 v252.39).
    let mut m = msg(b"FDSTORE=1\nFDNAME=a:b");
    m.fds = 1;
    let v = run(&m, &from(MAIN), Some(&u), 252);
    assert_eq!(
        note(&v, Key::FdName).message,
        "Passed FDNAME= name is invalid, ignoring."
    );
    assert_eq!(
        note(&v, Key::FdStore).message,
        "1 fd(s) stored as \"stored\""
    );
    // FDSTOREREMOVE=1 needs a valid FDNAME= (service.c:4291 v252.39).
    let v = run(&msg(b"FDSTOREREMOVE=1"), &from(MAIN), Some(&u), 262);
    assert_eq!(
        note(&v, Key::FdStoreRemove).message,
        "FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring."
    );
    // fds without FDSTORE=1 are closed with a warning, also when the unit refused the message.
    let mut m = msg(b"READY=1");
    m.fds = 1;
    let v = run(&m, &from(56), Some(&u), 257);
    assert_eq!(v.kind, NotMainPid);
    assert_eq!(
        v.logs.last().unwrap().message,
        "Got extra auxiliary fds with notification message, closing them."
    );
}
