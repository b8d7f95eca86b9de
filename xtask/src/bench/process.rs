//! The bench's children (`Proc`: killed when dropped or when the bench dies) and their CPU
//! time and memory from /proc.

use std::{
    fs,
    os::unix::process::CommandExt,
    process::{Child, Command, ExitStatus},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

/// A child process that is killed (SIGKILL) and reaped when dropped, and dies with the bench
/// (PR_SET_PDEATHSIG) if the bench itself is killed.
pub(super) struct Proc {
    pub(super) child: Child,
    pub(super) name: String,
}

impl Proc {
    pub(super) fn spawn(cmd: &mut Command, name: &str) -> anyhow::Result<Proc> {
        // SAFETY: prctl between fork and exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        Ok(Proc {
            child,
            name: name.into(),
        })
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn signal(&self, sig: i32) {
        // SAFETY: signalling our own, not yet reaped, child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    pub(super) fn wait(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("{} did not exit within {limit:?}", self.name);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// utime + stime of a process (all its threads), in clock ticks.
pub(super) fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11).and_then(|v| v.parse().ok()).context("no utime")?;
    let stime: u64 = f.get(12).and_then(|v| v.parse().ok()).context("no stime")?;
    Ok(utime + stime)
}

/// VmHWM of a process, KiB.
pub(super) fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmHWM")
}

/// A `kB` field of /proc/PID/status (VmHWM: peak RSS, VmRSS: RSS now).
pub(super) fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// CPU time of every thread of a process, ns (`/proc/PID/task/*/schedstat`: finer than the
/// clock ticks of `cpu_ticks`, for a process that hardly runs).
pub(super) fn cpu_ns(pid: u32) -> anyhow::Result<u64> {
    sum_over_threads(pid, "schedstat", |text| {
        text.split_whitespace().next()?.parse().ok()
    })
}

/// Times the threads of a process gave up the CPU to wait (`voluntary_ctxt_switches`): each
/// is a sleep that something had to wake.
pub(super) fn voluntary_switches(pid: u32) -> anyhow::Result<u64> {
    sum_over_threads(pid, "status", |text| {
        text.lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
            .trim()
            .parse()
            .ok()
    })
}

/// `field` of `/proc/PID/task/TID/<file>`, summed over the threads.
fn sum_over_threads(
    pid: u32,
    file: &str,
    field: impl Fn(&str) -> Option<u64>,
) -> anyhow::Result<u64> {
    let dir = format!("/proc/{pid}/task");
    let mut sum = 0;
    for task in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let path = task?.path().join(file);
        // A thread that ended since the listing counts for nothing.
        if let Ok(text) = fs::read_to_string(&path) {
            sum += field(&text).with_context(|| format!("malformed {}", path.display()))?;
        }
    }
    Ok(sum)
}
