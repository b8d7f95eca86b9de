//! Measuring one run of one workload under one configuration (`run_cell()`), and the figures a
//! `Cell` derives from it.

use std::{
    io::Write,
    process::{Command, Stdio},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::{
    Cell, Ctx,
    config::Config,
    output::{Kind, Output, line_channel, recv_json},
    process::{Proc, cpu_ticks, peak_rss_kib, status_kib},
    tracer::{start_bpftrace, start_floor, start_observer},
    workload::Workload,
};

impl Cell {
    pub(super) fn cpu_percent(&self) -> f64 {
        if self.elapsed_ns == 0 {
            return 0.0;
        }
        100.0 * self.cpu_secs / (self.elapsed_ns as f64 / 1e9)
    }

    /// For configurations that count drops: every message sent is an event or a counted drop.
    pub(super) fn accounted(&self) -> bool {
        self.sent == self.events + self.dropped
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "workload": self.workload.key(),
            "config": self.config.label(),
            "run": self.run + 1,
            "sent": self.sent,
            "errors": self.errors,
            "ns_per_msg": self.ns_per_msg,
            "sender_cpu_ns_per_msg": self.sender_cpu_ns,
            "elapsed_ns": self.elapsed_ns,
            "rate": self.rate,
            "events": self.events,
            "dropped": self.dropped,
            "collector_cpu_secs": self.cpu_secs,
            "collector_peak_rss_kib": self.rss_kib,
            "collector_peak_rss_before_load_kib": self.rss_start_kib,
            "collector_rss_at_end_kib": self.rss_end_kib,
            "observer_summary": self.summary,
            "load": self.load,
        })
    }
}

/// One configuration's run of one nload invocation: start the load generator (set up, waiting),
/// attach the tracer, release the load, wait until the tracer has printed what it will, read
/// its CPU and peak RSS, stop everything.
pub(super) fn run_cell(
    ctx: &Ctx,
    config: &Config,
    nload_args: &[String],
    captured: bool,
) -> anyhow::Result<Cell> {
    let mut cmd = match config {
        Config::Strace => {
            let mut c = Command::new("strace");
            c.args(["-f", "-e", "trace=sendto,sendmsg", "--"])
                .arg(&ctx.nload);
            c
        }
        _ => Command::new(&ctx.nload),
    };
    cmd.args(nload_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut load = Proc::spawn(&mut cmd, "nload")?;
    let load_lines = line_channel(load.child.stdout.take().expect("piped"));
    // strace writes its trace to stderr (nload writes there only on errors).
    let load_err = Output::watch(
        load.child.stderr.take().expect("piped"),
        if *config == Config::Strace {
            Kind::Strace
        } else {
            Kind::Plain
        },
    );
    let mut stdin = load.child.stdin.take();
    let ready = recv_json(&load_lines, Duration::from_secs(30))
        .with_context(|| format!("nload did not get ready: {}", load_err.tail()))?;
    anyhow::ensure!(ready["ready"] == true, "nload said {ready}");

    let mut tracer = match config {
        Config::Observer {
            probe,
            ring_size,
            metrics,
        } => Some(start_observer(ctx, probe, *ring_size, *metrics)?),
        Config::Floor { probe } => Some(start_floor(ctx, probe)?),
        Config::Bpftrace => Some(start_bpftrace(ctx)?),
        _ => None,
    };
    // The process whose CPU and memory are "the collector's".
    let collector: Option<(u32, Arc<Output>)> = match (config, &tracer) {
        (Config::Strace, _) => Some((load.pid(), load_err.clone())),
        (_, Some(t)) => Some((t.proc.pid(), t.out.clone())),
        _ => None,
    };
    let cpu0 = collector
        .as_ref()
        .map(|(pid, _)| cpu_ticks(*pid))
        .transpose()?;
    let rss_start_kib = match &collector {
        Some((pid, _)) => peak_rss_kib(*pid)?,
        None => 0,
    };

    writeln!(stdin.as_mut().expect("piped"), "go").context("releasing nload")?;
    let sustained = nload_args.iter().any(|a| a == "--rate");
    let limit = if sustained {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(300)
    };
    let result = recv_json(&load_lines, limit).with_context(|| {
        format!(
            "nload gave no result: {}",
            collector
                .as_ref()
                .map(|(_, o)| o.tail())
                .unwrap_or_else(|| load_err.tail())
        )
    })?;
    let sent = result["sent"]
        .as_u64()
        .context("nload result without sent")?;
    let errors = result["errors"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        errors == 0,
        "nload's sends failed ({errors}×): {}",
        result["first_error"]
    );

    let (mut cpu_secs, mut rss_kib, mut rss_end_kib) = (0.0, 0, 0);
    if let Some((pid, out)) = &collector {
        // Everything the tracer will print has arrived once it is quiet for a moment.
        let expected = if captured { sent } else { 0 };
        out.wait_events(
            expected,
            Duration::from_millis(if captured { 1000 } else { 300 }),
            limit,
        );
        cpu_secs = (cpu_ticks(*pid)? - cpu0.unwrap_or(0)) as f64 / ctx.clk_tck;
        rss_kib = peak_rss_kib(*pid)?;
        rss_end_kib = status_kib(*pid, "VmRSS")?;
    }
    if let Some(t) = &mut tracer {
        t.stop()?;
    }
    drop(stdin); // nload exits once its stdin closes (and strace with it)
    let status = load.wait(Duration::from_secs(30))?;
    if !status.success() {
        load_err.wait_eof(Duration::from_secs(2));
    }
    anyhow::ensure!(
        status.success(),
        "nload exited with {status}: {}",
        load_err.tail()
    );
    if *config == Config::Strace {
        load_err.wait_eof(Duration::from_secs(10));
    }
    let out = collector.as_ref().map(|(_, o)| o.clone());
    let events = out.as_ref().map_or(0, |o| o.events.load(Ordering::Relaxed));
    let summary = out.as_ref().and_then(|o| o.summary.lock().unwrap().clone());
    let dropped = match (&summary, &out) {
        (Some(s), _) => s["dropped"].as_u64().unwrap_or(0),
        (None, Some(o)) => o.lost.load(Ordering::Relaxed),
        _ => 0,
    };
    if let (Some(s), Config::Observer { .. }) = (&summary, config) {
        // The observer counts what it printed too: both counts must agree.
        anyhow::ensure!(
            s["events"].as_u64() == Some(events),
            "the observer's summary says {} events, {events} event lines were read",
            s["events"]
        );
    } else if matches!(config, Config::Observer { .. }) {
        bail!("the observer printed no summary record");
    }
    Ok(Cell {
        workload: Workload::Notify,
        config: config.clone(),
        run: 0,
        sent,
        errors,
        ns_per_msg: result["ns_per_msg"].as_f64().unwrap_or(0.0),
        sender_cpu_ns: result["cpu_ns_per_msg"].as_f64().unwrap_or(0.0),
        elapsed_ns: result["elapsed_ns"].as_u64().unwrap_or(0),
        rate: result["rate"].as_f64().unwrap_or(0.0),
        load: result,
        events,
        dropped,
        summary,
        cpu_secs,
        rss_kib,
        rss_start_kib,
        rss_end_kib,
    })
}
