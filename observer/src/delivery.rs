//! Pipeline step between decode and judge: pairs each datagram sent to a watched socket with the
//! read of it by the socket's reader (the manager), as the kernel side saw both. The socket's
//! queue is FIFO, so a read is the oldest unread send to the same socket with the same bytes
//! that was sent before the read returned.
//!
//! Timing (trace.rs holds every event JUDGE_AFTER before judging it): a send to a socket whose
//! reader is captured is held until it has been read, at most HOLD_UNREAD; then it is shown with
//! `delivered: unknown` and, when the read comes later, a correction follows (JSON `delivery`
//! record, a table line). Sends never read are reported `delivered: false` when the reader goes
//! away (exits, or its socket disappears) and when the observer stops.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    time::Duration,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::decode::{Creds, Event};

/// How long a send to a socket whose reader is captured is held, unread, before it is shown.
pub const HOLD_UNREAD: Duration = Duration::from_secs(1);
/// How long a read waits for its send's record (the two come from different CPUs' ring
/// writes); a read still unmatched after this was of a datagram sent before the observer started.
const READ_WAIT_NS: u64 = 2_000_000_000;
/// Sends shown unread and still awaited, per socket; older ones are given up (delivered unknown).
const MAX_AWAITED: usize = 4096;

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub delivered: Delivered,
    /// From the start of the send to the manager's read, in microseconds.
    pub queue_delay_us: Option<u64>,
    /// SCM_CREDENTIALS as the manager received them (pid in its PID namespace; 0 when the sender
    /// is not visible there).
    pub manager_creds: Option<Creds>,
    /// CLOCK_MONOTONIC nanoseconds when the read returned (recordings keep it separately).
    #[serde(skip)]
    pub read_mono_ns: Option<u64>,
    /// The reading process (host PID).
    pub reader_pid: Option<u32>,
    /// The manager also received an SCM_PIDFD for the sender.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pidfd: bool,
    /// Why `delivered` is not simply true.
    pub note: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub event: Event,
    pub unit: Option<String>,
    pub delivery: Delivery,
}

/// (watch id, send start, tid, index in a sendmmsg): one datagram.
type Key = (u32, u64, u32, u32);

fn key(ev: &Event) -> Key {
    (ev.watch_id, ev.mono_ns, ev.tid, ev.msg_index)
}

enum State {
    /// Not shown yet.
    Held,
    /// Shown unread; `Some`: a correction is due when it is read.
    Shown(Option<Box<(Event, Option<String>)>>),
}

struct Sent {
    key: Key,
    payload: Vec<u8>,
    len: u32,
    state: State,
}

struct Read {
    mono_ns: u64,
    payload: Vec<u8>,
    len: u32,
    creds: Option<Creds>,
    reader: u32,
    pidfd: bool,
}

#[derive(Default)]
struct Queue {
    /// Sends not read yet, in the order they were sent.
    sent: VecDeque<Sent>,
    /// Reads whose send has not been seen yet.
    reads: VecDeque<Read>,
}

#[derive(Default)]
pub struct Pairing {
    queues: HashMap<u32, Queue>,
    /// Sockets whose reader's reads are captured.
    readers: BTreeSet<u32>,
    /// Held sends already read.
    decided: HashMap<Key, Delivery>,
    /// Reads that matched no send (sent before the observer started).
    pub unmatched_reads: u64,
}

impl Pairing {
    /// The sockets whose reads are captured now. Sends to a socket that lost its reader are
    /// never read: held ones are decided, shown ones corrected.
    pub fn set_readers(&mut self, watch_ids: BTreeSet<u32>) -> Vec<Correction> {
        let lost: Vec<u32> = self.readers.difference(&watch_ids).copied().collect();
        self.readers = watch_ids;
        let mut out = Vec::new();
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
        self.queues
            .entry(ev.watch_id)
            .or_default()
            .sent
            .push_back(Sent {
                key: key(ev),
                payload: ev.payload.clone(),
                len: ev.len,
                state: State::Held,
            });
        self.pair(ev.watch_id)
    }

    /// A read by a socket's reader was decoded.
    pub fn read(&mut self, ev: &Event) -> Vec<Correction> {
        let q = self.queues.entry(ev.watch_id).or_default();
        q.reads.push_back(Read {
            mono_ns: ev.mono_ns,
            payload: ev.payload.clone(),
            len: ev.len,
            creds: ev.creds,
            reader: ev.pid,
            pidfd: ev.flags & observer_common::flags::HAS_PIDFD != 0,
        });
        let out = self.pair(ev.watch_id);
        // Reads left over long after they happened had no send we saw.
        let q = self.queues.get_mut(&ev.watch_id).expect("just added");
        let before = q.reads.len();
        q.reads
            .retain(|r| ev.mono_ns.saturating_sub(r.mono_ns) < READ_WAIT_NS);
        self.unmatched_reads += (before - q.reads.len()) as u64;
        out
    }

