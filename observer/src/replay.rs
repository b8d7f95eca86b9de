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
    let mut sink = crate::trace::stdout_sink(args.json);
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
        self.since.is_none_or(|t| wall_ns >= t) && self.until.is_none_or(|t| wall_ns <= t)
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
mod tests {
    use super::*;
    use crate::{
        judge::{Outcome, VerdictInputs},
        notify::NotifyAccess,
        recording::records::tests::sample_event,
        verdict::{ExecMain, Sender, ServiceState, SystemdVersion, UnitState},
    };

    /// A send of more iovecs than the kernel side walks is never judged as if complete: the
    /// verdict says its capture was incomplete, with the datagram's real length.
    #[test]
    fn an_iov_truncated_send_is_judged_with_a_caveat() {
        let mut ev = sample_event();
        ev.payload = b"X_A=1\n".repeat(32);
        ev.len = 241;
        ev.result = 241;
        ev.flags = observer_common::flags::IOV_TRUNCATED | observer_common::flags::HAS_CREDS;
        let inputs = VerdictInputs {
            sender: Sender {
                pid: Some(56),
                uid: 0,
                gid: 0,
                alive: None,
                exited: false,
            },
            unit_state: Some(UnitState::new("tb.service", NotifyAccess::All)),
            version: SystemdVersion(252),
        };
        let j = judge::rejudge(&ev, Some("tb.service".into()), &inputs);
        let caveats = j.verdict.unwrap().caveats;
        assert!(
            caveats
                .iter()
                .any(|c| c.starts_with("payload capture incomplete (192 of 241 bytes)")),
            "{caveats:?}"
        );
    }

    /// A session's early files were rotated away: its end record still counts every loss, and
    /// two sessions' losses add up (not "0 dropped" when the recording says otherwise).
    #[test]
    fn drops_come_from_the_end_records_too() {
        let session = |started: &str| {
            Record::Session(Session {
                started: started.into(),
                file_started: Some("2026-11-24T04:00:00.000000Z".into()),
                host: "h".into(),
                kernel: "k".into(),
                observer_version: "0".into(),
                strategy: "tracepoint".into(),
                hooks: vec![],
                watched: vec![],
                realtime_minus_monotonic_ns: 0,
            })
        };
        let end = |dropped| Record::End {
            events: 0,
            dropped,
            untracked: 0,
            malformed: 0,
        };
        let records = vec![
            // The last file of a session whose drops were all in files since removed.
            session("2026-11-24T03:00:00.000000Z"),
            end(446_437),
            // Another session, read whole: its drops records and its end agree.
            session("2026-11-24T05:00:00.000000Z"),
            Record::Drops { new: 3, total: 3 },
            Record::Drops { new: 2, total: 5 },
            end(5),
        ];
        let mut sink = crate::sink::table::TableSink::new(Vec::new());
        let mut it = records.into_iter();
        let summary = replay(|| it.next(), &ReplayFilter::default(), &mut sink).unwrap();
        assert_eq!(summary.dropped, 446_442);
    }

    /// systemd-notify as the main process, exited before the observer learnt its MainPID: the
    /// recorded ExecMain* make replay judge it accepted, as live did; a recording from before
    /// ExecMain* were kept still reads, and is judged as it was then.
    #[test]
    fn exec_main_in_recordings_old_and_new() {
        let mut ev = sample_event();
        ev.payload = b"READY=1".to_vec();
        ev.len = 7;
        ev.flags = 0;
        ev.fds = 0;
        ev.result = 7;
        let mut st = UnitState::new("tb.service", NotifyAccess::Main);
        st.state = Some(ServiceState::Start);
        st.exec_main = Some(ExecMain {
            pid: 56,
            start_us: ev.mono_ns / 1000 - 5_000,
            exit_us: ev.mono_ns / 1000 + 5_000,
        });
        let inputs = VerdictInputs {
            sender: Sender {
                pid: Some(56),
                uid: 0,
                gid: 0,
                alive: None,
                exited: false,
            },
            unit_state: Some(st),
            version: SystemdVersion(252),
        };
        let live = judge::rejudge(&ev, Some("tb.service".into()), &inputs);
        assert_eq!(live.outcome, Outcome::Accepted);
        let rec = Record::event(&ev, &live);
        let json = String::from_utf8(crate::recording::to_body(&rec).unwrap()).unwrap();
        assert!(json.contains("\"exec_main\":{\"pid\":56"), "{json}");
        let Some(Record::Event(back)) = crate::recording::from_body(json.as_bytes()) else {
            panic!("not an event: {json}");
        };
        let again = judgement_of(&back);
        assert_eq!(again.outcome, Outcome::Accepted);
        assert!(again.verdict.unwrap().caveats.is_empty());

        // Written by an observer that did not keep ExecMain*: judged (and re-judged) without it.
        let old = json
            .replace(
                &format!(
                    ",\"exec_main\":{{\"pid\":56,\"start_us\":{},\"exit_us\":{}}}",
                    ev.mono_ns / 1000 - 5_000,
                    ev.mono_ns / 1000 + 5_000
                ),
                "",
            )
            .replace("\"kind\":\"accepted\"", "\"kind\":\"main_pid_unknown\"")
            .replace("\"outcome\":\"accepted\"", "\"outcome\":\"rejected\"");
        assert!(
            !old.contains("exec_main") && old.contains("main_pid_unknown"),
            "{old}"
        );
        let Some(Record::Event(back)) = crate::recording::from_body(old.as_bytes()) else {
            panic!("not an event: {old}");
        };
        let again = judgement_of(&back);
        assert_eq!(again.outcome, Outcome::Rejected);
        let v = again.verdict.unwrap();
        assert_eq!(v.kind, crate::verdict::Kind::MainPidUnknown);
        assert!(v.caveats.is_empty(), "{:?}", v.caveats);
    }
}
