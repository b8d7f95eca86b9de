//! Live `observer diagnose`: the record pipeline into memory, a unit's story printed a moment
//! after each start attempt settles (so the datagrams judged a little later are in it), and
//! what is still open at the end.
//!
//! A session can run for days, so what is kept is bounded by what is still to be printed:
//! records are kept per unit (only those its stories are made of), a story is made from its
//! unit's records alone, and once an attempt is printed the records it needed are forgotten.
//! Of a printed attempt only the change that settled it stays (what comes after it then
//! splits into attempts as it would have), and each unit's settings are kept apart. What
//! still grows is what is still to be printed: a unit seen only mid-way (running when the
//! observer started, no state change since) keeps every message it sends, as all of them are
//! printed when it settles.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write as _,
};

use super::{
    render,
    story::{self, Phase, Settings, Story},
};
use crate::{
    cli::{DiagnoseArgs, ReplayFilter},
    decode::{Clock, Event},
    manager::UnitChange,
    pipeline::{self, PipelineConfig, RING_SIZE_DEFAULT},
    recording::records::Record,
    sink::{Corrected, Shown, Sink, Start, Summary, recording::session},
};

/// How long after an attempt settles its story is printed (events are judged 150 ms late).
pub const SETTLE_NS: i128 = 500_000_000;
/// A unit's records are looked through for what printed attempts no longer need once they
/// have doubled since the last look, and are at least this many.
pub const LOOK_AT: usize = 64;

/// A story's identity: (manager, unit).
type Key = (String, String);
/// One datagram (pairing.rs): (watch id, send start, tid, index in a sendmmsg).
type DatagramKey = (u32, u64, u32, u32);

/// Trace into memory and print the stories as they settle.
pub async fn run(args: DiagnoseArgs, verbose: u8) -> anyhow::Result<()> {
    let config = PipelineConfig {
        probe: args.probe.into(),
        ring_size: RING_SIZE_DEFAULT,
        sockets: args.sockets.clone(),
        no_default_sockets: false,
        receivers: Vec::new(),
        containers: args.containers.into(),
        // The backlog filters, not the pipeline: a story also tells what its unit's processes
        // sent for other units.
        units: Vec::new(),
        count: None,
        duration: args.duration,
        unit_changes: true,
        verbose: verbose > 0,
    };
    let sink = LiveSink {
        clock: Clock::now(),
        backlog: Backlog::new(args.filter.clone()),
    };
    eprintln!(
        "observer: diagnosing live; each unit's story is printed when its start settles (Ctrl-C to stop)"
    );
    pipeline::run(&config, Box::new(sink)).await
}

/// What live diagnose holds of a session, and when to print what. Pure: records and the
/// time in, story text out.
pub struct Backlog {
    filter: ReplayFilter,
    session: Option<Record>,
    /// unit → the records its stories are made of, in the order they came.
    units: BTreeMap<String, Kept>,
    /// Each story's settings, from every change seen (its records may be gone).
    settings: BTreeMap<Key, Settings>,
    /// How many of the attempts a story's kept records make are printed. By story, not by
    /// unit name as at first: two managers' units of one name no longer share a count.
    printed: BTreeMap<Key, usize>,
    /// unit → when to print its story.
    due: BTreeMap<String, i128>,
}

#[derive(Default)]
struct Kept {
    records: Vec<Record>,
    /// How many were left by the last look for what is no longer needed.
    after_look: usize,
}

impl Backlog {
    pub fn new(filter: ReplayFilter) -> Self {
        Self {
            filter,
            session: None,
            units: BTreeMap::new(),
            settings: BTreeMap::new(),
            printed: BTreeMap::new(),
            due: BTreeMap::new(),
        }
    }

