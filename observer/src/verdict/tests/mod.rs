//! Unit tests of the verdict rules, one file per mirrored part of systemd; the helpers here
//! build the message, sender and unit each test judges.

mod authorized;
mod gates;
mod manager_c;
mod service_c;

use super::*;

const MAIN: u32 = 53;

fn msg(payload: &[u8]) -> Message {
    Message {
        payload: payload.to_vec(),
        len: payload.len(),
        creds_attached: true,
        ..Message::default()
    }
}

fn from(pid: u32) -> Sender {
    Sender {
        pid: Some(pid),
        uid: 1000,
        gid: 1000,
        alive: Some(true),
        exited: false,
    }
}

fn svc(access: NotifyAccess) -> UnitState {
    let mut u = UnitState::new("foo.service", access);
    u.main_pid = Some(MAIN);
    u.service_type = Some(ServiceType::Notify);
    u.state = Some(ServiceState::Start);
    u
}

fn run(m: &Message, s: &Sender, u: Option<&UnitState>, v: u32) -> Verdict {
    judge(m, s, u, SystemdVersion(v))
}

fn note(v: &Verdict, k: Key) -> &FieldNote {
    v.field_notes
        .iter()
        .find(|n| n.key == k)
        .unwrap_or_else(|| panic!("no note for {k:?}: {:#?}", v.field_notes))
}

/// (version, expected kind, reason, level, stage) for one input.
type Row = (u32, Kind, &'static str, LogLevel, Stage);

fn table(m: &Message, s: &Sender, u: Option<&UnitState>, rows: &[Row]) {
    for (v, kind, reason, level, stage) in rows {
        let got = run(m, s, u, *v);
        assert_eq!(
            (got.kind, got.reason.as_str(), got.log_level, got.stage),
            (*kind, *reason, *level, *stage),
            "v{v}: {got:#?}"
        );
        assert_eq!(
            got.accepted,
            matches!(kind, Kind::Accepted | Kind::Barrier),
            "v{v}"
        );
    }
}

use Kind::*;
use LogLevel::*;
use Stage::{Manager as Mgr, Unit as Per};

fn facts(pid: u32, unit: Option<&str>) -> Option<PidFacts> {
    Some(PidFacts {
        pid,
        exists: true,
        zombie: false,
        unit: unit.map(str::to_owned),
        ppid: Some(1),
        ppid_late: false,
    })
}

#[test]
fn caveats_and_json() {
    let mut m = msg(b"READY=1");
    m.len = 3000;
    m.truncated = true;
    // 263: a release not read, so one caveat for that and one for the short capture.
    let v = run(&m, &from(MAIN), Some(&svc(NotifyAccess::Main)), 263);
    assert_eq!(v.caveats.len(), 2);
    assert_eq!(
        run(&m, &from(MAIN), Some(&svc(NotifyAccess::Main)), 256)
            .caveats
            .len(),
        1
    );
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["kind"], "accepted");
    assert_eq!(j["stage"], "unit");
    assert_eq!(j["log_level"], "debug");
    assert_eq!(j["field_notes"][0]["key"], "ready");
    assert_eq!(
        ServiceState::from_sub_state("start-post"),
        Some(ServiceState::StartPost)
    );
    assert_eq!(
        ServiceState::from_sub_state("auto-restart-queued"),
        Some(ServiceState::AutoRestartQueued)
    );
}

#[test]
fn random_inputs_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    };
    let words: [&[u8]; 14] = [
        b"READY=1",
        b"STOPPING=1",
        b"RELOADING=1",
        b"MAINPID=70",
        b"MAINPIDFD=1",
        b"FDSTORE=1",
        b"FDNAME=x",
        b"BARRIER=1",
        b"STATUS=\xff",
        b"NOTIFYACCESS=all",
        b"WATCHDOG=trigger",
        b"\\",
        b"\0",
        b"\r\n",
    ];
    for _ in 0..500 {
        let mut p = Vec::new();
        for _ in 0..next() % 6 {
            p.extend_from_slice(words[(next() % 14) as usize]);
            p.push(b'\n');
        }
        let mut m = msg(&p);
        m.fds = (next() % 4) as u32;
        let mut u = svc([
            NotifyAccess::None,
            NotifyAccess::Main,
            NotifyAccess::Exec,
            NotifyAccess::All,
        ][(next() % 4) as usize]);
        u.state =
            [None, Some(ServiceState::Running), Some(ServiceState::Start)][(next() % 3) as usize];
        u.mainpid_target = facts(70, Some("foo.service"));
        let v = run(&m, &from(MAIN), Some(&u), 250 + (next() % 15) as u32);
        serde_json::to_string(&v).unwrap();
    }
}
