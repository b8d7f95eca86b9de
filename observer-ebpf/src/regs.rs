//! A send's arguments read from the registers the task entered its syscall with. The hooks that
//! see a send's result (tp_btf sock_send_length, fexit unix_dgram_sendmsg) run inside the
//! syscall, so for the syscalls below nothing has to be recorded when the send starts: a send
//! gets per-thread state only once it is delivered to a watched socket (delivery.rs), and the
//! many sends that never are cost no map insert. With the tracepoint strategy this also keeps
//! the syscall tracepoints (which every syscall on the machine pays for) off for all but
//! sendmmsg.

use aya_ebpf::{
    Global,
    helpers::generated::{bpf_get_current_task_btf, bpf_ktime_get_ns, bpf_task_pt_regs},
};

use crate::{
    datagram::user_msghdr,
    kernel::{offsets, read},
    pending::{MsgParts, Pending, SRC_IOV_USER, SRC_SINGLE_USER},
};

/// 1 when userspace chose this way of working (see the module comment and
/// `Strategy::args_from_regs`): the tracepoint strategy then attaches no entry/exit hooks for
/// sendto, sendmsg, write and writev, and the fentry strategy records no state at entry for them.
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
const NR_RECVMSG: u64 = 47;

/// The user registers the current task entered the kernel with.
// kernel: task_pt_regs(current)
#[inline(always)]
fn user_regs() -> u64 {
    // SAFETY: the helpers take the trusted current-task pointer; the result is only ever read
    // through probe_read.
    unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) as u64 }
}

/// Whether the current task is in one of the syscalls [`syscall_parts`] reads.
#[inline(always)]
pub fn in_known_syscall() -> bool {
    matches!(
        read::<u64>(user_regs(), offsets().regs_orig_ax),
        Some(NR_WRITE | NR_WRITEV | NR_SENDTO | NR_SENDMSG)
    )
}

/// Where the data of the send the current task is making lives, if it is one of the syscalls
/// above (sendmmsg keeps its entry hook: its messages need numbering across the call; io_uring
/// and in-kernel senders are recorded at fentry as before).
// kernel: task_pt_regs(current)->{orig_ax, si, dx, r8, r9}
#[inline(always)]
pub fn syscall_parts() -> Option<MsgParts> {
    let o = offsets();
    let regs = user_regs();
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

/// The reader's `struct user_msghdr *`, if the current task is in recvmsg(2) (the only way any
/// systemd version reads its notify socket).
// kernel: task_pt_regs(current)->{orig_ax, si}: recvmsg(fd, msg, flags)
#[inline(always)]
pub fn recvmsg_msghdr() -> Option<u64> {
    let o = offsets();
    let regs = user_regs();
    (read::<u64>(regs, o.regs_orig_ax)? == NR_RECVMSG).then(|| read(regs, o.regs_si))?
}

/// The state of the current syscall's send on `sk`, its arguments read from the registers.
/// `ts_ns` 0: now. `delivered_to`: see emit(). None when the syscall is not one read here.
#[inline(always)]
pub fn from_regs(sk: u64, ts_ns: u64, delivered_to: u32) -> Option<Pending> {
    let parts = syscall_parts()?;
    Some(Pending {
        ts_ns: if ts_ns == 0 {
            // SAFETY: no preconditions.
            unsafe { bpf_ktime_get_ns() }
        } else {
            ts_ns
        },
        sk,
        mmsg_vec: 0,
        parts,
        mmsg_vlen: 0,
        results_seen: 1,
        delivered_to,
        _pad: 0,
    })
}
