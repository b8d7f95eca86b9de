//! Pipeline step between decode and judge: pairs each datagram sent to a watched socket with the
//! read of it by the socket's reader (the manager), as the kernel side saw both (the rules:
//! pairing/queue.rs). The socket's queue is FIFO and one thread's sends are queued in the order
//! it made them, so a read is of some thread's oldest unread send; bytes tell threads apart.
//!
//! The bytes can differ: the sender's buffer is read where the send's result is seen, after the
//! kernel copied it, so a sender that rewrites it during the send shows other bytes than it
//! sent; and a capture can be incomplete (more iovecs than the kernel side walks). A read that
//! found no send with its bytes within SETTLE_NS is taken for the one of its length it can be
//! of, and the event is then shown and judged by the bytes the manager read, the sender's kept
//! beside them (`sender_payload`). (A read the observer missed, lost with the ring full, can
//! make its thread's next datagrams of the same length look rewritten for up to STALE_NS: they
//! are flagged so, never shown as the sender's.)
//!
//! Timing (the collector holds every event JUDGE_AFTER before judging it: pipeline/lifecycle.rs): a send to a socket whose
//! reader is captured is held until it has been read, at most HOLD_UNREAD; then it is shown with
//! `delivered: unknown` and, when the read comes later, a correction follows (JSON `delivery`
//! record, a table line). Sends never read are reported `delivered: false` when the reader goes
//! away (exits, or its socket disappears) and when the observer stops.

use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use queue::{Key, Pair, Queue, Read, Sent, State, key};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::decode::{Creds, Event};

/// How long a send to a socket whose reader is captured is held, unread, before it is shown.
pub const HOLD_UNREAD: Duration = Duration::from_secs(1);
/// How long a read waits for its send's record (the two come from different CPUs' ring
/// writes); a read still unmatched after this was of a datagram sent before the observer started.
const READ_WAIT_NS: u64 = 2_000_000_000;
/// Sends shown unread and still awaited, per socket; older ones are given up (delivered unknown).
const MAX_AWAITED: usize = 4096;
/// How long a read waits for a send with its very bytes before it is taken for the oldest unread
/// send of its length (bytes rewritten during the send). Below the collector's JUDGE_AFTER, so a read
/// that comes at once is settled before its send is judged.
const SETTLE_NS: u64 = 100_000_000;
/// How long an unread send holds back its thread's later ones (see `Queue::candidates`).
const STALE_NS: u64 = HOLD_UNREAD.as_nanos() as u64;

/// Whether the manager read the datagram: JSON `true`, `false`, or `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivered {
    Yes,
    No,
    #[default]
    Unknown,
}

impl<'de> Deserialize<'de> for Delivered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Self::Yes,
            serde_json::Value::Bool(false) => Self::No,
            _ => Self::Unknown,
        })
    }
}

impl Serialize for Delivered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Yes => s.serialize_bool(true),
            Self::No => s.serialize_bool(false),
            Self::Unknown => s.serialize_str("unknown"),
        }
    }
}

/// What became of one datagram on the manager's side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: Delivered,
    /// From the start of the send to the manager's read, in microseconds.
    pub queue_delay_us: Option<u64>,
    /// SCM_CREDENTIALS as the manager received them (pid in its PID namespace; 0 when the sender
    /// is not visible there).
    pub manager_creds: Option<Creds>,
    /// CLOCK_MONOTONIC nanoseconds when the read returned (recordings keep it separately).
    pub read_mono_ns: Option<u64>,
    /// The reading process (host PID).
    pub reader_pid: Option<u32>,
    /// The manager also received an SCM_PIDFD for the sender.
    pub pidfd: bool,
    /// Whether the process the credentials name was still there (not reaped) when the manager
    /// took the datagram; None where the read hook cannot tell.
    pub sender_alive: Option<bool>,
    /// Not reaped, but it had exited already (a zombie, or exiting) when the manager took the
    /// datagram: its parent may reap it before the manager looks its unit up.
    pub sender_exited: bool,
    /// Why `delivered` is not simply true, or how the bytes read differ from the sender's.
    pub note: Option<String>,
    /// The sender's buffer as captured, when the manager read other bytes: the event is then
    /// shown and judged by the bytes read (its payload) and these are kept beside them.
    pub sender_payload: Option<Vec<u8>>,
}

