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

use crate::observer::Observer;

/// Names of the receiving sockets, one per test that needs one.
pub const ROLES: &[&str] = &[
    "sendto", "connect", "iov", "creds", "nobody", "big", "eagain", "exit", "heavy", "mmsg",
];

pub struct Fixture {
    dir: PathBuf,
    receivers: HashMap<&'static str, UnixDatagram>,
    /// A socket file whose socket is closed: sends to it fail with ECONNREFUSED.
    pub closed: PathBuf,
    /// An abstract socket, `@name`.
    pub abstract_name: String,
    _abstract: UnixDatagram,
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
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = tx.send(std::panic::catch_unwind(|| Observer::start(&args)));
            loop {
                std::thread::park();
            }
        });
        let obs = match rx.recv().expect("observer thread") {
            Ok(obs) => obs,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Fixture {
            dir,
            receivers,
            closed,
            abstract_name,
            _abstract: abs,
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // A failed test may poison the lock; the state is still usable for the next one.
        self.observer.lock().unwrap_or_else(|e| e.into_inner())
    }
}
