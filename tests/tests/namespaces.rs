//! Hostile and hung namespaces (issue 17): what an unprivileged user can set up to look like a
//! container's systemd (tests/src/hostile.rs, tests/hostile/fake_manager.py) must not blind,
//! stall or steer the real observer. The fake is only ever the attacker; the observer loads its
//! real programs and the fake sends real datagrams. Root only.

use std::{
    process::{Command, Output, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use observer_tests::{
    hostile::{Fake, NOBODY, RootWatch},
    observer::Observer,
    probe, require_root, workspace_bin,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// How much later than `--duration` the observer may exit: its last events' wait for their
/// managers (1 s) and the sinks' last writes.
const STOP_SLACK: Duration = Duration::from_millis(2500);

/// The events of `records` sent to the fake's socket.
fn fake_events(records: &[Value], fake: &Fake) -> Vec<Value> {
    let ours = format!("container {}", fake.leader);
    let of_ours = |s: &str| {
        s.strip_prefix(&ours)
            .is_some_and(|r| r.is_empty() || r.starts_with(' '))
    };
    records
        .iter()
        .filter(|r| r["record"] == "event")
        .filter(|r| r["socket"].as_str().is_some_and(of_ours))
        .cloned()
        .collect()
}

/// An observer run to its end (`--duration` in `args`), with what it wrote, how long it ran
/// after it reported its start, and whether a process of it ran as root in the fake's
/// namespaces. `during` runs once it has started, given the observer's PID.
struct Run {
    out: Output,
    /// Whether it reported its start (a one-line refusal does not).
    started: bool,
    after_start: Duration,
    root_inside: Vec<String>,
    foreign: bool,
}

fn run(leader: u32, args: &[&str], during: impl FnOnce(u32)) -> Run {
    let mut child = Command::new(workspace_bin("observer"))
        .args(args)
        .args(["--probe", &probe()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run observer");
    let watch = RootWatch::start(child.id(), leader);
    // The start lines are on stderr; read it on a thread, noting when they came. What is read
    // is kept as it comes: a process that outlives the observer (the journal relay,
    // stuck) may hold the pipes open.
    let err = child.stderr.take().expect("piped");
    let stderr = Arc::new(Mutex::new(Vec::<u8>::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let keep = stderr.clone();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("[observer] {line}");
            if line.contains("observer: watching") {
                let _ = tx.send(Instant::now());
            }
            let mut all = keep.lock().unwrap();
            all.extend_from_slice(line.as_bytes());
            all.push(b'\n');
        }
    });
    let out = child.stdout.take().expect("piped");
    let stdout = Arc::new(Mutex::new(Vec::<u8>::new()));
    let keep = stdout.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut out = out;
        while let Ok(n) = std::io::Read::read(&mut out, &mut buf) {
            if n == 0 {
                break;
            }
            keep.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let (started, did_start) = match rx.recv_timeout(WAIT) {
        Ok(at) => (at, true),
        // Refused at the start (stderr closed without a start line): nothing to do meanwhile.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => (Instant::now(), false),
        Err(e) => panic!("the observer did not start: {e}"),
    };
    if did_start {
        during(child.id());
    }
    // An observer that does not stop is killed (and fails the test on its run time).
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait observer") {
            break status;
        }
        if started.elapsed() > WAIT {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let after_start = started.elapsed();
    // What it wrote last comes a moment after it exits.
    std::thread::sleep(Duration::from_millis(200));
    let out = Output {
        status,
        stdout: stdout.lock().unwrap().clone(),
        stderr: stderr.lock().unwrap().clone(),
    };
    let foreign = watch.foreign();
    if !foreign.is_empty() {
        eprintln!("other observers ran meanwhile: {foreign:?}");
    }
    Run {
        out,
        started: did_start,
        after_start,
        root_inside: watch.finish(),
        foreign: !foreign.is_empty(),
    }
}

fn stdout_json(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Raw terminal control bytes: C0 ESC and BEL, and C1 controls (U+0080–U+009F as UTF-8).
fn raw_controls(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| matches!(b, 0x1b | 0x07)).count()
        + bytes
            .windows(2)
            .filter(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
            .count()
}

/// By default an untrusted namespace is watched at the kernel level — its datagram is shown,
/// labelled, with verdict unknown and the reason — and never spoken to: nothing connects to
/// its manager's socket, no process of the observer runs as root inside.
#[test]
#[ignore = "needs root: run through cargo xtask test namespaces"]
fn an_untrusted_namespace_is_shown_but_not_spoken_to() {
    require_root!();
    let mut fake = Fake::start("silent");
    let mut obs = Observer::start_with(&[]);
    let leader = fake.leader;
    let watching: Vec<Value> = obs.start["watching"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let entry = watching
        .iter()
        .find(|w| {
            w["owner"]
                .as_str()
                .is_some_and(|o| o.starts_with(&format!("container {leader} ")))
        })
        .unwrap_or_else(|| panic!("the fake's socket is watched: {watching:?}"));
    assert_eq!(entry["trust"], "untrusted", "{entry}");
    assert_eq!(
        entry["owner"],
        format!("container {leader} (untrusted: user namespace of uid {NOBODY})")
    );
    let watch = RootWatch::start(obs.pid(), leader);
    fake.notify("READY=1", 1);
    let deadline = Instant::now() + WAIT;
    let ev = loop {
        let ev = obs.next_event(Duration::from_secs(1));
        if let Some(ev) = ev.filter(|e| !fake_events(std::slice::from_ref(e), &fake).is_empty()) {
            break ev;
        }
        assert!(
            Instant::now() < deadline,
            "the fake's datagram was not shown"
        );
    };
    assert_eq!(ev["verdict"], "unknown", "{ev}");
    assert_eq!(ev["payload"], "READY=1");
    assert_eq!(ev["comm"], "systemd", "the fake named itself so");
    let note = ev["note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with(&format!(
            "not asked: untrusted, its manager runs in a user namespace of uid {NOBODY}"
        )),
        "{note}"
    );
    let foreign = watch.foreign();
    let lines = obs.stderr_lines();
    obs.stop();
    let start_line = lines
        .iter()
        .find(|l| l.contains(&format!("(container {leader} (untrusted")))
        .unwrap_or_else(|| panic!("no start line for the fake: {lines:#?}"));
    assert!(start_line.contains("not asked: untrusted"), "{start_line}");
    assert_eq!(
        watch.finish(),
        Vec::<String>::new(),
        "root processes inside"
    );
    if !foreign.is_empty() {
        eprintln!(
            "other observers ran meanwhile, their connections are not told apart: {foreign:?}"
        );
    } else {
        assert_eq!(
            fake.peers(),
            Vec::<Value>::new(),
            "nothing connects by default"
        );
    }
}

/// With `--containers all` an untrusted manager is spoken to as the owner of its user
/// namespace only (the fake sees its own root, uid 0, which is uid 65534 outside; root would be
/// the overflow uid), from a child that is never root inside; a manager that accepts and never
/// answers turns its own datagram's verdict into unknown with the reason, the exit summary
/// names it, and `--duration` is honoured.
#[test]
#[ignore = "needs root: run through cargo xtask test namespaces"]
fn a_silent_untrusted_manager_is_asked_as_its_owner_and_stalls_nothing() {
    require_root!();
    let mut fake = Fake::start("silent");
    let leader = fake.leader;
    let r = run(
        leader,
        &["trace", "--json", "--containers", "all", "--duration", "4"],
        |_| {
            std::thread::sleep(Duration::from_millis(500));
            fake.notify("READY=1", 1);
        },
    );
    let stderr = String::from_utf8_lossy(&r.out.stderr);
    assert!(r.out.status.success(), "{stderr}");
    assert!(
        r.after_start < Duration::from_secs(4) + STOP_SLACK,
        "--duration 4 took {:?}",
        r.after_start
    );
    assert_eq!(r.root_inside, Vec::<String>::new(), "root processes inside");
    let events = fake_events(&stdout_json(&r.out), &fake);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["verdict"], "unknown");
    let note = events[0]["note"].as_str().unwrap_or_default();
    assert!(note.contains("has not answered"), "{note}");
    assert!(
        stderr.contains(&format!(
            "manager misbehaved: container {leader} (untrusted"
        )),
        "the exit summary names it: {stderr}"
    );
    // uid 0 inside is the owner (65534 outside); the overflow uid would be root outside.
    assert!(
        fake.uid_map().split_whitespace().take(2).eq(["0", "65534"]),
        "{}",
        fake.uid_map()
    );
    let peers = fake.peers();
    assert!(!peers.is_empty(), "the owner's child connected");
    let as_root: Vec<&Value> = peers.iter().filter(|p| p["uid"] != 0).collect();
    if r.foreign {
        eprintln!("another observer runs here: its connections to the fake cannot be told apart");
    } else {
        assert!(
            as_root.is_empty(),
            "connections not made as the owner: {as_root:?}"
        );
    }
}

/// Ctrl-C (SIGINT) and `-n` are honoured while a manager never answers: the observer is not
/// waiting on it, only its own datagrams are.
#[test]
#[ignore = "needs root: run through cargo xtask test namespaces"]
fn ctrl_c_and_count_are_honoured_while_a_manager_never_answers() {
    require_root!();
    let mut fake = Fake::start("silent");
    let leader = fake.leader;
    let mut asked = Instant::now();
    let r = run(leader, &["trace", "--json", "--containers", "all"], |pid| {
        std::thread::sleep(Duration::from_millis(500));
        fake.notify("READY=1", 1);
        asked = Instant::now();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
    });
    assert!(
        r.out.status.success(),
        "{}",
        String::from_utf8_lossy(&r.out.stderr)
    );
    assert!(
        asked.elapsed() < STOP_SLACK,
        "stopped {:?} after Ctrl-C",
        asked.elapsed()
    );
    let events = fake_events(&stdout_json(&r.out), &fake);
    assert_eq!(events.len(), 1, "its datagram is still shown: {events:#?}");
    assert_eq!(events[0]["verdict"], "unknown");

    // -n 1: the first datagram is shown once its manager's wait is over (3 s at most), then
    // the observer exits.
    let r = run(
        leader,
        &["trace", "--json", "--containers", "all", "-n", "1"],
        |_| {
            std::thread::sleep(Duration::from_millis(500));
            fake.notify("READY=1", 1);
        },
    );
    assert!(r.out.status.success());
    assert!(
        r.after_start < Duration::from_secs(4) + STOP_SLACK,
        "-n 1 took {:?}",
        r.after_start
    );
    assert_eq!(r.root_inside, Vec::<String>::new(), "root processes inside");
}

/// A manager that never answers delays only its own datagrams: one sent to another socket
/// just after is shown at once, before the silent manager's (which waits out its connection,
/// link.rs's CONNECT_WAIT), not behind it.
#[test]
#[ignore = "needs root: run through cargo xtask test namespaces"]
fn a_silent_manager_delays_only_its_own_datagrams() {
    require_root!();
    let mut silent = Fake::start_trusted("silent");
    let dir = std::env::temp_dir().join(observer_tests::unique("beside"));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("notify.sock");
    let _sock = std::os::unix::net::UnixDatagram::bind(&ours).unwrap();
    let ours = ours.to_str().unwrap().to_owned();
    let mut obs = Observer::start_with(&["--socket", &ours]);
    silent.notify("READY=1", 1);
    let sent = Instant::now();
    std::os::unix::net::UnixDatagram::unbound()
        .unwrap()
        .send_to(b"STATUS=beside", &ours)
        .unwrap();
    let mut order = Vec::new();
    let deadline = Instant::now() + WAIT;
    while order.len() < 2 && Instant::now() < deadline {
        let Some(ev) = obs.next_event(Duration::from_secs(1)) else {
            continue;
        };
        if ev["dest"] == ours.as_str() {
            order.push(("ours", sent.elapsed(), ev));
        } else if !fake_events(std::slice::from_ref(&ev), &silent).is_empty() {
            order.push(("silent", sent.elapsed(), ev));
        }
    }
    obs.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let names: Vec<_> = order
        .iter()
        .map(|(n, at, ev)| format!("{n} after {at:?}: {} {}", ev["verdict"], ev["note"]))
        .collect();
    assert_eq!(order.len(), 2, "both datagrams shown: {names:?}");
    assert_eq!(order[0].0, "ours", "not behind the silent one: {names:?}");
    assert_eq!(order[1].2["verdict"], "unknown", "{}", order[1].2);
}

/// A lying manager (names, states, results and jobs full of ESC, BEL and OSC sequences; an
/// object path that decodes to ESC) asked with `--containers all`: no raw control byte reaches
/// the output of trace, live diagnose, or replay and diagnose of a recording made meanwhile;
/// the exit summary says what it did.
#[test]
#[ignore = "needs root: run through cargo xtask test namespaces"]
fn a_lying_manager_never_reaches_the_terminal_raw() {
    require_root!();
    let mut fake = Fake::start("liar");
    let leader = fake.leader;
    let dir = std::env::temp_dir().join(observer_tests::unique("liar"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("liar.rec");
    let file_arg = file.to_str().unwrap();
    let send = |fake: &mut Fake| {
        std::thread::sleep(Duration::from_millis(1500));
        fake.notify("READY=1", 1);
    };
    let live = run(
        leader,
        &["diagnose", "--containers", "all", "--duration", "5"],
        |_| send(&mut fake),
    );
    let table = run(
        leader,
        &["trace", "--containers", "all", "--duration", "4"],
        |_| send(&mut fake),
    );
    let recorded = run(
        leader,
        &[
            "record",
            "-o",
            file_arg,
            "--containers",
            "all",
            "--duration",
            "4",
        ],
        |_| send(&mut fake),
    );
    let offline = |cmd: &str| {
        Command::new(workspace_bin("observer"))
            .args([cmd, file_arg])
            .output()
            .expect("observer")
    };
    let (diagnosed, replayed) = (offline("diagnose"), offline("replay"));
    // The same on a terminal: script(1) gives them a pty, and what reached it comes back.
    let on_tty = |cmd: &str| {
        let line = format!(
            "'{}' {cmd} '{file_arg}'",
            workspace_bin("observer").display()
        );
        Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .expect("script(1)")
    };
    let (diagnosed_tty, replayed_tty) = (on_tty("diagnose"), on_tty("replay"));
    let _ = std::fs::remove_dir_all(&dir);
    for (what, out) in [
        ("diagnose FILE on a pty", &diagnosed_tty),
        ("replay FILE on a pty", &replayed_tty),
    ] {
        assert!(out.status.success(), "{what}: {:?}", out.status);
        assert!(!out.stdout.is_empty(), "{what} wrote nothing to the pty");
        assert_eq!(
            raw_controls(&out.stdout),
            0,
            "{what}: raw controls reached the pty"
        );
    }
    for (what, r) in [
        ("diagnose", &live),
        ("trace", &table),
        ("record", &recorded),
    ] {
        let stderr = String::from_utf8_lossy(&r.out.stderr);
        assert!(r.out.status.success(), "{what}: {stderr}");
        assert_eq!(r.root_inside, Vec::<String>::new(), "{what}: root inside");
        assert_eq!(raw_controls(&r.out.stdout), 0, "{what} wrote raw controls");
        assert_eq!(
            raw_controls(&r.out.stderr),
            0,
            "{what} wrote raw controls to stderr"
        );
        assert!(
            stderr.contains(&format!(
                "manager misbehaved: container {leader} (untrusted"
            )) && stderr.contains("naming units systemd's rules refuse"),
            "{what}: the lies were heard and refused: {stderr}"
        );
    }
    for (what, out) in [("diagnose FILE", &diagnosed), ("replay FILE", &replayed)] {
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(raw_controls(&out.stdout), 0, "{what} wrote raw controls");
    }
    // The lies reached the recording, marked: the state systemd never sends, escaped.
    let text = String::from_utf8_lossy(&diagnosed.stdout);
    assert!(
        text.contains("unrecognised:")
            || String::from_utf8_lossy(&live.out.stdout).contains("unrecognised:"),
        "the lying states are shown marked: {text}"
    );
}

/// A journal nobody reads stalls nothing. For an untrusted container no relay runs in its
/// namespaces at all (its entries go to the host's journal) and `--journal-container` refuses
/// it. A trusted container's journald that stops reading (a root-made namespace, its journal
/// socket never read) blocks the relay: it is killed and that journal given up, and
/// `--duration` is honoured (the observer had to be killed at 46 s).
#[test]
#[ignore = "needs root: run through cargo xtask test namespaces"]
fn an_unread_journal_stalls_nothing() {
    require_root!();
    let mut fake = Fake::start("silent");
    let r = run(
        fake.leader,
        &["trace", "--journal", "--duration", "3"],
        |_| {
            std::thread::sleep(Duration::from_millis(500));
            fake.notify("READY=1", 20);
        },
    );
    assert_eq!(r.root_inside, Vec::<String>::new(), "root processes inside");
    let stderr = String::from_utf8_lossy(&r.out.stderr);
    if r.started {
        assert!(
            r.after_start < Duration::from_secs(3) + STOP_SLACK,
            "--duration 3 took {:?}",
            r.after_start
        );
    } else {
        // An observer that wants the host's journald before it starts, on a host without one.
        assert!(
            stderr.contains("no journald socket at /run/systemd/journal/socket"),
            "{stderr}"
        );
    }
    let refused = Command::new(workspace_bin("observer"))
        .args(["trace", "--journal", "--duration", "1"])
        .args(["--journal-container", &fake.leader.to_string()])
        .output()
        .expect("observer");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("(untrusted): the observer does not write to its journal as root"),
        "{stderr}"
    );
    drop(fake);

    let mut trusted = Fake::start_trusted("silent");
    let leader = trusted.leader;
    // Its journal named: on a host without journald of its own (this machine) `--journal`
    // alone is refused at start (drops go to the host's journal).
    let journal_of = leader.to_string();
    let args = [
        "trace",
        "--journal",
        "--journal-container",
        &journal_of,
        "--duration",
        "8",
    ];
    let r = run(leader, &args, |_| {
        std::thread::sleep(Duration::from_millis(500));
        // Far more than the journal socket's queue (net.unix.max_dgram_qlen) holds.
        trusted.notify("READY=1", 200);
    });
    let stderr = String::from_utf8_lossy(&r.out.stderr);
    assert!(
        r.after_start < Duration::from_secs(8) + STOP_SLACK,
        "--duration 8 took {:?}: {stderr}",
        r.after_start
    );
    assert!(
        stderr.contains(&format!("the journal under /proc/{leader}/root failed")),
        "the stalled journal is given up: {stderr}"
    );
}
