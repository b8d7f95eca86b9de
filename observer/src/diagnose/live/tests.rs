//! Live diagnose against the way it first worked (`Reference`: every record kept, every due
//! unit's story made from all of them): the same pushes and flushes must print the same text,
//! while the backlog keeps a number of records that does not grow with the session.

use super::*;
use crate::{
    diagnose::tests::{S, change, sent, session},
    pairing::{Correction, Delivered, Delivery},
    recording::records::DeliveryRecord,
};

/// The first live diagnose, kept as the reference: all records, all stories at each print.
struct Reference {
    records: Vec<Record>,
    filter: ReplayFilter,
    due: BTreeMap<String, i128>,
    printed: BTreeMap<String, usize>,
}

impl Reference {
    fn new(filter: ReplayFilter) -> Self {
        Self {
            records: Vec::new(),
            filter,
            due: BTreeMap::new(),
            printed: BTreeMap::new(),
        }
    }

    fn push(&mut self, r: Record, now: i128) {
        if let Record::Unit(u) = &r
            && settles(&u.change)
            && self.filter.keeps_unit(Some(&u.change.unit))
        {
            self.due.insert(u.change.unit.clone(), now + SETTLE_NS);
        }
        self.records.push(r);
    }

    /// `now`: the units due by then, settled attempts only; None: all due units, all attempts.
    fn print(&mut self, now: Option<i128>) -> String {
        let units: Vec<String> = self
            .due
            .iter()
            .filter(|(_, t)| now.is_none_or(|n| **t <= n))
            .map(|(u, _)| u.clone())
            .collect();
        if units.is_empty() {
            return String::new();
        }
        let records: Vec<&Record> = self.records.iter().collect();
        let mut out = String::new();
        for s in story::stories(&records) {
            if !units.contains(&s.unit) {
                continue;
            }
            let done = self.printed.get(&s.unit).copied().unwrap_or(0);
            let settled = s
                .attempts
                .iter()
                .rposition(|a| now.is_none() || matches!(a.phase, Phase::Running | Phase::Ended))
                .map_or(0, |i| i + 1);
            let new: Vec<_> = s.attempts.iter().take(settled).skip(done).collect();
            if !new.is_empty() {
                out += &render(&s, &new, &self.filter.zone());
                self.printed.insert(s.unit.clone(), settled);
            }
        }
        for u in units {
            self.due.remove(&u);
        }
        out
    }

    fn finish(&mut self) -> String {
        let records: Vec<&Record> = self.records.iter().collect();
        for s in story::stories(&records) {
            if self.filter.keeps_unit(Some(&s.unit))
                && s.attempts.len() > self.printed.get(&s.unit).copied().unwrap_or(0)
                && s.attempts.iter().any(|a| a.start_ns.is_some())
            {
                self.due.insert(s.unit.clone(), 0);
            }
        }
        self.print(None)
    }
}

const MS: i128 = 1_000_000;
/// How often the pipeline flushes when nothing comes.
const TICK: i128 = 100 * MS;

fn unit_change(unit: &str, at: i128, f: impl FnOnce(&mut UnitChange)) -> Record {
    change(at, |c| {
        c.unit = unit.into();
        f(c);
    })
}

/// A datagram found for `found_for`, sent by a process of `unit`'s cgroup.
fn datagram(unit: &str, found_for: &str, at: i128, pid: u32, payload: &str) -> Record {
    let Record::Event(mut e) = sent(at, pid, payload, payload.len() as i64) else {
        unreachable!("sent makes events")
    };
    e.unit = Some(found_for.into());
    e.event.cgroup_name = unit.into();
    Record::Event(e)
}

/// The manager's read of an event shown unread: `delay_us` after it was sent.
fn read_late(event: &Record, delay_us: u64) -> Record {
    let Record::Event(e) = event else {
        unreachable!("reads are of events")
    };
    Record::Delivery(Box::new(DeliveryRecord::new(&Correction {
        event: e.event.clone(),
        unit: e.unit.clone(),
        delivery: Delivery {
            delivered: Delivered::Yes,
            queue_delay_us: Some(delay_us),
            ..Default::default()
        },
    })))
}

