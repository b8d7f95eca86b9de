//! `observer trace` (and `record`, and live `diagnose`): the loop wired together, on tokio.
//! capture → ring → decode → pairing with the manager's reads → judge → sinks, and back: the
//! loop drains the ring when the kernel wakes it (a burst) or on a short timer (otherwise the
//! kernel does not wake us: see WAKEUP_BYTES), and it writes to the kernel while it runs (the
//! watched sockets after each rescan, the readers, whether the collector sleeps). Events are
//! held before they are judged (JUDGE_AFTER, and while unread: delivery.rs), wait a bounded
//! time for their manager's answer (link.rs; events are shown in order, so those behind wait
//! with it), and a datagram shown before its manager read it is corrected later. The life of
//! one datagram, step by step: docs/ARCHITECTURE.md.

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context as _;
use aya::maps::{MapData, RingBuf};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
    time::{Instant, Interval, interval, sleep_until},
};

use crate::{
    capture::Capture,
    cli::{RecordArgs, TraceArgs},
    decode::{Clock, Event, decode},
    delivery::{Correction, Delivered, Pairing},
    idle::Idle,
    judge::Judge,
    link::Patience,
    manager::UNIT_CHANGE_KEPT,
    readers::{self, Reader},
    recording::writer::{Rotation, Writer},
    sink::{
        Health, Sink, Start, Summary, json::JsonSink, metrics::MetricsSink,
        recording::RecordingSink, table::TableSink,
    },
    trust,
    watch::{self, Request, WatchError, Watched},
};

/// How often the ring is drained when the kernel has not woken us.
const DRAIN_EVERY: Duration = Duration::from_millis(50);
/// How long an event waits before it is judged: the manager's D-Bus signals for what happened
/// up to the send (a state change, a new MainPID) arrive a few milliseconds after it, and the
/// verdict must see the unit as it was when the datagram was sent.
const JUDGE_AFTER: Duration = Duration::from_millis(150);
/// How often notify sockets are looked for again (new containers, user sessions, re-created sockets).
const RESCAN_EVERY: Duration = Duration::from_secs(2);
/// Events waiting to be judged beyond which none waits for its manager's answer any more: a
/// manager slow to answer while its socket is flooded must not grow memory without bound.
/// (At 100 000 datagrams/s, JUDGE_AFTER alone keeps ~15 000 waiting.)
const WAITING_MAX: usize = 65_536;
/// Once asked to stop: how long events still waiting for their manager's answer may wait.
const FINAL_WAIT: Duration = Duration::from_secs(1);

/// `observer trace`: the table, or JSON lines.
pub async fn run(args: TraceArgs, verbose: u8) -> anyhow::Result<()> {
    crate::preflight::check_privileges()?;
    let sink = with_metrics(crate::sink::for_args(&args)?, &args)?;
    // Start outcomes come from the unit changes: followed when metrics are asked for.
    let unit_changes = args.metrics.config(&args.units).enabled();
    run_with(&args, sink, unit_changes, verbose).await
}

/// `sink`, and beside it the metrics sink when --metrics-listen or --metrics-file asks for it
/// (bound and first written here: before the eBPF programs load, so a bad flag fails fast).
fn with_metrics(sink: Box<dyn Sink>, args: &TraceArgs) -> anyhow::Result<Box<dyn Sink>> {
    let config = args.metrics.config(&args.units);
    if !config.enabled() {
        return Ok(sink);
    }
    let metrics = MetricsSink::start(&config)?;
    let sinks: Vec<Box<dyn Sink>> = vec![sink, Box::new(metrics)];
    Ok(Box::new(sinks))
}

/// `observer record`: the recording file, and JSON lines on stdout with `--json`.
pub async fn record(args: RecordArgs, verbose: u8) -> anyhow::Result<()> {
    crate::preflight::check_privileges()?;
    let rotation = Rotation {
        max_size: Some(args.max_size),
        max_age: args.max_age,
        keep: args.keep,
    };
    // Before the recording is created: a bad metrics flag leaves no file behind.
    let metrics = args.trace.metrics.config(&args.trace.units);
    let metrics = metrics
        .enabled()
        .then(|| MetricsSink::start(&metrics))
        .transpose()?;
    let writer = Writer::create(&args.output, rotation, args.sync_every)?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(RecordingSink::new(writer))];
    // Also JSON lines to stdout (--json), or entries to the journal (--journal).
    if args.trace.json || args.trace.journal {
        sinks.push(crate::sink::for_args(&args.trace)?);
    }
    if let Some(m) = metrics {
        sinks.push(Box::new(m));
    }
    eprintln!("observer: recording to {}", args.output.display());
    run_with(&args.trace, Box::new(sinks), true, verbose).await
}

