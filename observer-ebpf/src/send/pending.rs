//! The state of one send in progress, kept per thread between the hook that sees the arguments
//! (syscall entry / fentry) and the hook that sees the result (sock_send_length, syscall exit,
//! fexit). The delivery hook (sk_data_ready / sock_def_readable) marks it when the kernel queued
//! the datagram on a watched socket.

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use aya_ebpf::helpers::bpf_get_current_pid_tgid;

use crate::maps::{ARGS_AT_RESULT, LIVE, PENDING, count, fault};

#[inline(always)]
pub fn args_at_result() -> bool {
    ARGS_AT_RESULT.load() != 0
}

/// Adds `delta` (wrapping: `u64::MAX` is -1) to LIVE atomically. (The bpfel target offers no
/// `AtomicU64::fetch_add`; this is the BPF atomic add it lowers to.)
#[inline(always)]
fn live_add(delta: u64) {
    if let Some(p) = LIVE.get_ptr_mut(0) {
        // SAFETY: an array slot lives as long as the map; every writer adds atomically.
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, delta) };
    }
}

#[inline(always)]
fn live_is_zero() -> bool {
    // SAFETY: as above; an aligned u64 load is atomic.
    LIVE.get_ptr(0)
        .is_some_and(|p| unsafe { core::ptr::read_volatile(p) } == 0)
}

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

impl Pending {
    /// One datagram whose arguments were found where its result is seen (`ARGS_AT_RESULT`),
    /// reported at once.
    #[inline(always)]
    pub fn at_result(ts_ns: u64, sk: u64, parts: MsgParts, delivered_to: u32) -> Self {
        Self {
            ts_ns,
            sk,
            mmsg_vec: 0,
            parts,
            mmsg_vlen: 0,
            results_seen: 1,
            delivered_to,
            _pad: 0,
        }
    }
}

#[inline(always)]
pub fn current_tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

#[inline(always)]
pub fn start(p: &Pending) -> bool {
    let tid = current_tid();
    // Counted before it can be looked up; a thread's own entry replaced is not counted twice.
    // SAFETY: plain lookup; only its presence matters.
    let new = unsafe { PENDING.get(&tid) }.is_none();
    if new {
        live_add(1);
    }
    if PENDING.insert(&tid, p, 0).is_err() {
        if new {
            live_add(u64::MAX);
        }
        count(observer_common::stats::UNTRACKED);
        fault(observer_common::faults::SEND_STATE);
        return false;
    }
    true
}

#[inline(always)]
pub fn current() -> Option<*mut Pending> {
    if live_is_zero() {
        return None;
    }
    current_ungated()
}

/// [`current`] without the LIVE test, for the syscall exit hooks: they run only where every
/// send is recorded at entry (so LIVE is rarely 0), and the test's branch is enough to push
/// sys_exit_sendmmsg's unrolled loop past the 6.1 verifier's limit.
#[inline(always)]
pub fn current_ungated() -> Option<*mut Pending> {
    PENDING.get_ptr_mut(&current_tid())
}

#[inline(always)]
pub fn finish() {
    // Branch-free: a branch here doubles the paths the (6.1) verifier walks through
    // sys_exit_sendmmsg's unrolled loop.
    let removed = u64::from(PENDING.remove(&current_tid()).is_ok());
    live_add(removed.wrapping_neg());
}
