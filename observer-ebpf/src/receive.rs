//! The manager side: what a watched socket's reader (systemd, found by userspace) actually read,
//! with the credentials the kernel handed it and when.
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

use aya_ebpf::{
    Global,
    helpers::{bpf_get_current_pid_tgid, generated::bpf_ktime_get_ns},
    macros::{btf_tracepoint, fentry, fexit, map, tracepoint},
    maps::{HashMap, LruHashMap},
    programs::{BtfTracePointContext, FEntryContext, FExitContext, TracePointContext},
};
use observer_common::{Hook, PAYLOAD_MAX, SendEvent, UNIX_READ_FUNCS, flags, prefilter};

use crate::{
    datagram::{
        Scratch, bound, copy_control, copy_payload, read_val, user_msghdr, user_u32, zero_words,
    },
    kernel::{is_unix, off, read, unix_dgram_sock_of_fd, watched_receiver},
    maps::{SCRATCH, may_hold},
    pending::{MsgParts, SRC_SINGLE_USER},
    regs::{RecvmsgArgs, recvmsg_args},
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
/// A peek leaves the datagram queued: its real read comes later.
const MSG_PEEK: i32 = 0x2;
/// recvmsg(2) returns the datagram's whole length, not what fitted (systemd asks for it).
const MSG_TRUNC: u64 = 0x20;
/// Iovecs of a reader's msghdr summed to size its buffer (systemd passes one).
const MAX_READ_IOVECS: u64 = 4;

/// Whether the current process is a reader; every socket read on the machine asks.
#[inline(always)]
fn is_reader() -> bool {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: plain lookup; only its presence matters.
    may_hold(prefilter::READERS, tgid as u64) && unsafe { READERS.get(&tgid) }.is_some()
}

/// `[start, end)` of the kernel functions that free, through consume_skb(), the datagram a unix
/// read took: skb_free_datagram() (where it calls consume_skb; x86 builds make that a tail
/// call, so the caller shows instead), __unix_dgram_recvmsg(), and unix_dgram_recvmsg() and
/// unix_seqpacket_recvmsg() in case the compiler inlined it. Userspace fills it from
/// /proc/kallsyms (observer/src/capture/kallsyms.rs).
#[unsafe(no_mangle)]
pub static UNIX_READ_TEXT: Global<[u64; 2 * UNIX_READ_FUNCS]> =
    Global::new([0; 2 * UNIX_READ_FUNCS]);

/// Whether code address `at` lies in [`UNIX_READ_TEXT`].
#[inline(always)]
fn in_unix_read(at: u64) -> bool {
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

// kernel ≥ 6.3: net/core/skbuff.c: consume_skb() → trace_consume_skb(skb, location), for
// every skb freed as consumed (not dropped), with the address it was freed from.
// __unix_dgram_recvmsg() frees the datagram it took after the data and the cmsgs were copied
// out (skb_free_datagram). A read that found nothing frees nothing, so it never comes here;
// the first test (code address, no helper call) sends every other free away.
#[btf_tracepoint(function = "consume_skb")]
pub fn consume_skb(ctx: BtfTracePointContext) -> i32 {
    // TP_PROTO(struct sk_buff *skb, void *location)
    if !in_unix_read(ctx.arg::<u64>(1)) || !is_reader() {
        return 0;
    }
    let Some(args) = recvmsg_args() else {
        return 0;
    };
    if let Some(sk) = unix_dgram_sock_of_fd(args.fd)
        && let Some(skb_len) = read::<u32>(ctx.arg::<*const u8>(0) as u64, off!(skb_len))
    {
        let skb = ctx.arg::<*const u8>(0) as u64;
        read_in_kernel(
            sk,
            &args,
            ReadLen::Datagram(skb_len as u64),
            sender_liveness(skb),
        );
    }
    0
}

// kernel ≥ 6.3: net/socket.c: sock_recvmsg_nosec() → trace_sock_recv_length(sk, ret, flags),
// for every socket read, after the protocol copied the datagram and its cmsgs out.
#[btf_tracepoint(function = "sock_recv_length")]
pub fn sock_recv_length(ctx: BtfTracePointContext) -> i32 {
    // TP_PROTO(struct sock *sk, int ret, int flags)
    let (ret, flags): (i32, i32) = (ctx.arg(1), ctx.arg(2));
    if ret < 0 || flags & MSG_PEEK != 0 || !is_reader() {
        return 0;
    }
    if let Some(args) = recvmsg_args() {
        read_in_kernel(
            ctx.arg::<*const u8>(0) as u64,
            &args,
            ReadLen::Result(ret),
            0,
        );
    }
    0
}

// kernel: net/unix/af_unix.c: static int unix_dgram_recvmsg(struct socket *sock,
//         struct msghdr *msg, size_t size, int flags), at return (fifth slot).
#[fexit(function = "unix_dgram_recvmsg")]
pub fn unix_dgram_recvmsg_exit(ctx: FExitContext) -> i32 {
    let (ret, flags): (i32, i32) = (ctx.arg(4), ctx.arg(3));
    if ret < 0 || flags & MSG_PEEK != 0 || !is_reader() {
        return 0;
    }
    if let Some(sk) = read::<u64>(ctx.arg::<*const u8>(0) as u64, off!(socket_sk))
        && let Some(args) = recvmsg_args()
    {
        read_in_kernel(sk, &args, ReadLen::Result(ret), 0);
    }
    0
}

// kernel: net/core/datagram.c: void skb_free_datagram(struct sock *sk, struct sk_buff *skb).
// __unix_dgram_recvmsg() releases the datagram it dequeued here, after the data and the cmsgs
// were copied out (out_free:). A read that found nothing (EAGAIN) never comes here, nor does
// any TCP or UDP read: as with consume_skb, and unlike sock_recv_length and the fexit, only
// reads that took a datagram pay.
#[fentry(function = "skb_free_datagram")]
pub fn skb_free_datagram(ctx: FEntryContext) -> i32 {
    if !is_reader() {
        return 0;
    }
    let sk = ctx.arg::<*const u8>(0) as u64;
    // Readers free netlink and other datagrams here too.
    let skb = ctx.arg::<*const u8>(1) as u64;
    if is_unix(sk)
        && let Some(skb_len) = read::<u32>(skb, off!(skb_len))
        && let Some(args) = recvmsg_args()
    {
        read_in_kernel(
            sk,
            &args,
            ReadLen::Datagram(skb_len as u64),
            sender_liveness(skb),
        );
    }
    0
}

/// Whether the process a unix datagram's credentials name (`UNIXCB(skb).pid`, the first member
/// of `struct unix_skb_parms` in `skb->cb`) had been reaped when the manager took the datagram:
/// `flags::SENDER_LIVENESS`, plus `SENDER_REAPED` when `pid->tasks[PIDTYPE_PID].first` is NULL
/// (detach_pid() at release_task(); a zombie still has its task), or `SENDER_EXITED` when the
/// task it points at had exited (`exit_state` set, or PF_EXITING). 0 when it cannot be told.
#[inline(always)]
fn sender_liveness(skb: u64) -> u32 {
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
enum ReadLen {
    /// recvmsg(2)'s result.
    Result(i32),
    /// Only the datagram's length (skb_free_datagram).
    Datagram(u64),
}

/// A reader's read of `sk` that just copied its data out, seen before recvmsg(2) (`args`)
/// returns; `liveness`: [`sender_liveness`] where the datagram is at hand.
#[inline(always)]
fn read_in_kernel(sk: u64, args: &RecvmsgArgs, how: ReadLen, liveness: u32) {
    let Some(watch_id) = watched_receiver(sk) else {
        return;
    };
    let (msg, rflags) = (args.msg, args.flags);
    let Some(parts) = user_msghdr(msg) else {
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
fn iov_size(parts: &MsgParts) -> u64 {
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

// kernel: long recvmsg(int fd, struct user_msghdr *msg, unsigned int flags)
#[tracepoint]
pub fn sys_enter_recvmsg(ctx: TracePointContext) -> u32 {
    if !is_reader() {
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
    let _ = READING.insert(&(bpf_get_current_pid_tgid() as u32), &r, 0);
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
        emit_read(&r, &parts, ret as u64, true, 0);
    }
    0
}

/// Reports one datagram the reader got: the bytes its first iovec holds, and the control data
/// the kernel wrote. `returned`: recvmsg(2) has returned, so `msg_controllen` is the length
/// written and `msg_flags` final. Before that the whole buffer is walked: the cmsgs this read
/// wrote come first (scm_recv(): credentials, security label, fds, pidfd), and an earlier
/// read's leftovers behind them can only repeat the kinds a reader's socket options give every
/// read. The fd count is then meaningless and dropped (the send side has the real one).
#[inline(always)]
fn emit_read(r: &Reading, parts: &MsgParts, len: u64, returned: bool, liveness: u32) {
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
    crate::emit::fill_task(ev);
    let size = size_of::<SendEvent>()
        + bound(s.event.payload_len as u64, 2 * PAYLOAD_MAX as u64 - 1) as usize;
    // SAFETY: `payload` directly follows `event` in the #[repr(C)] Scratch and the masked length
    // never exceeds it.
    let bytes = unsafe { core::slice::from_raw_parts((s as *const Scratch).cast::<u8>(), size) };
    crate::emit::output(bytes);
}