fn snapshot(unit: &str, at: i128, timeout_s: u64) -> Record {
    unit_change(unit, at, |c| {
        c.full = true;
        c.service_type = Some("notify".into());
        c.notify_access = Some("main".into());
        c.timeout_start_usec = Some(timeout_s * 1_000_000);
        c.watchdog_usec = Some(2_000_000);
        c.sub_state = Some("dead".into());
    })
}

/// `cycles` start attempts of `unit` from `t0`, 10 s apart, as (when the pipeline hands a
/// record over, record): started then watchdog, start timeout, crash and auto-restart,
/// started then stopped with new settings; late judged events, late reads, pings while
/// running, and a message the unit's process sent that was found for `peer`.
fn attempts(unit: &str, peer: &str, t0: i128, cycles: usize) -> Vec<(i128, Record)> {
    let mut out = vec![(t0, snapshot(unit, t0, 3))];
    for c in 0..cycles {
        let t = t0 + S + c as i128 * 10 * S;
        let on_time = |r: Record| (record_wall(&r), r);
        out.push(on_time(unit_change(unit, t, |c| {
            c.job = Some("start queued".into())
        })));
        out.push(on_time(unit_change(unit, t + 10 * MS, |c| {
            c.sub_state = Some("start".into());
            c.main_pid = Some(55);
        })));
        out.push(on_time(datagram(unit, unit, t + 100 * MS, 56, "READY=1")));
        match c % 4 {
            1 => out.push(on_time(unit_change(unit, t + 3 * S + 200 * MS, |c| {
                c.sub_state = Some("failed".into());
                c.result = Some("timeout".into());
            }))),
            2 => out.push(on_time(unit_change(unit, t + S, |c| {
                c.sub_state = Some("auto-restart".into());
                c.result = Some("exit-code".into());
                c.exec_main_code = Some(1);
                c.exec_main_status = Some(3);
            }))),
            _ => {
                if c % 4 == 3 {
                    out.push(on_time(snapshot(unit, t + 20 * MS, 3 + c as u64)));
                }
                // READY=1 judged after the change it caused, and read by the manager after its
                // attempt was printed.
                let ready = datagram(unit, unit, t + 200 * MS, 55, "READY=1");
                out.push((t + 350 * MS, ready.clone()));
                out.push((t + 1200 * MS, read_late(&ready, 1_500_000)));
                out.push(on_time(unit_change(unit, t + 201 * MS, |c| {
                    c.sub_state = Some("running".into());
                })));
                for p in 2..7 {
                    out.push(on_time(datagram(unit, unit, t + p * S, 55, "WATCHDOG=1")));
                }
                out.push(on_time(datagram(
                    unit,
                    peer,
                    t + 3 * S + MS,
                    55,
                    "STATUS=lost",
                )));
                if c % 4 == 0 {
                    out.push(on_time(unit_change(unit, t + 8 * S, |c| {
                        c.sub_state = Some("failed".into());
                        c.result = Some("watchdog".into());
                    })));
                } else {
                    out.push(on_time(unit_change(unit, t + 8 * S, |c| {
                        c.sub_state = Some("dead".into());
                    })));
                }
            }
        }
    }
    out
}

