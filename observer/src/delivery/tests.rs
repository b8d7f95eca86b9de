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
    let (da, db) = (p.take(&a, false), p.take(&b, false));
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
    let d = p.take(&a, false);
    assert_eq!(
        (d.delivered, d.queue_delay_us),
        (Delivered::Yes, Some(2000))
    );
    assert_eq!(d.manager_creds.map(|c| c.pid), Some(7));
}

#[test]
fn other_bytes_are_not_this_datagram() {
    let mut p = pairing();
    let a = send(10, b"READY=1");
    p.sent(&a);
    p.read(&read(12, b"READY=2", 7));
    assert!(p.hold(&a, 20 * MS));
    assert!(!p.hold(&a, 10 * MS + HOLD_UNREAD.as_nanos() as u64));
}

#[test]
fn shown_unread_then_read_gives_a_correction() {
    let mut p = pairing();
    let a = send(10, b"READY=1");
    p.sent(&a);
    let d = p.take(&a, false);
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
    p.take(&a, false);
    p.await_read(&a, None);
    let c = p.set_readers(BTreeSet::new());
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].delivery.delivered, Delivered::No);
    // Still held when its reader went: decided at once.
    assert_eq!(p.take(&b, false).delivered, Delivered::No);

    let mut p = pairing();
    p.sent(&a);
    p.sent(&b);
    p.take(&a, false);
    p.await_read(&a, None);
    assert_eq!(p.take(&b, true).delivered, Delivered::No);
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
    assert_eq!(p.take(&failed, false).delivered, Delivered::No);
    let elsewhere = ev(2, 10 * MS, b"READY=1", 7, Hook::SockSendLength);
    p.sent(&elsewhere);
    assert!(!p.hold(&elsewhere, 11 * MS));
    assert_eq!(p.take(&elsewhere, false).delivered, Delivered::Unknown);
}

#[test]
fn delivered_serializes_as_true_false_unknown() {
    let j = |d| serde_json::to_string(&d).unwrap();
    assert_eq!(j(Delivered::Yes), "true");
    assert_eq!(j(Delivered::No), "false");
    assert_eq!(j(Delivered::Unknown), "\"unknown\"");
}
