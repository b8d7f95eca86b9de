//! Delivery: the kernel queued a datagram on a receiving socket, in the sender's context. This is
//! where an unconnected sendto(2) to *any* path that names a watched socket (an alias, a
//! relative path, a /proc/PID/root/… path) is recognised by the receiver's identity.

use crate::{kernel::watched_receiver, pending};

#[inline(always)]
pub fn mark_delivery(receiver_sk: u64) {
    // Cheap test first: most sk_data_ready calls (TCP, UDP, softirq context) have no send of
    // ours in progress on this thread.
    let Some(p) = pending::current() else {
        return;
    };
    if let Some(id) = watched_receiver(receiver_sk) {
        // SAFETY: map value pointer, valid for this program run.
        unsafe { (*p).delivered_to = id };
    }
}
