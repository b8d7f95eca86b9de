//! Copying one datagram as the receiver would read it: the payload (all iovecs concatenated, up
//! to PAYLOAD_MAX bytes), the destination address, and the ancillary data (SCM_CREDENTIALS,
//! SCM_RIGHTS). Source memory is the sender's (user) or the kernel's copy (fentry).

use aya_ebpf::helpers::generated::{
    bpf_probe_read_kernel, bpf_probe_read_kernel_str, bpf_probe_read_user, bpf_probe_read_user_str,
};
use observer_common::{
    MAX_IOVECS, PAYLOAD_MAX, PAYLOAD_SCRATCH, PathKey, SUN_PATH_MAX, SendEvent, flags,
};

use crate::send::pending::{
    MsgParts, SRC_IOV_KERNEL, SRC_IOV_USER, SRC_SINGLE_USER, SRC_UBUF_KERNEL_MSG,
};

/// An event being built: the header and room for the payload (see PAYLOAD_SCRATCH), then room
/// for an address: 128 bytes, so that any 7-bit-masked length fits (the verifier needs a bound).
#[repr(C)]
pub struct Scratch {
    pub event: SendEvent,
    pub payload: [u8; PAYLOAD_SCRATCH],
    pub addr: [u8; ADDR_SCRATCH],
}

pub const ADDR_SCRATCH: usize = 128;

/// `offsetof(struct sockaddr_un, sun_path)`.
const SUN_PATH_OFFSET: u32 = 2;
const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;
const SCM_CREDENTIALS: i32 = 2;
/// Linux ≥ 6.5: a pidfd of the sender, given to receivers that set SO_PASSPIDFD.
const SCM_PIDFD: i32 = 4;
/// How many cmsgs we walk; systemd-notify sends at most two (credentials + fds).
const MAX_CMSGS: u32 = 4;

/// `v & mask`, with the AND kept in the bytecode: LLVM would drop a mask it can prove redundant,
/// but older verifiers (6.1) cannot follow register-to-register bounds and need it to see that
/// a helper's size or offset is in range.
#[inline(always)]
pub fn bound(v: u64, mask: u64) -> u64 {
    core::hint::black_box(v) & mask
}

/// Zeroes `n` u64 words with plain stores. `x = [0; N]` on a large buffer becomes a call to a
/// memset subprogram, which the 6.1 verifier refuses for map-value pointers.
#[inline(always)]
pub fn zero_words(dst: *mut u8, words: usize) {
    let dst = dst.cast::<u64>();
    let mut i = 0;
    while i < words {
        // SAFETY: callers pass a buffer of at least `words` u64s, 8-byte aligned.
        unsafe { core::ptr::write_volatile(dst.add(i), 0) };
        i += 1;
    }
}

/// Copies `len` bytes between two buffers with a helper rather than memcpy (see zero_words).
#[inline(always)]
pub fn copy_bytes(dst: *mut u8, src: *const u8, len: u32) {
    // SAFETY: callers pass buffers of at least `len` bytes.
    unsafe { bpf_probe_read_kernel(dst.cast(), len, src.cast()) };
}

#[inline(always)]
fn read_into(kernel: bool, dst: *mut u8, size: u32, src: u64) -> bool {
    // SAFETY: the helpers validate `src`; callers bound `dst..dst+size` inside their buffer.
    let ret = unsafe {
        if kernel {
            bpf_probe_read_kernel(dst.cast(), size, src as *const _)
        } else {
            bpf_probe_read_user(dst.cast(), size, src as *const _)
        }
    };
    ret == 0
}

#[inline(always)]
pub fn read_val<T: Copy>(kernel: bool, src: u64) -> Option<T> {
    let mut out = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: `out` is exactly size_of::<T>() bytes; fully written on success.
    read_into(kernel, out.as_mut_ptr().cast(), size_of::<T>() as u32, src)
        .then(|| unsafe { out.assume_init() })
}

/// Whether `name` and `control` of these parts live in kernel memory.
#[inline(always)]
fn msg_in_kernel(parts: &MsgParts) -> bool {
    parts.source == SRC_IOV_KERNEL || parts.source == SRC_UBUF_KERNEL_MSG
}

