//! The fentry strategy, for kernels with BTF trampolines (distro kernels). It hooks the one
//! function every AF_UNIX datagram passes through, whatever the syscall (sendto, sendmsg,
//! sendmmsg, write on a connected socket, SOCK_SEQPACKET, io_uring). Sends made by the syscalls
//! regs.rs knows are read from the registers at exit instead of being recorded at entry.

use aya_ebpf::{
    helpers::generated::bpf_ktime_get_ns,
    macros::{fentry, fexit},
    programs::{FEntryContext, FExitContext},
};
use aya_log_ebpf::debug;
use observer_common::Hook;

use crate::{
    delivery::mark_delivery,
    emit::emit,
    kernel::{off, read},
    pending::{self, MsgParts, Pending, SRC_IOV_KERNEL, SRC_UBUF_KERNEL_MSG},
    regs::{args_from_regs, from_regs, in_known_syscall},
};

// kernel: net/unix/af_unix.c:
//         static int unix_dgram_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
#[fentry(function = "unix_dgram_sendmsg")]
pub fn unix_dgram_sendmsg_enter(ctx: FEntryContext) -> i32 {
    if args_from_regs() && in_known_syscall() {
        // Read from the registers at exit if it was delivered to a watched socket or failed.
        return 0;
    }
    let sock: u64 = ctx.arg::<*const u8>(0) as u64;
    let msg: u64 = ctx.arg::<*const u8>(1) as u64;
    let Some(sk) = read::<u64>(sock, off!(socket_sk)) else {
        return 0;
    };
    // msg_name and msg_control were copied into the kernel by the syscall layer; the data is
    // still in user memory, described by msg_iter.
    let iter = msg + off!(msghdr_iter) as u64;
    let iter_type: u8 = read(iter, off!(iter_type)).unwrap_or(0xff);
    let source = if iter_type as u32 == off!(iter_type_ubuf) {
        SRC_UBUF_KERNEL_MSG
    } else if iter_type as u32 == off!(iter_type_iovec) {
        SRC_IOV_KERNEL
    } else {
        debug!(
            &ctx,
            "unix_dgram_sendmsg: iov_iter type {} not followed", iter_type
        );
        return 0;
    };
    let ptr: u64 = read(iter, off!(iter_iov)).unwrap_or(0);
    let (base, count) = if source == SRC_UBUF_KERNEL_MSG {
        let off: u64 = read(iter, off!(iter_iov_offset)).unwrap_or(0);
        (ptr + off, read(iter, off!(iter_count)).unwrap_or(0))
    } else {
        (ptr, read(iter, off!(iter_nr_segs)).unwrap_or(0))
    };
    let parts = MsgParts {
        base,
        count,
        name: read(msg, off!(msghdr_name)).unwrap_or(0),
        control: read(msg, off!(msghdr_control)).unwrap_or(0),
        controllen: read(msg, off!(msghdr_controllen)).unwrap_or(0),
        namelen: read::<i32>(msg, off!(msghdr_namelen)).unwrap_or(0) as u32,
        source,
    };
    let p = Pending {
        // SAFETY: no preconditions.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        sk,
        mmsg_vec: 0,
        parts,
        mmsg_vlen: 0,
        results_seen: 0,
        delivered_to: 0,
        _pad: 0,
    };
    if !pending::start(&p) {
        debug!(&ctx, "pending map full: a send is not tracked");
    }
    0
}

// kernel: same function, at return; the fourth argument slot holds the return value.
#[fexit(function = "unix_dgram_sendmsg")]
pub fn unix_dgram_sendmsg_exit(ctx: FExitContext) -> i32 {
    let ret: i32 = ctx.arg(3);
    // One call of emit() for all cases: each call is another copy for the (6.1) verifier to walk.
    if let Some(p) = datagram_sent(&ctx, ret) {
        emit(&p, &p.parts, ret as i64, Hook::Fentry, 0, p.delivered_to);
    }
    0
}

/// The send that just ended, if it may be for a watched socket.
#[inline(always)]
fn datagram_sent(ctx: &FExitContext, ret: i32) -> Option<Pending> {
    let sock: u64 = ctx.arg::<*const u8>(0) as u64;
    let Some(p) = pending::current() else {
        // Not recorded at entry (regs.rs) and not delivered to a watched socket: only a send
        // that failed can still be for one (by its address or connected peer, see emit()).
        if ret < 0 && args_from_regs() {
            return Some(from_regs(read(sock, off!(socket_sk))?, 0, 0, ret)?.0);
        }
        return None;
    };
    // SAFETY: map value pointer, valid for this program run; copied to the stack.
    let p = unsafe { *p };
    pending::finish();
    if p.sk == 0 {
        // Started by its delivery to a watched socket (regs.rs).
        // (A sendmmsg is recorded at entry: fentry sees each of its datagrams on its own.)
        let sk = read(sock, off!(socket_sk))?;
        return Some(from_regs(sk, p.ts_ns, p.delivered_to, ret)?.0);
    }
    Some(p)
}

// kernel: net/core/sock.c: void sock_def_readable(struct sock *sk) — af_unix's sk_data_ready.
#[fentry(function = "sock_def_readable")]
pub fn sock_def_readable(ctx: FEntryContext) -> i32 {
    mark_delivery(ctx.arg::<*const u8>(0) as u64);
    0
}
