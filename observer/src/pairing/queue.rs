//! One watched socket's sends not read yet and reads not paired yet, and the rules that pair
//! them (see pairing.rs for why they are what they are):
//!
//! - the socket's queue is FIFO, and one thread's sends are queued in the order it made them:
//!   a read is of some thread's oldest unread send, sent before the read, by a thread whose
//!   last paired read came before it, from a process whose PID can be the one the reader got;
//! - reads are taken oldest first: a read still waiting keeps the sends it can be of from the
//!   reads after it;
//! - a read pairs with such a send of the same bytes at once; after SETTLE_NS with one of the
//!   same length (the sender's buffer changed while it was sent);
//! - a send unread STALE_NS before a read no longer holds its thread's next ones back (its read
//!   may have been missed: lost with a full ring).
//!
//! Sends are kept per thread, so finding a read's candidates costs the number of threads with
//! unread sends, not the number of sends: a burst of thousands pairs in linear time.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::{SETTLE_NS, STALE_NS};
use crate::decode::{Creds, Event};

/// (watch id, send start, tid, index in a sendmmsg): one datagram.
pub type Key = (u32, u64, u32, u32);

pub fn key(ev: &Event) -> Key {
    (ev.watch_id, ev.mono_ns, ev.tid, ev.msg_index)
}

pub enum State {
    /// Not shown yet.
    Held,
    /// Shown unread; `Some`: a correction is due when it is read.
    Shown(Option<Box<(Event, Option<String>)>>),
}

pub struct Sent {
    pub key: Key,
    pub payload: Vec<u8>,
    pub len: u32,
    pub state: State,
    /// PIDs the reader can find in the SCM_CREDENTIALS it gets: the sender's, in the host's
    /// and in its own PID namespace, and the one it attached itself (0: none).
    pids: [u32; 3],
}

impl Sent {
    pub fn new(ev: &Event) -> Sent {
        Sent {
            key: key(ev),
            payload: ev.payload.clone(),
            len: ev.len,
            state: State::Held,
            pids: [ev.pid, ev.ns_pid, ev.creds.map_or(0, |c| c.pid)],
        }
    }

    fn sent_at(&self) -> u64 {
        self.key.1
    }

    fn tid(&self) -> u32 {
        self.key.2
    }
}

pub struct Read {
    pub mono_ns: u64,
    pub payload: Vec<u8>,
    pub len: u32,
    pub creds: Option<Creds>,
    pub reader: u32,
    pub pidfd: bool,
    /// Whether the credentials' process was not yet reaped at the read (None: not known).
    pub sender_alive: Option<bool>,
    /// Alive, but it had exited already (a zombie, or exiting).
    pub sender_exited: bool,
}

/// A send and the read of it.
pub type Pair = (Sent, Read);

#[derive(Default)]
pub struct Queue {
    /// Sends not read yet: per sending thread, in the order it made them.
    threads: BTreeMap<u32, VecDeque<Sent>>,
    /// Reads not paired yet, in the order they were made.
    reads: VecDeque<Read>,
    /// Sending thread → when its last paired datagram was read.
    last_read: HashMap<u32, u64>,
}

impl Queue {
    pub fn push_send(&mut self, s: Sent) {
        self.threads.entry(s.tid()).or_default().push_back(s);
    }

    pub fn push_read(&mut self, r: Read) {
        self.reads.push_back(r);
    }

    pub fn find(&self, k: &Key) -> Option<&Sent> {
        self.threads.get(&k.2)?.iter().find(|s| s.key == *k)
    }

    pub fn find_mut(&mut self, k: &Key) -> Option<&mut Sent> {
        self.threads.get_mut(&k.2)?.iter_mut().find(|s| s.key == *k)
    }

    pub fn remove(&mut self, k: &Key) -> Option<Sent> {
        let q = self.threads.get_mut(&k.2)?;
        let i = q.iter().position(|s| s.key == *k)?;
        let s = q.remove(i);
        if q.is_empty() {
            self.threads.remove(&k.2);
        }
        s
    }

