//! The pure parts (versions, object paths, the sender fix, timelines, NSpid) and a test against
//! the real systemd in the testbed.

use std::{
    collections::{HashMap, VecDeque},
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Result, bail};

use super::{
    history::{HISTORY_MAX, Timeline},
    pidns::{PidNs, nspid},
    private_socket::{SenderFix, make_unique_name},
    props::{parse_version, service_type, unit_from_object_path},
    watcher::{fork_of_new_main_pid, sub_state_name},
    *,
};
use crate::{
    correlate::{self, ManagerRoot, Owner, Resolver, UnitMatch},
    notify::NotifyAccess,
    verdict::{ExecMain, ServiceState, ServiceType, SystemdVersion},
};

#[test]
fn versions_and_paths() {
    assert_eq!(parse_version("252.39-1~deb12u2"), Some(252));
    assert_eq!(parse_version("v256"), Some(256));
    assert_eq!(parse_version("257~rc2"), Some(257));
    assert_eq!(parse_version("x"), None);
    assert_eq!(
        unit_from_object_path("/org/freedesktop/systemd1/unit/tb_2dnotify_2dpython_2eservice")
            .as_deref(),
        Some("tb-notify-python.service")
    );
    assert_eq!(
        unit_from_object_path("/org/freedesktop/systemd1/unit/foo_40bar_5cx2dbaz_2eservice")
            .as_deref(),
        Some("foo@bar\\x2dbaz.service")
    );
    assert_eq!(
        unit_from_object_path("/org/freedesktop/systemd1/unit/_31_2eservice").as_deref(),
        Some("1.service")
    );
    assert_eq!(
        unit_from_object_path("/org/freedesktop/systemd1/unit/bad_2"),
        None
    );
    assert_eq!(unit_from_object_path("/org/freedesktop/systemd1"), None);
    assert_eq!(
        service_type("notify-reload"),
        Some(ServiceType::NotifyReload)
    );
    let c = Target::container(4242);
    assert_eq!(
        (c.socket.to_str(), c.p2p, c.leader),
        (
            Some("/proc/4242/root/run/dbus/system_bus_socket"),
            false,
            Some(4242)
        ),
        "no such process: falls back to the bus path"
    );
    // This host has no systemd: no private socket, so the system bus.
    if !Path::new("/run/systemd/private").exists() {
        assert_eq!(Target::host(), Target::bus(None));
    }
    assert_eq!(sub_state_name(ServiceState::StopSigterm), "stop-sigterm");
}

/// systemd's private-socket messages, sender "org.freedesktop.systemd1", come out with the
/// sender zbus accepts, however the stream is cut; bodies are never touched.
#[test]
fn sender_fix() {
    let fixed = zbus::Message::signal(
        "/org/freedesktop/systemd1/unit/a_2eservice",
        PROPS_IFACE,
        "PropertiesChanged",
    )
    .sender(":rg.freedesktop.systemd1")
    .build(&("org.freedesktop.systemd1", vec!["org.freedesktop.systemd1"]))
    .unwrap();
    let fixed: Vec<u8> = fixed.data().to_vec();
    let at = fixed
        .windows(24)
        .position(|w| w == b":rg.freedesktop.systemd1")
        .unwrap();
    let mut sent = fixed.clone();
    sent[at] = b'o';
    let auth = b"OK 0123456789abcdef\r\n";
    let stream: Vec<u8> = [&auth[..], &sent, &sent].concat();
    let want: Vec<u8> = [&auth[..], &fixed, &fixed].concat();
    for chunk in [1, 3, 7, 16, 17, 4096] {
        let mut f = SenderFix::default();
        let mut out = VecDeque::new();
        for c in stream.chunks(chunk) {
            f.feed(c, &mut out);
        }
        assert_eq!(Vec::from(out), want, "chunks of {chunk}");
        assert!(f.flush().is_empty());
    }
    let mut name = *b"org.freedesktop.DBus";
    make_unique_name(&mut name);
    assert_eq!(&name, b"org.freedesktop.DBus");
    let mut name = *b"nodots";
    make_unique_name(&mut name);
    assert_eq!(&name, b"nodots");
}