impl Delivery {
    fn not(delivered: Delivered, note: &str) -> Self {
        Self {
            delivered,
            note: Some(note.into()),
            ..Default::default()
        }
    }
}

/// A datagram shown before it was read, now read (or given up): its event, its unit as shown,
/// and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub event: Event,
    pub unit: Option<String>,
    pub delivery: Delivery,
}

/// What a read's flags say of the sender's process when the manager took the datagram.
fn sender_alive(flags: u32) -> Option<bool> {
    use observer_common::flags::{SENDER_LIVENESS, SENDER_REAPED};
    (flags & SENDER_LIVENESS != 0).then_some(flags & SENDER_REAPED == 0)
}

/// Whether a read's flags say the sender, not reaped, had exited (a zombie, or exiting).
fn sender_exited(flags: u32) -> bool {
    sender_alive(flags) == Some(true) && flags & observer_common::flags::SENDER_EXITED != 0
}

#[derive(Default)]
pub struct Pairing {
    queues: HashMap<u32, Queue>,
    /// Sockets whose reader's reads are captured.
    readers: BTreeSet<u32>,
    /// Held sends already read, with the bytes read when they are not the sender's.
    decided: HashMap<Key, (Delivery, Option<Vec<u8>>)>,
    /// Reads that matched no send (sent before the observer started).
    pub unmatched_reads: u64,
    /// Corrections made while holding (see `hold`), handed out with the next ones.
    late: Vec<Correction>,
}

impl Pairing {
    /// The sockets whose reads are captured now. Sends to a socket that lost its reader are
    /// never read: held ones are decided, shown ones corrected.
    pub fn set_readers(&mut self, watch_ids: BTreeSet<u32>) -> Vec<Correction> {
        let lost: Vec<u32> = self.readers.difference(&watch_ids).copied().collect();
        self.readers = watch_ids;
        let mut out = std::mem::take(&mut self.late);
        for id in lost {
            let note = "never read: the socket's reader exited or closed it first";
            out.extend(self.give_up(id, Delivered::No, note));
        }
        out
    }

    /// Whether reads of this socket are captured.
    pub fn has_reader(&self, watch_id: u32) -> bool {
        self.readers.contains(&watch_id)
    }

    /// A send was decoded (before it is shown).
    pub fn sent(&mut self, ev: &Event) -> Vec<Correction> {
        if ev.result < 0 || !self.readers.contains(&ev.watch_id) {
            return Vec::new();
        }
        let q = self.queues.entry(ev.watch_id).or_default();
        q.push_send(Sent::new(ev));
        let pairs = q.resolve(None);
        let mut out = std::mem::take(&mut self.late);
        out.extend(self.matched_all(pairs));
        out
    }

    /// A read by a socket's reader was decoded.
    pub fn read(&mut self, ev: &Event) -> Vec<Correction> {
        let q = self.queues.entry(ev.watch_id).or_default();
        q.push_read(Read {
            mono_ns: ev.mono_ns,
            payload: ev.payload.clone(),
            len: ev.len,
            creds: ev.creds,
            reader: ev.pid,
            pidfd: ev.flags & observer_common::flags::HAS_PIDFD != 0,
            sender_alive: sender_alive(ev.flags),
            sender_exited: sender_exited(ev.flags),
        });
        let pairs = q.resolve(None);
        // Reads left over long after they happened had no send we saw.
        self.unmatched_reads += q.prune(ev.mono_ns, READ_WAIT_NS);
        let mut out = std::mem::take(&mut self.late);
        out.extend(self.matched_all(pairs));
        out
    }

