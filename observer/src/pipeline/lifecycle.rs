//! A datagram's life in the collector, as types: sent (decoded from the ring) → [`Held`] →
//! [`Judged`] → shown (the sink's `Shown`) → corrected (the pairing's `Correction`, once its
//! manager reads it or never will). Each step consumes the one before, so none is skipped or
//! taken out of turn: a datagram is judged with the bytes its manager read, taken from the
//! pairing only once judged, and awaited for its read only once shown.

use std::{collections::BTreeMap, time::Duration};

use crate::{
    decode::Event,
    judge::{Judge, Judgement},
    link::Patience,
    pairing::{Correction, Delivered, Pairing},
    sink::{Shown, Sink, SocketView},
    watch::{self, Watched},
};

/// How long an event waits before it is judged: the manager's D-Bus signals for what happened
/// up to the send (a state change, a new MainPID) arrive a few milliseconds after it, and the
/// verdict must see the unit as it was when the datagram was sent.
const JUDGE_AFTER: Duration = Duration::from_millis(150);

/// Sent and decoded, not judged yet: it waits JUDGE_AFTER, then (bounded) for its manager to
/// read it and for its manager's answer.
pub struct Held {
    event: Event,
}

impl Held {
    /// A send from the ring, told to the pairing first (which hands back the corrections of
    /// earlier datagrams that settles).
    pub fn sent(event: Event, pairing: &mut Pairing) -> (Self, Vec<Correction>) {
        let late = pairing.sent(&event);
        (Self { event }, late)
    }

    /// Whether it has waited JUDGE_AFTER at `now` (monotonic ns).
    pub fn ripe(&self, now: u64) -> bool {
        now.saturating_sub(self.event.mono_ns) >= JUDGE_AFTER.as_nanos() as u64
    }

    /// The watched socket it went to.
    pub fn watch_id(&self) -> u32 {
        self.event.watch_id
    }

    /// Settles which watched socket it went to: one matched by its address string alone may be
    /// any socket of that path, told apart by the sender's namespace (watch.rs).
    pub fn place(&mut self, by_id: &BTreeMap<u32, Watched>) {
        let ev = &mut self.event;
        if !ev.matched_by_identity {
            ev.watch_id = watch::disambiguate(ev.watch_id, &ev.dest, ev.pidns_ino, by_id.values());
        }
    }

    /// Judged, unless it is to wait longer: for its manager's read (bounded by the pairing;
    /// not when `all`) or its manager's answer (bounded by link.rs). It is judged as it will be
    /// shown: with the bytes and credentials the manager read (pairing.rs).
    pub fn judge(
        mut self,
        pairing: &mut Pairing,
        judge: &mut Judge,
        socket: Option<&Watched>,
        patience: Patience,
        all: bool,
        now: u64,
    ) -> Judging {
        if !all && pairing.hold(&self.event, now) {
            return Judging::Waits(self);
        }
        let (delivery, shown) = pairing.peek(&self.event, all);
        let Some(judgement) = judge.judge_delivered(&shown, socket, delivery, patience) else {
            return Judging::Waits(self);
        };
        let delivery = pairing.take(&mut self.event, all);
        let unread =
            delivery.delivered == Delivered::Unknown && pairing.has_reader(self.event.watch_id);
        Judging::Done(Judged {
            event: self.event,
            judgement,
            unread,
        })
    }
}

/// What [`Held::judge`] came to. (Matched at once, never kept: boxing the larger variant would
/// cost an allocation per datagram for nothing.)
#[allow(clippy::large_enum_variant)]
pub enum Judging {
    Done(Judged),
    /// Not yet: it waits, and its socket's later datagrams wait behind it.
    Waits(Held),
}

/// Judged, and taken from the pairing: to be shown (or left out by `-u`).
pub struct Judged {
    event: Event,
    judgement: Judgement,
    /// Its manager has not read it yet, and its reads are captured: a correction follows.
    unread: bool,
}

impl Judged {
    /// The unit it was judged for.
    pub fn unit(&self) -> Option<&str> {
        self.judgement.unit.as_deref()
    }

    /// Shows it. One its manager has not read yet is awaited from here on: the pairing
    /// corrects it when the read comes, or when it never will.
    pub fn show(
        self,
        sink: &mut dyn Sink,
        socket: SocketView<'_>,
        pairing: &mut Pairing,
    ) -> std::io::Result<()> {
        if self.unread {
            pairing.await_read(&self.event, self.judgement.unit.clone());
        }
        sink.event(&Shown {
            event: &self.event,
            judgement: &self.judgement,
            socket,
        })
    }
}
