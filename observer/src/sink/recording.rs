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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        judge::Judgement,
        recording::{
            reader,
            records::tests::sample_event,
            writer::{Rotation, Writer},
        },
    };

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("observer-rec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn start(sink: &mut RecordingSink) {
        sink.start(&Start {
            strategy: "tracepoint".into(),
            hooks: &[],
            refused: &[],
            watched: &[],
        })
        .unwrap();
    }

    /// FILE.1 cannot be made (a directory is in its way): the first record past --max-size
    /// ends the recording with one error, and the file does not grow past it.
    #[test]
    fn a_failed_rotation_stops_the_recording_with_one_error() {
        let d = dir("rotfail");
        let path = d.join("notify.rec");
        std::fs::create_dir_all(d.join("notify.rec.1/in-the-way")).unwrap();
        let rotation = Rotation {
            max_size: Some(4096),
            max_age: None,
            keep: 1,
        };
        let mut sink = RecordingSink::new(Writer::create(&path, rotation, Duration::MAX).unwrap());
        start(&mut sink);
        let (ev, j) = (sample_event(), Judgement::default());
        let mut written = 0;
        let err = loop {
            match sink.event(&Shown::unknown_socket(&ev, &j)) {
                Ok(()) => written += 1,
                Err(e) => break e.to_string(),
            }
            assert!(written < 100, "never rotated");
        };
        assert!(err.starts_with("rotating the recording: "), "{err}");
        assert!(
            err.ends_with("stopped, so as not to grow it past --max-size"),
            "{err}"
        );
        let size = std::fs::metadata(&path).unwrap().len();
        let one = crate::recording::to_body(&Record::event(&ev, &j))
            .unwrap()
            .len() as u64
            + 12;
        assert!(size < 4096 + one, "{size}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Each rotated file says when it was begun, so readers put FILE* in time order.
    #[test]
    fn rotated_files_carry_their_own_start() {
        let d = dir("rotstart");
        let path = d.join("notify.rec");
        let rotation = Rotation {
            max_size: Some(4096),
            max_age: None,
            keep: 5,
        };
        let mut sink = RecordingSink::new(Writer::create(&path, rotation, Duration::MAX).unwrap());
        start(&mut sink);
        let (mut ev, j) = (sample_event(), Judgement::default());
        for i in 0..20 {
            ev.pid = i;
            sink.event(&Shown::unknown_socket(&ev, &j)).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        let sessions = |p: &std::path::Path| {
            let mut r = reader::Reading::default();
            reader::read_file(p, false, &mut r).unwrap();
            r.records
                .into_iter()
                .filter_map(|(_, _, r)| match r {
                    Record::Session(s) => Some(s),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(d.join("notify.rec.2").exists(), "{files:?}");
        let oldest = (1..=5)
            .map(|n| d.join(format!("notify.rec.{n}")))
            .rfind(|p| p.exists())
            .unwrap();
        let (first, rotated) = (sessions(&oldest), sessions(&path));
        assert!(first[0].file_started.is_none(), "the session's first file");
        assert_eq!(rotated.len(), 1);
        assert_eq!(rotated[0].started, first[0].started, "one session");
        let begun = rotated[0].file_started.clone().unwrap();
        assert!(
            begun > first[0].started,
            "{begun} after {}",
            first[0].started
        );
        // Listed the way a shell glob lists them, they are read oldest first.
        let mut paths: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        let pids: Vec<u32> = reader::read_all(&paths, false)
            .records
            .into_iter()
            .filter_map(|(_, _, r)| match r {
                Record::Event(e) => Some(e.event.pid),
                _ => None,
            })
            .collect();
        assert_eq!(pids, (0..20).collect::<Vec<_>>(), "{files:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn record_refuses_symlinks_and_fifos_at_its_path() {
        let d = dir("special");
        let rotation = Rotation {
            max_size: None,
            max_age: None,
            keep: 1,
        };
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        let link = d.join("link.rec");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = Writer::create(&link, rotation, Duration::MAX)
            .err()
            .unwrap();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        let fifo = d.join("fifo.rec");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = Writer::create(&fifo, rotation, Duration::MAX)
            .err()
            .unwrap();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert!(link.is_symlink() && !d.join("link.rec.1").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
