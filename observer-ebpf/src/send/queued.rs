//! Queued (what the docs call delivery): the kernel queued a datagram on a receiving socket, in
//! the sender's context. This is where an unconnected sendto(2) to *any* path that names a
//! watched socket (an alias, a relative path, a /proc/PID/root/… path) is recognised by the
//! receiver's identity.

use aya_ebpf::helpers::generated::bpf_ktime_get_ns;

use crate::{
    kernel::watched_receiver_typed,
    send::pending::{self, MsgParts, Pending, args_at_result},
};

#[inline(always)]
pub fn mark_delivery(receiver_sk: u64) {
    if args_at_result() {
        mark_delivery_unrecorded(receiver_sk);
        return;
    }
    // Cheap test first: most sk_data_ready calls (TCP, UDP, softirq context) have no send of
    // ours in progress on this thread.
    let Some(p) = pending::current() else {
        return;
    };
    if let Some(id) = watched_receiver_typed(receiver_sk) {
        // SAFETY: map value pointer, valid for this program run.
        unsafe { (*p).delivered_to = id };
    }
}

/// Sends are not recorded as they start (maps.rs, `ARGS_AT_RESULT`): the receiver is checked
/// first, and only a delivery to a watched socket starts the thread's send state, for the hook
/// that sees the send's result (sock_send_length, fexit unix_dgram_sendmsg) to finish.
#[inline(always)]
fn mark_delivery_unrecorded(receiver_sk: u64) {
    // TCP, UDP, netlink… in any context, and other unix sockets. (A unix socket of another type
    // never has the identity of a watched one: a path names one socket, an abstract socket is
    // known by its own inode.)
    let Some(id) = watched_receiver_typed(receiver_sk) else {
        return;
    };
    if let Some(p) = pending::current() {
        // The thread's send has state already: keep when it started.
        // SAFETY: map value pointer, valid for this program run.
        unsafe { (*p).delivered_to = id };
        return;
    }
    pending::start(&Pending {
        // SAFETY: no preconditions.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        sk: 0,
        mmsg_vec: 0,
        parts: MsgParts::UNKNOWN,
        mmsg_vlen: 0,
        results_seen: 0,
        delivered_to: id,
        _pad: 0,
    });
}
