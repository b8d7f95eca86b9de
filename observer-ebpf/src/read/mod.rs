//! The read path, the manager side: what a watched socket's reader (systemd, found by
//! userspace) actually read, with the credentials the kernel handed it and when.
//!
//! systemd reads its notify socket with recvmsg(2) and one iovec in every version (252:
//! manager_dispatch_notify_fd(); 256+: notify_recv() → recvmsg_safe()). Five ways to see it;
//! userspace attaches the first the kernel allows, cheapest first (observer/src/capture/receive.rs
//! says in which order and what each costs whom):
//! - `fentry/skb_free_datagram`, `fexit/unix_dgram_recvmsg` (fentry kernels),
//!   `tp_btf/consume_skb` (≥ 6.3, with the unix read functions' addresses from /proc/kallsyms)
//!   or `tp_btf/sock_recv_length` (≥ 6.3): they run inside the read, after the data and control
//!   were copied out, and read the reader's msghdr from its syscall registers (regs.rs). A
//!   failed read returns on the first test (skb_free_datagram and consume_skb never even see
//!   one) and anyone else after a prefilter bit; no syscall tracepoint is enabled, which every
//!   syscall on the machine would pay for.
//! - syscall tracepoints on recvmsg(2), for older kernels: at entry the fd is resolved to its
//!   socket and kept only if it is a watched one; at exit the reader's own msghdr holds what
//!   the kernel wrote.
//!
//! Here what every way shares (is the reader one of ours, what it read, the record); the
//! programs by kind: `tp_btf.rs`, `fentry.rs`, `syscalls.rs`.

mod fentry;
mod syscalls;
mod tp_btf;

use aya_ebpf::helpers::{bpf_get_current_pid_tgid, generated::bpf_ktime_get_ns};
use observer_common::{Hook, PAYLOAD_MAX, SendEvent, UNIX_READ_FUNCS, faults, flags, prefilter};

use crate::{
    arch::MSGHDR_FLAGS_OFFSET,
    datagram::{
        Scratch, bound, copy_control, copy_payload, read_val, user_msghdr, user_u32, zero_words,
    },
    kernel::{off, read, watched_receiver},
    maps::{READERS, SCRATCH, UNIX_READ_TEXT, fault, may_hold},
    regs::RecvmsgArgs,
    send::pending::{MsgParts, SRC_SINGLE_USER},
};

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

const MSG_CTRUNC: u32 = 0x8;
/// A peek leaves the datagram queued: its real read comes later.
pub(super) const MSG_PEEK: i32 = 0x2;
/// recvmsg(2) returns the datagram's whole length, not what fitted (systemd asks for it).
const MSG_TRUNC: u64 = 0x20;
/// Iovecs of a reader's msghdr summed to size its buffer (systemd passes one).
const MAX_READ_IOVECS: u64 = 4;

/// Whether the current process is a reader; every socket read on the machine asks.
#[inline(always)]
pub(super) fn is_reader() -> bool {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain lookup; only its presence matters.
    may_hold(prefilter::READERS, tgid as u64) && unsafe { READERS.get(&tgid) }.is_some()
}

