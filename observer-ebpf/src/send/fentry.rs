//! The fentry strategy, for kernels with BTF trampolines (distro kernels). It hooks the one
//! function every AF_UNIX datagram passes through, whatever the syscall (sendto, sendmsg,
//! sendmmsg, write on a connected socket, SOCK_SEQPACKET, io_uring).
//!
//! Nothing runs when a send starts: the many sends that never concern a watched socket cost one
//! fexit program that returns at its first test. A send gets state only when it is delivered to
//! a watched socket (queued.rs); at its end, where its data lay is worked back from its
//! msghdr, whose iov_iter the copy into the skb advanced (see [`sent_parts`]).

use aya_ebpf::{
    macros::{fentry, fexit},
    programs::{FEntryContext, FExitContext},
};
use observer_common::{Hook, MAX_IOVECS, faults, stats};

use crate::{
    arch::IOVEC_SIZE,
    kernel::{off, read},
    maps::{count, fault},
    send::{
        emit::emit,
        pending::{self, MsgParts, Pending, SRC_IOV_KERNEL, SRC_UBUF_KERNEL_MSG},
        queued::mark_delivery,
    },
};

// kernel: net/unix/af_unix.c:
//         static int unix_dgram_sendmsg(struct socket *sock, struct msghdr *msg, size_t len),
//         at return; the fourth argument slot holds the return value.
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
    let (ts_ns, delivered_to) = match pending::current() {
        Some(p) => {
            // SAFETY: map value pointer, valid for this program run; copied out.
            let p = unsafe { *p };
            pending::finish();
            (p.ts_ns, p.delivered_to)
        }
        // Not delivered to a watched socket: only a send that failed can still be for one (by
        // its address or connected peer, see emit()). Every other AF_UNIX send ends here.
        None if ret < 0 => (now(), 0),
        None => return None,
    };
    let sock: u64 = ctx.arg::<*const u8>(0) as u64;
    let msg: u64 = ctx.arg::<*const u8>(1) as u64;
    let len: u64 = ctx.arg(2);
    let Some(parts) = sent_parts(msg, len) else {
        if delivered_to != 0 {
            // A kernel sender's datagram to a watched socket: counted, so the summary shows it.
            count(stats::UNTRACKED);
        }
        return None;
    };
    let Some(sk) = read(sock, off!(socket_sk)) else {
        fault(faults::SEND_ARGS);
        return None;
    };
    Some(Pending::at_result(ts_ns, sk, parts, delivered_to))
}

#[inline(always)]
fn now() -> u64 {
    // SAFETY: no preconditions.
    unsafe { aya_ebpf::helpers::generated::bpf_ktime_get_ns() }
}

/// Where the `len` bytes of a send lay when it started, read from its kernel `msghdr` at its
/// end. msg_name and msg_control were copied into the kernel by the syscall layer and are still
/// there (the caller frees them after we return); the data is in user memory, described by
/// msg_iter, which the copy into the skb advanced by what it took (`len` less `count`): an
/// ITER_UBUF's offset by that much, an ITER_IOVEC's array pointer past the iovecs it used up.
/// A send that failed before the copy left it where it was.
// kernel: lib/iov_iter.c: iterate_ubuf(), iterate_iovec()
#[inline(always)]
fn sent_parts(msg: u64, len: u64) -> Option<MsgParts> {
    let iter = msg + off!(msghdr_iter) as u64;
    let iter_type: u8 = read(iter, off!(iter_type))?;
    let left: u64 = read(iter, off!(iter_count))?;
    let taken = len.saturating_sub(left);
    let ptr: u64 = read(iter, off!(iter_iov))?;
    let offset: u64 = read(iter, off!(iter_iov_offset))?;
    let (base, count, source) = if iter_type as u32 == off!(iter_type_ubuf) {
        // iov_offset starts at 0 (import_ubuf()) and moved by exactly what was taken.
        (ptr + offset - taken, len, SRC_UBUF_KERNEL_MSG)
    } else if iter_type as u32 == off!(iter_type_iovec) {
        // `offset` bytes of the current iovec were taken, and all of those before it.
        let mut unwalked = taken.saturating_sub(offset);
        let mut first = ptr;
        let mut before = 0u64;
        while before < MAX_IOVECS as u64 && unwalked > 0 {
            first -= IOVEC_SIZE;
            before += 1;
            // struct iovec { void *iov_base; size_t iov_len; }
            unwalked = unwalked.saturating_sub(read::<u64>(first, 8)?);
        }
        // (A send of more than MAX_IOVECS iovecs is shown from the MAX_IOVECS-th last one it
        // used up: the payload copy would stop there anyway.)
        let segs: u64 = read(iter, off!(iter_nr_segs))?;
        (first, segs + before, SRC_IOV_KERNEL)
    } else {
        // ITER_KVEC and the like: kernel senders, never a notify client.
        return None;
    };
    Some(MsgParts {
        base,
        count,
        name: read(msg, off!(msghdr_name)).unwrap_or(0),
        control: read(msg, off!(msghdr_control)).unwrap_or(0),
        controllen: read(msg, off!(msghdr_controllen)).unwrap_or(0),
        namelen: read::<i32>(msg, off!(msghdr_namelen)).unwrap_or(0) as u32,
        source,
    })
}

// kernel: net/core/sock.c: void sock_def_readable(struct sock *sk) — af_unix's sk_data_ready.
#[fentry(function = "sock_def_readable")]
pub fn sock_def_readable(ctx: FEntryContext) -> i32 {
    mark_delivery(ctx.arg::<*const u8>(0) as u64);
    0
}
