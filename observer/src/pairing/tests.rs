use observer_common::Hook;

use super::*;

const MS: u64 = 1_000_000;

fn ev(watch_id: u32, mono_ns: u64, payload: &[u8], result: i64, hook: Hook) -> Event {
    Event {
        mono_ns,
        wall_ns: 0,
        pid: 100,
        tid: 100,
        uid: 0,
        gid: 0,
        comm: "t".into(),
        cgroup_id: 0,
        dest: "/s".into(),
        watch_id,
        matched_by_identity: true,
        connected: false,
        payload: payload.to_vec(),
        len: payload.len() as u32,
        creds: None,
        fds: 0,
        result,
        hook,
        msg_index: 0,
        flags: 0,
        ns_pid: 0,
        pidns_ino: 0,
        cgroup_name: String::new(),
        cgroup_parent_name: String::new(),
    }
}

fn send(at_ms: u64, payload: &[u8]) -> Event {
    ev(
        1,
        at_ms * MS,
        payload,
        payload.len() as i64,
        Hook::SockSendLength,
    )
}

fn read(at_ms: u64, payload: &[u8], pid: u32) -> Event {
    let mut e = ev(
        1,
        at_ms * MS,
        payload,
        payload.len() as i64,
        Hook::RecvmsgExit,
    );
    e.pid = 55;
    e.creds = Some(Creds {
        pid,
        uid: 0,
        gid: 0,
    });
    e
}

fn pairing() -> Pairing {
    let mut p = Pairing::default();
    assert!(p.set_readers([1].into()).is_empty());
    p
}

#[test]
fn a_read_is_paired_with_its_send_in_fifo_order() {
    let mut p = pairing();
    let (a, b) = (send(10, b"WATCHDOG=1"), send(20, b"WATCHDOG=1"));
    p.sent(&a);
    p.sent(&b);
    assert!(p.hold(&a, 30 * MS));
    assert!(p.read(&read(25, b"WATCHDOG=1", 7)).is_empty());
    assert!(p.read(&read(1500, b"WATCHDOG=1", 8)).is_empty());
    assert!(!p.hold(&a, 30 * MS), "read: no need to wait");
    let (da, db) = (p.take(&mut a.clone(), false), p.take(&mut b.clone(), false));
    assert_eq!(da.delivered, Delivered::Yes);
    assert_eq!(da.queue_delay_us, Some(15_000));
    assert_eq!(da.manager_creds.map(|c| c.pid), Some(7));
    assert_eq!(da.reader_pid, Some(55));
    assert_eq!(db.queue_delay_us, Some(1_480_000));
    assert_eq!(db.manager_creds.map(|c| c.pid), Some(8));
}

#[test]
fn a_read_may_come_before_its_send_record_but_not_before_the_send() {
    let mut p = pairing();
    // A read of something sent before the observer started, then one of ours.
    p.read(&read(5, b"READY=1", 9));
    p.read(&read(12, b"READY=1", 7));
    let a = send(10, b"READY=1");
    p.sent(&a);
    let d = p.take(&mut a.clone(), false);
    assert_eq!(
        (d.delivered, d.queue_delay_us),
        (Delivered::Yes, Some(2000))
    );
    assert_eq!(d.manager_creds.map(|c| c.pid), Some(7));
}

#[test]
fn another_length_is_never_this_datagram() {
    let mut p = pairing();
    let a = send(10, b"READY=1");
    p.sent(&a);
    p.read(&read(12, b"READY=12", 7));
    assert!(p.hold(&a, 20 * MS));
    assert!(
        p.hold(&a, 500 * MS),
        "a read of another length is not its read"
    );
    assert!(!p.hold(&a, 10 * MS + HOLD_UNREAD.as_nanos() as u64));
    let d = p.take(&mut a.clone(), false);
    assert_eq!(d.delivered, Delivered::Unknown);
}

