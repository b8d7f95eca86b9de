//! Step 3: ring-buffer bytes → [`Event`]. Validates every length against the record it came in,
//! so a malformed record is an error, never a panic or an out-of-bounds read.

use observer_common::{Hook, MAX_IOVECS, SUN_PATH_MAX, SendEvent, flags};
use thiserror::Error;

use crate::notify;

/// Credentials the sender attached with SCM_CREDENTIALS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Creds {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// One datagram as the collector knows it. Every view (table, JSON) renders this; recordings
/// store it as recording::schema::Event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// CLOCK_MONOTONIC nanoseconds when the send started.
    pub mono_ns: u64,
    /// Wall-clock nanoseconds since the Unix epoch.
    pub wall_ns: i128,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub cgroup_id: u64,
    /// Destination as the sender named it (`/path`, `@abstract`), or the peer's bound address
    /// for a connected socket.
    pub dest: String,
    pub watch_id: u32,
    pub matched_by_identity: bool,
    pub connected: bool,
    /// As the receiver would read it, up to PAYLOAD_MAX bytes (the manager's read of it when
    /// that was captured and differs: see pairing.rs).
    pub payload: Vec<u8>,
    /// Full datagram length (the bytes the send reports when the iovecs walked hold fewer).
    pub len: u32,
    pub creds: Option<Creds>,
    pub fds: u32,
    /// Bytes sent or -errno.
    pub result: i64,
    pub hook: Hook,
    pub msg_index: u32,
    pub flags: u32,
    /// The sender's pid in its innermost PID namespace, and that namespace's inode (0: unknown).
    pub ns_pid: u32,
    pub pidns_ino: u32,
    /// The sender's cgroup directory name and its parent's, at send time.
    pub cgroup_name: String,
    pub cgroup_parent_name: String,
}

impl Event {
    /// The payload is not the whole datagram: longer than PAYLOAD_MAX, or the kernel side said
    /// its copy stopped short (more iovecs than it walks, a part it could not read).
    pub fn truncated(&self) -> bool {
        self.len as usize > self.payload.len()
            || self.flags & (flags::IOV_TRUNCATED | flags::PAYLOAD_UNREADABLE) != 0
    }

    /// Why the copy stopped short, when the kernel side said so; None for a datagram that is only
    /// longer than PAYLOAD_MAX (`len` says that).
    pub fn capture_gap(&self) -> Option<String> {
        if self.flags & flags::IOV_TRUNCATED != 0 {
            Some(format!(
                "the send had more than the {MAX_IOVECS} iovecs captured"
            ))
        } else if self.flags & flags::PAYLOAD_UNREADABLE != 0 {
            Some("part of the sender's buffer could not be read".into())
        } else {
            None
        }
    }

    /// `[20 of 27 bytes: …]` before a summary, when the payload is not the whole datagram.
    pub fn incomplete_text(&self) -> Option<String> {
        self.truncated().then(|| {
            let why = self
                .capture_gap()
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            format!("[{} of {} bytes{why}]", self.payload.len(), self.len)
        })
    }

    pub fn fields(&self) -> Vec<notify::Field> {
        notify::parse(&self.payload)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("ring record of {0} bytes is shorter than an event header")]
    Short(usize),
    #[error("ring record claims {claimed} payload bytes but carries {carried}")]
    PayloadLength { claimed: u32, carried: usize },
    #[error("ring record has unknown hook id {0}")]
    Hook(u32),
}

/// Converts CLOCK_MONOTONIC nanoseconds to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    realtime_minus_monotonic_ns: i128,
}

impl Clock {
    pub fn now() -> Self {
        let read = |id| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: valid clock id and out pointer.
            unsafe { libc::clock_gettime(id, &mut ts) };
            ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
        };
        let mono = read(libc::CLOCK_MONOTONIC);
        let real = read(libc::CLOCK_REALTIME);
        Self {
            realtime_minus_monotonic_ns: real - mono,
        }
    }

    pub fn wall_ns(&self, mono_ns: u64) -> i128 {
        mono_ns as i128 + self.realtime_minus_monotonic_ns
    }
}

pub fn decode(record: &[u8], clock: &Clock) -> Result<Event, DecodeError> {
    let header_len = size_of::<SendEvent>();
    if record.len() < header_len {
        return Err(DecodeError::Short(record.len()));
    }
    // SAFETY: length checked above; SendEvent is plain data valid for any bytes;
    // read_unaligned copes with the ring's 8-byte alignment.
    let ev: SendEvent = unsafe { std::ptr::read_unaligned(record.as_ptr().cast()) };
    let payload = record
        .get(header_len..header_len + ev.payload_len as usize)
        .ok_or(DecodeError::PayloadLength {
            claimed: ev.payload_len,
            carried: record.len() - header_len,
        })?;
    let hook = Hook::try_from(ev.hook).map_err(DecodeError::Hook)?;
    Ok(Event {
        mono_ns: ev.ts_ns,
        wall_ns: clock.wall_ns(ev.ts_ns),
        pid: ev.tgid,
        tid: ev.tid,
        uid: ev.uid,
        gid: ev.gid,
        comm: comm(&ev.comm),
        cgroup_id: ev.cgroup_id,
        dest: address(&ev.addr, ev.addr_len),
        watch_id: ev.watch_id,
        matched_by_identity: ev.flags & flags::MATCH_IDENTITY != 0,
        connected: ev.flags & flags::CONNECTED != 0,
        payload: payload.to_vec(),
        len: datagram_len(&ev),
        creds: (ev.flags & flags::HAS_CREDS != 0).then_some(Creds {
            pid: ev.creds_pid,
            uid: ev.creds_uid,
            gid: ev.creds_gid,
        }),
        fds: ev.fds,
        result: ev.result,
        hook,
        msg_index: ev.msg_index,
        flags: ev.flags,
        ns_pid: ev.ns_tgid,
        pidns_ino: ev.pidns_ino,
        cgroup_name: comm(&ev.cgroup_name),
        cgroup_parent_name: comm(&ev.cgroup_parent_name),
    })
}

/// The datagram's length. The kernel side sums the iovecs it walks; when a send had more, what
/// the send itself reports (its bytes: every hook's result is this datagram's) is the length.
fn datagram_len(ev: &SendEvent) -> u32 {
    match u32::try_from(ev.result) {
        Ok(sent) if sent > ev.len => sent,
        _ => ev.len,
    }
}

fn comm(raw: &[u8]) -> String {
    let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    notify::escape(&raw[..end])
}

/// `sun_path` for display: a path up to its NUL, an abstract name as `@name` (its NULs escaped).
pub fn address(raw: &[u8; SUN_PATH_MAX], len: u32) -> String {
    let len = (len as usize).min(SUN_PATH_MAX);
    match raw[..len].split_first() {
        None => String::new(),
        Some((0, name)) => format!("@{}", notify::escape(name)),
        Some(_) => {
            let end = raw[..len].iter().position(|b| *b == 0).unwrap_or(len);
            notify::escape(&raw[..end])
        }
    }
}

#[cfg(test)]
mod tests;
