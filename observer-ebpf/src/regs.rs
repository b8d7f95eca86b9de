//! A send's arguments read from the registers the task entered its syscall with, for the
//! tracepoint strategy where the kernel has tp_btf sock_send_length and sk_data_ready (the
//! fentry strategy reads the send's msghdr instead, send/fentry.rs). sock_send_length sees the
//! send's result inside the syscall, so for the syscalls below nothing has to be recorded when
//! the send starts (maps.rs, `ARGS_AT_RESULT`), and the syscall tracepoints stay off, which
//! every syscall on the machine would pay for. The reads of a watched socket's reader
//! (read/) find the reader's msghdr here too.
//!
//! sendmmsg's messages are numbered by a per-thread cursor moved on each of its datagrams to a
//! watched socket (see [`mmsg_index`]).

use aya_ebpf::helpers::{
    bpf_get_current_pid_tgid,
    generated::{bpf_get_current_task_btf, bpf_ktime_get_ns, bpf_task_pt_regs},
};
use observer_common::MAX_MMSG;

use crate::{
    arch::{
        MMSGHDR_MSG_LEN, MMSGHDR_SIZE, NR_RECVMSG, NR_SENDMMSG, NR_SENDMSG, NR_SENDTO, NR_WRITE,
        NR_WRITEV,
    },
    datagram::{user_msghdr, user_u32},
    kernel::{off, read},
    maps::MMSG_CURSOR,
    send::pending::{MsgParts, Pending, SRC_IOV_USER, SRC_SINGLE_USER},
};

/// The kernel caps a sendmmsg's vlen at UIO_MAXIOV.
const UIO_MAXIOV: u64 = 1024;

/// Where the current thread's sendmmsg(2) call is: the message its next datagram sends.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MmsgCursor {
    vec: u64,
    vlen: u64,
    next: u64,
    /// What the previous datagram sent: the kernel writes it into that message's msg_len
    /// before it sends the next one.
    last_ret: u64,
}

/// The user registers the current task entered the kernel with.
// kernel: task_pt_regs(current)
#[inline(always)]
fn user_regs() -> u64 {
    // SAFETY: the helpers take the trusted current-task pointer; the result is only ever read
    // through probe_read.
    unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) as u64 }
}

/// The syscall number in `regs` ([`user_regs`]), read straight from them: `bpf_task_pt_regs`
/// returns a BTF-typed pointer, which the verifier lets us load from at the (load-time
/// constant) offset of `orig_ax`, with no probe_read call. It runs only for sends that may
/// concern a watched socket, and for the reads of its reader.
#[inline(always)]
fn syscall_nr(regs: u64) -> u64 {
    let at = regs + off!(regs_orig_ax) as u64;
    // SAFETY: a field of the task's pt_regs, checked by the verifier against the kernel's BTF.
    unsafe { core::ptr::read_volatile(at as *const u64) }
}

/// The index, within the current sendmmsg(vec, vlen) call, of the AF_UNIX datagram whose result
/// is `ret`; moves the thread's cursor past it. Called for each datagram of the call that was
/// delivered to a watched socket, and for one that failed (which ends the call):
/// __sys_sendmmsg() sends them in order, writes each one's msg_len before the next, and stops at
/// the first failure. A call is known to go on when the cursor names the same vector and the
/// previous message's msg_len holds what it sent; otherwise it is a new call.
///
/// Datagrams delivered to sockets nobody watches move no cursor: counting them would cost every
/// AF_UNIX send on the machine the two helper calls that find its syscall number (26 ns a
/// datagram on the bench machine, a tenth of the tracepoint strategy's whole cost). So a call
/// that sends to another socket and then to a watched one (one sendmmsg with several
/// destinations; libsystemd, systemd-notify and every sd_notify() clone send one sendmsg)
/// numbers the watched datagrams as if the others were not there, and takes each one's payload
/// from the message at that number. A call that stopped where no datagram hook saw it (a bad
/// msghdr) followed by one on the same vector can be misnumbered too.
// kernel: net/socket.c: __sys_sendmmsg()
#[inline(always)]
fn mmsg_index(vec: u64, vlen: u64, ret: i32) -> u32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    // unsigned int vlen
    let vlen = vlen & 0xffff_ffff;
    let vlen = if vlen > UIO_MAXIOV { UIO_MAXIOV } else { vlen };
    // SAFETY: map value copied out at once.
    let index = match unsafe { MMSG_CURSOR.get(&tid) }.copied() {
        Some(c)
            if c.vec == vec
                && c.vlen == vlen
                && c.next >= 1
                && c.next < vlen
                && user_u32(vec + (c.next - 1) * MMSGHDR_SIZE + MMSGHDR_MSG_LEN)
                    == Some(c.last_ret as u32) =>
        {
            c.next
        }
        _ => 0,
    };
    if ret < 0 || index + 1 >= vlen {
        let _ = MMSG_CURSOR.remove(&tid);
    } else {
        let c = MmsgCursor {
            vec,
            vlen,
            next: index + 1,
            last_ret: ret as u64,
        };
        let _ = MMSG_CURSOR.insert(&tid, &c, 0);
    }
    index as u32
}