#[test]
fn a_new_main_pid_holds_from_its_fork_when_the_unit_had_none() {
    use zbus::{OwnedVariant, Variant as Value};
    let props = |pairs: &[(&str, Value<'static>)]| -> HashMap<String, OwnedVariant> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OwnedVariant::try_from(v.clone()).unwrap()))
            .collect()
    };
    let now = 9_000_000_000;
    let started = props(&[
        ("MainPID", Value::U32(364)),
        ("ExecMainPID", Value::U32(364)),
        ("ExecMainStartTimestampMonotonic", Value::U64(8_500_000)),
    ]);
    let mut h = history::History::default();
    h.main_pid.record(1_000, 0);
    // systemd's own time of the fork, 0.5 s before the signal came.
    assert_eq!(
        fork_of_new_main_pid(&h, &started, 364, now),
        Some(8_500_000_000)
    );
    // A handover from another main PID (MAINPID=): only from when we heard of it.
    h.main_pid.record(2_000, 77);
    assert_eq!(fork_of_new_main_pid(&h, &started, 364, now), None);
    // Without the fork's time, or for another process than the one started.
    let bare = props(&[("MainPID", Value::U32(364))]);
    assert_eq!(
        fork_of_new_main_pid(&history::History::default(), &bare, 364, now),
        None
    );
    let other = props(&[
        ("MainPID", Value::U32(364)),
        ("ExecMainPID", Value::U32(360)),
        ("ExecMainStartTimestampMonotonic", Value::U64(8_500_000)),
    ]);
    assert_eq!(
        fork_of_new_main_pid(&history::History::default(), &other, 364, now),
        None
    );
}

#[test]
fn timelines() {
    let mut t = Timeline::default();
    t.record(100, 5u32);
    t.record(200, 5);
    t.record(300, 7);
    t.record(250, 6); // late timestamp: still sorted
    // (200, 5) repeats the value and is not stored.
    assert_eq!(t.points().count(), 3);
    assert_eq!(t.at(99), None);
    assert_eq!(t.at(100), Some(&5));
    t.record(90, 5); // known from earlier now: the point moves
    assert_eq!((t.at(95), t.points().count()), (Some(&5), 3));
    assert_eq!(t.at(260), Some(&6));
    assert_eq!(t.at(1000), Some(&7));
    assert_eq!(t.next_change_after(100), Some(250));
    assert_eq!(t.next_change_after(300), None);
    for i in 0..200 {
        t.record(1000 + i, i as u32);
    }
    assert_eq!(t.points().count(), HISTORY_MAX);
    // Heard in this order: MainPID 0 (sent before the fork, heard at 584), then the new main
    // PID, stamped with its fork at 573: the 0 was older news.
    let mut t = Timeline::default();
    t.record(100, 0u32);
    t.record(584, 0);
    t.record(590, 7);
    t.record_superseding(573, 993);
    assert_eq!(
        (t.at(572), t.at(573), t.at(600)),
        (Some(&0), Some(&993), Some(&993))
    );
}

#[test]
fn nspid_lines() {
    assert_eq!(
        nspid("Name:\tx\nNSpid:\t18980\t53\n"),
        Some(vec![18980, 53])
    );
    assert_eq!(nspid("NSpid:\t7\n"), Some(vec![7]));
    assert_eq!(nspid("Pid:\t7\n"), None);
    // Our own namespace: everything maps to itself; a PID that does not exist maps to nothing.
    let me = std::process::id();
    let ns = PidNs::of(me).unwrap();
    assert_eq!(ns.host_to_ns(me), Some(me));
    assert_eq!(ns.ns_to_host(me), Some(me));
    assert_eq!(ns.host_to_ns(u32::MAX - 1), None);
}

// ------------------------------------------------------------------ against real systemd

fn testbed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/testbed")
}

/// Runs `scripts/testbed ARGS`; stdout on success.
fn tb(args: &[&str]) -> Result<String> {
    let out = Command::new(testbed()).args(args).output()?;
    if !out.status.success() {
        bail!(
            "testbed {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn tb_async(args: &[&str]) -> Result<String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || tb(&args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await?
}

/// Stops the container however the test ends.
struct Container(String);
impl Drop for Container {
    fn drop(&mut self) {
        if let Err(e) = tb(&["stop", &self.0]) {
            eprintln!("cleanup: {e:#}");
        }
    }
}

fn testbed_missing() -> Option<String> {
    // SAFETY: geteuid() has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    if !testbed().exists() {
        return Some("scripts/testbed not found".into());
    }
    if Command::new("systemd-nspawn")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("systemd-nspawn not installed (scripts/setup)".into());
    }
    if !Path::new("/var/cache/observer/systemd-252/usr/lib/systemd/systemd").exists()
        && std::env::var_os("OBSERVER_CACHE").is_none()
    {
        return Some("no testbed rootfs (run: scripts/testbed rootfs)".into());
    }
    None
}

