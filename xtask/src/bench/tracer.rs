//! Starting and stopping the tracer that runs next to the load: the observer or the bpftrace
//! one-liner.

use std::{
    os::unix::net::UnixDatagram,
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, atomic::Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use super::{
    Ctx, SYNC,
    output::{Kind, Output},
    process::Proc,
};

/// A tracer running next to the load: the observer or bpftrace.
pub(super) struct Tracer {
    pub(super) proc: Proc,
    pub(super) out: Arc<Output>,
    err: Arc<Output>,
}

impl Tracer {
    /// SIGINT (both print their last records and exit), then wait for its output to end.
    pub(super) fn stop(&mut self) -> anyhow::Result<()> {
        self.proc.signal(libc::SIGINT);
        let status = self.proc.wait(Duration::from_secs(15)).with_context(|| {
            format!(
                "{} did not stop on SIGINT: {}",
                self.proc.name,
                self.err.tail()
            )
        })?;
        anyhow::ensure!(
            status.success(),
            "{} exited with {status}: {}",
            self.proc.name,
            self.err.tail()
        );
        self.out.wait_eof(Duration::from_secs(10));
        Ok(())
    }
}

pub(super) fn start_observer(
    ctx: &Ctx,
    probe: &str,
    ring_size: Option<u32>,
    metrics: bool,
) -> anyhow::Result<Tracer> {
    let mut cmd = Command::new(&ctx.observer);
    cmd.args(["trace", "--json", "--no-default-sockets", "--socket"])
        .arg(&ctx.watched)
        .args(["--probe", probe]);
    if let Some(r) = ring_size {
        cmd.args(["--ring-size", &r.to_string()]);
    }
    if metrics {
        // Both outputs: the endpoint (any free port; nobody scrapes it) and the textfile,
        // whose rewrite every 5 s encodes every series as a scrape would.
        let textfile = ctx.watched.with_file_name("observer.prom");
        cmd.args(["--metrics-listen", "127.0.0.1:0", "--metrics-file"])
            .arg(textfile);
    }
    spawn_observer(cmd, true)
}

/// `observer hook-floor`: do-nothing programs where the strategy `probe` hooks.
pub(super) fn start_floor(ctx: &Ctx, probe: &str) -> anyhow::Result<Tracer> {
    let mut cmd = Command::new(&ctx.observer);
    cmd.args(["hook-floor", "--probe", probe]);
    spawn_observer(cmd, false)
}

/// Starts `cmd` (an observer subcommand) and waits for its `start` record, and with `settle`
/// until its collector sleeps (its `idle` record): an observer that has run for a while with nothing to report
/// sleeps until the kernel has a record for it (observer/src/idle.rs), and that is the state
/// the load meets on a machine where it is left running, not its first second's drain timer.
fn spawn_observer(mut cmd: Command, settle: bool) -> anyhow::Result<Tracer> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut proc = Proc::spawn(&mut cmd, "observer")?;
    let out = Output::watch(proc.child.stdout.take().expect("piped"), Kind::Observer);
    let err = Output::watch(proc.child.stderr.take().expect("piped"), Kind::Plain);
    // `start` is printed once the programs are attached and the socket is watched.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.attached.load(Ordering::Relaxed) {
        if let Some(status) = proc.child.try_wait()? {
            err.wait_eof(Duration::from_secs(2));
            bail!(
                "the observer exited with {status} before attaching: {}",
                err.tail()
            );
        }
        if Instant::now() > deadline {
            bail!("the observer did not attach within 60 s: {}", err.tail());
        }
        thread::sleep(Duration::from_millis(10));
    }
    while settle && !out.asleep.load(Ordering::Acquire) {
        if Instant::now() > deadline {
            bail!(
                "the observer's collector did not fall asleep within 60 s: {}",
                err.tail()
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(Tracer { proc, out, err })
}

/// The bpftrace one-liner: the same capture as the observer's, as far as a one-liner goes —
/// sendto(2) whose destination is the watched path, printing pid, comm and the payload.
pub(super) fn bpftrace_program(path: &Path) -> String {
    format!(
        r#"tracepoint:syscalls:sys_enter_sendto /args->addr != 0 && str(uptr((uint64)args->addr + 2)) == "{}"/ {{ printf("E %d %s %s\n", pid, comm, str(args->buff, args->len)); }}"#,
        path.display()
    )
}

pub(super) fn start_bpftrace(ctx: &Ctx) -> anyhow::Result<Tracer> {
    let mut cmd = Command::new("bpftrace");
    cmd.arg("-e")
        .arg(bpftrace_program(&ctx.watched))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut proc = Proc::spawn(&mut cmd, "bpftrace")?;
    let out = Output::watch(proc.child.stdout.take().expect("piped"), Kind::Bpftrace);
    let err = Output::watch(proc.child.stderr.take().expect("piped"), Kind::Plain);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.attached.load(Ordering::Relaxed) {
        if let Some(status) = proc.child.try_wait()? {
            out.wait_eof(Duration::from_secs(2));
            err.wait_eof(Duration::from_secs(2));
            bail!(
                "bpftrace exited with {status} before attaching: {} | {}",
                err.tail(),
                out.tail()
            );
        }
        if Instant::now() > deadline {
            bail!("bpftrace did not attach within 60 s: {}", err.tail());
        }
        thread::sleep(Duration::from_millis(10));
    }
    // "Attaching 1 probe..." comes before the attach itself: send marked datagrams until one
    // shows up, so the load starts only once the probe fires.
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    while !out.synced.load(Ordering::Relaxed) {
        let _ = sock.send_to(SYNC.as_bytes(), &ctx.watched);
        if let Some(status) = proc.child.try_wait()? {
            err.wait_eof(Duration::from_secs(2));
            bail!("bpftrace exited with {status}: {}", err.tail());
        }
        if Instant::now() > deadline {
            bail!(
                "bpftrace attached but printed nothing within 60 s: {}",
                err.tail()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(Tracer { proc, out, err })
}
