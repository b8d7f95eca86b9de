//! Shipping as an ops tool, against a real systemd 252 (scripts/testbed): the Debian package
//! installs into the container, its man pages and completions work there, the hardened
//! observer-record.service records traffic under that systemd, and the journal sink's entries show
//! up in `journalctl -u UNIT` next to the unit's own lines.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc::channel,
    thread,
    time::{Duration, Instant},
};

use observer_tests::{probe, require_root, testbed::Testbed, workspace_bin};
use serde_json::Value;

fn units_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testbed/units")
}

/// A journal field of `journalctl -o json` (a field given twice is an array).
fn field<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    match &entry[name] {
        Value::String(s) => Some(s),
        Value::Array(a) => a.first().and_then(Value::as_str),
        _ => None,
    }
}

fn journal_json(tb: &Testbed, args: &[&str]) -> Vec<Value> {
    tb.exec(&[&["journalctl", "--no-pager", "-o", "json"], args].concat())
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
#[ignore = "needs root: run through cargo xtask test ship"]
fn journal_entries_show_under_journalctl_u() {
    require_root!();
    let unit = "tb-notify-child-nobody.service";
    let tb = Testbed::start(&format!("observer-ship-journal-{}", std::process::id()));
    tb.install_units(&[units_dir().join(unit)]);

    // The observer runs on the host and writes into the container's journald.
    let mut child = Command::new(workspace_bin("observer"))
        .args(["trace", "--journal", "--journal-level", "rejections"])
        .args(["--journal-container", &tb.leader.to_string()])
        .args(["--probe", &probe(), "-u", unit])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run observer");
    let (tx, lines) = channel();
    let stderr = child.stderr.take().expect("piped");
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[observer] {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("observer did not report that it watches the container's socket");
        if line.contains("watching") && line.contains(&format!("container {}", tb.leader)) {
            break;
        }
    }

    tb.exec(&["systemctl", "start", "--no-block", unit]);
    assert_eq!(
        tb.wait_state(unit, "failed", Duration::from_secs(30)),
        "failed"
    );
    thread::sleep(Duration::from_secs(1)); // judged 150 ms after the send, then written
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    // It must stop on SIGINT; one that does not is killed and reported, not waited for forever.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait observer") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("observer did not exit within 30 s of SIGINT");
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "observer exited with {status}");

    let entries = journal_json(&tb, &["-u", unit]);
    let systemd_line = entries
        .iter()
        .filter_map(|e| field(e, "MESSAGE"))
        .find(|m| m.contains("but reception only permitted for main PID"))
        .expect("systemd logged the rejection")
        .to_string();
    let rejected_pid = systemd_line
        .split("from PID ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .expect("PID in systemd's line")
        .to_string();
    let ours: Vec<&Value> = entries
        .iter()
        .filter(|e| field(e, "SYSLOG_IDENTIFIER") == Some("observer"))
        .collect();
    let rejected = ours
        .iter()
        .find(|e| field(e, "OBSERVER_VERDICT") == Some("rejected"))
        .unwrap_or_else(|| panic!("no rejected entry from the observer under -u {unit}: {ours:?}"));
    let want = [
        ("MESSAGE_ID", "5ae9da0f2ccf420fbd776a5f6519b811"),
        ("PRIORITY", "4"),
        ("_UID", "0"),
        ("OBSERVER_KIND", "not_main_pid"),
        ("OBSERVER_UNIT", unit),
        ("OBSERVER_SENDER_COMM", "systemd-notify"),
        ("OBSERVER_SENDER_UID", "65534"),
        ("OBSERVER_SENDER_PID", &rejected_pid),
        ("OBJECT_PID", &rejected_pid),
        ("OBJECT_SYSTEMD_UNIT", unit),
        ("OBSERVER_PAYLOAD", "READY=1\\nSTATUS=hello"),
    ];
    for (name, value) in want {
        assert_eq!(field(rejected, name), Some(value), "{name} in {rejected}");
    }
    // The reason is systemd's own line (the journal shows it with the unit prefix).
    let reason = field(rejected, "OBSERVER_REASON").expect("OBSERVER_REASON");
    assert!(
        systemd_line.ends_with(reason),
        "{reason:?} vs {systemd_line:?}"
    );
    assert!(field(rejected, "OBSERVER_HINT").is_some_and(|h| h.contains("NotifyAccess=all")));
    // --journal-level rejections: the accepted BARRIER=1 was not written; the failed send was.
    assert!(
        ours.iter()
            .all(|e| field(e, "OBSERVER_VERDICT") != Some("accepted")),
        "{ours:?}"
    );
    assert!(
        ours.iter()
            .any(|e| field(e, "OBSERVER_VERDICT") == Some("not-delivered")
                && field(e, "OBSERVER_ERRNO") == Some("EPERM"))
    );
}

/// The .deb `cargo xtask dist` built: $OBSERVER_DEB, else the newest in target/debian.
fn deb() -> PathBuf {
    if let Some(p) = std::env::var_os("OBSERVER_DEB") {
        return PathBuf::from(p);
    }
    let dir = observer_tests::target_dir().join("debian");
    std::fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no .deb in {}: run cargo xtask dist", dir.display()))
}

/// man-db and what it needs beyond the testbed's minimal Debian 12, downloaded once from Debian
/// (the host is Debian 12 too) into the cache; installed into a container's volatile overlay.
const MAN_DB: &[&str] = &[
    "man-db",
    "libpipeline1",
    "libgdbm6",
    "groff-base",
    "libuchardet0",
    "bsdextrautils",
];

fn man_db_debs() -> Vec<PathBuf> {
    let cache = Path::new("/var/cache/observer/man-db");
    std::fs::create_dir_all(cache).expect("cache dir");
    let have = |name: &str| {
        std::fs::read_dir(cache)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{name}_"))
            })
    };
    let missing: Vec<&str> = MAN_DB.iter().copied().filter(|n| !have(n)).collect();
    if !missing.is_empty() {
        let out = Command::new("apt-get")
            .arg("download")
            .args(&missing)
            .current_dir(cache)
            .output()
            .expect("apt-get download");
        assert!(
            out.status.success(),
            "apt-get download {missing:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::read_dir(cache)
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect()
}

#[test]
#[ignore = "needs root: run through cargo xtask test ship"]
fn deb_installs_and_its_hardened_service_records() {
    require_root!();
    // The container gets what the observer needs on a host: CAP_BPF and CAP_PERFMON in its
    // bounding set, and bpf()/perf_event_open() past systemd-nspawn's seccomp filter.
    let tb = Testbed::start_with(
        &format!("observer-ship-deb-{}", std::process::id()),
        "--capability=CAP_BPF,CAP_PERFMON --system-call-filter=bpf --system-call-filter=perf_event_open",
    );
    let root = PathBuf::from(format!("/proc/{}/root", tb.leader));
    std::fs::copy(deb(), root.join("tmp/observer.deb")).expect("copy .deb");
    let out = tb.exec_output(&["dpkg", "-i", "/tmp/observer.deb"]);
    assert!(
        out.status.success(),
        "dpkg -i: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Installing twice is fine too (upgrades, reinstalls).
    assert!(
        tb.exec_output(&["dpkg", "-i", "/tmp/observer.deb"])
            .status
            .success()
    );
    let version = tb.exec(&["observer", "--version"]);
    assert_eq!(
        version.trim(),
        format!("observer {}", env!("CARGO_PKG_VERSION"))
    );

    // man: the real man-db, installed into the container's overlay.
    std::fs::create_dir_all(root.join("tmp/man-db")).expect("dir");
    for d in man_db_debs() {
        std::fs::copy(&d, root.join("tmp/man-db").join(d.file_name().unwrap())).expect("copy");
    }
    let out = tb.exec_output(&["sh", "-c", "dpkg -i /tmp/man-db/*.deb"]);
    assert!(
        out.status.success(),
        "installing man-db: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = tb.exec(&["man", "-P", "cat", "observer"]);
    assert!(
        page.contains("notify socket") && page.contains("observer-trace(1)"),
        "man observer: {page}"
    );
    let page = tb.exec(&["man", "-P", "cat", "observer-trace"]);
    for opt in ["--journal", "--journal-level", "--unit", "--probe"] {
        assert!(page.contains(opt), "man observer-trace lacks {opt}: {page}");
    }

    // bash completion, as bash calls it on <TAB> after `observer trace --out`.
    let completion = tb.exec(&[
        "bash",
        "-c",
        "source /usr/share/bash-completion/completions/observer; \
         COMP_WORDS=(observer trace --jour); COMP_CWORD=2; COMP_LINE='observer trace --jour'; \
         COMP_POINT=${#COMP_LINE}; _observer observer --jour trace; echo \"${COMPREPLY[@]}\"",
    ]);
    assert_eq!(
        completion.trim(),
        "--journal --journal-level --journal-container",
        "bash completion"
    );
    let completion = tb.exec(&[
        "bash",
        "-c",
        "source /usr/share/bash-completion/completions/observer; \
         COMP_WORDS=(observer trace --journal-level ''); COMP_CWORD=3; \
         COMP_LINE='observer trace --journal-level '; COMP_POINT=${#COMP_LINE}; \
         _observer observer '' --journal-level; echo \"${COMPREPLY[@]}\"",
    ]);
    assert_eq!(
        completion.trim(),
        "all rejections",
        "bash completion of values"
    );

    // The service. A host's systemd mounts tracefs at boot; the container's does not.
    tb.exec(&["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"]);
    tb.install_units(&[
        units_dir().join("tb-notify-python.service"),
        units_dir().join("tb-notify-child-nobody.service"),
    ]);
    tb.exec(&["systemctl", "start", "observer-record.service"]);
    let record = "/var/lib/observer/notify.rec";
    // Its own lines, by PID: journald does not always tag a fresh stream with its unit.
    let service_log = || {
        let pid = tb.prop("observer-record.service", "MainPID");
        tb.exec(&[
            "journalctl",
            "--no-pager",
            "-o",
            "cat",
            &format!("_PID={pid}"),
        ])
    };
    // Until a main process other than `old_pid` says it captures.
    let wait_capturing = |old_pid: &str, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while tb.prop("observer-record.service", "MainPID") == old_pid
            || !service_log().contains("observer: watching /run/systemd/notify")
        {
            assert!(
                Instant::now() < deadline,
                "observer-record.service {what}: {}",
                tb.exec(&["journalctl", "--no-pager", "-u", "observer-record.service"])
            );
            thread::sleep(Duration::from_millis(300));
        }
    };
    wait_capturing("0", "did not start capturing");
    assert_eq!(tb.prop("observer-record.service", "ActiveState"), "active");
    // Only the two capabilities, effective in the running process.
    let main_pid = tb.prop("observer-record.service", "MainPID");
    let status = tb.exec(&["cat", &format!("/proc/{main_pid}/status")]);
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .expect("CapEff");
    assert_eq!(
        cap_eff, "000000c000000000",
        "CAP_PERFMON (38) and CAP_BPF (39) only"
    );
    assert_eq!(tb.prop("observer-record.service", "NoNewPrivileges"), "yes");
    assert_eq!(
        tb.prop("observer-record.service", "ProtectSystem"),
        "strict"
    );

    tb.exec(&["systemctl", "start", "tb-notify-python.service"]);
    tb.exec(&[
        "systemctl",
        "start",
        "--no-block",
        "tb-notify-child-nobody.service",
    ]);
    assert_eq!(
        tb.wait_state(
            "tb-notify-child-nobody.service",
            "failed",
            Duration::from_secs(30)
        ),
        "failed"
    );
    thread::sleep(Duration::from_secs(1));
    // Read back with replay, as on-call would (the recorder keeps running).
    let events: Vec<Value> = tb
        .exec(&["observer", "replay", "--json", record])
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v["record"] == "event")
        .collect();
    let has = |unit: &str, verdict: &str, payload: &str| {
        events.iter().any(|e| {
            e["unit"] == unit && e["verdict"] == verdict && e["payload"].as_str() == Some(payload)
        })
    };
    assert!(
        has(
            "tb-notify-python.service",
            "accepted",
            "READY=1\\nSTATUS=py ready"
        ),
        "{events:?}"
    );
    assert!(
        has(
            "tb-notify-child-nobody.service",
            "rejected",
            "READY=1\\nSTATUS=hello"
        ),
        "{events:?}"
    );
    // The state directory and what is in it are root's alone.
    assert_eq!(
        tb.exec(&["stat", "-c", "%a", "/var/lib/observer", record])
            .trim(),
        "700\n600"
    );

    let security = tb.exec(&[
        "systemd-analyze",
        "security",
        "--no-pager",
        "observer-record.service",
    ]);
    let overall = security
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .expect("systemd-analyze security verdict")
        .to_string();
    eprintln!("{overall}");
    let level: f64 = overall
        .split("observer-record.service:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("exposure level");
    assert!(level <= 2.0, "{overall}");

    // The example drop-in from the package: metrics for node_exporter's textfile collector,
    // the service still without a network.
    let dropin = "/usr/share/doc/observer/examples/observer-record.service.d/metrics.conf";
    let textfile = "/var/lib/prometheus/node-exporter/observer.prom";
    let dirs = [
        "/etc/systemd/system/observer-record.service.d",
        "/var/lib/prometheus/node-exporter",
    ];
    assert!(
        tb.exec_output(&[&["mkdir", "-p"][..], &dirs].concat())
            .status
            .success()
    );
    let out = tb.exec_output(&["cp", dropin, dirs[0]]);
    assert!(out.status.success(), "the package ships {dropin}: {out:?}");
    tb.exec(&["systemctl", "daemon-reload"]);
    let before = tb.prop("observer-record.service", "MainPID");
    tb.exec(&["systemctl", "restart", "observer-record.service"]);
    wait_capturing(&before, "with the metrics drop-in did not start");
    assert_eq!(tb.prop("observer-record.service", "PrivateNetwork"), "yes");
    tb.exec(&[
        "systemctl",
        "reset-failed",
        "tb-notify-child-nobody.service",
    ]);
    tb.exec(&[
        "systemctl",
        "start",
        "--no-block",
        "tb-notify-child-nobody.service",
    ]);
    // Rewritten every 5 s: the rejection and the start timeout show up in it.
    let host_path = root.join(textfile.trim_start_matches('/'));
    let want = [
        "observer_notify_datagrams_total{manager=\"system manager\",unit=\"tb-notify-child-nobody.service\",verdict=\"rejected\",kind=\"not_main_pid\"} 1",
        "observer_unit_start_outcomes_total{manager=\"system manager\",unit=\"tb-notify-child-nobody.service\",outcome=\"timeout\"} 1",
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&host_path).unwrap_or_default();
        if want.iter().all(|w| text.contains(w)) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "{textfile} lacks {want:?}:\n{text}"
        );
        thread::sleep(Duration::from_millis(500));
    };
    // node_exporter (its own user) reads it whatever the service's UMask=.
    assert_eq!(tb.exec(&["stat", "-c", "%a", textfile]).trim(), "644");
    observer_tests::prometheus::check_metrics("service's textfile", text.as_bytes());
}
