//! Driving the real-systemd testbed (scripts/testbed: systemd 252 booted with systemd-nspawn).

use std::{
    path::PathBuf,
    process::{Command, Output},
    thread::sleep,
    time::{Duration, Instant},
};

pub struct Testbed {
    pub name: String,
    /// Host PID of the container's systemd.
    pub leader: u32,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/testbed")
}

fn run(args: &[&str]) -> Output {
    Command::new(script())
        .args(args)
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
        let out = run(&["rootfs"]);
        assert!(
            out.status.success(),
            "testbed rootfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = run(&["stop", name]);
        let out = Command::new(script())
            .args(["start", name])
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
        }
    }

    pub fn install_units(&self, files: &[PathBuf]) {
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

    /// Waits until ActiveState is `want` (or `timeout`); returns the last ActiveState read.
    pub fn wait_state(&self, unit: &str, want: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.prop(unit, "ActiveState");
            if state == want || Instant::now() > deadline {
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
        self.exec(&["systemctl", "start", &format!("user@{uid}.service")]);
        let state = self.prop(&format!("user@{uid}.service"), "ActiveState");
        assert_eq!(state, "active", "user@{uid}.service did not start");
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
    }

    /// Waits until the user unit is no longer activating; returns ActiveState.
    pub fn settle(&self, unit: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self
                .systemctl(&["show", "-p", "ActiveState", "--value", unit])
                .trim()
                .to_string();
            if !matches!(state.as_str(), "activating" | "") || Instant::now() > deadline {
                return state;
            }
            sleep(Duration::from_millis(200));
        }
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

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = run(&["stop", &self.name]);
    }
}