    /// Whether `ev` should wait longer before it is shown: its reader may still read it.
    pub fn hold(&mut self, ev: &Event, now_ns: u64) -> bool {
        let late = self.settle(ev.watch_id, now_ns);
        self.late.extend(late);
        now_ns.saturating_sub(ev.mono_ns) < HOLD_UNREAD.as_nanos() as u64
            && self.queues.get(&ev.watch_id).is_some_and(|q| {
                q.find(&key(ev))
                    .is_some_and(|s| matches!(s.state, State::Held))
            })
    }

    /// What `take()` will tell about `ev`, and `ev` as it will be shown (with the bytes the
    /// manager read, see [`adopt_read`]), leaving the datagram where it is: its judge may not be
    /// ready yet (link.rs), and the collector asks again.
    pub fn peek(&mut self, ev: &Event, stopping: bool) -> (Delivery, Event) {
        let mut shown = ev.clone();
        if ev.result < 0 {
            return (Delivery::not(Delivered::No, "the send failed"), shown);
        }
        if stopping {
            // Due anyway, and once done a second time finds nothing new.
            let late = self.settle(ev.watch_id, u64::MAX);
            self.late.extend(late);
        }
        let k = key(ev);
        if let Some((d, read)) = self.decided.get(&k) {
            let mut d = d.clone();
            if let Some(read) = read {
                adopt_read(&mut shown, &mut d, read.clone());
            }
            return (d, shown);
        }
        let queued = self
            .queues
            .get(&ev.watch_id)
            .is_some_and(|q| q.find(&k).is_some());
        let told = if !queued {
            Delivery::not(Delivered::Unknown, "the socket's reader is not captured")
        } else if stopping {
            Delivery::not(Delivered::No, "still unread when the observer stopped")
        } else {
            Self::unread_yet()
        };
        (told, shown)
    }

    /// What is known about `ev` as it is shown (what `peek()` told), now taken: a read decided
    /// is forgotten, an unread datagram is marked shown (or dropped when stopping). When the
    /// manager read other bytes than the sender's capture shows, `ev` takes them.
    pub fn take(&mut self, ev: &mut Event, stopping: bool) -> Delivery {
        let (told, shown) = self.peek(ev, stopping);
        *ev = shown;
        let k = key(ev);
        if ev.result < 0 || self.decided.remove(&k).is_some() {
            return told;
        }
        if let Some(q) = self.queues.get_mut(&ev.watch_id) {
            if stopping {
                q.remove(&k);
            } else if let Some(s) = q.find_mut(&k) {
                s.state = State::Shown(None);
            }
        }
        told
    }

    /// The delivery of a datagram shown before its manager read it.
    fn unread_yet() -> Delivery {
        let note = format!(
            "not read within {} s of sending; a delivery record follows when it is",
            HOLD_UNREAD.as_secs_f32()
        );
        Delivery::not(Delivered::Unknown, &note)
    }

    /// `ev` was shown unread (after `take`): report it again when it is read or given up.
    pub fn await_read(&mut self, ev: &Event, unit: Option<String>) {
        let Some(q) = self.queues.get_mut(&ev.watch_id) else {
            return;
        };
        if let Some(s) = q.find_mut(&key(ev)) {
            s.state = State::Shown(Some(Box::new((ev.clone(), unit))));
        }
        if q.awaited() > MAX_AWAITED {
            q.drop_oldest_awaited();
        }
    }

    /// The observer stops: every datagram shown unread stays unread (reads waiting for their
    /// send are settled first).
    pub fn finish(&mut self) -> Vec<Correction> {
        let ids: Vec<u32> = self.queues.keys().copied().collect();
        let note = "still unread when the observer stopped";
        let mut out = std::mem::take(&mut self.late);
        for id in ids {
            out.extend(self.settle(id, u64::MAX));
            out.extend(self.give_up(id, Delivered::No, note));
        }
        out
    }

