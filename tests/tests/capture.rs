//! Capture tests: the real eBPF programs, real sockets, real senders (the `nsend` binary), and
//! the fields of every event checked. Root only; run with --test-threads=1 (they share the
//! kernel and one observer, see fixture.rs). `OBSERVER_PROBE=fentry|tracepoint` picks the
//! strategy (default: auto).

use std::{
    fs,
    os::unix::{fs::MetadataExt, net::UnixDatagram, process::CommandExt},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use observer_tests::{
    fixture::Fixture, observer::Observer, probe, reader::Reader, require_root, unique,
    workspace_bin,
};
use serde_json::Value;

/// Generous: the VM lane emulates its CPU.
const WAIT: Duration = Duration::from_secs(60);

/// Runs nsend to completion; returns its pid and the lines it printed (bytes sent or errno).
fn nsend(args: &[&str]) -> (u32, Vec<String>) {
    run_nsend(nsend_cmd(args))
}

fn nsend_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(workspace_bin("nsend"));
    c.args(args);
    c
}

fn run_nsend(mut cmd: Command) -> (u32, Vec<String>) {
    let child = cmd.stdout(Stdio::piped()).spawn().expect("spawn nsend");
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

fn field<'a>(ev: &'a Value, name: &str) -> Option<&'a str> {
    ev["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_str())
}