/// Whether code address `at` lies in [`UNIX_READ_TEXT`].
#[inline(always)]
pub(super) fn in_unix_read(at: u64) -> bool {
    let text: *const [u64; 2 * UNIX_READ_FUNCS] = (&raw const UNIX_READ_TEXT).cast();
    let mut i = 0;
    while i < UNIX_READ_FUNCS {
        // SAFETY: elements of a global, read one at a time (volatile: see kernel::off!).
        let (start, end) = unsafe {
            (
                core::ptr::read_volatile(&raw const (*text)[2 * i]),
                core::ptr::read_volatile(&raw const (*text)[2 * i + 1]),
            )
        };
        if start <= at && at < end {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether the process a unix datagram's credentials name (`UNIXCB(skb).pid`, the first member
/// of `struct unix_skb_parms` in `skb->cb`) had been reaped when the manager took the datagram:
/// `flags::SENDER_LIVENESS`, plus `SENDER_REAPED` when `pid->tasks[PIDTYPE_PID].first` is NULL
/// (detach_pid() at release_task(); a zombie still has its task), or `SENDER_EXITED` when the
/// task it points at had exited (`exit_state` set, or PF_EXITING). 0 when it cannot be told.
#[inline(always)]
pub(super) fn sender_liveness(skb: u64) -> u32 {
    let (cb, tasks) = (off!(skb_cb), off!(pid_tasks));
    if cb == u32::MAX || tasks == u32::MAX {
        return 0;
    }
    match read::<u64>(skb, cb).filter(|pid| *pid != 0) {
        Some(pid) => match read::<u64>(pid, tasks) {
            Some(0) => flags::SENDER_LIVENESS | flags::SENDER_REAPED,
            Some(link) => flags::SENDER_LIVENESS | sender_exited(link),
            None => 0,
        },
        None => 0,
    }
}

/// PF_EXITING of include/linux/sched.h: do_exit() has begun.
const PF_EXITING: u32 = 0x0000_0004;

/// `SENDER_EXITED` when the task whose `pid_links[PIDTYPE_PID]` is at `link` had exited.
#[inline(always)]
fn sender_exited(link: u64) -> u32 {
    let (links, state, task_flags) = (
        off!(task_pid_links),
        off!(task_exit_state),
        off!(task_flags),
    );
    if links == u32::MAX || state == u32::MAX || task_flags == u32::MAX {
        return 0;
    }
    let task = link.wrapping_sub(u64::from(links));
    let zombie = read::<i32>(task, state).is_some_and(|s| s != 0);
    let exiting = read::<u32>(task, task_flags).is_some_and(|f| f & PF_EXITING != 0);
    if zombie || exiting {
        flags::SENDER_EXITED
    } else {
        0
    }
}

/// What a hook knows of how much a read took.
pub(super) enum ReadLen {
    /// recvmsg(2)'s result.
    Result(i32),
    /// Only the datagram's length (skb_free_datagram).
    Datagram(u64),
}

/// A reader's read of `sk` that just copied its data out, seen before recvmsg(2) (`args`)
/// returns; `liveness`: [`sender_liveness`] where the datagram is at hand.
#[inline(always)]
pub(super) fn read_in_kernel(sk: u64, args: &RecvmsgArgs, how: ReadLen, liveness: u32) {
    let Some(watch_id) = watched_receiver(sk) else {
        return;
    };
    let (msg, rflags) = (args.msg, args.flags);
    let Some(parts) = user_msghdr(msg) else {
        fault(faults::READ_ARGS);
        return;
    };
    let len = match how {
        ReadLen::Result(ret) => ret as u64,
        // The result as __unix_dgram_recvmsg() computes it: `flags & MSG_TRUNC ? skb->len :
        // min(size, skb->len)` (less a SO_PEEK_OFF offset, which systemd never sets). A read
        // whose copy to user memory faulted gets here too, and is reported as read.
        ReadLen::Datagram(_) if rflags as i32 & MSG_PEEK != 0 => return,
        ReadLen::Datagram(skb_len) if rflags & MSG_TRUNC != 0 => skb_len,
        ReadLen::Datagram(skb_len) => skb_len.min(iov_size(&parts)),
    };
    // SAFETY: no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let r = Reading {
        msg,
        start_ns: now,
        watch_id,
        _pad: 0,
    };
    emit_read(&r, &parts, len, false, liveness);
}

/// The room a reader's user iovecs give (the first [`MAX_READ_IOVECS`]).
#[inline(always)]
pub(super) fn iov_size(parts: &MsgParts) -> u64 {
    let mut size = 0u64;
    for i in 0..MAX_READ_IOVECS {
        if i >= parts.count {
            break;
        }
        // struct iovec { void *iov_base; size_t iov_len; }
        size += read_val::<[u64; 2]>(false, parts.base + i * 16).map_or(0, |v| v[1]);
    }
    size
}

/// Reports one datagram the reader got: the bytes its first iovec holds, and the control data
/// the kernel wrote. `returned`: recvmsg(2) has returned, so `msg_controllen` is the length
/// written and `msg_flags` final. Before that the whole buffer is walked: the cmsgs this read
/// wrote come first (scm_recv(): credentials, security label, fds, pidfd), and an earlier
/// read's leftovers behind them can only repeat the kinds a reader's socket options give every
/// read. The fd count is then meaningless and dropped (the send side has the real one).
#[inline(always)]
pub(super) fn emit_read(r: &Reading, parts: &MsgParts, len: u64, returned: bool, liveness: u32) {
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
    if returned {
        if user_u32(r.msg + MSGHDR_FLAGS_OFFSET).unwrap_or(0) & MSG_CTRUNC != 0 {
            ev.flags |= flags::READ_CTRUNC;
        }
    } else {
        ev.fds = 0;
    }
    ev.hook = Hook::RecvmsgExit as u32;
    ev.flags |= flags::MATCH_IDENTITY | liveness;
    ev.watch_id = r.watch_id;
    ev.len = len as u32;
    ev.result = len as i64;
    // SAFETY: no preconditions.
    ev.ts_ns = unsafe { bpf_ktime_get_ns() };
    ev.done_ns = r.start_ns;
    crate::send::emit::fill_task(ev);
    let size = size_of::<SendEvent>()
        + bound(s.event.payload_len as u64, 2 * PAYLOAD_MAX as u64 - 1) as usize;
    // SAFETY: `payload` directly follows `event` in the #[repr(C)] Scratch and the masked length
    // never exceeds it.
    let bytes = unsafe { core::slice::from_raw_parts((s as *const Scratch).cast::<u8>(), size) };
    crate::send::emit::output(bytes);
}
