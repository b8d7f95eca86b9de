//! A send's arguments read from the registers the task entered its syscall with, for the
//! tracepoint strategy on kernels with sock_send_length and sk_data_ready: they run inside the
//! send, so nothing has to be recorded at syscall entry, and the syscall tracepoints (which
//! every syscall on the machine pays for) can stay off for all but sendmmsg.

use aya_ebpf::{
    Global,
    helpers::generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
};

use crate::{
    datagram::user_msghdr,
    kernel::{offsets, read},
    pending::{MsgParts, SRC_IOV_USER, SRC_SINGLE_USER},
};

/// 1 when userspace attached the tracepoint strategy this way (sendto, sendmsg, write and writev
/// without entry/exit hooks): sock_send_length then reads those sends' arguments here, and
/// sk_data_ready starts the per-thread state of a send it sees delivered to a watched socket.
#[unsafe(no_mangle)]
pub static ARGS_FROM_REGS: Global<u32> = Global::new(0);

#[inline(always)]
pub fn args_from_regs() -> bool {
    ARGS_FROM_REGS.load() != 0
}

// x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl); the user structs the
// kernel side reads (msghdr, iovec) are x86_64's too.
const NR_WRITE: u64 = 1;
const NR_WRITEV: u64 = 20;
const NR_SENDTO: u64 = 44;
const NR_SENDMSG: u64 = 46;

/// Where the data of the send the current task is making lives, if it is one of the syscalls
/// above (sendmmsg keeps its entry hook: its messages need numbering across the call).
// kernel: task_pt_regs(current)->{orig_ax, si, dx, r8, r9}
#[inline(always)]
pub fn syscall_parts() -> Option<MsgParts> {
    let o = offsets();
    // SAFETY: the helpers take the trusted current-task pointer; the result is only ever read
    // through probe_read.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as u64;
    let nr: u64 = read(regs, o.regs_orig_ax)?;
    let arg = |off: u32| read::<u64>(regs, off).unwrap_or(0);
    match nr {
        // write(fd, buf, count), writev(fd, iov, iovcnt)
        NR_WRITE | NR_WRITEV => Some(MsgParts {
            base: arg(o.regs_si),
            count: arg(o.regs_dx),
            name: 0,
            control: 0,
            controllen: 0,
            namelen: 0,
            source: if nr == NR_WRITE {
                SRC_SINGLE_USER
            } else {
                SRC_IOV_USER
            },
        }),
        // sendto(fd, buf, len, flags, addr, addrlen)
        NR_SENDTO => Some(MsgParts {
            base: arg(o.regs_si),
            count: arg(o.regs_dx),
            name: arg(o.regs_r8),
            control: 0,
            controllen: 0,
            namelen: arg(o.regs_r9) as u32,
            source: SRC_SINGLE_USER,
        }),
        // sendmsg(fd, msg, flags)
        NR_SENDMSG => user_msghdr(arg(o.regs_si)),
        _ => None,
    }
}
