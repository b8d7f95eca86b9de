//! A notify datagram, whatever its bytes: the payload parser and the verdict rules never panic,
//! for any unit state and systemd version.
//!
//! Input: 16 bytes that pick the unit state, the sender and the version (see `Setup`), then the
//! payload. Seeds are real payloads behind a few such headers.

#![no_main]

use libfuzzer_sys::fuzz_target;
use observer::{
    notify::{self, NotifyAccess},
    verdict::{
        self, ExecMain, Message, NotifyState, PidFacts, Sender, ServiceState, ServiceType,
        SystemdVersion, UnitState,
    },
};

const SETUP_LEN: usize = 16;

const ACCESS: [NotifyAccess; 4] = [
    NotifyAccess::None,
    NotifyAccess::Main,
    NotifyAccess::Exec,
    NotifyAccess::All,
];
const TYPES: [ServiceType; 8] = [
    ServiceType::Simple,
    ServiceType::Forking,
    ServiceType::Oneshot,
    ServiceType::Dbus,
    ServiceType::Notify,
    ServiceType::NotifyReload,
    ServiceType::Idle,
    ServiceType::Exec,
];
/// The states the rules tell apart, and a few they do not.
const STATES: [ServiceState; 14] = [
    ServiceState::Dead,
    ServiceState::Condition,
    ServiceState::StartPre,
    ServiceState::Start,
    ServiceState::StartPost,
    ServiceState::Running,
    ServiceState::Exited,
    ServiceState::Reload,
    ServiceState::ReloadNotify,
    ServiceState::Stop,
    ServiceState::StopSigterm,
    ServiceState::StopPost,
    ServiceState::Failed,
    ServiceState::AutoRestart,
];
const NOTIFY_STATES: [NotifyState; 4] = [
    NotifyState::Unknown,
    NotifyState::Ready,
    NotifyState::Reloading,
    NotifyState::Stopping,
];
/// Releases around each rule change (the V_* constants in verdict/mod.rs), and one before and after.
const VERSIONS: [u32; 9] = [249, 252, 253, 254, 255, 257, 258, 262, 263];

fuzz_target!(|data: &[u8]| {
    let (setup, payload) = data.split_at(data.len().min(SETUP_LEN));
    let mut s = [0u8; SETUP_LEN];
    s[..setup.len()].copy_from_slice(setup);

    let parsed = notify::parse_payload(payload);
    let _ = notify::summary(&parsed.fields);
    for f in &parsed.fields {
        let _ = f.raw_value();
    }

    let (msg, sender, unit, version) = setup_from(&s, payload);
    let v = verdict::judge(&msg, &sender, unit.as_ref(), version);
    assert!(
        v.accepted || !v.hint.is_empty() || !v.reason.is_empty(),
        "a rejection with no reason: {v:?}"
    );
});

/// Bytes 0–15 → what systemd knows. PIDs are small numbers so that sender, main, control and
/// MAINPID= target often coincide, as they do in real units.
fn setup_from(
    s: &[u8; SETUP_LEN],
    payload: &[u8],
) -> (Message, Sender, Option<UnitState>, SystemdVersion) {
    let bit = |byte: usize, n: u8| s[byte] & (1 << n) != 0;
    let pick = |byte: usize, n: usize| usize::from(s[byte]) % n;
    let small_pid = |byte: usize| u32::from(s[byte] % 8) + 1;

    let msg = Message {
        payload: payload.to_vec(),
        // Bit 5 of byte 4: the datagram was longer than captured.
        len: payload.len()
            + if bit(4, 5) {
                usize::from(s[14]) * 64
            } else {
                0
            },
        truncated: bit(4, 5),
        fds: u32::from(s[7]) * if bit(5, 7) { 8 } else { 1 },
        creds_attached: bit(5, 0),
        control_truncated: bit(4, 6),
        // Sent at 0–255 µs, against an ExecMain window drawn from the same bytes below.
        sent_ns: Some(u64::from(s[14]) * 1000),
    };
    let sender = Sender {
        pid: bit(4, 2).then(|| small_pid(10) - 1),
        uid: if bit(11, 7) {
            0
        } else {
            u32::from(s[11]) * 1000
        },
        gid: 0,
        alive: bit(4, 3).then(|| bit(4, 4)),
        // Alive but exited (a zombie at the read): the race with its reaping.
        exited: bit(11, 6),
    };
    let version = SystemdVersion(VERSIONS[pick(6, VERSIONS.len())]);
    if bit(15, 7) {
        return (msg, sender, None, version);
    }
    let id = if bit(15, 6) {
        "foo.socket"
    } else {
        "foo.service"
    };
    let mut unit = UnitState::new(id, ACCESS[pick(0, ACCESS.len())]);
    unit.notify_access_override = bit(5, 6).then(|| ACCESS[pick(15, ACCESS.len())]);
    unit.main_pid = bit(4, 0).then(|| small_pid(8));
    unit.control_pid = bit(4, 1).then(|| small_pid(9));
    unit.service_type = maybe(s[1], &TYPES);
    unit.state = maybe(s[2], &STATES);
    unit.notify_state = maybe(s[3], &NOTIFY_STATES);
    unit.status_text = bit(15, 5).then(|| "old status".into());
    unit.fd_store_max = bit(5, 1).then(|| u32::from(s[12] % 4));
    unit.fd_store_count = bit(5, 1).then(|| u32::from(s[13] % 4));
    unit.n_restarts = bit(15, 4).then_some(3);
    unit.watchdogs_enabled = bit(5, 2).then(|| bit(5, 3));
    unit.manager_pid = if bit(15, 3) { 1 } else { 900 };
    unit.mainpid_target = bit(4, 7).then(|| PidFacts {
        pid: small_pid(14),
        exists: bit(5, 4),
        zombie: bit(5, 5),
        unit: bit(15, 2).then(|| id.to_owned()),
        ppid: bit(15, 1).then(|| if bit(15, 0) { 1 } else { small_pid(13) }),
        ppid_late: bit(4, 6),
    });
    // systemd's record of the main process: sometimes the sender, its window from bytes 12–13.
    unit.exec_main = bit(4, 5).then(|| ExecMain {
        pid: small_pid(10),
        start_us: u64::from(s[12]),
        exit_us: u64::from(s[13]),
    });
    (msg, sender, Some(unit), version)
}

/// One of `options`, or None (one chance in len + 1).
fn maybe<T: Copy>(byte: u8, options: &[T]) -> Option<T> {
    options
        .get(usize::from(byte) % (options.len() + 1))
        .copied()
}
