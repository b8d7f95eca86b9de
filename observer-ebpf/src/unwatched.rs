//! Receivers already found not watched (`observer_common::unwatched`): the delivery hooks run for
//! every AF_UNIX datagram on the machine, and most go, over and over, to the same few sockets
//! nobody watches. Two array loads (inlined lookups, no helper call) answer for those.

use observer_common::unwatched::{slot, tag};

use crate::maps::{UNWATCHED, WATCH_GENERATION};

/// The watched sockets' generation now; 0 before userspace set any (nothing is then stored).
#[inline(always)]
pub fn generation() -> u64 {
    // SAFETY: an array slot lives as long as the map; an aligned u64 load is atomic.
    WATCH_GENERATION
        .get_ptr(0)
        .map_or(0, |p| unsafe { core::ptr::read_volatile(p) })
}

/// Whether the socket whose sockfs inode is `ino` was found not watched in `generation`.
#[inline(always)]
pub fn known(ino: u64, generation: u64) -> bool {
    if generation == 0 || ino == 0 {
        return false;
    }
    // SAFETY: as above.
    UNWATCHED
        .get_ptr(slot(ino))
        .is_some_and(|p| unsafe { core::ptr::read_volatile(p) } == tag(ino, generation))
}

/// Remembers that the socket whose sockfs inode is `ino` is not watched in `generation` (read
/// before the lookup that found so).
#[inline(always)]
pub fn remember(ino: u64, generation: u64) {
    if generation == 0 || ino == 0 {
        return;
    }
    if let Some(p) = UNWATCHED.get_ptr_mut(slot(ino)) {
        // SAFETY: as above; one aligned u64 store, so no reader ever sees half of it.
        unsafe { core::ptr::write_volatile(p, tag(ino, generation)) };
    }
}
