use super::*;

fn sender(pid: u32) -> Sender {
    Sender {
        pid: Some(pid),
        uid: 0,
        gid: 0,
        alive: Some(true),
        exited: false,
    }
}

#[test]
fn only_main_pid_messages_of_a_unit_without_one_wait_and_not_for_long() {
    let now = crate::manager::monotonic_ns();
    let mut st = UnitState::new("tb.service", crate::notify::NotifyAccess::Main);
    assert!(awaits_main_pid_signal(&st, &sender(364), now));
    // Sent longer ago than MAIN_PID_SIGNAL_WAIT: judged with what is known.
    let old = now - MAIN_PID_SIGNAL_WAIT.as_nanos() as u64 - 1;
    assert!(!awaits_main_pid_signal(&st, &sender(364), old));
    // A main PID known (the sender's or not): nothing to wait for.
    st.main_pid = Some(360);
    assert!(!awaits_main_pid_signal(&st, &sender(364), now));
    // Any process may send: the main PID does not matter.
    let all = UnitState::new("tb.service", crate::notify::NotifyAccess::All);
    assert!(!awaits_main_pid_signal(&all, &sender(364), now));
    // `NotifyAccess=exec` counts the main PID too.
    let exec = UnitState::new("tb.service", crate::notify::NotifyAccess::Exec);
    assert!(awaits_main_pid_signal(&exec, &sender(364), now));
}
