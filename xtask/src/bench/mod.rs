//! `cargo xtask bench`: what the observer costs, next to the alternatives, on this machine.
//!
//! Workloads (the `nload` load generator in tests/, which binds and drains its own receiving
//! sockets so queues never fill):
//!   (a) AF_UNIX datagrams to a socket nobody watches, sender → reader process, full speed;
//!   (b) notify datagrams to the watched socket, full speed;
//!   (c) notify datagrams at a fixed rate (100 000/s) for 10 s, plus a forced-drop run with a
//!       4096-byte ring;
//!   (d) write(2) to /dev/null: no socket at all, so any cost is the system-wide price of the
//!       hooks a tracer attaches.
//! Configurations: untraced; the observer with each capture strategy this kernel allows; the
//! same strategy's hooks with do-nothing programs (`observer hook-floor`: what the hooks alone
//! cost); a bpftrace one-liner doing the same capture; `strace -f -e trace=sendto,sendmsg` on
//! the sender.
//! The observer also runs with its metrics sink on (`+ metrics`: --metrics-listen and
//! --metrics-file) for (b) and (c), beside the same strategy without it.
//!   (f) no traffic: the observer's own CPU and wakeups per second while it watches a socket
//!       nobody sends to.
//! (a), (b), (d), (e) run R times, interleaved (run 1: every workload × every configuration, then run
//! 2, …, each run starting with the next configuration); the table shows medians, and ratios
//! to untraced as the median of each run's ratio to the untraced cell of the same run. (c) runs
//! once per configuration (it takes 10 s each).
//!
//! Every child is started with PR_SET_PDEATHSIG and killed when its handle drops, so a failed
//! or interrupted bench leaves nothing running (a killed bench's socket directory is removed by
//! the next one). `cargo xtask` runs debug builds: the bench re-runs itself built with
//! optimizations, because its output readers share the machine with what they measure.
//!
//! Layout: `run()` here drives the whole bench and gathers what it uses and measures (`Ctx`,
//! `Cell`, `Report`); `workload` and `config` say what runs under what, `cell` measures one run, `tracer` starts the observer or bpftrace next to it, `output`
//! counts what a tracer prints, `process` owns the children and reads their CPU and memory,
//! `idle` measures (f), `host` describes this machine, `report` and `table` write the results
//! (table, JSON, Markdown).

mod cell;
mod config;
mod host;
mod idle;
mod output;
mod process;
mod report;
mod table;
mod tracer;
mod workload;

