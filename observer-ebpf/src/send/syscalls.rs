//! The tracepoint strategy's syscall tracepoints, for kernels where its BTF tracepoints cannot
//! read a send's arguments from the registers (no sock_send_length, or no sk_data_ready):
//! syscall entry records where a send's data lives, and the exit reports the sends that
//! sock_send_length did not (older kernels, early errors).

use aya_ebpf::{
    helpers::generated::bpf_ktime_get_ns, macros::tracepoint, programs::TracePointContext,
};
use aya_log_ebpf::debug;
use observer_common::Hook;

use crate::{
    arch::{MMSGHDR_MSG_LEN, MMSGHDR_SIZE},
    datagram::user_msghdr,
    kernel::unix_dgram_sock_of_fd,
    send::{
        emit::emit,
        pending::{self, MsgParts, Pending, SRC_IOV_USER, SRC_SINGLE_USER},
    },
    syscall_record::{arg, exit_ret},
};

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
            let sent = crate::datagram::user_u32(at + MMSGHDR_MSG_LEN).unwrap_or(0);
            emit(&p, &parts, sent as i64, Hook::SyscallExit, i, 0);
        }
        i += 1;
    }
    0
}
