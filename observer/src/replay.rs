//! `observer replay`: a recording through the same views as `trace`. Each event is judged
//! again from the inputs recorded with it, so a recording made on a server reads the same on a
//! laptop with no root, BPF or systemd; a verdict that differs from the one given live says so.

use std::{collections::BTreeMap, io::IsTerminal as _};

use observer_common::SocketKey;

use crate::{
    cli::{ReplayArgs, ReplayFilter},
    judge::{self, Judgement},
    recording::{
        reader::{self, Damage},
        records::{EventRecord, Record, Session, kind_name},
    },
    sink::{Sink, Start, Summary},
    trace::glob_match,
    watch::{SocketOwner, Watched},
};

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let mut files = reader::open_all(&args.files, args.filter.force);
    // Nothing to show: the reason alone, no empty table before it.
    nothing_readable(files.opened, &files.damage)?;
    let mut sink = crate::trace::stdout_sink(args.json, args.filter.zone());
    // A bar only while the output goes elsewhere: on the same terminal it would cut the table.
    let bar = if std::io::stdout().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        crate::progress::byte_bar(files.progress().1, "replaying")
    };
    let summary = replay(
        || {
            let r = files.next_record().map(|(_, _, r)| r);
            bar.set_position(files.progress().0);
            r
        },
        &args.filter,
        sink.as_mut(),
    )?;
    bar.finish_and_clear();
    eprintln!(
        "observer: {} events shown, {} dropped while recording",
        summary.events, summary.dropped
    );
    report_damage(&files.damage, files.unknown)
}

/// Feeds the records `next` gives that pass `filter` to `sink`, one at a time.
pub fn replay(
    mut next: impl FnMut() -> Option<Record>,
    filter: &ReplayFilter,
    sink: &mut dyn Sink,
) -> anyhow::Result<Summary> {
    let mut watched = BTreeMap::new();
    let mut started = false;
    let mut summary = Summary {
        events: 0,
        dropped: 0,
        untracked: 0,
        malformed: 0,
    };
    let mut drops = Dropped::default();
    while let Some(record) = next() {
        match &record {
            Record::Session(s) => {
                drops.session(&s.started);
                watched = sockets(s);
                if !started {
                    let list: Vec<Watched> = watched.values().cloned().collect();
                    sink.start(&Start {
                        strategy: s.strategy.clone(),
                        hooks: &s.hooks,
                        refused: &[],
                        watched: &list,
                    })?;
                    started = true;
                }
            }
            Record::Event(e) if filter.keeps(e) => {
                sink.event(&e.event, &judgement_of(e), &watched)?;
                summary.events += 1;
            }
            Record::Event(_) => {}
            Record::Unit(u) if filter.in_time(u.wall_ns) => sink.unit(&u.manager, &u.change)?,
            Record::Unit(_) => {}
            Record::Delivery(d) if filter.keeps_unit(d.correction.unit.as_deref()) => {
                sink.delivery(&d.correction(), &watched)?
            }
            Record::Delivery(_) => {}
            Record::Drops { new, total } => {
                drops.seen(*total);
                sink.drops(*new, *total)?;
            }
            Record::End {
                dropped,
                untracked,
                malformed,
                ..
            } => {
                drops.ended(*dropped);
                summary.untracked += untracked;
                summary.malformed += malformed;
            }
        }
    }
    summary.dropped = drops.total();
    sink.finish(&summary)?;
    Ok(summary)
}

/// Datagrams the recorder lost, per session (a session's files share its `started`). A drops
/// record carries the session's running total and its end record the final one, so a session
/// whose early files were rotated away still counts every loss its later files know of.
#[derive(Default)]
struct Dropped {
    current: String,
    /// session start → the most any of its records says.
    by_session: BTreeMap<String, u64>,
}

impl Dropped {
    fn session(&mut self, started: &str) {
        self.current = started.to_owned();
    }

    fn seen(&mut self, total: u64) {
        let n = self.by_session.entry(self.current.clone()).or_default();
        *n = (*n).max(total);
    }

    fn ended(&mut self, dropped: u64) {
        self.seen(dropped);
    }

    fn total(&self) -> u64 {
        self.by_session.values().sum()
    }
}

/// When no file could be read at all: every reason but the last printed, the last the error.
pub fn nothing_readable(opened: usize, damage: &[Damage]) -> anyhow::Result<()> {
    if opened > 0 {
        return Ok(());
    }
    report_damage(damage, 0)?;
    anyhow::bail!("no recording to read")
}

/// Prints every damage line but the last, which becomes the error (so each is one line);
/// the exit status then says the recording was not read whole.
pub fn report_damage(damage: &[Damage], unknown: u64) -> anyhow::Result<()> {
    if unknown > 0 {
        eprintln!(
            "observer: skipped {unknown} records of a kind this observer does not know (written by a newer one)"
        );
    }
    let Some((last, rest)) = damage.split_last() else {
        return Ok(());
    };
    for d in rest {
        eprintln!(
            "observer: error: {}",
            crate::safe_text::text(&d.to_string())
        );
    }
    Err(anyhow::anyhow!("{last}"))
}

impl ReplayFilter {
    pub fn in_time(&self, wall_ns: i128) -> bool {
        self.since.is_none_or(|t| wall_ns >= t.wall_ns(self.utc))
            && self.until.is_none_or(|t| wall_ns <= t.wall_ns(self.utc))
    }

    /// The zone this command shows times in: local, or UTC with `--utc`.
    pub fn zone(&self) -> crate::wall_time::Zone {
        crate::wall_time::Zone::from_utc_flag(self.utc)
    }

    pub fn keeps_unit(&self, unit: Option<&str>) -> bool {
        self.units.is_empty() || unit.is_some_and(|u| self.units.iter().any(|g| glob_match(g, u)))
    }

    pub fn keeps(&self, e: &EventRecord) -> bool {
        self.in_time(e.event.wall_ns)
            && (self.pids.is_empty() || self.pids.contains(&e.event.pid))
            && self.keeps_unit(e.unit.as_deref())
    }
}

/// The judgement of a recorded event: judged again where it has a verdict's inputs.
pub fn judgement_of(r: &EventRecord) -> Judgement {
    let mut delivery = r.delivery.clone();
    delivery.read_mono_ns = r.read_mono_ns;
    let Some(inputs) = &r.inputs else {
        return Judgement {
            unit: r.unit.clone(),
            outcome: r.outcome,
            verdict: None,
            note: r.note.clone(),
            inputs: None,
            delivery,
            sender_pid: None,
        };
    };
    let mut j = judge::rejudge(&r.event, r.unit.clone(), inputs);
    j.note = r.note.clone();
    j.delivery = delivery;
    if let Some(v) = j.verdict.as_mut() {
        let now = kind_name(v.kind);
        if r.kind.as_deref().is_some_and(|k| k != now) {
            v.caveats.push(format!(
                "judged {} when recorded; this observer's rules say {now}",
                r.kind.as_deref().unwrap_or("-")
            ));
        }
    }
    j
}

/// The session's sockets, for the views' SOCKET column.
fn sockets(s: &Session) -> BTreeMap<u32, Watched> {
    s.watched
        .iter()
        .map(|w| {
            (
                w.id,
                Watched {
                    id: w.id,
                    owner: SocketOwner::from_label(&w.owner),
                    address: w.address.clone(),
                    key: SocketKey {
                        ino: 0,
                        dev: 0,
                        _pad: 0,
                    },
                    path_keys: Vec::new(),
                    manager: None,
                    pidns_ino: None,
                    trust: None,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
