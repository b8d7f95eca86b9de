//! The maps that several files share or that userspace touches. Userspace fills `WATCHED_*`,
//! `PREFILTER` and `WATCH_GENERATION`, sets `COLLECTOR_ASLEEP`, and reads `EVENTS` and `STATS`.
//!
//! Not every map is here: `READERS` (userspace fills it) and `READING` live in receive.rs,
//! `LIVE` in pending.rs and `MMSG_CURSOR` in regs.rs, beside their only users. Load-time
//! globals live beside their readers too: `OFFSETS` and `TYPED_LOADS` (kernel.rs),
//! `ARGS_AT_RESULT` (pending.rs), `WAKEUP_BYTES` (emit.rs), `UNIX_READ_TEXT` (receive.rs).

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use observer_common::{PathKey, SocketKey, prefilter, stats, unwatched};

use crate::{datagram::Scratch, pending::Pending};

/// Datagrams to watched sockets, header + payload. Userspace resizes it (`--ring-size`).
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(4 * 1024 * 1024, 0);

/// Receiving sockets we watch, by identity → userspace's watch id.
#[map]
pub static WATCHED_SOCKETS: HashMap<SocketKey, u32> = HashMap::with_max_entries(1024, 0);

/// Bit sets in front of `WATCHED_SOCKETS` and `READERS` (see `observer_common::prefilter`).
#[map]
pub static PREFILTER: Array<prefilter::Bits> = Array::with_max_entries(prefilter::COUNT, 0);

/// Whether `x` may be in set `set` (a `prefilter` index): false means it is surely not. An array
/// lookup, which the verifier turns into an address computation: no helper call, no hashing.
#[inline(always)]
pub fn may_hold(set: u32, x: u64) -> bool {
    let (word, mask) = prefilter::bit(x);
    PREFILTER
        .get(set)
        .is_none_or(|bits| bits.get(word).is_none_or(|w| w & mask != 0))
}

/// Receiving sockets found not watched, tagged with the generation they were found in (see
/// `observer_common::unwatched` and unwatched.rs).
#[map]
pub static UNWATCHED: Array<u64> = Array::with_max_entries(unwatched::SLOTS, 0);

/// The watched sockets' generation: userspace moves it on after each change to them.
#[map]
pub static WATCH_GENERATION: Array<u64> = Array::with_max_entries(1, 0);

/// Destination addresses we watch, for sends that fail before the kernel resolves a receiver.
#[map]
pub static WATCHED_PATHS: HashMap<PathKey, u32> = HashMap::with_max_entries(1024, 0);

/// Per-thread state of a send in progress, keyed by tid. LRU so that a missed exit can never
/// fill it up for good.
#[map]
pub static PENDING: LruHashMap<u32, Pending> = LruHashMap::with_max_entries(8192, 0);

/// 1 while the collector sleeps with no timer (it found nothing to do for a while, see
/// observer/src/idle.rs): the next record wakes it, and sets this back to 0 (emit.rs, output()).
#[map]
pub static COLLECTOR_ASLEEP: Array<u64> = Array::with_max_entries(1, 0);

/// Per-CPU counters (see `observer_common::stats`), summed by userspace.
#[map]
pub static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(stats::COUNT, 0);

/// Per-CPU room to build an event: too big for the 512-byte BPF stack.
#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
pub fn count(index: u32) {
    if let Some(slot) = STATS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU touches it while we run.
        unsafe { *slot += 1 };
    }
}
