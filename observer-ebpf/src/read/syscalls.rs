//! The reads seen from the recvmsg(2) syscall tracepoints, for kernels without the others: at
//! entry the fd is resolved to its socket and kept only if it is a watched one; at exit the
//! reader's own msghdr holds what the kernel wrote.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_ktime_get_ns},
    macros::tracepoint,
    programs::TracePointContext,
};
use observer_common::faults;

use super::{Reading, emit_read, is_reader};
use crate::{
    datagram::user_msghdr,
    kernel::{unix_dgram_sock_of_fd, watched_receiver},
    maps::{READING, fault},
    syscall_record::{arg, exit_ret},
};

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
    match user_msghdr(r.msg) {
        Some(parts) => emit_read(&r, &parts, ret as u64, true, 0),
        None => fault(faults::READ_ARGS),
    }
    0
}
