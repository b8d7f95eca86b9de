//! Every map and every load-time global of the object, each saying who writes it. Userspace
//! names them (observer/src/capture/hook_table.rs lists which hook uses which; its test checks
//! that each is in the object); their key and value layouts are observer-common's.

use aya_ebpf::{
    Global,
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, RingBuf},
};
use observer_common::{
    Offsets, PathKey, SocketKey, UNIX_READ_FUNCS, faults, prefilter, stats, unwatched,
};

use crate::{datagram::Scratch, read::Reading, regs::MmsgCursor, send::pending::Pending};

// ---------------------------------------------------------------- load-time globals
// Set by userspace before load (`Capture::start`, `EbpfLoader::override_global`), constant
// after: the verifier sees their values.

/// Kernel struct offsets from the running kernel's BTF (Rust eBPF has no CO-RE); read through
/// `kernel::off!`. Written by: userspace (capture/offsets.rs).
#[unsafe(no_mangle)]
pub static OFFSETS: Global<Offsets> = Global::new(
    // SAFETY: `Offsets` is plain u32 fields, for which all zeros is a value.
    unsafe { core::mem::zeroed() },
);

/// 1 when the kernel has `bpf_skc_to_unix_sock` (≥ 5.16): the delivery hooks then find a
/// receiver's identity with `kernel::watched_receiver_typed`. Written by: userspace
/// (`strategy::typed_loads_usable`).
#[unsafe(no_mangle)]
pub static TYPED_LOADS: Global<u32> = Global::new(0);

/// 1 when sends are not recorded as they start: a send gets state only when it is delivered to
/// a watched socket (send/queued.rs), and its arguments are read where its result is seen, from
/// its msghdr (send/fentry.rs) or from the syscall registers (regs.rs); the many sends that
/// never concern a watched socket cost no map insert. Written by: userspace
/// (`Strategy::args_at_result`).
#[unsafe(no_mangle)]
pub static ARGS_AT_RESULT: Global<u32> = Global::new(0);

/// Wake the collector only once this much data waits in the ring: it drains on a timer
/// otherwise, so a burst costs one wakeup, not one per datagram. Written by: userspace (an
/// eighth of `--ring-size`).
#[unsafe(no_mangle)]
pub static WAKEUP_BYTES: Global<u64> = Global::new(256 * 1024);

/// `[start, end)` of the kernel functions that free, through consume_skb(), the datagram a unix
/// read took: skb_free_datagram() (where it calls consume_skb; x86 builds make that a tail
/// call, so the caller shows instead), __unix_dgram_recvmsg(), and unix_dgram_recvmsg() and
/// unix_seqpacket_recvmsg() in case the compiler inlined it. Zeros: tp_btf/consume_skb unused.
/// Written by: userspace, from /proc/kallsyms (capture/kallsyms.rs).
#[unsafe(no_mangle)]
pub static UNIX_READ_TEXT: Global<[u64; 2 * UNIX_READ_FUNCS]> =
    Global::new([0; 2 * UNIX_READ_FUNCS]);

// ---------------------------------------------------------------- userspace → kernel

/// Receiving sockets we watch, by identity → userspace's watch id. Written by: userspace
/// (`Capture::set_watched`, at every rescan).
#[map]
pub static WATCHED_SOCKETS: HashMap<SocketKey, u32> = HashMap::with_max_entries(1024, 0);

/// Destination addresses we watch, for sends that fail before the kernel resolves a receiver.
/// Written by: userspace (`Capture::set_watched`).
#[map]
pub static WATCHED_PATHS: HashMap<PathKey, u32> = HashMap::with_max_entries(1024, 0);

/// Processes (tgid) that read watched sockets: the managers, and `--receiver` ones. Written
/// by: userspace (`Capture::set_readers`).
#[map]
pub static READERS: HashMap<u32, u32> = HashMap::with_max_entries(1024, 0);

/// Bit sets in front of `WATCHED_SOCKETS` and `READERS` (see `observer_common::prefilter`).
/// Written by: userspace, with the maps they stand in front of (capture/prefilter.rs).
#[map]
pub static PREFILTER: Array<prefilter::Bits> = Array::with_max_entries(prefilter::COUNT, 0);