    /// Every unread send, the queue left empty of them.
    pub fn take_sends(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.threads)
            .into_values()
            .flatten()
            .collect()
    }

    /// Sends shown unread and still awaited.
    pub fn awaited(&self) -> usize {
        self.threads
            .values()
            .flatten()
            .filter(|s| matches!(s.state, State::Shown(_)))
            .count()
    }

    /// Stops awaiting the oldest send shown unread.
    pub fn drop_oldest_awaited(&mut self) {
        let oldest = self
            .threads
            .values()
            .flatten()
            .filter(|s| matches!(s.state, State::Shown(_)))
            .min_by_key(|s| s.sent_at())
            .map(|s| s.key);
        if let Some(k) = oldest {
            self.remove(&k);
        }
    }

    /// Forgets reads (and what they tell) `wait_ns` before `now_ns`: their sends were never
    /// seen. Returns how many reads went.
    pub fn prune(&mut self, now_ns: u64, wait_ns: u64) -> u64 {
        let before = self.reads.len();
        self.reads
            .retain(|r| now_ns.saturating_sub(r.mono_ns) < wait_ns);
        self.last_read
            .retain(|_, t| now_ns.saturating_sub(*t) < wait_ns);
        (before - self.reads.len()) as u64
    }

    /// Pairs every read that can be paired now, oldest first; with `now_ns`, reads that waited
    /// SETTLE_NS take a send of their length whose bytes differ.
    pub fn resolve(&mut self, now_ns: Option<u64>) -> Vec<Pair> {
        let mut out = Vec::new();
        // Sends a waiting read can be of: not for the reads after it.
        let mut reserved: Vec<Key> = Vec::new();
        let mut r = 0;
        while r < self.reads.len() {
            let read = &self.reads[r];
            let candidates: Vec<&Sent> = self
                .candidates(read)
                .into_iter()
                .filter(|s| !reserved.contains(&s.key))
                .collect();
            let exact = candidates
                .iter()
                .find(|s| same_bytes(&s.payload, s.len, &read.payload, read.len));
            let settled = now_ns.is_some_and(|now| now.saturating_sub(read.mono_ns) >= SETTLE_NS);
            let chosen = exact
                .or_else(|| {
                    settled
                        .then(|| candidates.iter().find(|s| s.len == read.len))
                        .flatten()
                })
                .map(|s| s.key);
            match chosen {
                Some(k) => {
                    let read = self.reads.remove(r).expect("index in range");
                    let sent = self.remove(&k).expect("a candidate is unread");
                    self.last_read.insert(sent.tid(), read.mono_ns);
                    out.push((sent, read));
                }
                None => {
                    reserved.extend(candidates.iter().map(|s| s.key));
                    r += 1;
                }
            }
        }
        out
    }

    /// The sends `read` can be of, oldest first (see the module comment).
    fn candidates(&self, read: &Read) -> Vec<&Sent> {
        let mut out = Vec::new();
        for (tid, sends) in &self.threads {
            if self.last_read.get(tid).is_some_and(|t| *t >= read.mono_ns) {
                continue;
            }
            for s in sends {
                if s.sent_at() > read.mono_ns {
                    break;
                }
                if creds_fit(s, read) {
                    out.push(s);
                }
                if read.mono_ns - s.sent_at() < STALE_NS {
                    break;
                }
            }
        }
        out.sort_by_key(|s| (s.sent_at(), s.key.3));
        out
    }
}

/// Whether the reader can have got `read`'s credentials from this send: the PID in them is the
/// sender's (as the host or its own PID namespace numbers it), the one it attached, or 0 (the
/// sender is not visible where the reader is). A sender in a nested PID namespace (or one not
/// known) may be seen by a number of a namespace between: then any PID fits, as it does when no
/// credentials were received.
fn creds_fit(s: &Sent, read: &Read) -> bool {
    let [host, own, _] = s.pids;
    match read.creds {
        None => true,
        Some(c) => c.pid == 0 || s.pids.contains(&c.pid) || host != own,
    }
}

/// The same datagram: the same length and the same bytes as far as both copies go (each is cut
/// at PAYLOAD_MAX, the reader's may be cut at its buffer).
fn same_bytes(a: &[u8], a_len: u32, b: &[u8], b_len: u32) -> bool {
    let n = a.len().min(b.len());
    a_len == b_len && a[..n] == b[..n]
}
