//! The tracepoint strategy, for kernels that refuse fentry (this one) or lack BTF trampolines.
//! Syscall entry tracepoints record where a send's data lives; `tp_btf/sock_send_length`
//! (kernel ≥ 6.3) reports each datagram's result, `tp_btf/sk_data_ready` (≥ 6.6) its delivery;
//! the syscall exit reports sends that sock_send_length did not (older kernels, early errors).
//! With both tp_btf hooks, no syscall hook is attached (see regs.rs).

use aya_ebpf::{
    helpers::generated::bpf_ktime_get_ns,
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
};
use aya_log_ebpf::debug;
use observer_common::{Hook, MAX_MMSG, stats};

use crate::{
    datagram::{MMSGHDR_SIZE, user_msghdr},
    delivery::mark_delivery,
    emit::emit,
    kernel::{is_unix_dgram, unix_dgram_sock_of_fd},
    maps::count,
    pending::{self, MsgParts, Pending, SRC_IOV_USER, SRC_SINGLE_USER, args_at_result},
    regs::from_regs,
};

/// `sys_enter_*` arguments start at offset 16, 8 bytes each (include/trace/events/syscalls.h).
#[inline(always)]
pub fn arg(ctx: &TracePointContext, n: usize) -> u64 {
    // SAFETY: offset within the syscall tracepoint record.
    unsafe { ctx.read_at::<u64>(16 + 8 * n) }.unwrap_or(0)
}

#[inline(always)]
fn begin(ctx: &TracePointContext, fd: u64, parts: MsgParts, mmsg_vec: u64, mmsg_vlen: u32) {
    let Some(sk) = unix_dgram_sock_of_fd(fd) else {
        return;
    };
    let p = Pending {
        // SAFETY: no preconditions.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        sk,
        mmsg_vec,
        parts,
        mmsg_vlen,
        results_seen: 0,
        delivered_to: 0,
        _pad: 0,
    };
    if !pending::start(&p) {
        debug!(ctx, "pending map full: a send on fd {} is not tracked", fd);
    }
}

// kernel: long sendto(int fd, void *buff, size_t len, unsigned int flags,
//                     struct sockaddr *addr, int addr_len)
#[tracepoint]
pub fn sys_enter_sendto(ctx: TracePointContext) -> u32 {
    let parts = MsgParts {
        base: arg(&ctx, 1),
        count: arg(&ctx, 2),
        name: arg(&ctx, 4),
        control: 0,
        controllen: 0,
        namelen: arg(&ctx, 5) as u32,
        source: SRC_SINGLE_USER,
    };
    begin(&ctx, arg(&ctx, 0), parts, 0, 0);
    0
}

// kernel: long sendmsg(int fd, struct user_msghdr *msg, unsigned int flags)
#[tracepoint]
pub fn sys_enter_sendmsg(ctx: TracePointContext) -> u32 {
    if let Some(parts) = user_msghdr(arg(&ctx, 1)) {
        begin(&ctx, arg(&ctx, 0), parts, 0, 0);
    }
    0
}

// kernel: long sendmmsg(int fd, struct mmsghdr *mmsg, unsigned int vlen, unsigned int flags)
#[tracepoint]
pub fn sys_enter_sendmmsg(ctx: TracePointContext) -> u32 {
    let vec = arg(&ctx, 1);
    if let Some(parts) = user_msghdr(vec) {
        begin(&ctx, arg(&ctx, 0), parts, vec, arg(&ctx, 2) as u32);
    }
    0
}

// kernel: long write(unsigned int fd, const char *buf, size_t count)
#[tracepoint]
pub fn sys_enter_write(ctx: TracePointContext) -> u32 {
    let parts = MsgParts {
        base: arg(&ctx, 1),
        count: arg(&ctx, 2),
        name: 0,
        control: 0,
        controllen: 0,
        namelen: 0,
        source: SRC_SINGLE_USER,
    };
    begin(&ctx, arg(&ctx, 0), parts, 0, 0);
    0
}

// kernel: long writev(unsigned long fd, const struct iovec *vec, unsigned long vlen)
#[tracepoint]
pub fn sys_enter_writev(ctx: TracePointContext) -> u32 {
    let parts = MsgParts {
        base: arg(&ctx, 1),
        count: arg(&ctx, 2),
        name: 0,
        control: 0,
        controllen: 0,
        namelen: 0,
        source: SRC_IOV_USER,
    };
    begin(&ctx, arg(&ctx, 0), parts, 0, 0);
    0
}

/// The return value of a `sys_exit_*` record sits at offset 16.
#[inline(always)]
pub fn exit_ret(ctx: &TracePointContext) -> i64 {
    // SAFETY: offset within the syscall exit record.
    unsafe { ctx.read_at::<i64>(16) }.unwrap_or(0)
}

/// The send in progress on this thread, ended; None if sock_send_length reported it already.
#[inline(always)]
fn finish_unreported() -> Option<Pending> {
    // SAFETY: map value pointer, valid for this program run; copied to the stack.
    let p = unsafe { *pending::current_ungated()? };
    pending::finish();
    (p.results_seen == 0).then_some(p)
}

