//! `observer replay`: a recording through the same views as `trace`. Each event is judged
//! again from the inputs recorded with it, so a recording made on a server reads the same on a
//! laptop with no root, BPF or systemd; a verdict that differs from the one given live says so.

use std::{collections::BTreeMap, io::IsTerminal as _};

use observer_common::SocketKey;

use crate::{
    cli::{ReplayArgs, ReplayFilter},
    recording::{
        reader::{self, nothing_readable, report_damage},
        records::{Record, Session},
        rejudge::judgement_of,
    },
    sink::{Corrected, Shown, Sink, SocketView, Start, Summary},
    watch::{SocketOwner, Watched},
};

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let mut files = reader::open_all(&args.files, args.filter.force);
    // Nothing to show: the reason alone, no empty table before it.
    nothing_readable(files.opened, &files.damage)?;
    let mut sink = crate::sink::stdout(args.json, args.filter.zone());
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
                sink.event(&Shown {
                    event: &e.event,
                    judgement: &judgement_of(e),
                    socket: SocketView::of(e.event.watch_id, watched.get(&e.event.watch_id)),
                })?;
                summary.events += 1;
            }
            Record::Event(_) => {}
            Record::Unit(u) if filter.in_time(u.wall_ns) => sink.unit(&u.manager, &u.change)?,
            Record::Unit(_) => {}
            Record::Delivery(d) if filter.keeps_unit(d.correction.unit.as_deref()) => {
                let c = d.correction();
                sink.delivery(&Corrected {
                    socket: SocketView::of(c.event.watch_id, watched.get(&c.event.watch_id)),
                    correction: &c,
                })?
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
