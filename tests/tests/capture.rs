//! Capture tests: the real eBPF programs, real sockets, real senders (the `nsend` binary), and
//! the fields of every event checked. Root only; run with --test-threads=1 (they share the
//! kernel). `OBSERVER_PROBE=fentry|tracepoint` picks the strategy (default: auto).

use std::{
    fs,
    os::{
        linux::net::SocketAddrExt,
        unix::{
            fs::{MetadataExt, PermissionsExt},
            net::{SocketAddr, UnixDatagram},
            process::CommandExt,
        },
    },
    path::PathBuf,
    process::Command,
    time::Duration,
};

use observer_tests::{observer::Observer, probe, require_root, unique, workspace_bin};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// A receiving socket bound to a fresh path, writable by anyone (so uid 65534 can send).
struct PathReceiver {
    path: PathBuf,
    sock: UnixDatagram,
}

impl PathReceiver {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("{}.sock", unique("rx")));
        let sock = UnixDatagram::bind(&path).expect("bind");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).expect("chmod");
        Self { path, sock }
    }

    fn addr(&self) -> &str {
        self.path.to_str().expect("utf-8 path")
    }
}

impl Drop for PathReceiver {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Runs nsend to completion; returns its pid and the lines it printed (bytes sent or errno).
fn nsend(args: &[&str]) -> (u32, Vec<String>) {
    nsend_pid(nsend_cmd(args))
}

fn nsend_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(workspace_bin("nsend"));
    c.args(args);
    c
}

fn nsend_pid(mut cmd: Command) -> (u32, Vec<String>) {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn nsend");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait nsend");
    assert!(
        out.status.success(),
        "nsend failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        pid,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect(),
    )
}

fn check_strategy(obs: &Observer) {
    let wanted = probe();
    if wanted != "auto" {
        assert_eq!(
            obs.strategy(),
            wanted,
            "the observer must use the requested strategy"
        );
    }
}

fn field<'a>(ev: &'a Value, key: &str) -> Option<&'a str> {
    ev["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == key)
        .and_then(|f| f["value"].as_str())
}