/// Copies the payload into `s.payload`; sets `len`, `payload_len` and payload flags.
#[inline(always)]
pub fn copy_payload(s: &mut Scratch, parts: &MsgParts) {
    let dst = s.payload.as_mut_ptr();
    let mut total: u64 = 0;
    let mut copied: u64 = 0;
    if parts.source == SRC_SINGLE_USER || parts.source == SRC_UBUF_KERNEL_MSG {
        total = parts.count;
        copied = copy_chunk(dst, 0, parts.base, parts.count, &mut s.event.flags);
    } else {
        let kernel_array = parts.source == SRC_IOV_KERNEL;
        let mut i: u32 = 0;
        while i < MAX_IOVECS {
            if i as u64 >= parts.count {
                break;
            }
            // struct iovec { void *iov_base; size_t iov_len; }
            let Some(iov) = read_val::<[u64; 2]>(kernel_array, parts.base + i as u64 * 16) else {
                s.event.flags |= flags::PAYLOAD_UNREADABLE;
                break;
            };
            total += iov[1];
            // Never more than PAYLOAD_MAX (copy_chunk stops there); the mask tells the verifier,
            // so the paths into each iteration share one range and are pruned, instead of one
            // growing by 8 KiB per iovec (which took sys_exit_sendmmsg past 6.1's limit).
            let chunk = copy_chunk(dst, copied, iov[0], iov[1], &mut s.event.flags);
            copied = bound(copied + chunk, 2 * PAYLOAD_MAX as u64 - 1);
            i += 1;
        }
        if (i as u64) < parts.count && i == MAX_IOVECS {
            s.event.flags |= flags::IOV_TRUNCATED;
        }
    }
    s.event.len = total as u32;
    s.event.payload_len = copied as u32;
}

/// Copies up to `len` user bytes from `src` to `dst[at..]`, never past PAYLOAD_MAX; returns
/// the number of bytes copied.
#[inline(always)]
fn copy_chunk(dst: *mut u8, at: u64, src: u64, len: u64, ev_flags: &mut u32) -> u64 {
    if at >= PAYLOAD_MAX as u64 {
        return 0;
    }
    let room = PAYLOAD_MAX as u64 - at;
    let n = if len < room { len } else { room };
    // The masks are for the verifier: at < PAYLOAD_MAX and n ≤ PAYLOAD_MAX, and the scratch
    // buffer is PAYLOAD_SCRATCH = 3 * PAYLOAD_MAX bytes, so the write stays inside it.
    let at = bound(at, PAYLOAD_MAX as u64 - 1) as usize;
    let n = bound(n, 2 * PAYLOAD_MAX as u64 - 1) as u32;
    if n == 0 {
        return 0;
    }
    // SAFETY: at + n < PAYLOAD_SCRATCH (see above).
    if read_into(false, unsafe { dst.add(at) }, n, src) {
        n as u64
    } else {
        *ev_flags |= flags::PAYLOAD_UNREADABLE;
        0
    }
}

/// Reads the destination address into `s.addr` (normalised as a `PathKey`: a path name ends at
/// its first NUL, an abstract name is exactly its length, the rest is zero) and copies it into the
/// event. Returns false when the send named no address.
#[inline(always)]
pub fn copy_address(s: &mut Scratch, parts: &MsgParts) -> bool {
    if parts.name == 0 || parts.namelen <= SUN_PATH_OFFSET {
        return false;
    }
    let kernel = msg_in_kernel(parts);
    let src = parts.name + SUN_PATH_OFFSET as u64;
    let len = parts.namelen - SUN_PATH_OFFSET;
    let len = if len > SUN_PATH_MAX as u32 {
        SUN_PATH_MAX as u32
    } else {
        len
    };
    zero_words(s.addr.as_mut_ptr(), ADDR_SCRATCH / 8);
    let Some(first) = read_val::<u8>(kernel, src) else {
        return false;
    };
    let dst = s.addr.as_mut_ptr();
    let mask = ADDR_SCRATCH as u64 - 1;
    let ok = if first == 0 {
        read_into(kernel, dst, bound(len as u64, mask) as u32, src)
    } else {
        // A _str read stops at the NUL and writes one; len + 1 leaves room for it.
        read_str_into(kernel, dst, bound(len as u64 + 1, mask) as u32, src)
    };
    if !ok {
        return false;
    }
    load_address(s, len);
    true
}

