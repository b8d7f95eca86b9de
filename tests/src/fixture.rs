//! One observer for a whole test process. Starting the observer loads and verifies the eBPF
//! programs — seconds on real hardware, minutes under the VM lane's CPU emulation — so every
//! test shares one, and each test gets its own receiving socket: its events are the ones sent
//! there. Tests run one at a time (--test-threads=1); events for other sockets are kept for
//! their tests.

use std::{
    collections::HashMap,
    fs,
    os::unix::{fs::PermissionsExt, net::UnixDatagram},
    path::PathBuf,
    sync::{Mutex, MutexGuard, OnceLock},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{observer::Observer, reader::Reader};

/// Names of the receiving sockets, one per test that needs one.
pub const ROLES: &[&str] = &[
    "sendto", "connect", "iov", "uring", "creds", "nobody", "big", "eagain", "exit", "heavy",
    "mmsg", "floor",
];

pub struct Fixture {
    dir: PathBuf,
    receivers: HashMap<&'static str, UnixDatagram>,
    /// A socket file whose socket is closed: sends to it fail with ECONNREFUSED.
    pub closed: PathBuf,
    /// An abstract socket, `@name`.
    pub abstract_name: String,
    _abstract: UnixDatagram,
    /// A socket read by a process of its own, which the observer is told is its reader.
    reader: Mutex<Reader>,
    observer: Mutex<State>,
}

struct State {
    obs: Observer,
    /// Events already read, by destination.
    stash: HashMap<String, Vec<Value>>,
}

impl Fixture {
    pub fn get() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(Fixture::start)
    }

    fn start() -> Fixture {
        remove_leftovers();
        let dir = std::env::temp_dir().join(format!("observer-tests-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("test dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod dir");
        let mut receivers = HashMap::new();
        let mut args: Vec<String> = Vec::new();
        for role in ROLES {
            let path = dir.join(format!("{role}.sock"));
            let sock = UnixDatagram::bind(&path).expect("bind");
            // uid 65534 must be able to send: writable socket file.
            fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).expect("chmod");
            receivers.insert(*role, sock);
            args.extend(["--socket".into(), path.display().to_string()]);
        }
        let closed = dir.join("closed.sock");
        drop(UnixDatagram::bind(&closed).expect("bind"));
        args.extend(["--socket".into(), closed.display().to_string()]);
        let abstract_name = crate::unique("abs");
        let addr = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(abstract_name.as_bytes()).unwrap();
        let abs = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        args.extend(["--socket".into(), format!("@{abstract_name}")]);
        // PR_SET_PDEATHSIG (see Observer::start) fires when the *thread* that forked exits, and
        // libtest runs each test on its own thread: fork from one that lives as long as we do.
        let reader_path = dir.join("reader.sock");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let reader = Reader::start(&reader_path);
            let mut args = args;
            args.extend(["--socket".into(), reader.path.clone()]);
            args.extend(["--receiver".into(), reader.pid.to_string()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let started = std::panic::catch_unwind(|| Observer::start(&args));
            let _ = tx.send(started.map(|obs| (obs, reader)));
            loop {
                std::thread::park();
            }
        });
        let (obs, reader) = match rx.recv().expect("observer thread") {
            Ok(started) => started,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Fixture {
            dir,
            receivers,
            closed,
            abstract_name,
            _abstract: abs,
            reader: Mutex::new(reader),
            observer: Mutex::new(State {
                obs,
                stash: HashMap::new(),
            }),
        }
    }

    /// The path of a test's own receiving socket.
    pub fn path(&self, role: &str) -> String {
        assert!(self.receivers.contains_key(role), "unknown role {role}");
        self.dir.join(format!("{role}.sock")).display().to_string()
    }

    pub fn receiver(&self, role: &str) -> &UnixDatagram {
        &self.receivers[role]
    }

    /// How an unconnected send to a watched socket is matched: by the receiver's identity when
    /// a delivery hook is attached (sk_data_ready, ≥ 6.6, or fentry on sock_def_readable), by its
    /// address string otherwise (the tracepoint strategy on older kernels).
    pub fn unconnected_match(&self) -> &'static str {
        let st = self.lock();
        let hooks = st.obs.start["hooks"].to_string();
        if hooks.contains("sk_data_ready") || hooks.contains("sock_def_readable") {
            "identity"
        } else {
            "path"
        }
    }

    /// The hooks the shared observer attached, as its start record lists them.
    pub fn hooks(&self) -> String {
        self.lock().obs.start["hooks"].to_string()
    }

    /// The strategy the shared observer uses.
    pub fn strategy(&self) -> String {
        self.lock().obs.strategy()
    }

    /// The next `n` events sent to `dest`, failing after `timeout`.
    pub fn events(&self, dest: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let mut st = self.lock();
        let deadline = Instant::now() + timeout;
        loop {
            let have = st.stash.get(dest).map_or(0, Vec::len);
            if have >= n {
                return st.stash.get_mut(dest).unwrap().drain(..n).collect();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match st.obs.next_event(left) {
                Some(ev) => {
                    let d = ev["dest"].as_str().unwrap_or_default().to_string();
                    st.stash.entry(d).or_default().push(ev);
                }
                None => panic!(
                    "got {have} of {n} events for {dest} in {timeout:?}: {:#?}",
                    st.stash.get(dest)
                ),
            }
        }
    }

    /// Events for `dest` that arrive within `wait` (for "nothing else arrives" checks).
    pub fn events_within(&self, dest: &str, wait: Duration) -> Vec<Value> {
        let mut st = self.lock();
        let deadline = Instant::now() + wait;
        while let Some(ev) = st
            .obs
            .next_event(deadline.saturating_duration_since(Instant::now()))
        {
            let d = ev["dest"].as_str().unwrap_or_default().to_string();
            st.stash.entry(d).or_default().push(ev);
        }
        st.stash.remove(dest).unwrap_or_default()
    }

    /// The socket with a reader of its own (see reader.rs).
    pub fn reader(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `n` `delivery` records for `dest`, failing after `timeout`.
    pub fn deliveries(&self, dest: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let mut st = self.lock();
        let deadline = Instant::now() + timeout;
        loop {
            let mine: Vec<usize> = (0..st.obs.deliveries.len())
                .filter(|i| st.obs.deliveries[*i]["dest"] == dest)
                .collect();
            if mine.len() >= n {
                let mut out: Vec<Value> = mine[..n]
                    .iter()
                    .rev()
                    .map(|i| st.obs.deliveries.remove(*i))
                    .collect();
                out.reverse();
                return out;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "got {} of {n} delivery records for {dest} in {timeout:?}",
                    mine.len()
                );
            }
            // Pumping the output: events that come meanwhile are kept for their tests.
            if let Some(ev) = st.obs.next_event(left.min(Duration::from_millis(200))) {
                let d = ev["dest"].as_str().unwrap_or_default().to_string();
                st.stash.entry(d).or_default().push(ev);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A failed test may poison the lock; the state is still usable for the next one.
        self.observer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes what earlier test processes left in the temp dir (the fixture lives in a static, which
/// is never dropped, and a failed test skips its own clean-up): the `observer-tests-PID` and
/// `observer-test-PID-…` entries of processes that no longer run.
fn remove_leftovers() {
    let tmp = std::env::temp_dir();
    let Ok(entries) = fs::read_dir(&tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("observer-tests-")
            .or_else(|| name.strip_prefix("observer-test-"))
            .and_then(|rest| rest.split('-').next()?.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let path = entry.path();
            let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
        }
    }
}
