//! Runs the real `observer trace --json` and collects what it prints.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    sync::mpsc::{Receiver, RecvTimeoutError, channel},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{probe, workspace_bin};

/// How long to wait for the observer to load and attach: `OBSERVER_TEST_START_SECS` (the VM
/// lane, which emulates its CPU, sets it high: verifying the programs takes minutes there).
fn start_timeout() -> Duration {
    let secs = std::env::var("OBSERVER_TEST_START_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

pub struct Observer {
    child: Child,
    lines: Receiver<Value>,
    stderr: Receiver<String>,
    pub start: Value,
    /// `delivery` records (a datagram shown unread, read later or never) seen so far.
    pub deliveries: Vec<Value>,
}

impl Observer {
    /// Starts `observer trace --json --no-default-sockets [--probe $OBSERVER_PROBE]` plus `extra`
    /// and waits until it reports what it attached.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(&[&["--no-default-sockets"], extra].concat())
    }

    /// Starts `observer trace --json --probe $OBSERVER_PROBE` plus `args` (the managers' own
    /// sockets are watched unless `args` says otherwise).
    pub fn start_with(args: &[&str]) -> Self {
        Self::spawn(&["trace", "--json"], args)
    }

    /// Starts `observer record -o FILE --json --probe $OBSERVER_PROBE` plus `args`: it records
    /// to `file` and prints each event as JSON once it is written.
    pub fn record(file: &std::path::Path, args: &[&str]) -> Self {
        let file = file.to_str().expect("UTF-8 path");
        Self::spawn(&["record", "-o", file, "--json"], args)
    }

    /// Starts `observer hook-floor --probe $OBSERVER_PROBE`: do-nothing programs at the
    /// strategy's hooks; its `start` record names them.
    pub fn hook_floor() -> Self {
        Self::spawn(&["hook-floor"], &[])
    }

    fn spawn(command: &[&str], args: &[&str]) -> Self {
        let bin = workspace_bin("observer");
        let mut cmd = Command::new(&bin);
        // SAFETY: prctl between fork and exec. A shared observer lives in a static and is never
        // dropped: it must end with the test process.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        cmd.args(command);
        // OBSERVER_PROBE unset: no --probe at all, as a user runs it (the observer's default is
        // auto).
        if std::env::var_os("OBSERVER_PROBE").is_some() {
            cmd.args(["--probe", &probe()]);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let (tx, lines) = channel();
        let stdout = child.stdout.take().expect("piped");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("observer printed non-JSON {line:?}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let (etx, stderr) = channel();
        let err = child.stderr.take().expect("piped");
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[observer] {line}");
                let _ = etx.send(line);
            }
        });
        let start = match lines.recv_timeout(start_timeout()) {
            Ok(v) => v,
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let err: Vec<String> = stderr.try_iter().collect();
                panic!(
                    "observer did not start (exit {status:?}): {}",
                    err.join(" | ")
                );
            }
        };
        assert_eq!(start["record"], "start", "first record: {start}");
        Self {
            child,
            lines,
            stderr,
            start,
            deliveries: Vec::new(),
        }
    }

    /// The observer's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The strategy in use, as the observer reported it.
    pub fn strategy(&self) -> String {
        self.start["strategy"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The next event record within `timeout`, if any.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(v) if v["record"] == "event" => return Some(v),
                Ok(v) if v["record"] == "delivery" => self.deliveries.push(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Whether the collector fell asleep (its `idle` record: everything the kernel had is
    /// shown) within `timeout`; the records before it are consumed.
    pub fn idle(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(v) if v["record"] == "idle" => return true,
                Ok(v) if v["record"] == "delivery" => self.deliveries.push(v),
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// Every event until none has arrived for `quiet`.
    pub fn events_until_quiet(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(ev) = self.next_event(quiet) {
            out.push(ev);
        }
        out
    }

    /// Every event until none has arrived for `quiet` and at least `n` have (or `max` passed):
    /// on a loaded machine the observer may show a scenario's last events seconds late.
    pub fn events_at_least(&mut self, n: usize, quiet: Duration, max: Duration) -> Vec<Value> {
        let deadline = Instant::now() + max;
        let mut out = Vec::new();
        loop {
            let wait = if out.len() < n {
                deadline.saturating_duration_since(Instant::now())
            } else {
                quiet
            };
            match self.next_event(wait) {
                Some(ev) => out.push(ev),
                None if out.len() >= n || Instant::now() >= deadline => return out,
                None => {}
            }
        }
    }

    /// The next `n` event records, failing after `timeout`.
    pub fn events(&mut self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v["record"] == "event" => out.push(v),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("got {} of {n} events in {timeout:?}: {out:#?}", out.len())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("observer exited after {} of {n} events", out.len())
                }
            }
        }
        out
    }

    /// Stops the observer (SIGINT) and returns every record it printed after the ones consumed.
    pub fn stop(mut self) -> Vec<Value> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().expect("wait observer");
        assert!(status.success(), "observer exited with {status}");
        self.lines.iter().collect()
    }

    /// Kills the observer with SIGKILL; returns what it printed before it died.
    pub fn kill(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines.iter().collect()
    }

    /// The first line the observer writes to stderr that contains `needle`, waiting up to
    /// `timeout` (the lines before it are consumed).
    pub fn stderr_line(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Waits up to `timeout` for the observer to exit by itself (it is killed, and the test
    /// fails, if it does not); its exit status and every stderr line not consumed yet.
    pub fn wait_exit(&mut self, timeout: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait observer") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("observer did not exit within {timeout:?}");
            }
            thread::sleep(Duration::from_millis(50));
        };
        // Its stderr closed with it: the reading thread has every line, or soon will.
        let lines = self.stderr.iter().collect();
        (status, lines)
    }

    /// Lines the observer wrote to stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