use std::{fs, path::PathBuf, time::Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use self::{
    cell::run_cell,
    config::Config,
    host::{loadavg, machine, on_path, remove_stale_dirs, rerun_optimized, usable_strategies},
    workload::Workload,
};
use crate::build;

/// What `cargo xtask bench` was asked for.
pub struct Options {
    pub runs: usize,
    pub quick: bool,
    /// Messages per timed run of (a) and (b); (d) sends 5× as many (a write is ~10× cheaper).
    pub count: Option<u64>,
    pub sustain_secs: f64,
    pub rate: u64,
}

/// strace stops the sender on every syscall (~25–50 µs each): it sends this fraction of the
/// messages so the bench stays bounded. Per-message figures are comparable; totals say so.
const STRACE_DIVISOR: u64 = 10;

/// Payload of every benchmark datagram: a realistic two-field notify message, short enough for
/// bpftrace's default 64-byte strings, so both tracers capture all of it.
const PAYLOAD: &str = "READY=1\nSTATUS=nload benchmark message";

/// Datagrams the bench sends to check that bpftrace's probe is attached; not counted.
const SYNC: &str = "BENCHSYNC";

/// Paths and binaries every run uses.
struct Ctx {
    observer: PathBuf,
    nload: PathBuf,
    /// In a directory with a short path: bpftrace compares at most 64 bytes of it.
    watched: PathBuf,
    other: PathBuf,
    clk_tck: f64,
    /// Workload (c): messages per second, for how long.
    rate: u64,
    sustain_secs: f64,
}

/// Removes the bench's socket directory however the bench ends.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn run(o: Options) -> anyhow::Result<()> {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the bench loads BPF programs and runs strace/bpftrace: run it as root");
    }
    anyhow::ensure!(o.runs >= 1, "--runs must be at least 1");
    anyhow::ensure!(o.rate >= 1, "--rate must be at least 1");
    anyhow::ensure!(
        o.sustain_secs > 0.0 && o.sustain_secs <= 600.0,
        "--sustain-secs must be in (0, 600]"
    );
    if cfg!(debug_assertions) {
        return rerun_optimized();
    }
    let release = build::bench_binaries()?;
    remove_stale_dirs();
    let dir = PathBuf::from(format!("/tmp/observer-bench-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _dir = Dir(dir.clone());
    // SAFETY: no preconditions.
    let clk_tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let sustain_secs = if o.quick {
        o.sustain_secs.min(2.0)
    } else {
        o.sustain_secs
    };
    let ctx = Ctx {
        observer: release.join("observer"),
        nload: release.join("nload"),
        watched: dir.join("notify.sock"),
        other: dir.join("other.sock"),
        clk_tck,
        rate: o.rate,
        sustain_secs,
    };

    let mut configs = vec![Config::Untraced];
    let mut notes = Vec::new();
    for probe in usable_strategies(&ctx.observer)? {
        configs.push(Config::Observer {
            probe: probe.clone(),
            ring_size: None,
            metrics: false,
        });
        configs.push(Config::Observer {
            probe: probe.clone(),
            ring_size: None,
            metrics: true,
        });
        configs.push(Config::Floor { probe });
    }
    if !configs.iter().any(|c| matches!(c, Config::Observer { .. })) {
        bail!("`observer check` reports no usable capture strategy on this kernel");
    }
    for (tool, config) in [("bpftrace", Config::Bpftrace), ("strace", Config::Strace)] {
        if on_path(tool) {
            configs.push(config);
        } else {
            let note = format!("{tool} is not installed: its configuration is skipped");
            eprintln!("xtask: {note}");
            notes.push(note);
        }
    }

    let base = o
        .count
        .unwrap_or(if o.quick { 20_000 } else { 200_000 })
        .max(STRACE_DIVISOR);
    let runs = if o.quick { o.runs.min(2) } else { o.runs };
    let count_for = |w: Workload, c: &Config| {
        let n = if matches!(w, Workload::DevNull | Workload::RecvEmpty) {
            5 * base
        } else {
            base
        };
        if *c == Config::Strace {
            n / STRACE_DIVISOR
        } else {
            n
        }
    };
    let machine = machine();
    eprintln!(
        "xtask: bench on {} ({} CPUs, kernel {}), load average {}; {runs} runs of (a), (b), (d), (e) \
         with {base} messages each ((d): {}), then (c) at {} msg/s for {sustain_secs} s",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cpus"],
        machine["kernel"].as_str().unwrap_or("?"),
        machine["loadavg"].as_str().unwrap_or("?"),
        5 * base,
        o.rate
    );
    let started = Instant::now();

    // A cell that fails is reported as failed, with its cause, and the bench goes on: one
    // configuration's failure must not lose every other figure.
    let mut failed: Vec<String> = Vec::new();

    // (a), (b), (d), (e): interleaved runs.
    let mut cells: Vec<Cell> = Vec::new();
    for run in 0..runs {
        for w in Workload::TIMED {
            // Each run starts with another configuration, so none always follows the same one.
            let order = (0..configs.len()).map(|i| &configs[(i + run) % configs.len()]);
            // The metrics sink only does work for events: its cost is measured on (b) (and (c)).
            for c in order.filter(|c| w == Workload::Notify || !c.has_metrics()) {
                let n = count_for(w, c);
                let args = ctx.nload_args(w, n);
                let what = format!("run {}: {} under {}", run + 1, w.title(), c.label());
                let Some(cell) = kept(
                    run_cell(&ctx, c, &args, w.captured_by(c)),
                    what,
                    &mut failed,
                ) else {
                    continue;
                };
                eprintln!(
                    "xtask: run {}/{runs} {:<28} {:<20} {:>9.0} ns/msg  events {:>7}/{:<7} dropped {}",
                    run + 1,
                    w.title(),
                    c.label(),
                    cell.ns_per_msg,
                    cell.events,
                    cell.sent,
                    cell.dropped
                );
                cells.push(Cell {
                    workload: w,
                    config: c.clone(),
                    run,
                    ..cell
                });
            }
        }
    }

    // (c): sustained rate, once per configuration, then the forced-drop run.
    let mut sustained: Vec<Cell> = Vec::new();
    let mut sustained_configs: Vec<Config> = configs
        .iter()
        .filter(|c| !matches!(c, Config::Floor { .. }))
        .cloned()
        .collect();
    if let Some(Config::Observer { probe, .. }) = configs
        .iter()
        .find(|c| matches!(c, Config::Observer { .. }))
    {
        sustained_configs.push(Config::Observer {
            probe: probe.clone(),
            ring_size: Some(4096),
            metrics: false,
        });
    }
    for c in &sustained_configs {
        let args = ctx.nload_args(Workload::Sustained, 0);
        let what = format!("(c) sustained rate under {}", c.label());
        let Some(cell) = kept(
            run_cell(&ctx, c, &args, Workload::Sustained.captured_by(c)),
            what,
            &mut failed,
        ) else {
            continue;
        };
        eprintln!(
            "xtask: (c) {:<30} sent {:>8} ({:>7.0}/s)  events {:>8}  dropped {:>8}  collector CPU {:.1} %  peak RSS {:.1} MiB",
            c.label(),
            cell.sent,
            cell.rate,
            cell.events,
            cell.dropped,
            cell.cpu_percent(),
            cell.rss_kib as f64 / 1024.0
        );
        sustained.push(Cell {
            workload: Workload::Sustained,
            config: c.clone(),
            ..cell
        });
    }

    // (f): no traffic, each strategy once.
    let idle_secs = if o.quick { 3.0 } else { 10.0 };
    let mut idle_costs = Vec::new();
    for c in &configs {
        if let Config::Observer {
            probe,
            metrics: false,
            ..
        } = c
        {
            let what = format!("(f) no traffic under {}", c.label());
            let Some(cost) = kept(idle::measure(&ctx, probe, idle_secs), what, &mut failed) else {
                continue;
            };
            eprintln!("xtask: (f) {}", cost.line());
            idle_costs.push(cost);
        }
    }

    let mut machine = machine;
    machine["loadavg_end"] = json!(loadavg());
    notes.extend(failed.iter().map(|f| format!("FAILED: {f}")));
    let report = Report {
        machine,
        runs,
        base,
        rate: o.rate,
        sustain_secs,
        configs,
        cells,
        sustained,
        idle: idle_costs,
        notes,
        wall_secs: started.elapsed().as_secs_f64(),
    };
    report.write()?;
    if !failed.is_empty() {
        anyhow::bail!(
            "{} bench cell(s) failed (every other figure was written; the notes say why)",
            failed.len()
        );
    }
    Ok(())
}

/// A cell's result, or None after noting its failure (with the whole chain of causes).
fn kept<T>(r: anyhow::Result<T>, what: String, failed: &mut Vec<String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            let why = format!("{what}: {e:#}");
            eprintln!("xtask: FAILED {why}");
            failed.push(why);
            None
        }
    }
}