/// A sender that rewrote its buffer during the send: the capture shows READY=0, the manager
/// read READY=1. FIFO says the read was of this send; once no send with the read's bytes has
/// come for SETTLE_NS, the event takes the bytes read and keeps the sender's beside them.
#[test]
fn bytes_rewritten_during_the_send_are_judged_as_read() {
    let mut p = pairing();
    let a = send(10, b"READY=0");
    p.sent(&a);
    p.read(&read(11, b"READY=1", 7));
    assert!(p.hold(&a, 50 * MS), "the read's own send may still come");
    assert!(!p.hold(&a, 11 * MS + SETTLE_NS), "settled: no need to wait");
    let mut shown = a.clone();
    let d = p.take(&mut shown, false);
    assert_eq!(d.delivered, Delivered::Yes);
    assert_eq!(shown.payload, b"READY=1");
    assert_eq!(d.sender_payload.as_deref(), Some(&b"READY=0"[..]));
    assert!(d.note.unwrap().contains("other bytes"));
    // Recordings keep the sender's bytes (hex).
    let json = serde_json::to_value(crate::recording::schema::Delivery::from(&Delivery {
        sender_payload: Some(b"READY=0".to_vec()),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(json["sender_payload"], "52454144593d30");
}

/// Two sends of one length, reads in FIFO order, each with its own bytes: never crossed, even
/// when the later send's record comes after both reads (another CPU's ring write).
#[test]
fn same_length_sends_pair_by_their_bytes_first() {
    let mut p = pairing();
    let (a, b) = (send(10, b"X_SEQ=1"), send(11, b"X_SEQ=2"));
    p.sent(&a);
    p.read(&read(12, b"X_SEQ=1", 7));
    p.read(&read(13, b"X_SEQ=2", 8));
    p.sent(&b);
    let now = 13 * MS + 2 * SETTLE_NS;
    assert!(!p.hold(&a, now) && !p.hold(&b, now));
    let (mut sa, mut sb) = (a.clone(), b.clone());
    let (da, db) = (p.take(&mut sa, false), p.take(&mut sb, false));
    assert_eq!((sa.payload, sb.payload), (a.payload, b.payload));
    assert_eq!(da.manager_creds.map(|c| c.pid), Some(7));
    assert_eq!(db.manager_creds.map(|c| c.pid), Some(8));
    assert!(da.sender_payload.is_none() && db.sender_payload.is_none());
}

/// A send of more iovecs than the kernel side walks: its capture stops short, the manager's
/// read holds the whole datagram, and the event is shown and judged complete, saying how.
#[test]
fn a_short_capture_is_completed_from_the_read() {
    use observer_common::flags::IOV_TRUNCATED;
    let mut p = pairing();
    let mut a = send(10, b"STATUS=x");
    a.len = 16;
    a.flags = IOV_TRUNCATED;
    p.sent(&a);
    let mut r = read(11, b"STATUS=x\nREADY=1", 7);
    r.payload = b"STATUS=x\nREADY=1"[..16].to_vec();
    r.len = 16;
    p.read(&r);
    let mut shown = a.clone();
    assert!(shown.truncated());
    let d = p.take(&mut shown, false);
    assert_eq!(d.delivered, Delivered::Yes);
    assert_eq!(shown.payload, r.payload);
    assert!(!shown.truncated(), "{shown:?}");
    assert!(
        d.note
            .unwrap()
            .contains("completed from the manager's read")
    );
    assert!(d.sender_payload.is_none());
}

/// Shown unread, then read with other bytes: the correction carries the bytes read.
#[test]
fn a_late_read_with_other_bytes_corrects_with_them() {
    let mut p = pairing();
    let a = send(10, b"READY=0");
    p.sent(&a);
    assert_eq!(p.take(&mut a.clone(), false).delivered, Delivered::Unknown);
    p.await_read(&a, Some("foo.service".into()));
    assert!(p.read(&read(1500, b"READY=1", 7)).is_empty());
    let c = p.finish();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].delivery.delivered, Delivered::Yes);
    assert_eq!(c[0].event.payload, b"READY=1");
    assert_eq!(
        c[0].delivery.sender_payload.as_deref(),
        Some(&b"READY=0"[..])
    );
}

#[test]
fn shown_unread_then_read_gives_a_correction() {
    let mut p = pairing();
    let a = send(10, b"READY=1");
    p.sent(&a);
    let d = p.take(&mut a.clone(), false);
    assert_eq!(d.delivered, Delivered::Unknown);
    p.await_read(&a, Some("foo.service".into()));
    let c = p.read(&read(2810, b"READY=1", 7));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].unit.as_deref(), Some("foo.service"));
    assert_eq!(c[0].delivery.delivered, Delivered::Yes);
    assert_eq!(c[0].delivery.queue_delay_us, Some(2_800_000));
    assert!(p.finish().is_empty(), "nothing left unread");
}

#[test]
fn never_read_is_undelivered_when_the_reader_goes_or_the_observer_stops() {
    let mut p = pairing();
    let (a, b) = (send(10, b"READY=1"), send(20, b"STATUS=x"));
    p.sent(&a);
    p.sent(&b);
    p.take(&mut a.clone(), false);
    p.await_read(&a, None);
    let c = p.set_readers(BTreeSet::new());
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].delivery.delivered, Delivered::No);
    // Still held when its reader went: decided at once.
    assert_eq!(p.take(&mut b.clone(), false).delivered, Delivered::No);

    let mut p = pairing();
    p.sent(&a);
    p.sent(&b);
    p.take(&mut a.clone(), false);
    p.await_read(&a, None);
    assert_eq!(p.take(&mut b.clone(), true).delivered, Delivered::No);
    let c = p.finish();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].delivery.delivered, Delivered::No);
}

#[test]
fn failed_sends_and_uncaptured_sockets() {
    let mut p = pairing();
    let failed = ev(1, 10 * MS, b"READY=1", -11, Hook::SockSendLength);
    p.sent(&failed);
    assert!(!p.hold(&failed, 11 * MS));
    assert_eq!(p.take(&mut failed.clone(), false).delivered, Delivered::No);
    let elsewhere = ev(2, 10 * MS, b"READY=1", 7, Hook::SockSendLength);
    p.sent(&elsewhere);
    assert!(!p.hold(&elsewhere, 11 * MS));
    assert_eq!(
        p.take(&mut elsewhere.clone(), false).delivered,
        Delivered::Unknown
    );
}