/// Waits until `f` gives Some, up to `secs`.
async fn until<T, F, Fut>(secs: u64, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn show(name: &str, unit: &str) -> Result<HashMap<String, String>> {
    let out = tb(&[
        "exec",
        name,
        "--",
        "systemctl",
        "show",
        "-p",
        "MainPID,ControlPID,NotifyAccess,SubState,Type,StatusText,FileDescriptorStoreMax,NFileDescriptorStore,NRestarts,ExecMainPID,ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic",
        unit,
    ])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn exec_main_shown(shown: &HashMap<String, String>) -> ExecMain {
    let n = |k: &str| shown[k].parse::<u64>().unwrap();
    ExecMain {
        pid: n("ExecMainPID") as u32,
        start_us: n("ExecMainStartTimestampMonotonic"),
        exit_us: n("ExecMainExitTimestampMonotonic"),
    }
}

/// The unit's main process: sends READY=1, then waits for /run/mgr-test-go; then forks a child
/// and hands MAINPID= over to it.
const SCRIPT: &str = r#"import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
s.sendto(b"READY=1\nSTATUS=waiting", addr)
while not os.path.exists("/run/mgr-test-go"):
    time.sleep(0.02)
child = os.fork()
if child == 0:
    time.sleep(600)
    os._exit(0)
s.sendto(("MAINPID=%d\nSTATUS=handed over" % child).encode(), addr)
time.sleep(600)
"#;

const UNIT: &str = "[Service]\nType=notify\nFileDescriptorStoreMax=3\nExecStart=/usr/bin/python3 /run/mgr-test.py\n";

#[tokio::test]
#[ignore = "boots a systemd container as root: run through cargo xtask test manager"]
async fn against_testbed_systemd() {
    if let Some(why) = testbed_missing() {
        panic!("cannot run: {why}");
    }
    let name = format!("mgr-test-{}", std::process::id());
    let leader: u32 = tb_async(&["start", &name]).await.unwrap().parse().unwrap();
    let _guard = Container(name.clone());
    let root = PathBuf::from(format!("/proc/{leader}/root"));
    fs::write(root.join("run/mgr-test.py"), SCRIPT).unwrap();
    let dir = std::env::temp_dir().join(&name);
    fs::create_dir_all(&dir).unwrap();
    let unit_file = dir.join("mgr-test.service");
    fs::write(&unit_file, UNIT).unwrap();
    tb_async(&["install-unit", &name, unit_file.to_str().unwrap()])
        .await
        .unwrap();
    let _ = fs::remove_dir_all(&dir);

    // Private socket (peer-to-peer) and the container's system bus.
    let target = Target::container(leader);
    assert!(target.p2p, "{target:?}");
    let m = Manager::connect(&target).await.unwrap();
    let bus = Manager::connect(&Target::bus(Some(leader))).await.unwrap();
    let (raw, v) = m.version().await.unwrap();
    eprintln!("Version={raw}");
    assert_eq!(v, SystemdVersion(252));
    assert_eq!(bus.version().await.unwrap().1, v);
    assert_eq!(m.manager_pid(), 1);
    assert_eq!(m.pid_ns().level, 1);

    let watcher = m.watch().await.unwrap();
    assert_eq!(watcher.manager().manager_pid(), 1);
    let bus_watcher = bus.watch().await.unwrap();
    tb_async(&[
        "exec",
        &name,
        "--",
        "systemctl",
        "start",
        "mgr-test.service",
    ])
    .await
    .unwrap();
    let st = m.unit_state("mgr-test.service").await.unwrap();
    let shown = show(&name, "mgr-test.service").unwrap();
    eprintln!("unit_state: {st:?}\nsystemctl show: {shown:?}");
    assert_eq!(st.id, "mgr-test.service");
    assert_eq!(st.notify_access, NotifyAccess::Main);
    assert_eq!(shown["NotifyAccess"], "main");
    assert_eq!(st.main_pid.unwrap().to_string(), shown["MainPID"]);
    assert_eq!(st.control_pid, None);
    assert_eq!(shown["ControlPID"], "0");
    assert_eq!(st.state, Some(ServiceState::Running));
    assert_eq!(shown["SubState"], "running");
    assert_eq!(st.service_type, Some(ServiceType::Notify));
    assert_eq!(st.status_text.as_deref(), Some("waiting"));
    assert_eq!(
        (st.fd_store_max, st.fd_store_count, st.n_restarts),
        (Some(3), Some(0), Some(0))
    );
    assert_eq!(st.watchdogs_enabled, Some(true));
    assert_eq!(st.manager_pid, 1);
    assert_eq!(Some(exec_main_shown(&shown)), st.exec_main);
    assert_eq!(st.exec_main.unwrap().pid, st.main_pid.unwrap());
    assert_eq!(bus.unit_state("mgr-test.service").await.unwrap(), st);
    // A loaded but inactive unit, and one that does not exist.
    let inactive = m.unit_state("systemd-journald-audit.socket").await.unwrap();
    assert_eq!(inactive.state, None, "not a service: no service state");
    assert!(
        m.unit_state("no-such-unit.service")
            .await
            .unwrap()
            .main_pid
            .is_none()
    );

    // PID namespace translation, checked against the testbed's own mapping.
    let old_main = st.main_pid.unwrap();
    let host_main: u32 = tb_async(&["host-pid", &name, &old_main.to_string()])
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(m.host_to_ns_pid(host_main), Some(old_main));
    assert_eq!(m.ns_to_host_pid(old_main), Some(host_main));
    assert_eq!(
        m.host_to_ns_pid(std::process::id()),
        None,
        "host processes are invisible inside"
    );
    assert_eq!(m.host_to_ns_pid(leader), Some(1));
    // The host's namespace contains the container's (one NS_GET_PARENT step up).
    let host_ns = PidNs::of(std::process::id()).unwrap();
    assert_eq!(host_ns.host_to_ns(host_main), Some(host_main));
    assert_eq!(host_ns.ns_to_host(host_main), Some(host_main));

    // cgroup id of the main process → path → unit, relative to the container's manager.
    let cg = fs::read_to_string(format!("/proc/{host_main}/cgroup")).unwrap();
    let cg = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .to_owned();
    let mut resolver = Resolver::new(correlate::Cgroup2::find().unwrap());
    let id = fs::metadata(resolver.cgroup2().dir(&cg)).unwrap().ino();
    let path = resolver.resolve(id).path().unwrap().to_owned();
    assert_eq!(path, cg);
    let roots = [ManagerRoot::host(), ManagerRoot::container(leader).unwrap()];
    let placed = correlate::placement::place(&path, &roots).unwrap();
    eprintln!("cgroup {id} = {path} -> {placed:?}");
    assert_eq!(placed.owner, Owner::Container { leader });
    assert_eq!(placed.unit, UnitMatch::Unit("mgr-test.service".into()));

    // Track, then trigger the MAINPID= handover and see it in the history.
    watcher.track("mgr-test.service").await.unwrap();
    bus_watcher.track("mgr-test.service").await.unwrap();
    let before = monotonic_ns();
    fs::write(root.join("run/mgr-test-go"), "").unwrap();
    let new_main = until(10, || async {
        let s = watcher.state_at("mgr-test.service", monotonic_ns())?;
        s.main_pid.filter(|p| *p != old_main)
    })
    .await
    .expect("MainPID change seen in PropertiesChanged");
    let after = monotonic_ns();
    let shown = show(&name, "mgr-test.service").unwrap();
    assert_eq!(new_main.to_string(), shown["MainPID"]);
    let h = watcher.history("mgr-test.service").unwrap();
    let points: Vec<_> = h.main_pid.points().cloned().collect();
    eprintln!("MainPID history: {points:?} (trigger at {before}, seen by {after})");
    let at_before = watcher.state_at("mgr-test.service", before).unwrap();
    assert_eq!(at_before.main_pid, Some(old_main));
    assert!(
        at_before
            .next_change_ns
            .is_some_and(|t| t > before && t <= after)
    );
    let now = watcher
        .unit_state_at("mgr-test.service", monotonic_ns())
        .unwrap();
    assert_eq!(now.main_pid, Some(new_main));
    assert_eq!(now.status_text.as_deref(), Some("handed over"));
    assert_eq!(
        watcher
            .unit_state_at("mgr-test.service", before)
            .unwrap()
            .main_pid,
        Some(old_main)
    );
    // The handover restarted systemd's record of the main process; signals carry it.
    let e = now.exec_main.unwrap();
    assert_eq!(Some(e), Some(exec_main_shown(&shown)));
    assert_eq!((e.pid, e.exit_us), (new_main, 0));
    assert!(e.start_us * 1000 >= before && e.start_us * 1000 <= after);
    // The bus watcher saw it too.
    until(5, || async {
        bus_watcher
            .state_at("mgr-test.service", monotonic_ns())?
            .main_pid
            .filter(|p| *p == new_main)
    })
    .await
    .expect("bus watcher saw the handover");

    // Stop: SubState runs through stop-sigterm to dead, with the manager's timestamps.
    let stop_at = monotonic_ns();
    tb_async(&["exec", &name, "--", "systemctl", "stop", "mgr-test.service"])
        .await
        .unwrap();
    until(10, || async {
        (watcher
            .state_at("mgr-test.service", monotonic_ns())?
            .sub_state
            .as_deref()
            == Some("dead"))
        .then_some(())
    })
    .await
    .expect("SubState=dead seen");
    let h = watcher.history("mgr-test.service").unwrap();
    let subs: Vec<_> = h.sub_state.points().cloned().collect();
    eprintln!("SubState history: {subs:?} (stop requested at {stop_at})");
    assert!(subs.iter().any(|(t, s)| s == "dead" && *t >= stop_at));
    // ExecMain* outlive the main process, in the history also when the dead unit is unloaded
    // (then read afresh, all 0), so the history's record wins.
    assert_eq!(
        h.exec_main.map(|x| (x.pid, x.start_us)),
        Some((e.pid, e.start_us))
    );
    let unloaded = m.unit_state("mgr-test.service").await.unwrap().exec_main;
    eprintln!(
        "ExecMain after the stop: history {:?}, read now {unloaded:?}",
        h.exec_main
    );
    assert_eq!(
        watcher
            .unit_state_at("mgr-test.service", monotonic_ns())
            .unwrap()
            .exec_main
            .map(|x| x.pid),
        Some(new_main)
    );
    assert_eq!(
        watcher
            .state_at("mgr-test.service", monotonic_ns())
            .unwrap()
            .main_pid,
        None
    );
    let seen = watcher.signal_properties();
    for (iface, (changed, invalidated)) in &seen {
        eprintln!("{iface}: changed {changed:?}\n  invalidated {invalidated:?}");
    }
    let svc = &seen[SERVICE_IFACE].0;
    assert!(svc.contains("MainPID") && svc.contains("ControlPID") && svc.contains("StatusText"));
    // systemd's own record of the main process, with its timestamps (see ExecMain).
    for p in [
        "ExecMainPID",
        "ExecMainStartTimestampMonotonic",
        "ExecMainExitTimestampMonotonic",
    ] {
        assert!(svc.contains(p), "{p} not signalled");
    }
    assert!(
        !svc.contains("NFileDescriptorStore"),
        "never signalled: read it with unit_state()"
    );
    assert!(seen[UNIT_IFACE].0.contains("SubState"));
    assert!(watcher.ended().is_none());

    // daemon-reload drops the full reads (NotifyAccess= may have changed unsignalled).
    assert!(watcher.cached("mgr-test.service").is_some());
    tb_async(&["exec", &name, "--", "systemctl", "daemon-reload"])
        .await
        .unwrap();
    until(10, || async {
        watcher.cached("mgr-test.service").is_none().then_some(())
    })
    .await
    .expect("Reloading signal seen");
    assert!(
        watcher
            .unit_state_at("mgr-test.service", monotonic_ns())
            .is_none()
    );
    assert!(
        watcher
            .state_at("mgr-test.service", monotonic_ns())
            .is_some(),
        "history stays"
    );
}