    /// Whether `ev` should wait longer before it is shown: its reader may still read it.
    pub fn hold(&self, ev: &Event, now_ns: u64) -> bool {
        now_ns.saturating_sub(ev.mono_ns) < HOLD_UNREAD.as_nanos() as u64
            && self.queues.get(&ev.watch_id).is_some_and(|q| {
                q.sent
                    .iter()
                    .any(|s| s.key == key(ev) && matches!(s.state, State::Held))
            })
    }

    /// What is known about `ev` as it is shown. `stopping`: the observer is about to exit, so an
    /// unread datagram will not be read while it watches.
    pub fn take(&mut self, ev: &Event, stopping: bool) -> Delivery {
        let told = self.peek(ev, stopping);
        let k = key(ev);
        if ev.result < 0 || self.decided.remove(&k).is_some() {
            return told;
        }
        if let Some(q) = self.queues.get_mut(&ev.watch_id)
            && let Some(i) = q.sent.iter().position(|s| s.key == k)
        {
            if stopping {
                q.sent.remove(i);
            } else {
                q.sent[i].state = State::Shown(None);
            }
        }
        told
    }

    /// What `take()` will tell about `ev`, leaving it where it is (its judge may not be ready).
    pub fn peek(&self, ev: &Event, stopping: bool) -> Delivery {
        if ev.result < 0 {
            return Delivery::not(Delivered::No, "the send failed");
        }
        let k = key(ev);
        if let Some(d) = self.decided.get(&k) {
            return d.clone();
        }
        let queued = self
            .queues
            .get(&ev.watch_id)
            .is_some_and(|q| q.sent.iter().any(|s| s.key == k));
        if !queued {
            return Delivery::not(Delivered::Unknown, "the socket's reader is not captured");
        }
        if stopping {
            return Delivery::not(Delivered::No, "still unread when the observer stopped");
        }
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
        if let Some(s) = q.sent.iter_mut().find(|s| s.key == key(ev)) {
            s.state = State::Shown(Some(Box::new((ev.clone(), unit))));
        }
        let awaited = q
            .sent
            .iter()
            .filter(|s| matches!(s.state, State::Shown(_)))
            .count();
        if awaited > MAX_AWAITED
            && let Some(i) = q
                .sent
                .iter()
                .position(|s| matches!(s.state, State::Shown(_)))
        {
            q.sent.remove(i);
        }
    }

    /// The observer stops: every datagram shown unread stays unread.
    pub fn finish(&mut self) -> Vec<Correction> {
        let ids: Vec<u32> = self.queues.keys().copied().collect();
        let note = "still unread when the observer stopped";
        ids.into_iter()
            .flat_map(|id| self.give_up(id, Delivered::No, note))
            .collect()
    }

    /// Ends the wait for every unread send to socket `id`.
    fn give_up(&mut self, id: u32, delivered: Delivered, note: &str) -> Vec<Correction> {
        let Some(q) = self.queues.remove(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for s in q.sent {
            match s.state {
                State::Held => {
                    self.decided.insert(s.key, Delivery::not(delivered, note));
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

    /// Matches socket `id`'s reads, oldest first, with its unread sends.
    fn pair(&mut self, id: u32) -> Vec<Correction> {
        let Some(q) = self.queues.get_mut(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut r = 0;
        while r < q.reads.len() {
            let read = &q.reads[r];
            let Some(i) = q.sent.iter().position(|s| {
                s.key.1 <= read.mono_ns && same_bytes(&s.payload, s.len, &read.payload, read.len)
            }) else {
                r += 1;
                continue;
            };
            let read = q.reads.remove(r).expect("index in range");
            let sent = q.sent.remove(i).expect("index in range");
            let delivery = Delivery {
                delivered: Delivered::Yes,
                queue_delay_us: Some(read.mono_ns.saturating_sub(sent.key.1) / 1000),
                manager_creds: read.creds,
                read_mono_ns: Some(read.mono_ns),
                reader_pid: Some(read.reader),
                pidfd: read.pidfd,
                note: None,
            };
            match sent.state {
                State::Held => {
                    self.decided.insert(sent.key, delivery);
                }
                State::Shown(Some(shown)) => out.push(Correction {
                    event: shown.0,
                    unit: shown.1,
                    delivery,
                }),
                State::Shown(None) => {}
            }
        }
        out
    }
}

/// The same datagram: the same length and the same bytes as far as both copies go (each is cut
/// at PAYLOAD_MAX, the reader's may be cut at its buffer).
fn same_bytes(a: &[u8], a_len: u32, b: &[u8], b_len: u32) -> bool {
    let n = a.len().min(b.len());
    a_len == b_len && a[..n] == b[..n]
}

#[cfg(test)]
mod tests;