/// Copies `s.addr` (already normalised) into the event.
#[inline(always)]
pub fn load_address(s: &mut Scratch, len: u32) {
    copy_bytes(
        s.event.addr.as_mut_ptr(),
        s.addr.as_ptr(),
        SUN_PATH_MAX as u32,
    );
    s.event.addr_len = len;
}

/// `s.addr` as a map key.
#[inline(always)]
pub fn address_key(s: &Scratch) -> &PathKey {
    // SAFETY: PathKey is SUN_PATH_MAX plain bytes, alignment 1; addr is at least that long.
    unsafe { &*(s.addr.as_ptr() as *const PathKey) }
}

#[inline(always)]
fn read_str_into(kernel: bool, dst: *mut u8, size: u32, src: u64) -> bool {
    // SAFETY: the helpers validate `src`; callers bound `dst..dst+size` inside their buffer.
    let ret = unsafe {
        if kernel {
            bpf_probe_read_kernel_str(dst.cast(), size, src as *const _)
        } else {
            bpf_probe_read_user_str(dst.cast(), size, src as *const _)
        }
    };
    ret > 0
}

/// Walks the control messages for SCM_CREDENTIALS and SCM_RIGHTS.
#[inline(always)]
pub fn copy_control(ev: &mut SendEvent, parts: &MsgParts) {
    if parts.control == 0 || parts.controllen < 16 {
        return;
    }
    let kernel = msg_in_kernel(parts);
    let end = parts.control + parts.controllen;
    let mut at = parts.control;
    let mut i = 0;
    while i < MAX_CMSGS {
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }
        if at + 16 > end {
            return;
        }
        let Some(hdr) = read_val::<(u64, i32, i32)>(kernel, at) else {
            ev.flags |= flags::CONTROL_TRUNCATED;
            return;
        };
        let (cmsg_len, level, ty) = hdr;
        if cmsg_len < 16 || at + cmsg_len > end {
            return;
        }
        if level == SOL_SOCKET && ty == SCM_CREDENTIALS && cmsg_len >= 16 + 12 {
            if let Some((pid, uid, gid)) = read_val::<(u32, u32, u32)>(kernel, at + 16) {
                ev.creds_pid = pid;
                ev.creds_uid = uid;
                ev.creds_gid = gid;
                ev.flags |= flags::HAS_CREDS;
            }
        } else if level == SOL_SOCKET && ty == SCM_RIGHTS {
            ev.fds += ((cmsg_len - 16) / 4) as u32;
        } else if level == SOL_SOCKET && ty == SCM_PIDFD {
            ev.flags |= flags::HAS_PIDFD;
        }
        // CMSG_NXTHDR: advance by CMSG_ALIGN(cmsg_len).
        at += (cmsg_len + 7) & !7;
        i += 1;
    }
    if at + 16 <= end {
        ev.flags |= flags::CONTROL_TRUNCATED;
    }
}

/// Reads a user `struct msghdr` (x86_64 layout) into parts.
#[inline(always)]
pub fn user_msghdr(msg: u64) -> Option<MsgParts> {
    // struct msghdr { void *name; int namelen; struct iovec *iov; size_t iovlen;
    //                 void *control; size_t controllen; int flags; }
    let m: [u64; 7] = read_val(false, msg)?;
    Some(MsgParts {
        base: m[2],
        count: m[3],
        name: m[0],
        control: m[4],
        controllen: m[5],
        namelen: m[1] as u32,
        source: SRC_IOV_USER,
    })
}

/// Reads a u32 from user memory.
#[inline(always)]
pub fn user_u32(addr: u64) -> Option<u32> {
    read_val(false, addr)
}