/// Where the data of the send the current task is making lives, and its index in a sendmmsg,
/// if it is one of the syscalls above (io_uring and in-kernel senders are not).
/// `ret`: this datagram's result; it moves a sendmmsg's cursor.
// kernel: task_pt_regs(current)->{orig_ax, si, dx, r8, r9}
#[inline(always)]
pub fn syscall_parts(ret: i32) -> Option<(MsgParts, u32)> {
    let regs = user_regs();
    let nr = syscall_nr(regs);
    let arg = |off: u32| read::<u64>(regs, off).unwrap_or(0);
    let parts = match nr {
        // write(fd, buf, count), writev(fd, iov, iovcnt)
        NR_WRITE | NR_WRITEV => Some(MsgParts {
            base: arg(off!(regs_si)),
            count: arg(off!(regs_dx)),
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
            base: arg(off!(regs_si)),
            count: arg(off!(regs_dx)),
            name: arg(off!(regs_r8)),
            control: 0,
            controllen: 0,
            namelen: arg(off!(regs_r9)) as u32,
            source: SRC_SINGLE_USER,
        }),
        // sendmsg(fd, msg, flags)
        NR_SENDMSG => user_msghdr(arg(off!(regs_si))),
        // sendmmsg(fd, vec, vlen, flags)
        NR_SENDMMSG => {
            let vec = arg(off!(regs_si));
            let index = mmsg_index(vec, arg(off!(regs_dx)), ret);
            if index >= MAX_MMSG {
                return None;
            }
            return Some((user_msghdr(vec + index as u64 * MMSGHDR_SIZE)?, index));
        }
        _ => None,
    };
    Some((parts?, 0))
}

/// The arguments of the current task's recvmsg(2) call, if it is in one (the only way any
/// systemd version reads its notify socket).
pub struct RecvmsgArgs {
    pub fd: u64,
    /// `struct user_msghdr *`
    pub msg: u64,
    pub flags: u64,
}

// kernel: task_pt_regs(current)->{orig_ax, di, si, dx}: recvmsg(fd, msg, flags)
#[inline(always)]
pub fn recvmsg_args() -> Option<RecvmsgArgs> {
    let regs = user_regs();
    if syscall_nr(regs) != NR_RECVMSG {
        return None;
    }
    Some(RecvmsgArgs {
        fd: read(regs, off!(regs_di))?,
        msg: read(regs, off!(regs_si))?,
        flags: read(regs, off!(regs_dx))?,
    })
}

/// The state of the current syscall's send on `sk` whose result is `ret`, its arguments read
/// from the registers, and its index in a sendmmsg. `ts_ns` 0: now. `delivered_to`: see
/// emit(). None when the syscall is not one read here.
#[inline(always)]
pub fn from_regs(sk: u64, ts_ns: u64, delivered_to: u32, ret: i32) -> Option<(Pending, u32)> {
    let (parts, index) = syscall_parts(ret)?;
    let ts_ns = if ts_ns == 0 {
        // SAFETY: no preconditions.
        unsafe { bpf_ktime_get_ns() }
    } else {
        ts_ns
    };
    Some((Pending::at_result(ts_ns, sk, parts, delivered_to), index))
}