    /// A record of the pipeline at `now` (wall clock): kept with each unit whose stories it
    /// can be part of.
    pub fn push(&mut self, r: Record, now: i128) {
        let units: Vec<String> = match &r {
            Record::Session(_) => {
                self.session = Some(r);
                return;
            }
            Record::Unit(u) => {
                let c = &u.change;
                if self.filter.keeps_unit(Some(&c.unit)) {
                    let key = (u.manager.clone(), c.unit.clone());
                    self.settings.entry(key).or_default().take(c);
                    if settles(c) {
                        self.due.insert(c.unit.clone(), now + SETTLE_NS);
                    }
                }
                vec![c.unit.clone()]
            }
            Record::Event(e) => e
                .unit
                .iter()
                .chain(story::sender_unit(e))
                .cloned()
                .collect(),
            // A late read belongs with the event it corrects, which is kept with its unit.
            Record::Delivery(d) => d.correction.unit.iter().cloned().collect(),
            _ => return,
        };
        let units: Vec<String> = units
            .into_iter()
            .filter(|u| self.filter.keeps_unit(Some(u)))
            .collect();
        if let Some((last, rest)) = units.split_last() {
            for u in rest {
                self.keep(u, r.clone());
            }
            self.keep(last, r);
        }
    }

    fn keep(&mut self, unit: &str, r: Record) {
        let kept = self.units.entry(unit.to_owned()).or_default();
        kept.records.push(r);
        if kept.records.len() >= LOOK_AT.max(2 * kept.after_look) {
            let stories = self.stories_of(unit);
            self.forget(unit, &stories);
        }
    }

    /// The stories of the units whose attempts settled a while before `now`.
    pub fn due(&mut self, now: i128) -> String {
        let units: Vec<String> = self
            .due
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(u, _)| u.clone())
            .collect();
        self.tell(&units, true)
    }

    /// At the end: every unit with an attempt not printed yet, settled or not.
    pub fn finish(&mut self) -> String {
        let mut open = Vec::new();
        for unit in self.units.keys() {
            for s in self.stories_of(unit) {
                if s.attempts.len() > self.printed_of(&s)
                    && s.attempts.iter().any(|a| a.start_ns.is_some())
                {
                    open.push(unit.clone());
                }
            }
        }
        for u in open {
            self.due.insert(u, 0);
        }
        let units: Vec<String> = self.due.keys().cloned().collect();
        self.tell(&units, false)
    }

    /// How many records are kept, all units together.
    pub fn kept(&self) -> usize {
        self.units.values().map(|k| k.records.len()).sum()
    }

    /// The attempts of these units' stories not printed yet (only those settled, with
    /// `only_settled`), in the order of the stories' (manager, unit).
    fn tell(&mut self, units: &[String], only_settled: bool) -> String {
        let by_unit: Vec<(&String, Vec<Story>)> =
            units.iter().map(|u| (u, self.stories_of(u))).collect();
        let mut all: Vec<&Story> = by_unit.iter().flat_map(|(_, s)| s).collect();
        all.sort_by(|a, b| (&a.manager, &a.unit).cmp(&(&b.manager, &b.unit)));
        let mut out = String::new();
        for s in all {
            let done = self.printed_of(s);
            let settled = s
                .attempts
                .iter()
                .rposition(|a| !only_settled || matches!(a.phase, Phase::Running | Phase::Ended))
                .map_or(0, |i| i + 1);
            let new: Vec<_> = s.attempts.iter().take(settled).skip(done).collect();
            if !new.is_empty() {
                out += &render(s, &new, &self.filter.zone());
                self.printed
                    .insert((s.manager.clone(), s.unit.clone()), settled);
            }
        }
        for (u, stories) in &by_unit {
            self.due.remove(*u);
            self.forget(u, stories);
        }
        out
    }

    fn printed_of(&self, s: &Story) -> usize {
        let key = (s.manager.clone(), s.unit.clone());
        self.printed.get(&key).copied().unwrap_or(0)
    }

    /// A unit's stories from its kept records, with the settings of all it went through.
    fn stories_of(&self, unit: &str) -> Vec<Story> {
        let Some(kept) = self.units.get(unit) else {
            return Vec::new();
        };
        let records: Vec<&Record> = self.session.iter().chain(&kept.records).collect();
        let mut stories = story::stories(&records);
        stories.retain(|s| s.unit == unit);
        for s in &mut stories {
            let key = (s.manager.clone(), s.unit.clone());
            s.settings = self.settings.get(&key).cloned().unwrap_or_default();
        }
        stories
    }

    /// Drops a unit's records that only printed attempts needed. `stories` are the unit's
    /// stories from its records as they are now.
    fn forget(&mut self, unit: &str, stories: &[Story]) {
        let Some(kept) = self.units.get_mut(unit) else {
            return;
        };
        // Story sources count the session record first.
        let first = usize::from(self.session.is_some());
        let mut keep = vec![false; kept.records.len()];
        for s in stories {
            let key = (s.manager.clone(), s.unit.clone());
            let printed = self.printed.get(&key).copied().unwrap_or(0);
            let printed = printed.min(s.attempts.len());
            for k in printed.saturating_sub(1)..s.attempts.len() {
                let sources = s.sources_of(k);
                // The last printed attempt: the change that settled it is all later attempts
                // need of it (it makes them split the same way); unsettled, it stays whole.
                match story::settled_by(&s.attempts[k]).filter(|_| k + 1 == printed) {
                    Some(i) => keep[sources[i] - first] = true,
                    None => sources.iter().for_each(|&i| keep[i - first] = true),
                }
            }
            if printed > 0 {
                self.printed.insert(key, 1);
            }
        }
        // A late read is needed as long as the event it corrects is.
        let events: BTreeSet<DatagramKey> = kept
            .records
            .iter()
            .zip(&keep)
            .filter_map(|(r, k)| match r {
                Record::Event(e) if *k => Some(datagram(&e.event)),
                _ => None,
            })
            .collect();
        for (r, k) in kept.records.iter().zip(keep.iter_mut()) {
            if let Record::Delivery(d) = r {
                *k = events.contains(&datagram(&d.correction.event));
            }
        }
        let mut keep = keep.into_iter();
        kept.records.retain(|_| keep.next().unwrap_or(false));
        kept.after_look = kept.records.len();
    }
}

