//! The attacker of tests/tests/hostile.rs: namespaces that look like a container's systemd, set
//! up the way an unprivileged user can (`unshare -Urpf --mount-proc` as uid 65534, a tmpfs on
//! /run) with tests/hostile/fake_manager.py as their PID 1. Only ever the attacker: never a
//! stand-in for systemd. Also `root_process_inside()`: whether a process of a given observer
//! ran as root in those namespaces.

use std::{
    fs,
    io::{BufRead as _, BufReader, Write as _},
    os::unix::{fs::PermissionsExt as _, process::CommandExt as _},
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

const FAKE: &str = include_str!("../hostile/fake_manager.py");

/// uid and gid the attacker runs as.
pub const NOBODY: u32 = 65534;

/// A fake manager in namespaces of its own.
pub struct Fake {
    child: Child,
    stdin: ChildStdin,
    said: Arc<Mutex<Vec<Value>>>,
    /// Host PID of the fake: PID 1 of its namespace, `container LEADER` to the observer.
    pub leader: u32,
    dir: PathBuf,
}

impl Fake {
    /// `mode`: `silent` (accepts, never answers) or `liar` (answers with control sequences),
    /// as uid 65534 in a user namespace of its own.
    pub fn start(mode: &str) -> Fake {
        Self::spawn(mode, true)
    }

    /// The same, but set up by root in the host's user namespace: a container the observer
    /// trusts (for what a trusted container's journal can do to it).
    pub fn start_trusted(mode: &str) -> Fake {
        Self::spawn(mode, false)
    }

    fn spawn(mode: &str, unprivileged: bool) -> Fake {
        let dir = std::env::temp_dir().join(crate::unique("hostile"));
        fs::create_dir_all(&dir).expect("fake dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let script = dir.join("fake_manager.py");
        fs::write(&script, FAKE).expect("write the fake");
        let inner = format!(
            "mount -t tmpfs tmpfs /run && exec /usr/bin/python3 {} {mode}",
            script.display()
        );
        let mut cmd = if unprivileged {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "unshare",
                "-Urpf",
            ]);
            c
        } else {
            let mut c = Command::new("unshare");
            c.arg("-pf");
            c
        };
        // --kill-child: the namespace dies with unshare, which the test kills when done (and
        // the fake exits when its stdin closes, should the test die first).
        cmd.args(["--mount-proc", "--kill-child", "sh", "-c", &inner])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: setsid between fork and exec: a process group of its own to kill.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start the fake (setpriv, unshare)");
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let said = Arc::new(Mutex::new(Vec::new()));
        let (tx, ready) = std::sync::mpsc::channel();
        let keep = said.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[fake] {line}");
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v["ready"] == true {
                    let _ = tx.send(());
                }
                keep.lock().unwrap().push(v);
            }
        });
        ready
            .recv_timeout(Duration::from_secs(20))
            .expect("the fake did not start (unprivileged user namespaces allowed?)");
        let leader = children(child.id())
            .first()
            .copied()
            .expect("the fake's PID 1");
        Fake {
            child,
            stdin,
            said,
            leader,
            dir,
        }
    }

    /// Sends `payload` to the fake's own /run/systemd/notify, from the fake, `n` times.
    pub fn notify(&mut self, payload: &str, n: usize) {
        let sent_before = self.count("sent");
        for _ in 0..n {
            writeln!(self.stdin, "notify {payload}").expect("to the fake");
        }
        self.stdin.flush().expect("to the fake");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.count("sent") < sent_before + n {
            assert!(Instant::now() < deadline, "the fake did not send");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn count(&self, key: &str) -> usize {
        self.said
            .lock()
            .unwrap()
            .iter()
            .filter(|v| !v[key].is_null())
            .count()
    }

    /// The SO_PEERCRED of every connection to the fake's /run/systemd/private so far, as its
    /// namespace sees them: {"pid", "uid", "gid"}.
    pub fn peers(&self) -> Vec<Value> {
        self.said
            .lock()
            .unwrap()
            .iter()
            .filter_map(|v| v.get("peer").cloned())
            .collect()
    }

    /// The fake's uid_map ("inside outside count").
    pub fn uid_map(&self) -> String {
        fs::read_to_string(format!("/proc/{}/uid_map", self.leader)).unwrap_or_default()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        // SAFETY: signalling the process group we made.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The PIDs of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found: Vec<u32> = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Watches, until stopped, for a process descended from `observer` (a host PID) that runs
/// as root (any of its uids 0) in the PID or user namespace of `leader`; and for other
/// observers running meanwhile (they may connect to a fake too).
pub struct RootWatch {
    stop: Arc<AtomicBool>,
    found: Arc<Mutex<Vec<String>>>,
    foreign: Arc<Mutex<Vec<String>>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl RootWatch {
    pub fn start(observer: u32, leader: u32) -> RootWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let found = Arc::new(Mutex::new(Vec::new()));
        let ns = |kind: &str| fs::read_link(format!("/proc/{leader}/ns/{kind}")).ok();
        let (pid_ns, user_ns) = (ns("pid"), ns("user"));
        let foreign = Arc::new(Mutex::new(Vec::new()));
        let (s, f, o) = (stop.clone(), found.clone(), foreign.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for pid in inside(&pid_ns, &user_ns) {
                    if let Some(what) = root_of(pid, observer) {
                        f.lock().unwrap().push(what);
                    }
                }
                for pid in foreign_observers(observer) {
                    let cmd =
                        fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    let what = format!("{pid} {}", cmd.replace('\0', " "));
                    let mut o = o.lock().unwrap();
                    if !o.contains(&what) {
                        o.push(what);
                    }
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        RootWatch {
            stop,
            found,
            foreign,
            handle: Some(handle),
        }
    }

    /// Other observers seen running so far ("PID command line").
    pub fn foreign(&self) -> Vec<String> {
        self.foreign.lock().unwrap().clone()
    }

    /// Stops watching; what was seen ("PID comm uids"), none if all is well.
    pub fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let mut f = self.found.lock().unwrap().clone();
        f.dedup();
        f
    }
}

/// Host PIDs of the processes in either namespace.
fn inside(pid_ns: &Option<PathBuf>, user_ns: &Option<PathBuf>) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let ns = |kind: &str| fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
            (pid_ns.is_some() && ns("pid") == *pid_ns)
                || (user_ns.is_some() && ns("user") == *user_ns)
        })
        .collect()
}

/// "PID comm Uid:…" when `pid` descends from `observer` and one of its uids is 0.
fn root_of(pid: u32, observer: u32) -> Option<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    if !uids.split_whitespace().any(|u| u == "0") || !descends(pid, observer) {
        return None;
    }
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    Some(format!("{pid} {} Uid:{uids}", comm.trim()))
}

fn descends(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        let Some(ppid) = fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PPid:"))
                    .and_then(|p| p.trim().parse().ok())
            })
        else {
            return false;
        };
        if ppid <= 1 {
            return false;
        }
        pid = ppid;
    }
    false
}

/// Other observers running on this machine (not `ours`, nor its children, nor a zombie): they
/// may connect to a fake too, so a connection cannot be told to be ours while one runs.
pub fn foreign_observers(ours: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != ours)
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "observer")
                && fs::read_to_string(format!("/proc/{pid}/status"))
                    .is_ok_and(|s| !s.contains("\nState:\tZ") && !descends(*pid, ours))
        })
        .collect()
}
