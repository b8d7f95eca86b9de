//! Ring → decode → pairing → judge → sink, counting as it goes; each datagram's steps are
//! lifecycle.rs's. Each watched socket's events are shown in the order they were sent: an
//! event waits JUDGE_AFTER, then (bounded) for its manager's read and its manager's answer
//! (link.rs), and the socket's later events wait behind it; other sockets' events pass it.

use std::collections::{BTreeMap, HashSet, VecDeque};

use aya::maps::{MapData, RingBuf};

use super::{
    PipelineConfig,
    lifecycle::{Held, Judging},
};
use crate::{
    capture::Capture,
    decode::{Clock, decode},
    judge::Judge,
    link::Patience,
    pairing::{Correction, Pairing},
    sink::{Corrected, Health, Sink, SocketView},
    watch::Watched,
};

/// Events waiting to be judged beyond which none waits for its manager's answer any more: a
/// manager slow to answer while its socket is flooded must not grow memory without bound.
/// (At 100 000 datagrams/s, JUDGE_AFTER (lifecycle.rs) alone keeps ~15 000 waiting.)
const WAITING_MAX: usize = 65_536;

pub struct Collector {
    pub sink: Box<dyn Sink>,
    clock: Clock,
    pub judge: Judge,
    /// `-u` globs; empty: every unit.
    units: Vec<String>,
    pub limit: u64,
    pub events: u64,
    pub malformed: u64,
    /// Decoded, not yet judged, in the order they were sent.
    pub waiting: VecDeque<Held>,
    /// Sends paired with their managers' reads.
    pub pairing: Pairing,
    /// The last drain: nothing may wait for a manager any more.
    pub stopping: bool,
    /// The ring's drops shown so far.
    dropped_seen: u64,
}

impl Collector {
    pub fn new(
        sink: Box<dyn Sink>,
        clock: Clock,
        config: &PipelineConfig,
        pairing: Pairing,
    ) -> Self {
        let judge = if config.unit_changes {
            Judge::new().with_unit_changes()
        } else {
            Judge::new()
        };
        Self {
            sink,
            clock,
            judge: judge.with_containers(config.containers),
            units: config.units.clone(),
            limit: config.count.unwrap_or(u64::MAX),
            events: 0,
            malformed: 0,
            waiting: Default::default(),
            pairing,
            stopping: false,
            dropped_seen: 0,
        }
    }

    /// Unit changes since the last call, to the sink.
    pub fn units(&mut self) -> anyhow::Result<()> {
        for (manager, change) in self.judge.take_unit_changes() {
            self.sink.unit(&manager, &change)?;
        }
        Ok(())
    }

    /// Takes what the ring holds now, and judges and shows what has waited long enough (all of
    /// it when `all`). Returns how many records it took.
    pub async fn drain(
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
                    let (held, late) = Held::sent(ev, &mut self.pairing);
                    self.corrections(&late, by_id)?;
                    self.waiting.push_back(held);
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
        let mut blocked = HashSet::new();
        let mut kept = VecDeque::new();
        while let Some(mut held) = self.waiting.pop_front() {
            if self.events >= self.limit {
                self.waiting.clear();
                kept.clear();
                break;
            }
            // Events are in send order: one not ripe yet, and all after it, wait.
            if !all && !held.ripe(now) {
                self.waiting.push_front(held);
                break;
            }
            held.place(by_id);
            let id = held.watch_id();
            if blocked.contains(&id) {
                kept.push_back(held);
                continue;
            }
            // The loop goes on meanwhile (each wait is bounded), and so do signals, --duration
            // and the ring.
            let judged = match held.judge(
                &mut self.pairing,
                &mut self.judge,
                by_id.get(&id),
                patience,
                all,
                now,
            ) {
                Judging::Done(judged) => judged,
                Judging::Waits(held) => {
                    blocked.insert(id);
                    kept.push_back(held);
                    continue;
                }
            };
            if !self.units.is_empty()
                && !judged
                    .unit()
                    .is_some_and(|u| self.units.iter().any(|g| crate::unit_glob::matches(g, u)))
            {
                continue;
            }
            judged.show(
                self.sink.as_mut(),
                SocketView::of(id, by_id.get(&id)),
                &mut self.pairing,
            )?;
            self.events += 1;
        }
        kept.append(&mut self.waiting);
        self.waiting = kept;
        self.sink.flush()?;
        Ok(records)
    }

    /// Shows what became of datagrams shown earlier as not read yet.
    pub fn corrections(
        &mut self,
        list: &[Correction],
        by_id: &BTreeMap<u32, Watched>,
    ) -> anyhow::Result<()> {
        for c in list {
            self.sink.delivery(&Corrected {
                correction: c,
                socket: SocketView::of(c.event.watch_id, by_id.get(&c.event.watch_id)),
            })?;
        }
        Ok(())
    }

    /// Tells the sinks how the capture and the managers are doing (the metrics sink's gauges).
    pub fn health(&mut self, capture: &Capture, watched: &[Watched]) -> anyhow::Result<()> {
        let managers: HashSet<_> = watched.iter().filter_map(|w| w.manager).collect();
        let managers: Vec<_> = managers.into_iter().collect();
        let health = Health {
            managers_watched: managers.len(),
            managers_unreachable: self.judge.unreachable(&managers),
            untracked: capture.counters()?.untracked,
        };
        self.sink.health(&health)?;
        Ok(())
    }

    /// Shows the ring's drops since the last call.
    pub fn drops(&mut self, capture: &Capture) -> anyhow::Result<()> {
        let dropped = capture.counters()?.dropped;
        if dropped > self.dropped_seen {
            self.sink.drops(dropped - self.dropped_seen, dropped)?;
            self.dropped_seen = dropped;
        }
        Ok(())
    }
}