#[test]
fn delivered_serializes_as_true_false_unknown() {
    let j = |d| serde_json::to_string(&d).unwrap();
    assert_eq!(j(Delivered::Yes), "true");
    assert_eq!(j(Delivered::No), "false");
    assert_eq!(j(Delivered::Unknown), "\"unknown\"");
}

/// One thread sends the same bytes again and again while rewriting its buffer: the first
/// capture is torn, its read holds what was sent. The read is not taken for the next send that
/// has its bytes (that one is read after it): each send keeps its own read.
#[test]
fn a_torn_capture_does_not_shift_a_threads_reads() {
    let mut p = pairing();
    let torn = send(10, b"READY=0");
    let (b, c) = (send(11, b"READY=1"), send(12, b"READY=1"));
    for s in [&torn, &b, &c] {
        p.sent(s);
    }
    for (at, pid) in [(13, 7), (14, 8), (15, 9)] {
        p.read(&read(at, b"READY=1", pid));
    }
    let now = 15 * MS + SETTLE_NS;
    let mut got = Vec::new();
    for s in [&torn, &b, &c] {
        assert!(!p.hold(s, now), "read: {s:?}");
        let mut shown = s.clone();
        let d = p.take(&mut shown, false);
        got.push((d.manager_creds.unwrap().pid, d.sender_payload.is_some()));
        assert_eq!(shown.payload, b"READY=1");
    }
    assert_eq!(got, [(7, true), (8, false), (9, false)]);
}

/// A read of a datagram another process sent before the observer started, made while a send of
/// the same length waits: the credentials the reader got name that other process, so it is not
/// taken for the send (nor does it keep the send's own read from it).
#[test]
fn a_read_of_another_processs_datagram_is_not_taken_for_a_send() {
    let mut p = pairing();
    let mut a = send(10, b"STATUS=new");
    a.ns_pid = a.pid; // a process of the host's PID namespace
    p.sent(&a);
    p.read(&read(11, b"STATUS=old", 3));
    p.read(&read(12, b"STATUS=new", a.pid));
    let mut shown = a.clone();
    assert!(!p.hold(&a, 12 * MS + SETTLE_NS));
    let d = p.take(&mut shown, false);
    assert_eq!(d.manager_creds.unwrap().pid, a.pid);
    assert!(d.sender_payload.is_none());
    assert_eq!(shown.payload, b"STATUS=new");
}

/// A send whose read the observer missed holds back its thread's next sends for a second at
/// most: a read a second later pairs by its bytes again.
#[test]
fn a_missed_read_holds_a_thread_back_only_for_a_while() {
    let mut p = pairing();
    let (missed, later) = (send(10, b"STATUS=one"), send(1500, b"STATUS=twelve"));
    p.sent(&missed);
    p.sent(&later);
    p.read(&read(1501, b"STATUS=twelve", 7));
    let mut shown = later.clone();
    assert!(!p.hold(&later, 1510 * MS));
    assert_eq!(p.take(&mut shown, false).manager_creds.unwrap().pid, 7);
}

/// A burst of thousands from one thread, every tenth capture torn, the reader 50 sends
/// behind, the sends shown as the collector shows them (150 ms after each, unless held): every send
/// gets its own read, in about linear time (this runs for every datagram).
#[test]
fn a_burst_with_torn_captures_pairs_every_send() {
    const N: usize = 3000;
    const JUDGE_AFTER: u64 = 150 * MS;
    let mut p = pairing();
    let sends: Vec<Event> = (0..N)
        .map(|i| {
            let payload: &[u8] = if i % 10 == 3 { b"READY=0" } else { b"READY=1" };
            send(10_000 + i as u64, payload)
        })
        .collect();
    let mut shown = std::collections::VecDeque::new();
    let mut next = 0;
    for ms in 10_000..10_000 + N as u64 + 2000 {
        let now = ms * MS;
        let i = (ms - 10_000) as usize;
        if i < N {
            p.sent(&sends[i]);
        }
        if let Some(k) = i.checked_sub(50).filter(|k| *k < N) {
            p.read(&read(ms, b"READY=1", k as u32));
        }
        // The collector's loop: the oldest waiting send is shown once it may be.
        while next < N && now >= sends[next].mono_ns + JUDGE_AFTER && !p.hold(&sends[next], now) {
            let d = p.take(&mut sends[next].clone(), false);
            shown.push_back((next, d));
            next += 1;
        }
    }
    assert_eq!(shown.len(), N);
    for (i, d) in shown {
        assert_eq!(d.delivered, Delivered::Yes, "send {i}: {d:?}");
        assert_eq!(d.manager_creds.unwrap().pid, i as u32, "send {i}");
        assert_eq!(d.sender_payload.is_some(), i % 10 == 3, "send {i}");
    }
    // How fast it pairs is the bench's to say (`cargo xtask bench`), not a timed test's.
}
