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
        let out = run(&["rootfs"]);
        assert!(
            out.status.success(),
            "testbed rootfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = run(&["stop", name]);
        let out = run(&["start", name]);
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
        let args = [&["exec", self.name.as_str(), "--"], cmd].concat();
        let out = run(&args);
        String::from_utf8_lossy(&out.stdout).into_owned()
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

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = run(&["stop", &self.name]);
    }
}
