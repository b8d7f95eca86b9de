//! The one place that decides whether a datagram is for a watched socket and, only then, copies
//! it into the ring buffer. Every strategy's result hook ends here.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
        generated::{
            bpf_get_current_cgroup_id, bpf_ktime_get_ns, bpf_probe_read_kernel,
            bpf_probe_read_kernel_str,
        },
    },
};
use observer_common::{CGROUP_NAME_MAX, Hook, PAYLOAD_MAX, SUN_PATH_MAX, SendEvent, flags, stats};

use crate::{
    datagram::{
        ADDR_SCRATCH, Scratch, address_key, bound, copy_address, copy_control, copy_payload,
        load_address, zero_words,
    },
    kernel::{cgroup_nodes, ns_tgid, off, read, unix_peer, watched_receiver},
    maps::{COLLECTOR_ASLEEP, EVENTS, SCRATCH, WAKEUP_BYTES, WATCHED_PATHS, count},
    send::pending::{MsgParts, Pending},
};

/// Reports one datagram of the send in `p` if its destination is watched.
/// `delivered_to`: watch id of the receiver the kernel queued it on (0 if none was seen).
#[inline(always)]
pub fn emit(
    p: &Pending,
    parts: &MsgParts,
    result: i64,
    hook: Hook,
    msg_index: u32,
    delivered_to: u32,
) {
    let Some(s) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU scratch, exclusively ours while this program runs.
    let s: &mut Scratch = unsafe { &mut *s };
    zero_words((&raw mut s.event).cast(), size_of::<SendEvent>() / 8);

    let has_address = copy_address(s, parts);
    let connected = parts.name == 0;
    let peer = if connected { unix_peer(p.sk) } else { 0 };
    let (watch_id, how) = if delivered_to != 0 {
        (delivered_to, flags::MATCH_IDENTITY)
    } else if has_address {
        // SAFETY: plain lookup, value copied out.
        match unsafe { WATCHED_PATHS.get(address_key(s)) } {
            Some(id) => (*id, flags::MATCH_PATH),
            None => return,
        }
    } else if connected {
        match watched_receiver(peer) {
            Some(id) => (id, flags::MATCH_IDENTITY),
            None => return,
        }
    } else {
        return;
    };
    if connected {
        copy_peer_address(s, peer);
    }
    s.event.flags |= if connected { flags::CONNECTED } else { 0 };
    let ev = &mut s.event;

    ev.watch_id = watch_id;
    ev.flags |= how;
    ev.hook = hook as u32;
    ev.msg_index = msg_index;
    ev.result = result;
    ev.ts_ns = p.ts_ns;
    // SAFETY: a helper without preconditions.
    ev.done_ns = unsafe { bpf_ktime_get_ns() };
    // SAFETY: a helper without preconditions.
    ev.cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    fill_task(ev);
    if let Some((kn, parent)) = cgroup_nodes() {
        copy_kn_name(&mut ev.cgroup_name, kn);
        copy_kn_name(&mut ev.cgroup_parent_name, parent);
    }
    copy_control(ev, parts);
    copy_payload(s, parts);

    let size = size_of::<SendEvent>()
        + bound(s.event.payload_len as u64, 2 * PAYLOAD_MAX as u64 - 1) as usize;
    // SAFETY: `payload` directly follows `event` in the #[repr(C)] Scratch and the masked length
    // never exceeds it.
    let bytes = unsafe { core::slice::from_raw_parts((s as *const Scratch).cast::<u8>(), size) };
    output(bytes);
}

/// Copies one record into the ring. The collector is woken only when it sleeps with no timer
/// (an idle observer makes no wakeups at all) or WAKEUP_BYTES wait (it drains on a timer
/// otherwise, so a burst costs one wakeup, not one per datagram).
#[inline(always)]
pub fn output(bytes: &[u8]) {
    let wake = if take_collector_asleep()
        || EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= WAKEUP_BYTES.load()
    {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    match EVENTS.output(bytes, wake as u64) {
        Ok(()) => count(stats::EMITTED),
        Err(_) => count(stats::DROPPED),
    }
}

/// Whether the collector sleeps with no timer, marking it woken: the record about to be
/// output wakes it. (Two CPUs may both see it asleep and both wake it: harmless.)
#[inline(always)]
fn take_collector_asleep() -> bool {
    let Some(p) = COLLECTOR_ASLEEP.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: an array slot lives as long as the map; aligned u64 loads and stores are atomic.
    unsafe {
        if core::ptr::read_volatile(p) == 0 {
            return false;
        }
        core::ptr::write_volatile(p, 0);
    }
    true
}

/// For a connected send, shows the address the peer is bound to.
#[inline(always)]
fn copy_peer_address(s: &mut Scratch, peer: u64) {
    let Some(addr) = read::<u64>(peer, off!(unix_addr)) else {
        return;
    };
    let Some(len) = read::<i32>(addr, off!(unix_addr_len)) else {
        return;
    };
    // unix_address.name is a struct sockaddr_un: 2 bytes of family, then sun_path. The
    // allocation is only that long: read no further, so nothing past it is passed on.
    let path_len = len - 2;
    if path_len <= 0 {
        return;
    }
    let n = if path_len as usize > SUN_PATH_MAX {
        SUN_PATH_MAX as u32
    } else {
        path_len as u32
    };
    zero_words(s.addr.as_mut_ptr(), ADDR_SCRATCH / 8);
    let src = addr + off!(unix_addr_name) as u64 + 2;
    let size = bound(u64::from(n), ADDR_SCRATCH as u64 - 1) as u32;
    // SAFETY: the helper validates src; size is masked to the 128-byte buffer.
    let ret = unsafe { bpf_probe_read_kernel(s.addr.as_mut_ptr().cast(), size, src as *const _) };
    if ret == 0 {
        load_address(s, n);
    }
}

/// A kernfs node's name (a cgroup directory's), NUL-terminated and cut to the buffer.
#[inline(always)]
fn copy_kn_name(dst: &mut [u8; CGROUP_NAME_MAX], kn: u64) {
    let Some(name) = read::<u64>(kn, off!(kn_name)) else {
        return;
    };
    // SAFETY: the helper validates `name` and writes at most CGROUP_NAME_MAX bytes.
    unsafe {
        bpf_probe_read_kernel_str(
            dst.as_mut_ptr().cast(),
            CGROUP_NAME_MAX as u32,
            name as *const _,
        )
    };
}

/// Who is running (the sender, or the reader): ids, user, name, and the PID as its own PID
/// namespace numbers it.
#[inline(always)]
pub fn fill_task(ev: &mut SendEvent) {
    let id = bpf_get_current_pid_tgid();
    let ugid = bpf_get_current_uid_gid();
    ev.tgid = (id >> 32) as u32;
    ev.tid = id as u32;
    ev.uid = ugid as u32;
    ev.gid = (ugid >> 32) as u32;
    ev.comm = bpf_get_current_comm().unwrap_or_default();
    if let Some((nr, inum)) = ns_tgid() {
        ev.ns_tgid = nr;
        ev.pidns_ino = inum;
    }
}