/// Started, crashed and restarted before its start was printed: the second start's READY=1 is
/// read late while the first is printed, and that read must still be told with the second.
fn quick_restart(unit: &str, t: i128) -> Vec<(i128, Record)> {
    let ready = datagram(unit, unit, t + 450 * MS, 55, "READY=1");
    vec![
        (
            t,
            unit_change(unit, t, |c| c.job = Some("start queued".into())),
        ),
        (
            t + 10 * MS,
            unit_change(unit, t + 10 * MS, |c| {
                c.sub_state = Some("start".into());
                c.main_pid = Some(55);
            }),
        ),
        (
            t + 200 * MS,
            unit_change(unit, t + 200 * MS, |c| c.sub_state = Some("running".into())),
        ),
        (
            t + 300 * MS,
            unit_change(unit, t + 300 * MS, |c| {
                c.sub_state = Some("auto-restart".into());
                c.result = Some("signal".into());
            }),
        ),
        (
            t + 400 * MS,
            unit_change(unit, t + 400 * MS, |c| c.job = Some("start queued".into())),
        ),
        (
            t + 410 * MS,
            unit_change(unit, t + 410 * MS, |c| c.sub_state = Some("start".into())),
        ),
        (t + 600 * MS, ready.clone()),
        (t + 650 * MS, read_late(&ready, 150_000)),
        (
            t + S,
            unit_change(unit, t + S, |c| c.sub_state = Some("running".into())),
        ),
    ]
}

fn record_wall(r: &Record) -> i128 {
    match r {
        Record::Unit(u) => u.wall_ns,
        Record::Event(e) => e.event.wall_ns,
        _ => unreachable!("only units and events are handed over on time"),
    }
}

/// Live diagnose as the tests drive it: the backlog, or the reference.
trait Live {
    fn push(&mut self, r: Record, now: i128);
    fn due(&mut self, now: i128) -> String;
    fn finish(&mut self) -> String;
    fn kept(&self) -> usize;
}

impl Live for Backlog {
    fn push(&mut self, r: Record, now: i128) {
        Backlog::push(self, r, now);
    }
    fn due(&mut self, now: i128) -> String {
        Backlog::due(self, now)
    }
    fn finish(&mut self) -> String {
        Backlog::finish(self)
    }
    fn kept(&self) -> usize {
        Backlog::kept(self)
    }
}

impl Live for Reference {
    fn push(&mut self, r: Record, now: i128) {
        Reference::push(self, r, now);
    }
    fn due(&mut self, now: i128) -> String {
        self.print(Some(now))
    }
    fn finish(&mut self) -> String {
        Reference::finish(self)
    }
    fn kept(&self) -> usize {
        self.records.len()
    }
}

/// Hands the session record and then every record over in order, flushing after each and
/// every 100 ms as the pipeline does, then a while after the last and at the end; returns the
/// text and the most records kept at any time.
fn play(live: &mut dyn Live, script: &[(i128, Record)]) -> (String, usize) {
    let mut script = script.to_vec();
    script.sort_by_key(|(at, _)| *at);
    let (mut text, mut most) = (String::new(), 0);
    live.push(session(), 0);
    let end = script.last().map_or(0, |(at, _)| *at) + S;
    let mut tick = script.first().map_or(0, |(at, _)| *at);
    for (at, r) in script {
        while tick + TICK <= at {
            tick += TICK;
            text += &live.due(tick);
        }
        live.push(r, at);
        text += &live.due(at);
        most = most.max(live.kept());
    }
    text += &live.due(end);
    text += &live.finish();
    (text, most)
}

/// The backlog's text and the reference's.
fn both(filter: &ReplayFilter, script: &[(i128, Record)]) -> (String, String) {
    let (ours, _) = play(&mut Backlog::new(filter.clone()), script);
    let (theirs, _) = play(&mut Reference::new(filter.clone()), script);
    (ours, theirs)
}

fn conclusions(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("  ⇒ ")).count()
}

