//! Driving the real-systemd testbed (scripts/testbed: a real systemd — 252, 254, 257 or 262 —
//! booted with systemd-nspawn). Which version: `OBSERVER_SYSTEMD` (default 252).
//!
//! With `OBSERVER_TESTBED=host` the testbed is this machine's own systemd, PID 1 (the VM lane
//! runs the tests inside a guest whose init is systemd): commands run directly, units go to
//! /etc/systemd/system, and the observer names the manager "system manager".

use std::{
    path::PathBuf,
    process::{Command, Output},
    thread::sleep,
    time::{Duration, Instant},
};

pub struct Testbed {
    pub name: String,
    /// Host PID of the container's systemd (1: this machine's own, `OBSERVER_TESTBED=host`).
    pub leader: u32,
    /// The systemd release it booted (252, 254, 257, 262).
    pub version: u32,
    /// This machine's own systemd rather than a container.
    pub host: bool,
}

/// Whether the tests drive this machine's own systemd (`OBSERVER_TESTBED=host`).
pub fn host_mode() -> bool {
    std::env::var("OBSERVER_TESTBED").is_ok_and(|v| v == "host")
}

/// The environment commands run with (scripts/testbed gives the same inside a container).
const INNER_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LANG", "C.UTF-8"),
    ("TERM", "dumb"),
    ("SYSTEMD_PAGER", ""),
    ("SYSTEMD_COLORS", "0"),
];

/// Runs `cmd` on this machine with `INNER_ENV`.
fn run_here(cmd: &[&str]) -> Output {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .env_clear()
        .envs(INNER_ENV.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The release of this machine's systemd, from `systemctl --version` ("systemd 257 (257.13-1)").
fn host_systemd_version() -> u32 {
    let out = String::from_utf8_lossy(&run_here(&["systemctl", "--version"]).stdout).into_owned();
    out.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("systemctl --version: {out:?}"))
}

/// The systemd release the tests boot: `OBSERVER_SYSTEMD`, else 252.
pub fn systemd_version() -> u32 {
    match std::env::var("OBSERVER_SYSTEMD") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("OBSERVER_SYSTEMD={v:?} is not a systemd version")),
        Err(_) => 252,
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/testbed")
}

fn run(args: &[&str]) -> Output {
    Command::new(script())
        .args(args)
        .env("TESTBED_SYSTEMD", systemd_version().to_string())
        .output()
        .expect("run scripts/testbed")
}

impl Testbed {
    /// Boots a fresh container (building the cached rootfs first if needed).
    pub fn start(name: &str) -> Testbed {
        Self::start_with(name, "")
    }