pub fn stdout_sink(json: bool, zone: crate::wall_time::Zone) -> Box<dyn Sink> {
    if json {
        Box::new(JsonSink::new(crate::stdout::Stdout))
    } else {
        Box::new(TableSink::new(crate::stdout::Stdout, zone))
    }
}

/// The pipeline into `sink`; with `unit_changes`, what units go through is fed to it too.
pub async fn run_with(
    args: &TraceArgs,
    mut sink: Box<dyn Sink>,
    unit_changes: bool,
    verbose: u8,
) -> anyhow::Result<()> {
    // First: finding managers' sockets under /proc/PID/root needs the same privileges.
    crate::preflight::check_privileges()?;
    readers::check_receivers(&args.receivers)?;
    let requests = requests(args);
    let mut watched = watch::resolve(&requests, &[], 0)?;
    let mut highest_given = watch::highest_id(&watched);
    if watched.is_empty() {
        return Err(WatchError::NothingToWatch.into());
    }
    let mut capture = {
        let _step = crate::progress::step("loading and attaching the eBPF programs");
        Capture::start(args.probe, args.ring_size)?
    };
    capture.set_watched(&watched)?;
    let mut pairing = Pairing::default();
    let found = find_readers(&capture, &watched, &args.receivers);
    set_readers(&mut capture, &mut pairing, found)?;
    if verbose > 0 {
        spawn_kernel_logger(&mut capture);
    }
    report_start(&capture, &watched, verbose, args.containers);
    let hooks: Vec<String> = capture
        .all_hooks()
        .iter()
        .map(ToString::to_string)
        .collect();

    let refused: Vec<(String, String)> = capture
        .refused
        .iter()
        .map(|(s, w)| (s.to_string(), w.clone()))
        .collect();
    sink.start(&Start {
        strategy: capture.strategy.to_string(),
        hooks: &hooks,
        refused: &refused,
        watched: &watched,
    })?;

    let clock = Clock::now();
    // SAFETY: the ring owns its map fd and keeps it open for as long as the AsyncFd lives.
    let mut ring =
        unsafe { AsyncFd::register(capture.take_ring()?) }.context("polling the ring buffer")?;
    let mut by_id = watch::by_id(&watched);
    let mut drain_timer = interval(DRAIN_EVERY);
    let mut rescan_timer = interval(RESCAN_EVERY);
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let deadline = args.duration.map(|d| Instant::now() + d);
    spawn_shutdown_guard(deadline)?;
    let mut out = Collector {
        sink,
        clock,
        judge: if unit_changes {
            Judge::new().with_unit_changes()
        } else {
            Judge::new()
        }
        .with_containers(args.containers),
        units: args.units.clone(),
        limit: args.count.unwrap_or(u64::MAX),
        events: 0,
        malformed: 0,
        waiting: Default::default(),
        pairing,
        stopping: false,
    };
    let mut dropped_seen = 0u64;
    let mut idle = Idle::default();
    // Managers are connected to in the background. Nothing waits for them here: each event
    // waits (bounded) for its own manager's connection when it is judged, and a silent one
    // delays only its own socket's events (Collector::drain).
    out.judge.prepare(&watched);
    let mut discovery: Option<tokio::task::JoinHandle<Vec<Request>>> = None;

    while out.events < out.limit {
        tokio::select! {
            // In this order: records the kernel woke us for are taken before any timer's drain.
            biased;
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = async { match deadline { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => break,
            guard = ring.readable_mut() => {
                let mut guard = guard?;
                let records = out.drain(guard.get_inner_mut(), &by_id, false).await?;
                guard.clear_ready();
                // (Readiness left over from before a timer's drain finds nothing: still asleep.)
                wake_if(records, &mut idle, &mut capture, &mut drain_timer, "woken by the kernel")?;
            }
            _ = drain_timer.tick(), if !idle.asleep() => {
                let records = out.drain(ring.get_mut(), &by_id, false).await?;
                if unit_changes {
                    out.units()?;
                }
                report_drops(&capture, out.sink.as_mut(), &mut dropped_seen)?;
                if idle.after_drain(records, out.waiting.is_empty()) {
                    capture.set_collector_asleep(true)?;
                    let records = out.drain(ring.get_mut(), &by_id, false).await?;
                    if idle.fell_asleep(records) {
                        log::info!("collector: asleep until the kernel has a record");
                        out.sink.idle()?;
                    } else {
                        capture.set_collector_asleep(false)?;
                    }
                }
            }
            // Asleep, the drain timer no longer takes the unit changes.
            _ = UNIT_CHANGE_KEPT.notified(), if unit_changes && idle.asleep() => {
                out.units()?;
            }
            // Sockets looked for off the loop (below): an untrusted container's are looked at
            // as its owner, by a child given a bounded time (look_as.rs).
            found = async {
                match discovery.as_mut() {
                    Some(running) => running.await,
                    None => std::future::pending().await,
                }
            } => {
                discovery = None;
                // Explicit sockets that vanish are kept by their old identity; defaults come and go.
                if let Ok(found) = found
                    && let Ok(now) = watch::resolve(&found, &watched, highest_given)
                    && now != watched
                    && !now.is_empty()
                {
                    capture.set_watched(&now)?;
                    report_new_watches(&watched, &now, args.containers);
                    highest_given = highest_given.max(watch::highest_id(&now));
                    watched = now;
                    by_id = watch::by_id(&watched);
                    out.judge.prepare(&watched);
                }
            }
            _ = rescan_timer.tick() => {
                if discovery.is_none() {
                    let (initial, no_defaults) = (requests.clone(), args.no_default_sockets);
                    discovery = Some(tokio::task::spawn_blocking(move || {
                        requests_that_exist(&initial, no_defaults)
                    }));
                }
                // Readers come and go with their sockets (a manager restarts, a receiver exits).
                // They are looked for before the ring is drained: a datagram sent while its
                // reader lived is then queued for it before the reader is given up, and shown
                // as never read, not as sent to a socket whose reader is not captured.
                let found = find_readers(&capture, &watched, &args.receivers);
                let records = out.drain(ring.get_mut(), &by_id, false).await?;
                let gone = set_readers(&mut capture, &mut out.pairing, found)?;
                out.corrections(&gone, &by_id)?;
                // Asleep: a record output as the kernel learnt it (see idle.rs) waits no longer
                // than this; and a full ring shows its drops.
                wake_if(records, &mut idle, &mut capture, &mut drain_timer,
                    "awake, the rescan found records the kernel did not wake it for")?;
                report_drops(&capture, out.sink.as_mut(), &mut dropped_seen)?;
                report_health(&capture, &mut out, &watched)?;
            }
        }
    }
    // Events still waiting for a manager get a last moment, then what is missing is said.
    let give_up = Instant::now() + FINAL_WAIT;
    out.drain(ring.get_mut(), &by_id, true).await?;
    while !out.waiting.is_empty() && Instant::now() < give_up {
        tokio::time::sleep(DRAIN_EVERY.min(give_up - Instant::now())).await;
        out.drain(ring.get_mut(), &by_id, true).await?;
    }
    out.stopping = true;
    out.drain(ring.get_mut(), &by_id, true).await?;
    if unit_changes {
        out.units()?;
    }
    let unread = out.pairing.finish();
    out.corrections(&unread, &by_id)?;
    out.sink.flush()?;

    report_drops(&capture, out.sink.as_mut(), &mut dropped_seen)?;
    let c = capture.counters()?;
    let summary = Summary {
        events: out.events,
        dropped: c.dropped,
        untracked: c.untracked,
        malformed: out.malformed,
    };
    out.sink.finish(&summary)?;
    eprintln!(
        "observer: {} events, {} dropped (ring buffer full), {} untracked sends, {} malformed records",
        summary.events, summary.dropped, summary.untracked, summary.malformed
    );
    // Where the kernel side gave up on a watched datagram: with -v, for "nothing shows here".
    for (what, n) in capture.faults()? {
        log::info!("kernel faults: {what}: {n}");
    }
    for trouble in out.judge.troubles() {
        eprintln!("observer: manager misbehaved: {trouble}");
    }
    Ok(())
}

/// Ring → decode → judge → sink, counting as it goes.
struct Collector {
    sink: Box<dyn Sink>,
    clock: Clock,
    judge: Judge,
    /// `-u` globs; empty: every unit.
    units: Vec<String>,
    limit: u64,
    events: u64,
    malformed: u64,
    /// Decoded, not yet judged: see JUDGE_AFTER.
    waiting: std::collections::VecDeque<Event>,
    /// Sends paired with their managers' reads.
    pairing: Pairing,
    /// The last drain: nothing may wait for a manager any more.
    stopping: bool,
}

impl Collector {
    /// Unit changes since the last call, to the sink.
    fn units(&mut self) -> anyhow::Result<()> {
        for (manager, change) in self.judge.take_unit_changes() {
            self.sink.unit(&manager, &change)?;
        }
        Ok(())
    }

    /// Takes what the ring holds now, and judges and shows what has waited long enough (all of
    /// it when `all`). Returns how many records it took.
    async fn drain(
        &mut self,
        ring: &mut RingBuf<MapData>,
        by_id: &BTreeMap<u32, Watched>,
        all: bool,
    ) -> anyhow::Result<usize> {
        let mut records = 0;
        while let Some(item) = ring.next() {
            records += 1;
            match decode(&item, &self.clock) {
                Ok(ev) if ev.hook.is_receive() => {
                    let late = self.pairing.read(&ev);
                    self.corrections(&late, by_id)?;
                }
                Ok(ev) => {
                    let late = self.pairing.sent(&ev);
                    self.corrections(&late, by_id)?;
                    self.waiting.push_back(ev);
                }
                Err(e) => {
                    self.malformed += 1;
                    eprintln!("observer: skipped a malformed ring record: {e}");
                }
            }
        }
        let now = crate::manager::monotonic_ns();
        let patience = if self.stopping {
            Patience::Stopping
        } else if self.waiting.len() > WAITING_MAX {
            Patience::Crowded
        } else {
            Patience::Wait
        };
        // Sockets whose oldest waiting event waits (for its manager's answer or read): their
        // later events wait behind it, in order; other sockets' events go on.
        let mut blocked = std::collections::HashSet::new();
        let mut kept = std::collections::VecDeque::new();
        while let Some(mut ev) = self.waiting.pop_front() {
            if self.events >= self.limit {
                self.waiting.clear();
                kept.clear();
                break;
            }
            // Wait for the D-Bus signals (events are in send order: so do all after it).
            if !all && now.saturating_sub(ev.mono_ns) < JUDGE_AFTER.as_nanos() as u64 {
                self.waiting.push_front(ev);
                break;
            }
            if !ev.matched_by_identity {
                ev.watch_id =
                    watch::disambiguate(ev.watch_id, &ev.dest, ev.pidns_ino, by_id.values());
            }
            // And (bounded) for the manager to read it.
            if blocked.contains(&ev.watch_id) || (!all && self.pairing.hold(&ev, now)) {
                blocked.insert(ev.watch_id);
                kept.push_back(ev);
                continue;
            }
            // Judged once its manager has answered (each wait is bounded, see link.rs); the
            // loop goes on meanwhile, and so do signals, --duration and the ring.
            // Judged as it will be shown: with the bytes the manager read (delivery.rs).
            let (delivery, shown) = self.pairing.peek(&ev, all);
            let Some(j) =
                self.judge
                    .judge_delivered(&shown, by_id.get(&ev.watch_id), delivery, patience)
            else {
                blocked.insert(ev.watch_id);
                kept.push_back(ev);
                continue;
            };
            let delivery = self.pairing.take(&mut ev, all);
            let unread =
                delivery.delivered == Delivered::Unknown && self.pairing.has_reader(ev.watch_id);
            if !self.units.is_empty()
                && !j
                    .unit
                    .as_deref()
                    .is_some_and(|u| self.units.iter().any(|g| glob_match(g, u)))
            {
                continue;
            }
            if unread {
                self.pairing.await_read(&ev, j.unit.clone());
            }
            self.sink.event(&ev, &j, by_id)?;
            self.events += 1;
        }
        kept.append(&mut self.waiting);
        self.waiting = kept;
        self.sink.flush()?;
        Ok(records)
    }
}

impl Collector {
    /// Shows what became of datagrams shown earlier as not read yet.
    fn corrections(
        &mut self,
        list: &[Correction],
        by_id: &BTreeMap<u32, Watched>,
    ) -> anyhow::Result<()> {
        for c in list {
            self.sink.delivery(c, by_id)?;
        }
        Ok(())
    }
}

/// Back to the drain timer when the collector slept and a drain took `records` (`how`: what
/// found them, for `-v`).
fn wake_if(
    records: usize,
    idle: &mut Idle,
    capture: &mut Capture,
    drain_timer: &mut Interval,
    how: &str,
) -> anyhow::Result<()> {
    if records > 0 && idle.wake() {
        // The kernel marks the collector awake as it wakes it; not when a full ring did, nor
        // when the rescan found the records.
        capture.set_collector_asleep(false)?;
        drain_timer.reset();
        log::info!("collector: {how}");
    }
    Ok(())
}

/// Tells the sinks how the capture and the managers are doing (the metrics sink's gauges).
fn report_health(
    capture: &Capture,
    out: &mut Collector,
    watched: &[Watched],
) -> anyhow::Result<()> {
    let managers: std::collections::HashSet<_> = watched.iter().filter_map(|w| w.manager).collect();
    let managers: Vec<_> = managers.into_iter().collect();
    let health = Health {
        managers_watched: managers.len(),
        managers_unreachable: out.judge.unreachable(&managers),
        untracked: capture.counters()?.untracked,
    };
    out.sink.health(&health)?;
    Ok(())
}

/// Shows the ring's drops since the last call (`seen`: the total shown so far).
fn report_drops(capture: &Capture, sink: &mut dyn Sink, seen: &mut u64) -> anyhow::Result<()> {
    let dropped = capture.counters()?.dropped;
    if dropped > *seen {
        sink.drops(dropped - *seen, dropped)?;
        *seen = dropped;
    }
    Ok(())
}

/// The managers of the watched sockets and the `--receiver` processes: the readers whose reads
/// are captured. None when the kernel gave no way to capture reads.
fn find_readers(capture: &Capture, watched: &[Watched], receivers: &[u32]) -> Option<Vec<Reader>> {
    capture
        .receive
        .is_ok()
        .then(|| readers::find(watched, receivers))
}

/// Tells the kernel whose reads to capture and the pairing which sockets they read; returns the
/// sends that lost their reader before it read them.
fn set_readers(
    capture: &mut Capture,
    pairing: &mut Pairing,
    found: Option<Vec<Reader>>,
) -> anyhow::Result<Vec<Correction>> {
    let Some(found) = found else {
        return Ok(Vec::new());
    };
    let tgids: Vec<u32> = found.iter().map(|r| r.tgid).collect();
    capture.set_readers(&tgids)?;
    Ok(pairing.set_readers(found.iter().map(|r| r.watch_id).collect()))
}

/// Globs as journalctl -u takes them (unit_glob.rs).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    crate::unit_glob::matches(pattern, text)
}

fn requests(args: &TraceArgs) -> Vec<Request> {
    let mut out = if args.no_default_sockets {
        Vec::new()
    } else {
        watch::default_requests()
    };
    out.extend(args.sockets.iter().map(|s| Request::explicit(s)));
    out
}

/// For a rescan: the default sockets as they are now, plus the explicit ones still there.
fn requests_that_exist(initial: &[Request], no_default_sockets: bool) -> Vec<Request> {
    let mut out = if no_default_sockets {
        Vec::new()
    } else {
        watch::default_requests()
    };
    out.extend(
        initial
            .iter()
            .filter(|r| {
                r.owner.is_explicit() && watch::resolve(std::slice::from_ref(r), &[], 0).is_ok()
            })
            .cloned(),
    );
    out
}

fn report_start(
    capture: &Capture,
    watched: &[Watched],
    verbose: u8,
    policy: crate::cli::Containers,
) {
    for (strategy, why) in &capture.refused {
        // Said as a person would; the verifier's words with -v (and in the JSON start record).
        let what = if why.contains("Operation not permitted") {
            format!("this kernel does not allow {strategy} programs")
        } else {
            format!("the {strategy} strategy is not usable on this kernel")
        };
        eprintln!(
            "observer: {what}; using the {} strategy instead{}",
            capture.strategy,
            if verbose > 0 { "" } else { " (-v says why)" }
        );
        if verbose > 0 {
            eprintln!("observer: {strategy} refused: {why}");
        }
    }
    eprintln!(
        "observer: capturing with the {} strategy ({})",
        capture.strategy,
        crate::capture::hook_list(&capture.hooks)
    );
    for why in &capture.receive_refused {
        eprintln!("observer: managers' reads: refused {why}");
    }
    match &capture.receive {
        Ok(hooks) => eprintln!(
            "observer: managers' reads via {}",
            crate::capture::hook_list(hooks)
        ),
        Err(why) => eprintln!("observer: managers' reads are not captured: {why}"),
    }
    report_new_watches(&[], watched, policy);
}

/// A line for each socket in `now` that was not in `before`, saying how far its manager is
/// believed and as whom it is asked: at start, and for managers found later (a container
/// started, a user logged in), alike.
pub(crate) fn report_new_watches(
    before: &[Watched],
    now: &[Watched],
    policy: crate::cli::Containers,
) {
    for w in now.iter().filter(|w| !before.iter().any(|b| b.id == w.id)) {
        let trust = match (w.manager, w.trust) {
            (Some(owner), Some(t)) => {
                format!(
                    ": {}",
                    trust::describe(t, &trust::approach(owner, t, policy))
                )
            }
            _ => String::new(),
        };
        eprintln!(
            "observer: watching {} ({}){}",
            crate::safe_text::text(&w.address),
            crate::safe_text::text(w.owner.label()),
            crate::safe_text::text(&trust)
        );
    }
}

/// How long the pipeline may take to wind down after a stop request: the last events' wait
/// for their managers (FINAL_WAIT) and the sinks' last writes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Once a stop is asked for (SIGINT, SIGTERM, the --duration deadline), exits the process if the
/// pipeline has not wound down within SHUTDOWN_GRACE. Nothing on the loop waits for a manager
/// (link.rs), so this is the last resort, not the way out. Whatever was recorded is on disk
/// already (one write per record); only the closing summary is missing.
fn spawn_shutdown_guard(deadline: Option<Instant>) -> anyhow::Result<()> {
    // The deadline is also kept by a thread of its own, which needs nothing of the runtime.
    if let Some(at) = deadline.map(|d| d.into_std() + SHUTDOWN_GRACE) {
        std::thread::Builder::new()
            .name("observer-deadline".into())
            .spawn(move || {
                std::thread::sleep(at.saturating_duration_since(std::time::Instant::now()));
                stop_now();
            })?;
    }
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = async { match deadline { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => {}
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        stop_now();
    });
    Ok(())
}

fn stop_now() -> ! {
    eprintln!("observer: error: did not stop within {SHUTDOWN_GRACE:?} of being asked to; exiting");
    std::process::exit(1);
}

/// `-v`: forward the kernel programs' aya-log records to stderr.
fn spawn_kernel_logger(capture: &mut Capture) {
    match aya_log::EbpfLogger::init(capture.ebpf_mut()) {
        Ok(logger) => {
            // SAFETY: the logger owns its map fd; flushing neither closes nor replaces it.
            match unsafe { AsyncFd::register_with_interest(logger, tokio::io::Interest::READABLE) }
            {
                Ok(mut logger) => {
                    tokio::spawn(async move {
                        while let Ok(mut guard) = logger.readable_mut().await {
                            guard.get_inner_mut().flush();
                            guard.clear_ready();
                        }
                    });
                }
                Err(e) => log::warn!("kernel logs unavailable: {e}"),
            }
        }
        Err(e) => log::warn!("kernel logs unavailable: {e}"),
    }
}
