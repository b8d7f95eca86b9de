//! `observer record`: events, unit changes and drops go to a recording file (see recording/).
//! A rotated file starts with the session record and a snapshot of every unit seen so far, so
//! each file can be replayed and diagnosed on its own.

use std::collections::BTreeMap;

use super::{Corrected, Shown, Sink, Start, Summary};
use crate::{
    decode::Clock,
    manager::UnitChange,
    recording::{
        records::{Record, Session, SocketInfo},
        writer::Writer,
    },
};

pub struct RecordingSink {
    writer: Writer,
    clock: Clock,
    session: Option<Session>,
    /// Latest known state per (manager, unit): merged changes, re-written after a rotation.
    units: BTreeMap<(String, String), UnitChange>,
    /// Whether the last write failed (warn once per streak, not per record).
    failing: bool,
}

impl RecordingSink {
    pub fn new(writer: Writer) -> Self {
        Self {
            writer,
            clock: Clock::now(),
            session: None,
            units: BTreeMap::new(),
            failing: false,
        }
    }

    fn put(&mut self, r: &Record) -> std::io::Result<()> {
        if self.writer.due() {
            self.rotate()?;
        }
        match self.writer.write(r) {
            Ok(()) => {
                if self.failing {
                    eprintln!(
                        "observer: recording again ({} records lost)",
                        self.writer.lost
                    );
                }
                self.failing = false;
            }
            Err(e) => {
                if !self.failing {
                    eprintln!(
                        "observer: cannot write the recording: {e}; records are lost until it works again"
                    );
                }
                self.failing = true;
            }
        }
        Ok(())
    }

    /// A new file, begun with the session (and when this file was begun: readers order files
    /// by it) and the units known so far. A rotation that fails ends the recording with that
    /// error: writing on would grow the file past --max-size, one error per record.
    fn rotate(&mut self) -> std::io::Result<()> {
        if let Err(e) = self.writer.rotate() {
            return Err(std::io::Error::other(format!(
                "rotating the recording: {e:#}; stopped, so as not to grow it past --max-size"
            )));
        }
        let mut head = Vec::new();
        if let Some(s) = &self.session {
            let now = crate::manager::monotonic_ns();
            head.push(Record::Session(Session {
                file_started: Some(crate::wall_time::rfc3339_utc(self.clock.wall_ns(now))),
                ..s.clone()
            }));
        }
        for ((manager, _), c) in &self.units {
            let snapshot = UnitChange {
                full: true,
                ..c.clone()
            };
            head.push(Record::unit(manager, snapshot, &self.clock));
        }
        for r in &head {
            let _ = self.writer.write(r);
        }
        Ok(())
    }
}

/// Folds a change into what is known about the unit.
fn merge(into: &mut UnitChange, c: &UnitChange) {
    macro_rules! take {
        ($($f:ident),*) => { $( if c.$f.is_some() { into.$f = c.$f.clone(); } )* };
    }
    take!(
        active_state,
        sub_state,
        result,
        main_pid,
        control_pid,
        status_text,
        n_restarts,
        exec_main_code,
        exec_main_status,
        service_type,
        notify_access,
        timeout_start_usec,
        watchdog_usec
    );
    into.mono_ns = into.mono_ns.max(c.mono_ns);
    into.job = None;
}

pub fn session(start: &Start<'_>, clock: &Clock) -> Session {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let now = crate::manager::monotonic_ns();
    Session {
        started: crate::wall_time::rfc3339_utc(clock.wall_ns(now)),
        file_started: None,
        host: read("/proc/sys/kernel/hostname"),
        kernel: read("/proc/sys/kernel/osrelease"),
        observer_version: env!("CARGO_PKG_VERSION").into(),
        strategy: start.strategy.clone(),
        hooks: start.hooks.to_vec(),
        watched: start
            .watched
            .iter()
            .map(|w| SocketInfo {
                id: w.id,
                owner: w.owner.label().to_owned(),
                address: w.address.clone(),
            })
            .collect(),
        realtime_minus_monotonic_ns: clock.wall_ns(0),
    }
}

impl Sink for RecordingSink {
    fn start(&mut self, start: &Start<'_>) -> std::io::Result<()> {
        let s = session(start, &self.clock);
        self.put(&Record::Session(s.clone()))?;
        self.session = Some(s);
        self.writer.sync();
        Ok(())
    }

    fn event(&mut self, shown: &Shown<'_>) -> std::io::Result<()> {
        self.put(&Record::event(shown.event, shown.judgement))
    }

    fn unit(&mut self, manager: &str, c: &UnitChange) -> std::io::Result<()> {
        let known = self
            .units
            .entry((manager.to_owned(), c.unit.clone()))
            .or_insert_with(|| UnitChange {
                unit: c.unit.clone(),
                ..Default::default()
            });
        merge(known, c);
        self.put(&Record::unit(manager, c.clone(), &self.clock))
    }

    fn delivery(&mut self, corrected: &Corrected<'_>) -> std::io::Result<()> {
        self.put(&Record::delivery(corrected.correction))
    }

    fn drops(&mut self, new: u64, total: u64) -> std::io::Result<()> {
        self.put(&Record::Drops { new, total })
    }

    fn finish(&mut self, s: &Summary) -> std::io::Result<()> {
        self.put(&Record::End {
            events: s.events,
            dropped: s.dropped,
            untracked: s.untracked,
            malformed: s.malformed,
        })?;
        self.writer.sync();
        if self.writer.lost > 0 {
            eprintln!(
                "observer: {} records could not be written to the recording",
                self.writer.lost
            );
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.maybe_sync();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
