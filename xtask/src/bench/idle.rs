//! (f) no traffic: what an observer left running costs while nothing is sent to what it
//! watches — its process's CPU and wakeups per second, once its collector sleeps
//! (observer/src/idle.rs). An always-on tracer that woke twenty times a second would keep an
//! idle machine's CPUs out of their deep sleep states.

use std::{fs, os::unix::net::UnixDatagram, thread, time::Duration};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::{
    Ctx,
    process::{cpu_ns, voluntary_switches},
    tracer::start_observer,
};

/// One strategy's idle figures.
pub(super) struct IdleCost {
    pub(super) probe: String,
    pub(super) secs: f64,
    pub(super) cpu_us_per_sec: f64,
    pub(super) wakeups_per_sec: f64,
}

impl IdleCost {
    pub(super) fn json(&self) -> Value {
        json!({
            "probe": self.probe,
            "secs": self.secs,
            "cpu_us_per_sec": self.cpu_us_per_sec,
            "wakeups_per_sec": self.wakeups_per_sec,
        })
    }

    pub(super) fn line(&self) -> String {
        format!(
            "observer {}: {:.0} µs of CPU per second ({:.3} % of a CPU), {:.1} wakeups per second, over {} s",
            self.probe,
            self.cpu_us_per_sec,
            self.cpu_us_per_sec / 1e4,
            self.wakeups_per_sec,
            self.secs
        )
    }
}

/// Watches a socket nobody sends to for `secs` with the `probe` strategy.
pub(super) fn measure(ctx: &Ctx, probe: &str, secs: f64) -> anyhow::Result<IdleCost> {
    // The socket must exist for the observer to start; the workloads' nload bound it before.
    let _ = fs::remove_file(&ctx.watched);
    let _socket = UnixDatagram::bind(&ctx.watched)
        .with_context(|| format!("binding {}", ctx.watched.display()))?;
    let mut tracer = start_observer(ctx, probe, None, false)?;
    let pid = tracer.proc.pid();
    let (cpu0, woke0) = (cpu_ns(pid)?, voluntary_switches(pid)?);
    thread::sleep(Duration::from_secs_f64(secs));
    let (cpu1, woke1) = (cpu_ns(pid)?, voluntary_switches(pid)?);
    tracer.stop()?;
    let _ = fs::remove_file(&ctx.watched);
    Ok(IdleCost {
        probe: probe.to_string(),
        secs,
        cpu_us_per_sec: (cpu1 - cpu0) as f64 / 1e3 / secs,
        wakeups_per_sec: (woke1 - woke0) as f64 / secs,
    })
}