fn datagram(e: &Event) -> DatagramKey {
    (e.watch_id, e.mono_ns, e.tid, e.msg_index)
}

/// A change after which an attempt may have settled (its story is printed a moment later).
fn settles(c: &UnitChange) -> bool {
    c.sub_state
        .as_deref()
        .is_some_and(|s| matches!(s, "running" | "exited" | "failed" | "dead" | "auto-restart"))
}

struct LiveSink {
    clock: Clock,
    backlog: Backlog,
}

impl LiveSink {
    fn now(&self) -> i128 {
        self.clock.wall_ns(crate::manager::monotonic_ns())
    }

    fn push(&mut self, r: Record) {
        let now = self.now();
        self.backlog.push(r, now);
    }
}

/// Stories as they settle, escaped (they quote managers and senders), the lines kept.
fn print(text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut out = crate::stdout::Stdout;
    out.write_all(crate::safe_text::lines(text).as_bytes())?;
    out.flush()
}

impl Sink for LiveSink {
    fn start(&mut self, start: &Start<'_>) -> std::io::Result<()> {
        self.push(Record::Session(session(start, &self.clock)));
        Ok(())
    }

    fn event(&mut self, shown: &Shown<'_>) -> std::io::Result<()> {
        self.push(Record::event(shown.event, shown.judgement));
        Ok(())
    }

    fn unit(&mut self, manager: &str, c: &UnitChange) -> std::io::Result<()> {
        self.push(Record::unit(manager, c.clone(), &self.clock));
        Ok(())
    }

    fn delivery(&mut self, corrected: &Corrected<'_>) -> std::io::Result<()> {
        self.push(Record::delivery(corrected.correction));
        Ok(())
    }

    fn drops(&mut self, new: u64, total: u64) -> std::io::Result<()> {
        eprintln!(
            "observer: {new} datagrams dropped (ring buffer full, {total} in all): stories may miss them"
        );
        Ok(())
    }

    fn finish(&mut self, _: &Summary) -> std::io::Result<()> {
        print(&self.backlog.finish())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let now = self.now();
        print(&self.backlog.due(now))
    }
}

#[cfg(test)]
mod tests;