/// The shared observer, checked to use the strategy asked for.
fn fixture() -> &'static Fixture {
    let f = Fixture::get();
    let wanted = probe();
    if wanted != "auto" {
        assert_eq!(
            f.strategy(),
            wanted,
            "the observer must use the requested strategy"
        );
    }
    f
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sendto_path_socket() {
    require_root!();
    let f = fixture();
    let to = f.path("sendto");
    let (pid, lines) = nsend(&["--to", &to, "READY=1\nSTATUS=Serving"]);
    assert_eq!(lines, ["22"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["tid"], pid);
    assert_eq!(ev["comm"], "nsend");
    assert_eq!((ev["uid"].as_u64(), ev["gid"].as_u64()), (Some(0), Some(0)));
    assert_eq!(ev["payload"], "READY=1\\nSTATUS=Serving");
    assert_eq!(
        (ev["len"].as_u64(), ev["truncated"].as_bool()),
        (Some(22), Some(false))
    );
    assert_eq!(ev["result"], 22);
    assert_eq!(ev["error"], Value::Null);
    assert_eq!(ev["creds"], Value::Null);
    assert_eq!(ev["fds"], 0);
    assert_eq!(ev["matched_by"], f.unconnected_match());
    assert_eq!(ev["connected"], false);
    assert_eq!(field(ev, "READY"), Some("1"));
    assert_eq!(field(ev, "STATUS"), Some("Serving"));
    assert!(ev["cgroup_id"].as_u64().unwrap() > 0);
    let mut buf = [0u8; 64];
    assert_eq!(
        f.receiver("sendto").recv(&mut buf).unwrap(),
        22,
        "the receiver got the datagram unchanged"
    );
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sendto_via_an_alias_path_is_matched_by_the_receivers_identity() {
    require_root!();
    let f = fixture();
    let real = PathBuf::from(f.path("sendto"));
    // Another name for the same socket, like /var/run/... for /run/...: a symlinked directory.
    let link = std::env::temp_dir().join(unique("alias"));
    std::os::unix::fs::symlink(real.parent().unwrap(), &link).unwrap();
    let alias = link.join("sendto.sock").display().to_string();
    let (pid, lines) = nsend(&["--to", &alias, "STATUS=via alias"]);
    assert_eq!(lines, ["16"]);
    if f.unconnected_match() == "identity" {
        let ev = &f.events(&alias, 1, WAIT)[0];
        assert_eq!(ev["pid"], pid);
        assert_eq!(ev["matched_by"], "identity");
        assert_eq!(ev["payload"], "STATUS=via alias");
    } else {
        // Without a delivery hook (tracepoint strategy before 6.6) only the watched address
        // strings match: an alias the observer does not know is not seen.
        assert!(f.events_within(&alias, Duration::from_secs(2)).is_empty());
    }
    let mut buf = [0u8; 64];
    assert_eq!(f.receiver("sendto").recv(&mut buf).unwrap(), 16);
    let _ = fs::remove_file(link);
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sendto_abstract_socket() {
    require_root!();
    let f = fixture();
    let at = format!("@{}", f.abstract_name);
    let (pid, lines) = nsend(&["--to", &at, "READY=1"]);
    assert_eq!(lines, ["7"]);
    let ev = &f.events(&at, 1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["payload"], "READY=1");
    assert_eq!(ev["result"], 7);
    assert_eq!(ev["matched_by"], f.unconnected_match());
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn connect_then_write() {
    require_root!();
    let f = fixture();
    let to = f.path("connect");
    let (pid, _) = nsend(&["--to", &to, "--connect", "--write", "WATCHDOG=1"]);
    // A connected send names no address: the event shows the peer's bound one.
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["connected"], true);
    assert_eq!(ev["payload"], "WATCHDOG=1");
    assert_eq!(ev["result"], 10);
    assert_eq!(ev["matched_by"], "identity");
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sendmsg_with_three_iovecs_is_reassembled() {
    require_root!();
    let f = fixture();
    let to = f.path("iov");
    nsend(&[
        "--to",
        &to,
        "--part",
        "READY=1\n",
        "--part",
        "STATUS=a b\n",
        "--part",
        "MAINPID=1",
    ]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["payload"], "READY=1\\nSTATUS=a b\\nMAINPID=1");
    assert_eq!(ev["len"], 28);
    assert_eq!(field(ev, "STATUS"), Some("a b"));
    assert_eq!(field(ev, "MAINPID"), Some("1"));
}

/// A sendmsg submitted to io_uring: no send syscall is made. fentry hooks the function every
/// AF_UNIX datagram passes through and reports it, its two iovecs found from the kernel's copy
/// of them. The tracepoint strategy finds a send's data through its syscall
/// (docs/ARCHITECTURE.md, "Capture strategies"): it sees this one delivered to a watched socket
/// and ending, and counts it as untracked rather than losing it silently.
#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sendmsg_through_io_uring() {
    require_root!();
    let f = fixture();
    let send = |to: &str| {
        let (pid, lines) = nsend(&[
            "--to",
            to,
            "--io-uring",
            "--part",
            "READY=1\n",
            "--part",
            "STATUS=via io_uring",
        ]);
        assert_eq!(lines, ["27"]);
        pid
    };
    if f.strategy() == "fentry" {
        let to = f.path("uring");
        let pid = send(&to);
        let ev = &f.events(&to, 1, WAIT)[0];
        assert_eq!(ev["pid"], pid);
        assert_eq!(ev["result"], 27);
        assert_eq!(ev["payload"], "READY=1\\nSTATUS=via io_uring");
        return;
    }
    if !f.hooks().contains("tp_btf/sk_data_ready") {
        eprintln!("sendmsg_through_io_uring: syscall tracepoints see nothing of it");
        return;
    }
    // An observer of its own: the summary comes when it stops.
    let (dir, _rx, to) = own_socket("uring", "notify.sock");
    let obs = Observer::start(&["--socket", &to]);
    send(&to);
    std::thread::sleep(Duration::from_millis(500));
    let rest = obs.stop();
    assert!(
        !rest.iter().any(|r| r["record"] == "event"),
        "no data, no event: {rest:?}"
    );
    let summary = summary_of(&rest);
    assert_eq!(summary["untracked"], 1, "{summary}");
    let _ = fs::remove_dir_all(dir);
}

/// A receiving socket of a test's own (`name` in a fresh temp dir), for an observer of its own:
/// the dir to remove at the end, the socket, and its path.
fn own_socket(tag: &str, name: &str) -> (PathBuf, UnixDatagram, String) {
    let dir = std::env::temp_dir().join(unique(tag));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let sock = UnixDatagram::bind(&path).unwrap();
    let to = path.display().to_string();
    (dir, sock, to)
}

/// The `summary` record among what a stopped observer printed last.
fn summary_of(records: &[Value]) -> &Value {
    records
        .iter()
        .find(|r| r["record"] == "summary")
        .expect("summary")
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sendmsg_with_scm_credentials_and_fds() {
    require_root!();
    let f = fixture();
    let to = f.path("creds");
    // As root, like systemd-notify, impersonate the parent (this test process).
    let me = std::process::id();
    let (pid, lines) = nsend(&[
        "--to",
        &to,
        "--creds",
        "parent:0:0",
        "--fds",
        "2",
        "FDSTORE=1",
    ]);
    assert_eq!(lines, ["9"]);
    let ev = &f.events(&to, 1, WAIT)[0];
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
#[ignore = "needs root: run through cargo xtask test capture"]
fn sender_running_as_nobody() {
    require_root!();
    let f = fixture();
    let to = f.path("nobody");
    let (pid, lines) = nsend(&["--to", &to, "--user", "65534:65534", "READY=1"]);
    assert_eq!(lines, ["7"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(
        (ev["uid"].as_u64(), ev["gid"].as_u64()),
        (Some(65534), Some(65534))
    );
    // As nobody, forging another process's pid is refused by the kernel: a failed send, still an event.
    let (_, lines) = nsend(&[
        "--to",
        &to,
        "--user",
        "65534:65534",
        "--creds",
        "1:65534:65534",
        "READY=1",
    ]);
    assert_eq!(lines, ["EPERM"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["error"], "EPERM");
    assert_eq!(ev["creds"]["pid"], 1);
    // Refused before its data was copied: fentry finds the data where the send left it.
    assert_eq!(ev["payload"], "READY=1");
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn oversized_datagram_is_truncated_with_full_length() {
    require_root!();
    let f = fixture();
    let to = f.path("big");
    let (_, lines) = nsend(&["--to", &to, "--size", "5000"]);
    assert_eq!(lines, ["5000"]);
    let ev = &f.events(&to, 1, WAIT)[0];
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
#[ignore = "needs root: run through cargo xtask test capture"]
fn full_receive_queue_reports_eagain() {
    require_root!();
    let f = fixture();
    let to = f.path("eagain"); // never read
    let (_, lines) = nsend(&["--to", &to, "--dontwait", "--repeat", "40", "X_SEQ=1"]);
    let failed = lines.iter().filter(|l| *l == "EAGAIN").count();
    assert!(failed > 0, "the queue never filled: {lines:?}");
    let events = f.events(&to, 40, WAIT);
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
#[ignore = "needs root: run through cargo xtask test capture"]
fn failed_send_to_closed_socket_is_an_event() {
    require_root!();
    let f = fixture();
    let to = f.closed.display().to_string();
    let (_, lines) = nsend(&["--to", &to, "READY=1"]);
    assert_eq!(lines, ["ECONNREFUSED"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["error"], "ECONNREFUSED");
    assert_eq!(ev["result"], -libc::ECONNREFUSED as i64);
    assert_eq!(ev["payload"], "READY=1");
    assert_eq!(ev["matched_by"], "path");
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sender_that_exits_at_once_keeps_comm_and_cgroup() {
    require_root!();
    let f = fixture();
    let to = f.path("exit");
    let dir = cgroup2_root().join(unique("cg"));
    fs::create_dir(&dir).expect("create cgroup");
    let cgroup_id = fs::metadata(&dir).unwrap().ino();
    let mut cmd = nsend_cmd(&["--to", &to, "READY=1"]);
    let procs = std::ffi::CString::new(dir.join("cgroup.procs").to_str().unwrap()).unwrap();
    // SAFETY: only raw syscalls between fork and exec: join the cgroup ("0" = this process).
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    let (pid, _) = run_nsend(cmd);
    // The sender is gone; what the kernel recorded at send time must still be right.
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["comm"], "nsend");
    assert_eq!(
        ev["cgroup_id"], cgroup_id,
        "cgroup id taken in the kernel at send time"
    );
    let _ = fs::remove_dir(&dir);
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn heavy_other_unix_traffic_produces_no_events() {
    require_root!();
    let f = fixture();
    let to = f.path("heavy");
    let other_dir = std::env::temp_dir().join(unique("other"));
    fs::create_dir_all(&other_dir).unwrap();
    let other_path = other_dir.join("other.sock");
    let other = UnixDatagram::bind(&other_path).unwrap();
    let (a, b) = UnixDatagram::pair().expect("socketpair");
    let tx = UnixDatagram::unbound().unwrap();
    let mut buf = [0u8; 64];
    for i in 0..4_000u32 {
        a.send(b"READY=1").unwrap();
        b.recv(&mut buf).unwrap();
        if i % 2 == 0 {
            tx.send_to(b"READY=1", &other_path).unwrap();
            other.recv(&mut buf).unwrap();
        }
    }
    nsend(&["--to", &to, "X_MARKER=1"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["payload"], "X_MARKER=1");
    // Everything the observer printed so far went to watched sockets; nothing to the others.
    assert!(
        f.events_within(
            &other_path.display().to_string(),
            Duration::from_millis(500)
        )
        .is_empty()
    );
    assert!(
        f.events_within("", Duration::from_millis(100)).is_empty(),
        "no events for the socketpair"
    );
    let _ = fs::remove_dir_all(other_dir);
}

/// The delivery hooks remember sockets they found not watched (observer_common::unwatched); a
/// socket that becomes watched later must be seen from then on. Here a socket takes a watched
/// path's place (rename) after it received datagrams as an unwatched one.
#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn socket_found_unwatched_is_seen_once_it_becomes_watched() {
    require_root!();
    let dir = std::env::temp_dir().join(unique("becomes"));
    fs::create_dir_all(&dir).unwrap();
    let watched = dir.join("w.sock");
    let elsewhere = dir.join("s.sock");
    let _old = UnixDatagram::bind(&watched).unwrap();
    let sock = UnixDatagram::bind(&elsewhere).unwrap();
    sock.set_nonblocking(true).unwrap();
    let watched_str = watched.display().to_string();
    let mut obs = Observer::start(&["--socket", &watched_str]);
    let tx = UnixDatagram::unbound().unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..100 {
        tx.send_to(b"X_BEFORE=1", &elsewhere).unwrap();
        sock.recv(&mut buf).unwrap();
    }
    fs::rename(&elsewhere, &watched).unwrap();
    // The observer finds the new socket behind the path at its next rescan (every 2 s).
    let deadline = std::time::Instant::now() + WAIT;
    let ev = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no event for the socket that became watched in {WAIT:?}"
        );
        tx.send_to(b"X_AFTER=1", &watched).unwrap();
        while sock.recv(&mut buf).is_ok() {}
        if let Some(ev) = obs.next_event(Duration::from_millis(250)) {
            break ev;
        }
    };
    assert_eq!(ev["payload"], "X_AFTER=1", "{ev}");
    assert_eq!(ev["dest"], watched_str, "{ev}");
    drop(obs);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn sendmmsg_reports_each_datagram() {
    require_root!();
    let f = fixture();
    let to = f.path("mmsg");
    // Two calls in a row from one thread, likely on the same vector: the numbering starts over.
    let (_, lines) = nsend(&["--to", &to, "--mmsg", "3", "--repeat", "2", "WATCHDOG=1"]);
    assert_eq!(lines, ["3", "3"], "sendmmsg sent all three, twice");
    let events = f.events(&to, 6, WAIT);
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(ev["payload"], "WATCHDOG=1");
        assert_eq!(ev["result"], 10);
        // The tracepoint hooks number the messages of each call; fentry sees each datagram as a
        // call of its own.
        let index = if ev["hook"] == "Fentry" {
            0
        } else {
            i as u64 % 3
        };
        assert_eq!(ev["msg_index"], index, "{ev}");
    }
    if f.strategy() == "tracepoint" && kernel_at_least(6, 6) {
        assert!(
            !f.hooks().contains("tracepoint/syscalls"),
            "with sock_send_length and sk_data_ready no syscall tracepoint is needed, which \
             every syscall on the machine would pay for: {}",
            f.hooks()
        );
    }
}

/// What a run that must fail printed on stderr, trimmed (the one-line error tests compare it
/// whole, so a second line fails them).
fn failure_message(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} succeeded");
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn missing_socket_is_a_one_line_error() {
    require_root!();
    let mut cmd = Command::new(workspace_bin("observer"));
    cmd.args([
        "trace",
        "--no-default-sockets",
        "--socket",
        "/nonexistent/notify",
    ]);
    assert_eq!(
        failure_message(&mut cmd),
        "observer: error: --socket /nonexistent/notify: no such socket"
    );
}

/// A kernel without BTF (here: /sys/kernel/btf hidden under an empty tmpfs, in a mount
/// namespace of the observer's own) is one line naming the kernel option.
#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn kernel_without_btf_is_a_one_line_error() {
    require_root!();
    // A socket that exists, so that the only thing wrong is the BTF.
    let path = std::env::temp_dir().join(format!("observer-no-btf-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let _socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let mut cmd = Command::new(workspace_bin("observer"));
    cmd.args(["trace", "--no-default-sockets", "--socket"])
        .arg(&path);
    // SAFETY: unshare/mount between fork and exec; the strings are NUL-terminated literals.
    unsafe {
        cmd.pre_exec(|| {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            // Private, so the tmpfs never shows outside this process.
            let root = c"/".as_ptr();
            if libc::mount(
                std::ptr::null(),
                root,
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            let (none, btf, tmpfs) = (c"none", c"/sys/kernel/btf", c"tmpfs");
            if libc::mount(
                none.as_ptr(),
                btf.as_ptr(),
                tmpfs.as_ptr(),
                0,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            Ok(())
        });
    }
    assert_eq!(
        failure_message(&mut cmd),
        "observer: error: no BTF at /sys/kernel/btf/vmlinux: the kernel must be built with CONFIG_DEBUG_INFO_BTF=y"
    );
    assert!(
        std::path::Path::new("/sys/kernel/btf/vmlinux").exists(),
        "the host's BTF is untouched"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn unprivileged_user_is_told_to_use_root() {
    require_root!();
    let mut cmd = Command::new(workspace_bin("observer"));
    cmd.args(["trace", "--no-default-sockets", "--socket", "@anything"]);
    // SAFETY: setgid/setuid between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    assert_eq!(
        failure_message(&mut cmd),
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

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn ring_overflow_is_counted_exactly() {
    require_root!();
    // An observer of its own, with the smallest ring: a burst must overflow it, and every
    // datagram must be either delivered or counted as dropped — never silently lost.
    let (dir, rx, to) = own_socket("ring", "burst.sock");
    let obs = Observer::start(&["--ring-size", "4096", "--socket", &to]);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut n = 0;
        // The sender blocks when this queue is full: read while it sends.
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        while rx.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    });
    const SENT: usize = 3000;
    // 2000-byte datagrams: the 4 KiB ring holds one record at a time, so a burst overflows it
    // however fast the collector is.
    let (_, lines) = nsend(&["--to", &to, "--repeat", &SENT.to_string(), "--size", "2000"]);
    assert!(lines.iter().all(|l| l == "2000"), "every send succeeded");
    std::thread::sleep(Duration::from_millis(500));
    let rest = obs.stop();
    let delivered = rest.iter().filter(|r| r["record"] == "event").count();
    let summary = summary_of(&rest);
    let dropped = summary["dropped"].as_u64().unwrap() as usize;
    let drop_records: u64 = rest
        .iter()
        .filter(|r| r["record"] == "drops")
        .map(|r| r["dropped"].as_u64().unwrap())
        .sum();
    assert!(
        dropped > 0,
        "a 4 KiB ring must overflow on {SENT} datagrams"
    );
    assert_eq!(delivered + dropped, SENT, "sent = delivered + dropped");
    assert_eq!(summary["events"].as_u64().unwrap() as usize, delivered);
    assert_eq!(
        drop_records as usize, dropped,
        "drops are reported as they happen, not only at the end"
    );
    assert_eq!(
        reader.join().unwrap(),
        SENT,
        "the receiver got every datagram: tracing never loses the real traffic"
    );
    let _ = fs::remove_dir_all(dir);
}

/// Whether the running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    (next(), next()) >= (major, minor)
}

/// The delivery outcome of an event: its own, or the `delivery` record that followed it when it
/// was shown before it was read.
fn delivery_of(f: &Fixture, ev: &Value) -> Value {
    if ev["delivered"] != "unknown" {
        return ev.clone();
    }
    let d = f
        .deliveries(ev["dest"].as_str().unwrap(), 1, WAIT)
        .remove(0);
    assert_eq!(
        (&d["mono_ns"], &d["tid"], &d["payload"]),
        (&ev["mono_ns"], &ev["tid"], &ev["payload"]),
        "the delivery record names its event"
    );
    d
}

/// The reader's side, with a reader that reads as systemd does (tests/src/reader.rs): what it
/// read and with which credentials; a stalled reader's queue delay; datagrams it never read.
#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn the_readers_side_credentials_queue_delay_and_unread_datagrams() {
    require_root!();
    let f = fixture();
    let (to, reader_pid, pidfd) = {
        let r = f.reader();
        (r.path.clone(), r.pid, r.pidfd)
    };
    // The cheapest way the kernel allows (observer/src/capture/receive.rs).
    let expected = if f.strategy() == "fentry" {
        "fentry/skb_free_datagram"
    } else if kernel_at_least(6, 3) {
        "tp_btf/consume_skb"
    } else {
        "tracepoint/syscalls/sys_exit_recvmsg"
    };
    assert!(
        f.hooks().contains(expected),
        "the reads are captured with {expected}: {}",
        f.hooks()
    );

    // Read at once, with the sender's credentials as the reader received them.
    let (pid, lines) = nsend(&["--to", &to, "READY=1\nSTATUS=read at once"]);
    assert_eq!(lines, ["27"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["delivered"], true, "{ev}");
    assert_eq!(ev["read_by"], reader_pid);
    assert_eq!(
        ev["manager_creds"],
        serde_json::json!({"pid": pid, "uid": 0, "gid": 0})
    );
    assert_eq!(
        ev["pidfd"], pidfd,
        "SCM_PIDFD came iff the reader asked for it"
    );
    assert!(ev["queue_delay_us"].as_u64().unwrap() < 1_000_000, "{ev}");

    // As root, credentials naming another process: the reader gets those, not the sender's.
    let (_, lines) = nsend(&["--to", &to, "--creds", "1:0:0", "STATUS=as pid 1"]);
    assert_eq!(lines, ["15"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["delivered"], true, "{ev}");
    assert_eq!(ev["manager_creds"]["pid"], 1);

    // A stalled reader: the datagrams wait in its queue for as long as it is stopped.
    const STALL: Duration = Duration::from_secs(2);
    f.reader().stop();
    let (_, lines) = nsend(&["--to", &to, "--repeat", "2", "STATUS=stalled"]);
    assert_eq!(lines, ["14", "14"]);
    std::thread::sleep(STALL);
    f.reader().resume();
    for ev in f.events(&to, 2, WAIT) {
        let d = delivery_of(f, &ev);
        assert_eq!(d["delivered"], true, "{d}");
        let delay = Duration::from_micros(d["queue_delay_us"].as_u64().unwrap());
        assert!(
            delay >= STALL && delay < STALL + Duration::from_secs(2),
            "queue delay {delay:?} for a {STALL:?} stall: {d}"
        );
    }

    // Never read: the reader is stopped, then ends (its socket closes with it).
    f.reader().stop();
    let (_, lines) = nsend(&["--to", &to, "STATUS=never read"]);
    assert_eq!(lines, ["17"]);
    f.reader().end();
    let ev = &f.events(&to, 1, WAIT)[0];
    let d = delivery_of(f, ev);
    assert_eq!(d["delivered"], false, "{d}");
    assert_eq!(d["manager_creds"], Value::Null);
    assert!(
        d["delivery_note"]
            .as_str()
            .unwrap()
            .contains("reader exited"),
        "{d}"
    );
}

/// Where /proc/kallsyms hides kernel addresses (`kernel.kptr_restrict=2`), consume_skb cannot
/// tell a unix read's free from any other: the tracepoint strategy then reads the managers'
/// side through sock_recv_length, says why, and still sees the reads.
#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn hidden_kallsyms_fall_back_to_sock_recv_length() {
    require_root!();
    let f = fixture();
    if f.strategy() != "tracepoint" || !kernel_at_least(6, 3) {
        eprintln!("skipped: consume_skb is used only by the tracepoint strategy on kernels ≥ 6.3");
        return;
    }
    let path = std::env::temp_dir().join(format!("{}.sock", unique("kallsyms")));
    let reader = Reader::start(&path);
    let mut obs = {
        let _hidden = Sysctl::set("/proc/sys/kernel/kptr_restrict", "2");
        Observer::start(&[
            "--socket",
            &reader.path,
            "--receiver",
            &reader.pid.to_string(),
        ])
    };
    assert!(
        obs.start["hooks"]
            .to_string()
            .contains("tp_btf/sock_recv_length"),
        "{}",
        obs.start["hooks"]
    );
    // Waited for: stderr is read by a thread of its own, which a loaded machine may delay.
    let why = obs.stderr_line("refused tp_btf/consume_skb", WAIT);
    assert!(
        why.as_deref().is_some_and(|l| l.contains("kptr_restrict")),
        "the fallback is explained: {why:?} in {:?}",
        obs.stderr_lines()
    );
    let (pid, _) = nsend(&["--to", &reader.path, "STATUS=read via sock_recv_length"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["delivered"], true, "{ev}");
    assert_eq!(ev["manager_creds"]["pid"], pid);
}

/// `observer hook-floor` (the benches' floor) attaches its do-nothing programs at exactly the
/// hooks `trace` attaches on this kernel, beside the real ones: the shared observer still
/// captures while it runs. SIGINT detaches them and it exits cleanly.
#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn hook_floor_takes_the_same_hooks_as_trace() {
    require_root!();
    let f = fixture();
    let floor = Observer::hook_floor();
    assert_eq!(floor.start["floor"], true, "{}", floor.start);
    assert_eq!(
        floor.start["strategy"].as_str(),
        Some(f.strategy().as_str())
    );
    assert_eq!(floor.start["hooks"].to_string(), f.hooks());
    let to = f.path("floor");
    let (pid, _) = nsend(&["--to", &to, "STATUS=beside the floor"]);
    let ev = &f.events(&to, 1, WAIT)[0];
    assert_eq!(ev["pid"], pid);
    assert_eq!(ev["payload"], "STATUS=beside the floor");
    assert!(floor.stop().is_empty(), "the floor reports nothing");
}

#[test]
#[ignore = "needs root: run through cargo xtask test capture"]
fn an_idle_collector_sleeps_and_the_next_datagram_wakes_it() {
    require_root!();
    let (dir, _rx, to) = own_socket("asleep", "w.sock");
    let mut obs = Observer::start(&["-v", "--socket", &to]);
    // Nothing to drain for a second: it stops its timer and tells the kernel (idle.rs).
    assert!(obs.idle(WAIT), "the collector never fell asleep");
    let (pid, _) = nsend(&["--to", &to, "STATUS=after a quiet while"]);
    let ev = &obs.events(1, WAIT)[0];
    assert_eq!(
        (ev["pid"].as_u64(), ev["payload"].as_str()),
        (Some(pid.into()), Some("STATUS=after a quiet while"))
    );
    // Woken by the record itself, not found by the next rescan.
    assert!(
        obs.stderr_line("collector: woken by the kernel", WAIT)
            .is_some(),
        "the kernel did not wake the collector"
    );
    assert!(obs.idle(WAIT), "the collector did not fall asleep again");
    // People see it too (-v).
    assert!(
        obs.stderr_line("collector: asleep", WAIT).is_some(),
        "no log line for the sleep"
    );
    drop(obs);
    let _ = fs::remove_dir_all(dir);
}

/// Sets a sysctl file for as long as it lives, then puts the old value back.
struct Sysctl {
    path: &'static str,
    old: String,
}

impl Sysctl {
    fn set(path: &'static str, value: &str) -> Sysctl {
        let old = std::fs::read_to_string(path).unwrap();
        std::fs::write(path, value).unwrap();
        Sysctl { path, old }
    }
}

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = std::fs::write(self.path, self.old.trim());
    }
}
