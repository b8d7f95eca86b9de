use super::*;
use crate::{
    judge::Judgement,
    verdict::{Stage, Verdict},
};

/// The event line as it was built before EventRecord: a `json!` Value.
fn as_value(ev: &Event, j: &Judgement, socket: &str) -> Value {
    let v = j.verdict.as_ref();
    let mut out = json!({
        "record": "event",
        "ts": rfc3339(ev.wall_ns),
        "mono_ns": ev.mono_ns,
        "pid": ev.pid,
        "ns_pid": ev.ns_pid,
        "tid": ev.tid,
        "uid": ev.uid,
        "gid": ev.gid,
        "comm": ev.comm,
        "cgroup_id": ev.cgroup_id,
        "dest": ev.dest,
        "socket": socket,
        "matched_by": if ev.matched_by_identity { "identity" } else { "path" },
        "connected": ev.connected,
        "payload": notify::escape(&ev.payload),
        "len": ev.len,
        "truncated": ev.truncated(),
        "creds": ev.creds,
        "fds": ev.fds,
        "result": ev.result,
        "error": (ev.result < 0).then(|| crate::systemd_basic::errno_list::result_errno_name(ev.result)),
        "hook": format!("{:?}", ev.hook),
        "msg_index": ev.msg_index,
        "fields": ev.fields(),
        "unit": j.unit,
        "verdict": j.outcome,
        "kind": v.map(|v| v.kind),
        "reason": v.map(|v| v.reason.as_str()),
        "log_level": v.map(|v| v.log_level),
        "hint": v.map(|v| v.hint.as_str()).filter(|h| !h.is_empty()),
        "field_notes": v.map(|v| &v.field_notes),
        "caveats": v.map(|v| &v.caveats),
        "logs": v.map(|v| &v.logs),
        "note": j.note,
    });
    add_delivery(&mut out, ev, &j.delivery);
    out
}

fn event(payload: &[u8], result: i64) -> Event {
    Event {
        mono_ns: 123_456_789,
        wall_ns: 1_795_472_847_123_456_789,
        pid: 42,
        tid: 43,
        uid: 65534,
        gid: 65534,
        comm: "systemd-notify".into(),
        cgroup_id: 9876,
        dest: "/run/systemd/notify".into(),
        watch_id: 1,
        matched_by_identity: true,
        connected: false,
        payload: payload.to_vec(),
        len: payload.len() as u32 + 3,
        creds: Some(Creds {
            pid: 42,
            uid: 65534,
            gid: 65534,
        }),
        fds: 2,
        result,
        hook: Hook::SockSendLength,
        msg_index: 0,
        flags: 0,
        ns_pid: 7,
        pidns_ino: 4_026_531_836,
        cgroup_name: "foo.service".into(),
        cgroup_parent_name: "system.slice".into(),
    }
}

fn verdict() -> Verdict {
    Verdict {
            accepted: false,
            stage: Stage::Unit,
            kind: Kind::NotMainPid,
            reason: "foo.service: Got notification message from PID 42, but reception only permitted for main PID 41".into(),
            log_level: LogLevel::Warning,
            source: "src/core/service.c:4386 (v252)".into(),
            hint: "set NotifyAccess=all".into(),
            field_notes: Vec::new(),
            logs: vec![LogLine {
                level: LogLevel::Warning,
                unit: Some("foo.service".into()),
                message: "Got notification message from PID 42".into(),
                source: "src/core/service.c:4386 (v252)".into(),
                may: false,
            }],
            caveats: vec!["systemd version inferred".into()],
        }
}

#[test]
fn event_line_has_the_keys_and_values_of_the_value_line() {
    let cases = [
        (
            event(b"READY=1\nSTATUS=up \\ \xff\x01\tMAINPID=x", 44),
            Judgement {
                unit: Some("foo.service".into()),
                outcome: Outcome::Rejected,
                verdict: Some(verdict()),
                note: None,
                inputs: None,
                sender_pid: None,
                delivery: Delivery {
                    delivered: Delivered::Yes,
                    queue_delay_us: Some(17),
                    manager_creds: Some(Creds {
                        pid: 7,
                        uid: 65534,
                        gid: 65534,
                    }),
                    read_mono_ns: Some(123_470_000),
                    reader_pid: Some(1),
                    pidfd: true,
                    sender_alive: Some(true),
                    sender_exited: false,
                    note: Some("rewritten".into()),
                    sender_payload: Some(b"READY=0\x1b".to_vec()),
                },
            },
        ),
        (
            event(b"WATCHDOG=1", -111),
            Judgement {
                unit: None,
                outcome: Outcome::NotDelivered,
                verdict: None,
                note: Some("the send failed".into()),
                inputs: None,
                sender_pid: None,
                delivery: Delivery {
                    delivered: Delivered::No,
                    note: Some("the send failed".into()),
                    ..Default::default()
                },
            },
        ),
    ];
    for (ev, j) in &cases {
        let shown = Shown::unknown_socket(ev, j);
        let line = serde_json::to_string(&EventRecord::new(&shown)).unwrap();
        let ours: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(ours, as_value(ev, j, &shown.socket.label));
    }
}

/// Programs driving the observer wait for this line (xtask's bench, the capture tests): it
/// must be out at once, not when the buffer next fills.
#[test]
fn the_idle_record_is_one_line_written_at_once() {
    let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = JsonSink::new(Shared(out.clone()));
    sink.idle().unwrap();
    assert_eq!(out.borrow().as_slice(), b"{\"record\":\"idle\"}\n");
}