    /// Ends the wait for every unread send to socket `id`.
    fn give_up(&mut self, id: u32, delivered: Delivered, note: &str) -> Vec<Correction> {
        let Some(mut q) = self.queues.remove(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for s in q.take_sends() {
            match s.state {
                State::Held => {
                    self.decided
                        .insert(s.key, (Delivery::not(delivered, note), None));
                }
                State::Shown(Some(shown)) => out.push(Correction {
                    event: shown.0,
                    unit: shown.1,
                    delivery: Delivery::not(delivered, note),
                }),
                State::Shown(None) => {}
            }
        }
        out
    }

    /// Pairs what socket `id`'s reads can be paired with as of `now_ns`, reads that waited
    /// SETTLE_NS with sends of other bytes too.
    fn settle(&mut self, id: u32, now_ns: u64) -> Vec<Correction> {
        let pairs = match self.queues.get_mut(&id) {
            Some(q) => q.resolve(Some(now_ns)),
            None => Vec::new(),
        };
        self.matched_all(pairs)
    }

    fn matched_all(&mut self, pairs: Vec<Pair>) -> Vec<Correction> {
        pairs
            .into_iter()
            .filter_map(|(sent, read)| self.matched(sent, read))
            .collect()
    }

    /// `sent` was read by `read`: decided when held, a correction when shown and awaited.
    fn matched(&mut self, sent: Sent, read: Read) -> Option<Correction> {
        let delivery = Delivery {
            delivered: Delivered::Yes,
            queue_delay_us: Some(read.mono_ns.saturating_sub(sent.key.1) / 1000),
            manager_creds: read.creds,
            read_mono_ns: Some(read.mono_ns),
            reader_pid: Some(read.reader),
            pidfd: read.pidfd,
            sender_alive: read.sender_alive,
            sender_exited: read.sender_exited,
            note: None,
            sender_payload: None,
        };
        // Kept only when they tell something the sender's capture does not.
        let bytes = (read.payload != sent.payload).then_some(read.payload);
        match sent.state {
            State::Held => {
                self.decided.insert(sent.key, (delivery, bytes));
                None
            }
            State::Shown(Some(shown)) => {
                let (mut event, unit) = *shown;
                let mut delivery = delivery;
                if let Some(bytes) = bytes {
                    adopt_read(&mut event, &mut delivery, bytes);
                }
                Some(Correction {
                    event,
                    unit,
                    delivery,
                })
            }
            State::Shown(None) => None,
        }
    }
}

/// The event as the manager read it, when its read holds other bytes than the sender's capture.
/// A capture that stopped short (more iovecs than the kernel side walks, an unreadable part)
/// is completed from the read; bytes that differ (the sender rewrote its buffer during the send)
/// replace the captured ones, which are kept in `sender_payload`. Either way it says so.
pub fn adopt_read(ev: &mut Event, d: &mut Delivery, read: Vec<u8>) {
    use observer_common::flags::{IOV_TRUNCATED, PAYLOAD_UNREADABLE};
    // (fentry captures the last iovecs of a send that had too many, not the first: the bytes
    // read need not start with the captured ones.)
    if ev.truncated() && read.len() > ev.payload.len() {
        ev.payload = read;
        ev.flags &= !(IOV_TRUNCATED | PAYLOAD_UNREADABLE);
        d.note = Some(
            "payload completed from the manager's read: the sender's capture was incomplete".into(),
        );
        return;
    }
    if read.starts_with(&ev.payload) || ev.payload.starts_with(&read) {
        // One holds less than the other (a reader's smaller buffer): the longer one says more.
        if read.len() > ev.payload.len() {
            ev.payload = read;
        }
        return;
    }
    d.sender_payload = Some(std::mem::replace(&mut ev.payload, read));
    d.note = Some(
        "the manager read other bytes than the sender's buffer held when it was captured (rewritten during the send): shown and judged as read"
            .into(),
    );
}

mod queue;

#[cfg(test)]
mod tests;
