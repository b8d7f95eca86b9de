//! The journal relay: another system's journal, reached by `observer-journal-relay ROOT`, this
//! same binary started under that name in that system's PID namespace (journald only honours a
//! client's OBJECT_PID= when the client's PID is visible to it; ours on the host is not) and
//! chrooted into ROOT. Only for trusted containers (docs/OPERATIONS.md, "Trust model"): it runs
//! as root.
//!
//! The relay is driven from a thread of its own (`Relay`): entries are queued, never waited
//! for, and a relay that does not answer in time (a journald that stopped reading its socket)
//! is killed and its journal given up. A journal nobody reads stalls nothing.

use std::{
    io::{self, BufRead as _, Write as _},
    os::fd::AsRawFd as _,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::Duration,
};

use super::journal::Entry;

/// The relay is this same binary started under this name (argv[0]), so it needs no subcommand.
const RELAY_NAME: &str = "observer-journal-relay";
/// Entries queued for a relay; one more means the journal does not keep up.
const QUEUE_MAX: usize = 1024;
/// How long the relay may take to answer (entered the root; sent an entry).
const ANSWER_MAX: Duration = Duration::from_secs(2);

/// A relay for the journal under a root, fed from the collector without waiting.
pub struct Relay {
    tx: mpsc::SyncSender<Entry>,
    /// Why the relay failed, once it has.
    failed: Arc<Mutex<Option<String>>>,
    /// Entries queued, and taken by the journal.
    queued: u64,
    written: Arc<AtomicU64>,
}

impl Relay {
    /// Starts the relay for `root` in the PID namespace of host PID `leader`, from a thread.
    pub fn spawn(root: PathBuf, leader: u32) -> io::Result<Relay> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_MAX);
        let failed = Arc::new(Mutex::new(None));
        let written = Arc::new(AtomicU64::new(0));
        let (why, count) = (failed.clone(), written.clone());
        std::thread::Builder::new()
            .name("observer-journal-relay".into())
            .spawn(move || {
                if let Err(e) = drive(&root, leader, &rx, &count) {
                    *why.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                }
            })?;
        Ok(Relay {
            tx,
            failed,
            queued: 0,
            written,
        })
    }

    /// Why the relay failed, if it has.
    pub fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Entries queued that the journal has not taken (yet, or ever once it failed).
    pub fn unwritten(&self) -> u64 {
        self.queued
            .saturating_sub(self.written.load(Ordering::Relaxed))
    }

    /// Queues `entry`; fails once the relay has failed, or when it does not keep up.
    pub fn send(&mut self, entry: Entry) -> io::Result<()> {
        if let Some(why) = self.failure() {
            return Err(io::Error::other(why));
        }
        match self.tx.try_send(entry) {
            Ok(()) => {
                self.queued += 1;
                Ok(())
            }
            Err(mpsc::TrySendError::Full(_)) => Err(io::Error::other(format!(
                "{QUEUE_MAX} entries wait for it: the journal does not keep up"
            ))),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(io::Error::other(
                self.failure()
                    .unwrap_or_else(|| "the journal relay exited".into()),
            )),
        }
    }
}

/// The relay's process, with its pipes; killed and reaped when dropped.
struct Child {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: io::BufReader<std::process::ChildStdout>,
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Child {
    fn spawn(root: &Path, leader: u32) -> io::Result<Child> {
        use std::{
            os::unix::process::CommandExt as _,
            process::{Command, Stdio},
        };
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.arg0(RELAY_NAME)
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        // SAFETY: prctl between fork and exec. It dies with this thread, which kills it anyway
        // when it gives the journal up: never a relay left behind.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // setns() of a PID namespace only places this thread's future children there; the
        // thread is the relay's own, so nothing needs restoring.
        let target = std::fs::File::open(format!("/proc/{leader}/ns/pid"))?;
        // SAFETY: setns() on an fd we hold open.
        if unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut child = cmd.spawn()?;
        let to = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?;
        let from = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        Ok(Child {
            child,
            to,
            from: io::BufReader::new(from),
        })
    }

    /// The relay's answer to what was last sent: `ok`, or its error; waits at most ANSWER_MAX.
    fn answer(&mut self) -> io::Result<()> {
        if self.from.buffer().is_empty() {
            let mut pfd = libc::pollfd {
                fd: self.from.get_ref().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ANSWER_MAX.as_millis() as i32) };
            if n == 0 {
                return Err(io::Error::other(format!(
                    "the journal did not take an entry within {ANSWER_MAX:?}"
                )));
            }
        }
        let mut line = String::new();
        if self.from.read_line(&mut line)? == 0 {
            return Err(io::Error::other("the journal relay exited"));
        }
        match line.trim_end() {
            "ok" => Ok(()),
            err => Err(io::Error::other(err.to_string())),
        }
    }
}

/// The relay's thread: start it, then hand it each queued entry and wait for its answer.
fn drive(
    root: &Path,
    leader: u32,
    rx: &mpsc::Receiver<Entry>,
    written: &AtomicU64,
) -> io::Result<()> {
    let mut child = Child::spawn(root, leader)?;
    // The relay says `ok` once it has entered the root.
    child.answer()?;
    for entry in rx {
        let line = serde_json::to_string(&entry).map_err(io::Error::other)?;
        writeln!(child.to, "{line}")?;
        child.to.flush()?;
        child.answer()?;
        written.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// When this process was started as the relay (argv[0] is RELAY_NAME): runs it and returns the
/// exit code; None otherwise.
pub fn relay_main() -> Option<std::process::ExitCode> {
    let mut args = std::env::args_os();
    if args.next()? != RELAY_NAME {
        return None;
    }
    let root = PathBuf::from(args.next()?);
    Some(match relay(&root) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("observer: journal relay: {e:#}");
            std::process::ExitCode::FAILURE
        }
    })
}

/// The relay: chroot into ROOT, then send each JSON entry read from stdin to ROOT's journald,
/// answering `ok` or the error on stdout.
fn relay(root: &Path) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    if let Err(e) = std::os::unix::fs::chroot(root).and_then(|()| std::env::set_current_dir("/")) {
        writeln!(out, "chroot {}: {e}", root.display())?;
        return Ok(());
    }
    writeln!(out, "ok")?;
    out.flush()?;
    for line in io::stdin().lock().lines() {
        let answer = serde_json::from_str::<Entry>(&line?)
            .map_err(io::Error::other)
            .and_then(|e| e.send());
        match answer {
            Ok(()) => writeln!(out, "ok")?,
            Err(e) => writeln!(out, "{e}")?,
        }
        out.flush()?;
    }
    Ok(())
}