/// The measurements of one run of one workload under one configuration.
#[derive(Clone)]
struct Cell {
    workload: Workload,
    config: Config,
    run: usize,
    /// What nload printed.
    load: Value,
    sent: u64,
    errors: u64,
    ns_per_msg: f64,
    /// The sending thread's own CPU time per message (syscall + every hook run in it).
    sender_cpu_ns: f64,
    elapsed_ns: u64,
    rate: f64,
    /// Lines the tracer printed for the workload's messages.
    events: u64,
    /// Drops the tracer reported (observer: ring full; bpftrace: "Lost N events").
    dropped: u64,
    /// Observer only: its closing summary record.
    summary: Option<Value>,
    /// The tracer process's CPU (user + system) while the load ran, in seconds.
    cpu_secs: f64,
    /// The tracer process's peak RSS (VmHWM), KiB, at the end.
    rss_kib: u64,
    /// Its peak RSS once attached, before the load: what starting alone costs.
    rss_start_kib: u64,
    /// Its RSS at the end (VmRSS).
    rss_end_kib: u64,
}

struct Report {
    machine: Value,
    runs: usize,
    base: u64,
    rate: u64,
    sustain_secs: f64,
    configs: Vec<Config>,
    cells: Vec<Cell>,
    sustained: Vec<Cell>,
    /// (f), per strategy.
    idle: Vec<idle::IdleCost>,
    notes: Vec<String>,
    wall_secs: f64,
}