    /// Like `start`, with extra systemd-nspawn arguments (TESTBED_NSPAWN_ARGS, word-split).
    pub fn start_with(name: &str, nspawn_args: &str) -> Testbed {
        if host_mode() {
            return Self::this_machine(name);
        }
        let out = run(&["rootfs"]);
        assert!(
            out.status.success(),
            "testbed rootfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = run(&["stop", name]);
        let out = Command::new(script())
            .args(["start", name])
            .env("TESTBED_SYSTEMD", systemd_version().to_string())
            .env("TESTBED_NSPAWN_ARGS", nspawn_args)
            .output()
            .expect("run scripts/testbed");
        assert!(
            out.status.success(),
            "testbed start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let leader = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("leader pid");
        Testbed {
            name: name.into(),
            leader,
            version: systemd_version(),
            host: false,
        }
    }

    /// This machine's systemd (PID 1) at debug level, as `scripts/testbed start` leaves a
    /// container's. `OBSERVER_SYSTEMD`, if set, must name its release.
    fn this_machine(name: &str) -> Testbed {
        let comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
        assert_eq!(
            comm.trim(),
            "systemd",
            "OBSERVER_TESTBED=host: PID 1 is not systemd"
        );
        let version = host_systemd_version();
        if let Ok(v) = std::env::var("OBSERVER_SYSTEMD") {
            assert_eq!(
                v,
                version.to_string(),
                "OBSERVER_SYSTEMD vs this machine's systemd"
            );
        }
        let out = run_here(&["systemctl", "log-level", "debug"]);
        assert!(out.status.success(), "systemctl log-level debug: {out:?}");
        Testbed {
            name: name.into(),
            leader: 1,
            version,
            host: true,
        }
    }

    /// How the observer names this testbed's system manager.
    pub fn manager_label(&self) -> String {
        if self.host {
            "system manager".into()
        } else {
            format!("container {}", self.leader)
        }
    }

    /// How the observer names the user manager of `uid` in this testbed.
    pub fn user_manager_label(&self, uid: u32) -> String {
        if self.host {
            format!("user manager (uid {uid})")
        } else {
            format!("container {} user manager (uid {uid})", self.leader)
        }
    }

    pub fn install_units(&self, files: &[PathBuf]) {
        if self.host {
            let mut names = Vec::new();
            for f in files {
                let name = f.file_name().expect("unit");
                let to = PathBuf::from("/etc/systemd/system").join(name);
                std::fs::copy(f, &to).unwrap_or_else(|e| panic!("copy {}: {e}", f.display()));
                names.push(name.to_string_lossy().into_owned());
            }
            let out = run_here(&["systemctl", "daemon-reload"]);
            assert!(out.status.success(), "daemon-reload: {out:?}");
            // A container is fresh for every test; this machine's systemd is not: a unit an
            // earlier run left active would not start again (and send nothing). Stop them first.
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            run_here(&[&["systemctl", "stop"][..], &names].concat());
            run_here(&[&["systemctl", "reset-failed"][..], &names].concat());
            return;
        }
        let mut args = vec!["install-unit".to_string(), self.name.clone()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        assert!(
            out.status.success(),
            "install-unit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs a command inside the container; returns stdout.
    pub fn exec(&self, cmd: &[&str]) -> String {
        String::from_utf8_lossy(&self.exec_output(cmd).stdout).into_owned()
    }

    /// Runs a command inside the container; returns its whole output and status.
    pub fn exec_output(&self, cmd: &[&str]) -> Output {
        if self.host {
            return run_here(cmd);
        }
        let args = [&["exec", self.name.as_str(), "--"], cmd].concat();
        run(&args)
    }

    /// `systemctl show -p PROP --value UNIT`.
    pub fn prop(&self, unit: &str, prop: &str) -> String {
        self.exec(&["systemctl", "show", "-p", prop, "--value", unit])
            .trim()
            .to_string()
    }

    /// Waits until the unit is no longer activating (or `timeout`); returns ActiveState.
    pub fn settle(&self, unit: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.prop(unit, "ActiveState");
            if !matches!(state.as_str(), "activating" | "") || Instant::now() > deadline {
                return state;
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// Waits until ActiveState is `want` — one of them, `|`-separated — (or `timeout`);
    /// returns the last ActiveState read.
    pub fn wait_state(&self, unit: &str, want: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.prop(unit, "ActiveState");
            if want.split('|').any(|w| w == state) || Instant::now() > deadline {
                return state;
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// The unit's journal messages (`journalctl -u UNIT -o cat`).
    pub fn journal(&self, unit: &str) -> Vec<String> {
        self.exec(&["journalctl", "-u", unit, "-o", "cat", "--no-pager"])
            .lines()
            .map(String::from)
            .collect()
    }

    /// The journal's current end, to read only what comes after it (`journal_entries_where`).
    pub fn journal_cursor(&self) -> String {
        let out = self.exec(&["journalctl", "-n", "0", "--show-cursor", "--no-pager"]);
        out.lines()
            .find_map(|l| l.strip_prefix("-- cursor: "))
            .expect("journalctl --show-cursor")
            .to_string()
    }

    /// The journal entries `journalctl ARGS -o json` selects.
    pub fn journal_entries_where(&self, args: &[&str]) -> Vec<Entry> {
        let cmd = [&["journalctl", "-o", "json", "--no-pager"][..], args].concat();
        entries(&self.exec(&cmd))
    }
}

/// A user manager running inside a testbed container (user@UID.service), driven as that user.
pub struct UserManager<'a> {
    tb: &'a Testbed,
    pub uid: u32,
}

impl Testbed {
    /// Creates user `u<uid>` and starts its user manager. The rootfs has no pam_systemd, which
    /// would set XDG_RUNTIME_DIR for it: a drop-in for user@.service sets it instead.
    pub fn start_user_manager(&self, uid: u32) -> UserManager<'_> {
        let root = PathBuf::from(format!("/proc/{}/root", self.leader));
        let dropin = root.join("etc/systemd/system/user@.service.d");
        std::fs::create_dir_all(&dropin).expect("drop-in dir");
        std::fs::write(
            dropin.join("runtime-dir.conf"),
            "[Service]\nEnvironment=XDG_RUNTIME_DIR=/run/user/%i\n",
        )
        .expect("drop-in");
        let user = format!("u{uid}");
        self.exec(&["useradd", "-m", "-u", &uid.to_string(), &user]);
        self.exec(&["systemctl", "daemon-reload"]);
        let unit = format!("user@{uid}.service");
        if self.host {
            // A machine of its own (the VM lane): the user lingers, as a user's machine keeps a
            // user manager without a session; systemd-logind starts it.
            let out = self.exec_output(&["loginctl", "enable-linger", &user]);
            assert!(
                out.status.success(),
                "loginctl enable-linger {user}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            self.wait_state(&unit, "active", Duration::from_secs(120));
        } else {
            self.exec(&["systemctl", "start", &unit]);
        }
        let state = self.prop(&unit, "ActiveState");
        assert_eq!(state, "active", "{unit} did not start");
        let um = UserManager { tb: self, uid };
        um.systemctl(&["log-level", "debug"]);
        um
    }
}

impl UserManager<'_> {
    /// `systemctl --user ARGS` as the user; returns stdout.
    pub fn systemctl(&self, args: &[&str]) -> String {
        let user = format!("u{}", self.uid);
        let runtime = format!("XDG_RUNTIME_DIR=/run/user/{}", self.uid);
        let cmd = [
            &[
                "runuser",
                "-u",
                &user,
                "--",
                "env",
                &runtime,
                "systemctl",
                "--user",
            ],
            args,
        ]
        .concat();
        self.tb.exec(&cmd)
    }

    /// Copies unit files into the user's ~/.config/systemd/user and reloads.
    pub fn install_units(&self, files: &[(PathBuf, String)]) {
        let dir = PathBuf::from(format!(
            "/proc/{}/root/home/u{}/.config/systemd/user",
            self.tb.leader, self.uid
        ));
        std::fs::create_dir_all(&dir).expect("user unit dir");
        for (from, contents_name) in files {
            let text = std::fs::read_to_string(from).expect("unit file");
            // User managers run everything as their user: User= has no place there.
            let text: String = text
                .lines()
                .filter(|l| !l.starts_with("User="))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(dir.join(contents_name), text).expect("write unit");
        }
        self.tb.exec(&[
            "chown",
            "-R",
            &format!("{0}:{0}", self.uid),
            &format!("/home/u{}/.config", self.uid),
        ]);
        self.systemctl(&["daemon-reload"]);
        if self.tb.host {
            // As for system units (Testbed::install_units): what an earlier run left running.
            let names: Vec<&str> = files.iter().map(|(_, n)| n.as_str()).collect();
            self.systemctl(&[&["stop"][..], &names].concat());
            self.systemctl(&[&["reset-failed"][..], &names].concat());
        }
    }

    /// Waits until the user unit is neither activating nor deactivating (or `timeout`);
    /// returns ActiveState.
    pub fn settle(&self, unit: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self
                .systemctl(&["show", "-p", "ActiveState", "--value", unit])
                .trim()
                .to_string();
            if !matches!(state.as_str(), "activating" | "deactivating" | "")
                || Instant::now() > deadline
            {
                return state;
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// The user unit's journal entries.
    pub fn journal_entries(&self, unit: &str) -> Vec<Entry> {
        self.tb
            .journal_entries_where(&[&format!("USER_UNIT={unit}")])
    }

    /// The user unit's journal messages (the user manager tags them USER_UNIT=).
    pub fn journal(&self, unit: &str) -> Vec<String> {
        self.tb
            .exec(&[
                "journalctl",
                "-o",
                "cat",
                "--no-pager",
                &format!("USER_UNIT={unit}"),
            ])
            .lines()
            .map(String::from)
            .collect()
    }
}

/// One journal entry, the fields the verdict tests compare.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 3 error, 4 warning, 5 notice, 6 info, 7 debug.
    pub priority: u8,
    pub message: String,
    /// UNIT= or USER_UNIT=: the unit a manager's line is about.
    pub unit: Option<String>,
}

/// The entries of `journalctl -o json` lines. journald sends a MESSAGE that is not valid UTF-8
/// as an array of bytes: those are decoded lossily.
fn entries(json_lines: &str) -> Vec<Entry> {
    json_lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| {
            let priority = e["PRIORITY"].as_str()?.parse().ok()?;
            let unit = e["UNIT"]
                .as_str()
                .or(e["USER_UNIT"].as_str())
                .map(str::to_owned);
            let message = match &e["MESSAGE"] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(bytes) => String::from_utf8_lossy(
                    &bytes
                        .iter()
                        .filter_map(|b| b.as_u64().map(|b| b as u8))
                        .collect::<Vec<u8>>(),
                )
                .into_owned(),
                _ => return None,
            };
            Some(Entry {
                priority,
                message,
                unit,
            })
        })
        .collect()
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if self.host {
            return; // this machine's own systemd keeps running
        }
        let _ = run(&["stop", &self.name]);
    }
}