#[test]
fn prints_what_the_all_records_way_printed() {
    let mut script = attempts("foo.service", "bar.service", 0, 8);
    script.extend(attempts("bar.service", "foo.service", 2_500 * MS, 7));
    // Seen running, with no start: the observer started after it.
    script.push((
        50 * MS,
        unit_change("baz.service", 50 * MS, |c| {
            c.sub_state = Some("running".into())
        }),
    ));
    script.extend(attempts("baz.service", "foo.service", 4 * S, 3));
    script.extend(quick_restart("qux.service", 300 * S));
    // Left starting at the end: printed by finish.
    script.push((
        200 * S,
        unit_change("foo.service", 200 * S, |c| {
            c.job = Some("start queued".into())
        }),
    ));
    let (ours, theirs) = both(&ReplayFilter::default(), &script);
    assert_eq!(ours, theirs);
    // Each attempt once: 8 + 7 + 3 + 2 + 1 left starting, and each unit's first, seen before
    // its start (foo and bar idle, baz running).
    assert_eq!(conclusions(&ours), 24, "{ours}");
    assert!(ours.contains("start timed out"), "{ours}");
    assert!(ours.contains("still activating"), "{ours}");
    assert!(ours.contains("seen while running"), "{ours}");
    assert!(ours.contains("read by the manager 150 ms later"), "{ours}");
    assert!(ours.contains("TimeoutStartSec=10.0 s"), "{ours}");

    let only_bar = ReplayFilter {
        units: vec!["bar.*".into()],
        ..Default::default()
    };
    let (ours, theirs) = both(&only_bar, &script);
    assert_eq!(ours, theirs);
    assert_eq!(conclusions(&ours), 8, "{ours}");
}

#[test]
fn a_long_session_prints_the_same() {
    let cycles = 40;
    let mut script = attempts("foo.service", "bar.service", 0, cycles);
    script.extend(attempts("bar.service", "foo.service", 2_500 * MS, cycles));
    let (ours, theirs) = both(&ReplayFilter::default(), &script);
    assert_eq!(ours, theirs);
    assert_eq!(conclusions(&ours), 2 * cycles + 2);
}

#[test]
fn what_is_kept_does_not_grow_with_the_session() {
    let kept = |cycles| {
        let mut script = attempts("foo.service", "bar.service", 0, cycles);
        script.extend(attempts("bar.service", "foo.service", 2_500 * MS, cycles));
        let (text, most) = play(&mut Backlog::new(ReplayFilter::default()), &script);
        assert_eq!(conclusions(&text), 2 * cycles + 2);
        (most, script.len())
    };
    let (short, _) = kept(20);
    let (long, handed) = kept(400);
    assert!(
        long <= short,
        "kept {long} of {handed}, {short} in a short session"
    );
    // Two units, each at most a look's worth of records.
    assert!(long <= 2 * LOOK_AT, "kept {long} of {handed} records");
}

#[test]
fn a_long_run_after_its_start_is_not_kept() {
    let mut backlog = Backlog::new(ReplayFilter::default());
    backlog.push(session(), 0);
    let mut start = attempts("foo.service", "foo.service", 0, 1);
    start.sort_by_key(|(at, _)| *at);
    for (at, r) in start.into_iter().take_while(|(at, _)| *at < 2 * S + S / 2) {
        backlog.push(r, at);
    }
    assert!(backlog.due(10 * S).contains("started after"));
    let mut most = [0, 0];
    for p in 0..10_000 {
        let at = 10 * S + p * S;
        backlog.push(
            datagram("foo.service", "foo.service", at, 55, "WATCHDOG=1"),
            at,
        );
        assert_eq!(backlog.due(at), "");
        let half = &mut most[p as usize / 5_000];
        *half = (*half).max(backlog.kept());
    }
    assert!(most[1] <= most[0], "kept {most:?} in each half");
    assert!(most[1] <= LOOK_AT, "kept {most:?} in each half");
    // Its end is not told (that attempt was told when it started), nor kept.
    backlog.push(
        unit_change("foo.service", 20_000 * S, |c| {
            c.sub_state = Some("failed".into());
            c.result = Some("watchdog".into())
        }),
        20_000 * S,
    );
    assert_eq!(backlog.due(20_001 * S), "");
    assert_eq!(backlog.finish(), "");
    assert!(backlog.kept() <= LOOK_AT);
}
