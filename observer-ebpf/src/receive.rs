//! The manager side: what a watched socket's reader (systemd, found by userspace) actually read,
//! with the credentials the kernel handed it and when. Only processes in `READERS` pay anything:
//! one hash lookup on their recvmsg(2) entry; everyone else returns after it.
//!
//! systemd reads its notify socket with recvmsg(2) and one iovec in every version (252:
//! manager_dispatch_notify_fd(); 256+: notify_recv() → recvmsg_safe()), so the syscall
//! tracepoints see every read on any kernel. At entry the fd is resolved to its socket and kept
//! only if it is a watched one; at exit the reader's own msghdr holds what the kernel wrote.

use aya_ebpf::{
    bindings::BPF_RB_NO_WAKEUP,
    helpers::{bpf_get_current_pid_tgid, generated::bpf_ktime_get_ns},
    macros::{map, tracepoint},
    maps::{HashMap, LruHashMap},
    programs::TracePointContext,
};
use observer_common::{Hook, PAYLOAD_MAX, SendEvent, flags, stats};

use crate::{
    datagram::{
        Scratch, bound, copy_control, copy_payload, read_val, user_msghdr, user_u32, zero_words,
    },
    kernel::{unix_dgram_sock_of_fd, watched_receiver},
    maps::{EVENTS, SCRATCH, count},
    pending::{MsgParts, SRC_SINGLE_USER},
    syscalls::{arg, exit_ret},
};

/// Processes (tgid) that read watched sockets: the managers, and `--receiver` ones. Userspace
/// keeps it current.
#[map]
pub static READERS: HashMap<u32, u32> = HashMap::with_max_entries(1024, 0);

/// A read of a watched socket in progress, by tid.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Reading {
    /// The reader's `struct user_msghdr *`.
    msg: u64,
    start_ns: u64,
    watch_id: u32,
    _pad: u32,
}

#[map]
static READING: LruHashMap<u32, Reading> = LruHashMap::with_max_entries(1024, 0);

/// `msg_flags` in a user `struct msghdr` (x86_64).
const MSGHDR_FLAGS_OFFSET: u64 = 48;
const MSG_CTRUNC: u32 = 0x8;

// kernel: long recvmsg(int fd, struct user_msghdr *msg, unsigned int flags)
#[tracepoint]
pub fn sys_enter_recvmsg(ctx: TracePointContext) -> u32 {
    let id = bpf_get_current_pid_tgid();
    // SAFETY: plain lookup; only its presence matters.
    if unsafe { READERS.get(&((id >> 32) as u32)) }.is_none() {
        return 0;
    }
    let Some(sk) = unix_dgram_sock_of_fd(arg(&ctx, 0)) else {
        return 0;
    };
    let Some(watch_id) = watched_receiver(sk) else {
        return 0;
    };
    let r = Reading {
        msg: arg(&ctx, 1),
        // SAFETY: no preconditions.
        start_ns: unsafe { bpf_ktime_get_ns() },
        watch_id,
        _pad: 0,
    };
    let _ = READING.insert(&(id as u32), &r, 0);
    0
}

#[tracepoint]
pub fn sys_exit_recvmsg(ctx: TracePointContext) -> u32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    // SAFETY: map value copied out at once.
    let Some(r) = (unsafe { READING.get(&tid) }).copied() else {
        return 0;
    };
    let _ = READING.remove(&tid);
    let ret = exit_ret(&ctx);
    // EAGAIN on a spurious wakeup, EINTR: nothing left the queue.
    if ret < 0 {
        return 0;
    }
    if let Some(parts) = user_msghdr(r.msg) {
        emit_read(&r, &parts, ret as u64);
    }
    0
}

/// Reports one datagram the reader got: the bytes its first iovec holds, and the control data
/// the kernel wrote (after the call, `msg_controllen` is the length written).
#[inline(always)]
fn emit_read(r: &Reading, parts: &MsgParts, len: u64) {
    let Some(s) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU scratch, exclusively ours while this program runs.
    let s: &mut Scratch = unsafe { &mut *s };
    zero_words((&raw mut s.event).cast(), size_of::<SendEvent>() / 8);
    // struct iovec { void *iov_base; size_t iov_len; }: systemd passes exactly one.
    if parts.count >= 1
        && let Some(iov) = read_val::<[u64; 2]>(false, parts.base)
    {
        let held = if len < iov[1] { len } else { iov[1] };
        let first = MsgParts {
            base: iov[0],
            count: held,
            source: SRC_SINGLE_USER,
            ..*parts
        };
        copy_payload(s, &first);
        if parts.count > 1 && len > iov[1] {
            s.event.flags |= flags::IOV_TRUNCATED;
        }
    }
    let ev = &mut s.event;
    copy_control(ev, parts);
    if user_u32(r.msg + MSGHDR_FLAGS_OFFSET).unwrap_or(0) & MSG_CTRUNC != 0 {
        ev.flags |= flags::READ_CTRUNC;
    }
    ev.hook = Hook::RecvmsgExit as u32;
    ev.flags |= flags::MATCH_IDENTITY;
    ev.watch_id = r.watch_id;
    ev.len = len as u32;
    ev.result = len as i64;
    // SAFETY: no preconditions.
    ev.ts_ns = unsafe { bpf_ktime_get_ns() };
    ev.done_ns = r.start_ns;
    crate::emit::fill_task(ev);
    let size = size_of::<SendEvent>()
        + bound(s.event.payload_len as u64, 2 * PAYLOAD_MAX as u64 - 1) as usize;
    // SAFETY: `payload` directly follows `event` in the #[repr(C)] Scratch and the masked length
    // never exceeds it.
    let bytes = unsafe { core::slice::from_raw_parts((s as *const Scratch).cast::<u8>(), size) };
    match EVENTS.output(bytes, BPF_RB_NO_WAKEUP as u64) {
        Ok(()) => count(stats::EMITTED),
        Err(_) => count(stats::DROPPED),
    }
}