#[test]
fn sendto_path_socket() {
    require_root!();
    let rx = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    check_strategy(&obs);
    let (pid, lines) = nsend_pid(nsend_cmd(&["--to", rx.addr(), "READY=1\nSTATUS=Serving"]));
    assert_eq!(lines, ["22"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["tid"], pid);
    assert_eq!(ev["comm"], "nsend");
    assert_eq!((ev["uid"].as_u64(), ev["gid"].as_u64()), (Some(0), Some(0)));
    assert_eq!(ev["dest"], rx.addr());
    assert_eq!(ev["payload"], "READY=1\\nSTATUS=Serving");
    assert_eq!(
        (ev["len"].as_u64(), ev["truncated"].as_bool()),
        (Some(22), Some(false))
    );
    assert_eq!(ev["result"], 22);
    assert_eq!(ev["error"], Value::Null);
    assert_eq!(ev["creds"], Value::Null);
    assert_eq!(ev["fds"], 0);
    assert_eq!(ev["matched_by"], "identity");
    assert_eq!(field(ev, "READY"), Some("1"));
    assert_eq!(field(ev, "STATUS"), Some("Serving"));
    assert!(ev["cgroup_id"].as_u64().unwrap() > 0);
    let rest = obs.stop();
    let summary = rest
        .iter()
        .find(|r| r["record"] == "summary")
        .expect("summary");
    assert_eq!(
        (summary["events"].as_u64(), summary["dropped"].as_u64()),
        (Some(1), Some(0))
    );
    let mut buf = [0u8; 64];
    assert_eq!(
        rx.sock.recv(&mut buf).unwrap(),
        22,
        "the receiver got the datagram unchanged"
    );
}

#[test]
fn sendto_abstract_socket() {
    require_root!();
    let name = unique("abs");
    let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
        .expect("bind abstract");
    let at = format!("@{name}");
    let mut obs = Observer::start(&["--socket", &at]);
    let (pid, lines) = nsend_pid(nsend_cmd(&["--to", &at, "READY=1"]));
    assert_eq!(lines, ["7"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["dest"], at.as_str());
    assert_eq!(ev["payload"], "READY=1");
    assert_eq!(ev["result"], 7);
    drop(rx);
}

#[test]
fn connect_then_write() {
    require_root!();
    let rx = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    let (pid, _) = nsend_pid(nsend_cmd(&[
        "--to",
        rx.addr(),
        "--connect",
        "--write",
        "WATCHDOG=1",
    ]));
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["connected"], true);
    assert_eq!(
        ev["dest"],
        rx.addr(),
        "a connected send shows the peer's bound address"
    );
    assert_eq!(ev["payload"], "WATCHDOG=1");
    assert_eq!(ev["result"], 10);
    assert_eq!(ev["matched_by"], "identity");
}

#[test]
fn sendmsg_with_three_iovecs_is_reassembled() {
    require_root!();
    let rx = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    nsend(&[
        "--to",
        rx.addr(),
        "--part",
        "READY=1\n",
        "--part",
        "STATUS=a b\n",
        "--part",
        "MAINPID=1",
    ]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["payload"], "READY=1\\nSTATUS=a b\\nMAINPID=1");
    assert_eq!(ev["len"], 28);
    assert_eq!(field(ev, "STATUS"), Some("a b"));
    assert_eq!(field(ev, "MAINPID"), Some("1"));
}

#[test]
fn sendmsg_with_scm_credentials_and_fds() {
    require_root!();
    let rx = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    // As root, like systemd-notify, impersonate the parent (this test process).
    let me = std::process::id();
    let (pid, lines) = nsend_pid(nsend_cmd(&[
        "--to",
        rx.addr(),
        "--creds",
        "parent:0:0",
        "--fds",
        "2",
        "FDSTORE=1",
    ]));
    assert_eq!(lines, ["9"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(
        ev["creds"]["pid"], me,
        "SCM_CREDENTIALS carries the impersonated pid"
    );
    assert_eq!(
        (ev["creds"]["uid"].as_u64(), ev["creds"]["gid"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(ev["fds"], 2);
}

#[test]
fn sender_running_as_nobody() {
    require_root!();
    let rx = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    let (pid, lines) = nsend_pid(nsend_cmd(&[
        "--to",
        rx.addr(),
        "--user",
        "65534:65534",
        "READY=1",
    ]));
    assert_eq!(lines, ["7"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(
        (ev["uid"].as_u64(), ev["gid"].as_u64()),
        (Some(65534), Some(65534))
    );
}

#[test]
fn oversized_datagram_is_truncated_with_full_length() {
    require_root!();
    let rx = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    let (_, lines) = nsend(&["--to", rx.addr(), "--size", "5000"]);
    assert_eq!(lines, ["5000"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["len"], 5000);
    assert_eq!(ev["truncated"], true);
    assert_eq!(
        ev["payload"].as_str().unwrap(),
        "x".repeat(4096),
        "payload as systemd reads it: the first 4096 bytes"
    );
    assert_eq!(ev["result"], 5000);
}

#[test]
fn full_receive_queue_reports_eagain() {
    require_root!();
    let rx = PathReceiver::new(); // never reads
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    let (_, lines) = nsend(&["--to", rx.addr(), "--dontwait", "--repeat", "40", "X_SEQ=1"]);
    let failed = lines.iter().filter(|l| *l == "EAGAIN").count();
    assert!(failed > 0, "the queue never filled: {lines:?}");
    let events = obs.events(40, WAIT);
    let eagain: Vec<&Value> = events.iter().filter(|e| e["error"] == "EAGAIN").collect();
    assert_eq!(eagain.len(), failed, "one EAGAIN event per failed send");
    for e in &eagain {
        assert_eq!(e["result"], -libc::EAGAIN as i64);
        assert_eq!(e["payload"], "X_SEQ=1");
        assert_eq!(
            e["matched_by"], "path",
            "no receiver took it, so only its address names the socket"
        );
    }
    assert_eq!(
        events.iter().filter(|e| e["result"] == 7).count(),
        40 - failed
    );
}

#[test]
fn failed_send_to_closed_socket_is_an_event() {
    require_root!();
    let path = std::env::temp_dir().join(format!("{}.sock", unique("closed")));
    let sock = UnixDatagram::bind(&path).expect("bind");
    let mut obs = Observer::start(&["--socket", path.to_str().unwrap()]);
    // Close the socket; its file stays, and senders then get ECONNREFUSED.
    drop(sock);
    let (_, lines) = nsend(&["--to", path.to_str().unwrap(), "READY=1"]);
    assert_eq!(lines, ["ECONNREFUSED"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["error"], "ECONNREFUSED");
    assert_eq!(ev["result"], -libc::ECONNREFUSED as i64);
    assert_eq!(ev["payload"], "READY=1");
    assert_eq!(ev["matched_by"], "path");
    let _ = fs::remove_file(path);
}

#[test]
fn sender_that_exits_at_once_keeps_comm_and_cgroup() {
    require_root!();
    let cgroot = cgroup2_root();
    let dir = cgroot.join(unique("cg"));
    fs::create_dir(&dir).expect("create cgroup");
    let cgroup_id = fs::metadata(&dir).unwrap().ino();
    let rx = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    let procs = dir.join("cgroup.procs");
    let mut cmd = nsend_cmd(&["--to", rx.addr(), "READY=1"]);
    // SAFETY: only async-signal-safe work between fork and exec: open/write/close via std::fs
    // allocates, so use raw syscalls on a pre-built path.
    let procs_c = std::ffi::CString::new(procs.to_str().unwrap()).unwrap();
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs_c.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    let (pid, _) = nsend_pid(cmd);
    // The sender is gone; what the kernel recorded at send time must still be right.
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["comm"], "nsend");
    assert_eq!(
        ev["cgroup_id"], cgroup_id,
        "cgroup id taken in the kernel at send time"
    );
    let _ = fs::remove_dir(&dir);
}

#[test]
fn heavy_other_unix_traffic_produces_no_events() {
    require_root!();
    let rx = PathReceiver::new();
    let other = PathReceiver::new();
    let mut obs = Observer::start(&["--socket", rx.addr()]);
    let (a, b) = UnixDatagram::pair().expect("socketpair");
    let tx = UnixDatagram::unbound().unwrap();
    let mut buf = [0u8; 64];
    for i in 0..20_000u32 {
        a.send(b"READY=1").unwrap();
        b.recv(&mut buf).unwrap();
        if i % 2 == 0 {
            tx.send_to(b"READY=1", &other.path).unwrap();
            other.sock.recv(&mut buf).unwrap();
        }
    }
    nsend(&["--to", rx.addr(), "X_MARKER=1"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(
        ev["payload"], "X_MARKER=1",
        "the first event is the marker, not other traffic"
    );
    let rest = obs.stop();
    assert!(
        rest.iter().all(|r| r["record"] != "event"),
        "no other events: {rest:?}"
    );
    let summary = rest.iter().find(|r| r["record"] == "summary").unwrap();
    assert_eq!(summary["events"], 1);
}

#[test]
fn missing_socket_is_a_one_line_error() {
    require_root!();
    let out = Command::new(workspace_bin("observer"))
        .args([
            "trace",
            "--no-default-sockets",
            "--socket",
            "/nonexistent/notify",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "observer: error: --socket /nonexistent/notify: no such socket"
    );
}

#[test]
fn unprivileged_user_is_told_to_use_root() {
    require_root!();
    let rx = PathReceiver::new();
    let mut cmd = Command::new(workspace_bin("observer"));
    cmd.args(["trace", "--no-default-sockets", "--socket", rx.addr()]);
    // SAFETY: setgid/setuid between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "observer: error: needs root, or CAP_BPF and CAP_PERFMON (run it with sudo)"
    );
}

/// Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup or, on hybrid hosts, .../unified).
fn cgroup2_root() -> PathBuf {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts
        .lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount_point = pre.split_whitespace().nth(4)?;
            post.starts_with("cgroup2 ")
                .then(|| PathBuf::from(mount_point))
        })
        .expect("no cgroup2 mount")
}
