//! The loop. It drains the ring when the kernel wakes it (a burst) or on a short timer
//! (otherwise the kernel does not wake us: see WAKEUP_BYTES), sleeps when nothing comes
//! (idle.rs), rescans the sockets and their readers, and stops on SIGINT, SIGTERM, `--count` or
//! `--duration`, giving the events still waiting a last moment.

use std::time::Duration;

use anyhow::Context as _;
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
    time::{Instant, Interval, interval, sleep_until},
};

use super::{
    PipelineConfig,
    collector::Collector,
    kernel_log,
    rescan::{self, Sockets},
    shutdown, stderr,
};
use crate::{
    capture::Capture,
    decode::Clock,
    idle::Idle,
    manager::UNIT_CHANGE_KEPT,
    pairing::Pairing,
    sink::{Sink, Start, Summary},
    socket_readers,
};

/// How often the ring is drained when the kernel has not woken us.
const DRAIN_EVERY: Duration = Duration::from_millis(50);
/// How often notify sockets are looked for again (new containers, user sessions, re-created sockets).
const RESCAN_EVERY: Duration = Duration::from_secs(2);
/// Once asked to stop: how long events still waiting for their manager's answer may wait.
const FINAL_WAIT: Duration = Duration::from_secs(1);

/// Runs the pipeline as `config` says, into `sink`, until it is asked to stop.
pub async fn run(config: &PipelineConfig, mut sink: Box<dyn Sink>) -> anyhow::Result<()> {
    // First: finding managers' sockets under /proc/PID/root needs the same privileges.
    crate::preflight::check_privileges()?;
    socket_readers::check_receivers(&config.receivers)?;
    let mut sockets = Sockets::find(config)?;
    let mut capture = {
        let _step = crate::progress::step("loading and attaching the eBPF programs");
        Capture::start(config.probe, config.ring_size)?
    };
    capture.set_watched(&sockets.watched)?;
    let mut pairing = Pairing::default();
    let found = rescan::find_readers(&capture, &sockets.watched, &config.receivers);
    rescan::set_readers(&mut capture, &mut pairing, found)?;
    if config.verbose {
        kernel_log::spawn(&mut capture);
    }
    stderr::start(
        &capture,
        &sockets.watched,
        config.verbose,
        config.containers,
    );
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
        watched: &sockets.watched,
    })?;

    let clock = Clock::now();
    // SAFETY: the ring owns its map fd and keeps it open for as long as the AsyncFd lives.
    let mut ring =
        unsafe { AsyncFd::register(capture.take_ring()?) }.context("polling the ring buffer")?;
    let mut drain_timer = interval(DRAIN_EVERY);
    let mut rescan_timer = interval(RESCAN_EVERY);
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let deadline = config.duration.map(|d| Instant::now() + d);
    shutdown::spawn_guard(deadline)?;
    let mut out = Collector::new(sink, clock, config, pairing);
    let mut idle = Idle::default();
    // Managers are connected to in the background. Nothing waits for them here: each event
    // waits (bounded) for its own manager's connection when it is judged, and a silent one
    // delays only its own socket's events (Collector::drain).
    out.judge.prepare(&sockets.watched);

    while out.events < out.limit {
        tokio::select! {
            // In this order: records the kernel woke us for are taken before any timer's drain.
            biased;
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = async { match deadline { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => break,
            guard = ring.readable_mut() => {
                let mut guard = guard?;
                let records = out.drain(guard.get_inner_mut(), &sockets.by_id, false).await?;
                guard.clear_ready();
                // (Readiness left over from before a timer's drain finds nothing: still asleep.)
                wake_if(records, &mut idle, &mut capture, &mut drain_timer, "woken by the kernel")?;
            }
            _ = drain_timer.tick(), if !idle.asleep() => {
                let records = out.drain(ring.get_mut(), &sockets.by_id, false).await?;
                if config.unit_changes {
                    out.units()?;
                }
                out.drops(&capture)?;
                if idle.after_drain(records, out.waiting.is_empty()) {
                    capture.set_collector_asleep(true)?;
                    let records = out.drain(ring.get_mut(), &sockets.by_id, false).await?;
                    if idle.fell_asleep(records) {
                        log::info!("collector: asleep until the kernel has a record");
                        out.sink.idle()?;
                    } else {
                        capture.set_collector_asleep(false)?;
                    }
                }
            }
            // Asleep, the drain timer no longer takes the unit changes.
            _ = UNIT_CHANGE_KEPT.notified(), if config.unit_changes && idle.asleep() => {
                out.units()?;
            }
            // Sockets looked for off the loop (rescan.rs).
            found = sockets.discovered() => {
                if let Some(now) = sockets.changed(found) {
                    capture.set_watched(&now)?;
                    stderr::new_watches(&sockets.watched, &now, config.containers);
                    sockets.adopt(now);
                    out.judge.prepare(&sockets.watched);
                }
            }
            _ = rescan_timer.tick() => {
                sockets.discover();
                // Readers come and go with their sockets (a manager restarts, a receiver exits).
                // They are looked for before the ring is drained: a datagram sent while its
                // reader lived is then queued for it before the reader is given up, and shown
                // as never read, not as sent to a socket whose reader is not captured.
                let found = rescan::find_readers(&capture, &sockets.watched, &config.receivers);
                let records = out.drain(ring.get_mut(), &sockets.by_id, false).await?;
                let gone = rescan::set_readers(&mut capture, &mut out.pairing, found)?;
                out.corrections(&gone, &sockets.by_id)?;
                // Asleep: a record output as the kernel learnt it (see idle.rs) waits no longer
                // than this; and a full ring shows its drops.
                wake_if(records, &mut idle, &mut capture, &mut drain_timer,
                    "awake, the rescan found records the kernel did not wake it for")?;
                out.drops(&capture)?;
                out.health(&capture, &sockets.watched)?;
            }
        }
    }
    // Events still waiting for a manager get a last moment, then what is missing is said.
    let by_id = &sockets.by_id;
    let give_up = Instant::now() + FINAL_WAIT;
    out.drain(ring.get_mut(), by_id, true).await?;
    while !out.waiting.is_empty() && Instant::now() < give_up {
        tokio::time::sleep(DRAIN_EVERY.min(give_up - Instant::now())).await;
        out.drain(ring.get_mut(), by_id, true).await?;
    }
    out.stopping = true;
    out.drain(ring.get_mut(), by_id, true).await?;
    if config.unit_changes {
        out.units()?;
    }
    let unread = out.pairing.finish();
    out.corrections(&unread, by_id)?;
    out.sink.flush()?;

    out.drops(&capture)?;
    let c = capture.counters()?;
    let summary = Summary {
        events: out.events,
        dropped: c.dropped,
        untracked: c.untracked,
        malformed: out.malformed,
    };
    out.sink.finish(&summary)?;
    stderr::summary(&summary, &capture.faults()?, &out.judge.troubles());
    Ok(())
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
