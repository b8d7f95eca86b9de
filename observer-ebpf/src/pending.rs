//! The state of one send in progress, kept per thread between the hook that sees the arguments
//! (syscall entry / fentry) and the hook that sees the result (sock_send_length, syscall exit,
//! fexit). The delivery hook (sk_data_ready / sock_def_readable) marks it when the kernel queued
//! the datagram on a watched socket.

use aya_ebpf::helpers::bpf_get_current_pid_tgid;

use crate::maps::{PENDING, count};

/// Where the payload and address of a datagram live.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MsgParts {
    /// Single buffer: its address. Iovec array: the array's address.
    pub base: u64,
    /// Single buffer: its length. Iovec array: number of iovecs.
    pub count: u64,
    /// `struct sockaddr_un *` or 0 when connected.
    pub name: u64,
    pub control: u64,
    pub controllen: u64,
    pub namelen: u32,
    /// One of the `SRC_*` constants.
    pub source: u32,
}

impl MsgParts {
    /// Not known yet (a send seen first at its delivery: see regs.rs).
    pub const UNKNOWN: Self = Self {
        base: 0,
        count: 0,
        name: 0,
        control: 0,
        controllen: 0,
        namelen: 0,
        source: 0,
    };
}

/// `base` is one user buffer of `count` bytes (sendto, write).
pub const SRC_SINGLE_USER: u32 = 1;
/// `base` is a user array of `count` iovecs (writev, sendmsg from syscall arguments).
pub const SRC_IOV_USER: u32 = 2;
/// `base` is a kernel array of iovecs pointing into user memory (fentry: an imported iov_iter);
/// `name` and `control` are kernel memory too.
pub const SRC_IOV_KERNEL: u32 = 3;
/// `base` is one user buffer, `name`/`control` kernel memory (fentry: ITER_UBUF).
pub const SRC_UBUF_KERNEL_MSG: u32 = 4;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Pending {
    pub ts_ns: u64,
    /// The sender's `struct sock *`; 0 for a send seen first at its delivery (regs.rs).
    pub sk: u64,
    /// sendmmsg: user address of the `struct mmsghdr` vector (0 otherwise).
    pub mmsg_vec: u64,
    pub parts: MsgParts,
    pub mmsg_vlen: u32,
    /// Results seen so far by sock_send_length in this syscall (one per datagram).
    pub results_seen: u32,
    /// Watch id of the watched socket the current datagram was delivered to (0: none seen).
    pub delivered_to: u32,
    pub _pad: u32,
}

#[inline(always)]
pub fn current_tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

#[inline(always)]
pub fn start(p: &Pending) -> bool {
    if PENDING.insert(&current_tid(), p, 0).is_err() {
        count(observer_common::stats::PENDING_FULL);
        return false;
    }
    true
}

#[inline(always)]
pub fn current() -> Option<*mut Pending> {
    PENDING.get_ptr_mut(&current_tid())
}

#[inline(always)]
pub fn finish() {
    let _ = PENDING.remove(&current_tid());
}