/// The watched sockets' generation: moved on after each change to them. Written by:
/// userspace (capture/unwatched.rs).
#[map]
pub static WATCH_GENERATION: Array<u64> = Array::with_max_entries(1, 0);

/// 1 while the collector sleeps with no timer (it found nothing to do for a while, see
/// observer/src/idle.rs): the next record wakes it. Written by: userspace (sets it), the
/// kernel (clears it when it wakes the collector, send/emit.rs `output()`).
#[map]
pub static COLLECTOR_ASLEEP: Array<u64> = Array::with_max_entries(1, 0);

// ---------------------------------------------------------------- kernel → userspace

/// Datagrams to watched sockets and the managers' reads of them, header + payload. Written
/// by: the kernel (send/emit.rs, read/); userspace drains it and sizes it (`--ring-size`).
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(4 * 1024 * 1024, 0);

/// Per-CPU counters (see `observer_common::stats`). Written by: the kernel; summed by
/// userspace for the exit summary.
#[map]
pub static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(stats::COUNT, 0);

/// Per-CPU counts of where a hook gave up on a datagram that concerned a watched socket (see
/// `observer_common::faults`). Written by: the kernel ([`fault`]); summed by userspace (`-v`
/// at exit).
#[map]
pub static FAULTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(faults::COUNT, 0);

// ---------------------------------------------------------------- the kernel's own

/// Receiving sockets found not watched, tagged with the generation they were found in (see
/// `observer_common::unwatched` and unwatched.rs). Written by: the delivery hooks.
#[map]
pub static UNWATCHED: Array<u64> = Array::with_max_entries(unwatched::SLOTS, 0);

/// Per-thread state of a send in progress, keyed by tid. LRU so that a missed exit can never
/// fill it up for good. Written by: the send hooks (send/pending.rs).
#[map]
pub static PENDING: LruHashMap<u32, Pending> = LruHashMap::with_max_entries(8192, 0);

/// How many threads have a send in progress: an upper bound (an entry the LRU evicted stays
/// counted). When sends start only at their delivery to a watched socket (regs.rs) it is 0
/// nearly always, and the hooks that see every send on the machine skip the PENDING lookup.
/// Written by: the send hooks (send/pending.rs), atomically.
#[map]
pub static LIVE: Array<u64> = Array::with_max_entries(1, 0);

/// Where each thread's sendmmsg(2) is: the message its next datagram sends. Written by: the
/// send hooks that read arguments from the registers (regs.rs).
#[map]
pub static MMSG_CURSOR: LruHashMap<u32, MmsgCursor> = LruHashMap::with_max_entries(1024, 0);

/// A read of a watched socket in progress, by tid. Written by: the recvmsg syscall
/// tracepoints (read/syscalls.rs).
#[map]
pub static READING: LruHashMap<u32, Reading> = LruHashMap::with_max_entries(1024, 0);

/// Per-CPU room to build an event: too big for the 512-byte BPF stack. Written by: whichever
/// hook builds a record (send/emit.rs, read/).
#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// Whether `x` may be in set `set` (a `prefilter` index): false means it is surely not. An array
/// lookup, which the verifier turns into an address computation: no helper call, no hashing.
#[inline(always)]
pub fn may_hold(set: u32, x: u64) -> bool {
    let (word, mask) = prefilter::bit(x);
    PREFILTER
        .get(set)
        .is_none_or(|bits| bits.get(word).is_none_or(|w| w & mask != 0))
}

#[inline(always)]
pub fn count(index: u32) {
    bump(&STATS, index);
}

/// Counts a fault (an `observer_common::faults` index).
#[inline(always)]
pub fn fault(index: u32) {
    bump(&FAULTS, index);
}

#[inline(always)]
fn bump(counters: &PerCpuArray<u64>, index: u32) {
    if let Some(slot) = counters.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU touches it while we run.
        unsafe { *slot += 1 };
    }
}