/// Serves sys_exit_{sendto,sendmsg,write,writev}: one datagram, the syscall's result.
#[tracepoint]
pub fn sys_exit_send(ctx: TracePointContext) -> u32 {
    if let Some(p) = finish_unreported() {
        emit(
            &p,
            &p.parts,
            exit_ret(&ctx),
            Hook::SyscallExit,
            0,
            p.delivered_to,
        );
    }
    0
}

/// How many messages of one sendmmsg(2) the exit path reports (kernels < 6.3 that refuse
/// fentry only: with sock_send_length or fentry every message is reported as it is sent). Each
/// one costs the verifier a copy of emit(), so this stays small.
const MAX_MMSG_AT_EXIT: u32 = 8;

/// sys_exit_sendmmsg: the call returns how many messages went out; each mmsghdr's msg_len holds
/// its bytes.
#[tracepoint]
pub fn sys_exit_sendmmsg(ctx: TracePointContext) -> u32 {
    let Some(p) = finish_unreported() else {
        return 0;
    };
    let ret = exit_ret(&ctx);
    if ret < 0 {
        emit(&p, &p.parts, ret, Hook::SyscallExit, 0, 0);
        return 0;
    }
    let mut i: u32 = 0;
    while i < MAX_MMSG_AT_EXIT && (i as i64) < ret {
        let at = p.mmsg_vec + i as u64 * MMSGHDR_SIZE;
        if let Some(parts) = user_msghdr(at) {
            let sent = crate::datagram::user_u32(at + 56).unwrap_or(0);
            emit(&p, &parts, sent as i64, Hook::SyscallExit, i, 0);
        }
        i += 1;
    }
    0
}

// kernel: include/trace/events/sock.h: TRACE_EVENT(sock_send_length,
//         TP_PROTO(struct sock *sk, int ret, int flags)) — called once per datagram from
//         sock_sendmsg_nosec(), still in the sender's syscall (kernel ≥ 6.3).
#[btf_tracepoint(function = "sock_send_length")]
pub fn sock_send_length(ctx: BtfTracePointContext) -> i32 {
    let sk: u64 = ctx.arg::<*const u8>(0) as u64;
    let ret: i32 = ctx.arg(1);
    // One call of emit() for all cases: each call is another copy for the verifier to walk.
    if let Some((p, parts, index, delivered_to)) = datagram_sent(sk, ret) {
        emit(
            &p,
            &parts,
            ret as i64,
            Hook::SockSendLength,
            index,
            delivered_to,
        );
    }
    0
}

/// The send sock_send_length reports, if it may be for a watched socket: its state, where its
/// data lives, its index in a sendmmsg, and the watched socket it was delivered to (0: none).
#[inline(always)]
fn datagram_sent(sk: u64, ret: i32) -> Option<(Pending, MsgParts, u32, u32)> {
    let Some(pp) = pending::current() else {
        if !args_at_result() {
            return None;
        }
        // Not recorded at entry (regs.rs) and not delivered to a watched socket: only a send
        // that failed can still be for one (by its address or connected peer, see emit()).
        if ret < 0 && is_unix_dgram(sk) {
            let (p, index) = from_regs(sk, 0, 0, ret)?;
            return Some((p, p.parts, index, 0));
        }
        // Every AF_UNIX datagram on the machine that went where nobody watches ends here, so
        // nothing more is done for it: not even the syscall number is read (regs.rs,
        // mmsg_index()).
        return None;
    };
    // SAFETY: map value pointer, valid for this program run.
    let p = unsafe { &mut *pp };
    if p.sk == 0 {
        // Started by its delivery to a watched socket (regs.rs): this is that send's result.
        let (ts_ns, delivered_to) = (p.ts_ns, p.delivered_to);
        pending::finish();
        let Some((p, index)) = from_regs(sk, ts_ns, delivered_to, ret) else {
            // Not made by a syscall regs.rs reads (io_uring): its data cannot be found. Counted,
            // so that the summary shows it.
            count(stats::UNTRACKED);
            return None;
        };
        return Some((p, p.parts, index, delivered_to));
    }
    if p.sk != sk {
        return None;
    }
    let index = p.results_seen;
    p.results_seen += 1;
    let delivered_to = p.delivered_to;
    p.delivered_to = 0;
    let parts = if p.mmsg_vec == 0 {
        p.parts
    } else if index < MAX_MMSG {
        user_msghdr(p.mmsg_vec + index as u64 * MMSGHDR_SIZE)?
    } else {
        return None;
    };
    Some((*p, parts, index, delivered_to))
}

// kernel: include/trace/events/sock.h: TRACE_EVENT(sk_data_ready, TP_PROTO(const struct sock *sk))
//         — called from sock_def_readable(), which af_unix uses as sk_data_ready (kernel ≥ 6.6).
#[btf_tracepoint(function = "sk_data_ready")]
pub fn sk_data_ready(ctx: BtfTracePointContext) -> i32 {
    mark_delivery(ctx.arg::<*const u8>(0) as u64);
    0
}
