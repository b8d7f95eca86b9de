//! Reading kernel structures. Rust eBPF has no CO-RE, so every offset comes from `OFFSETS`,
//! which userspace fills from the running kernel's BTF before load.

use aya_ebpf::helpers::{
    bpf_get_current_task,
    generated::{bpf_probe_read_kernel, bpf_skc_to_unix_sock},
};
use observer_common::{Offsets, SocketKey, prefilter};

use crate::{
    maps::{OFFSETS, TYPED_LOADS, WATCHED_SOCKETS, may_hold},
    unwatched,
};

pub const AF_UNIX: u16 = 1;
pub const SOCK_DGRAM: u16 = 2;
pub const SOCK_SEQPACKET: u16 = 5;

/// `OFFSETS` in place. (Its `load()` would copy the whole struct, a volatile read of every
/// field, wherever one offset is needed: on every hook run.)
#[inline(always)]
pub fn offsets_ptr() -> *const Offsets {
    // Global<T> is repr(transparent) over the T.
    (&raw const OFFSETS).cast()
}

/// One offset from `OFFSETS`, read on its own; volatile so that the compiler never folds in the
/// zeros the object file holds before userspace fills them in.
macro_rules! off {
    ($field:ident) => {
        // SAFETY: a field of the OFFSETS global, always initialised.
        unsafe { core::ptr::read_volatile(&raw const (*$crate::kernel::offsets_ptr()).$field) }
    };
}
pub(crate) use off;

/// Reads a `T` at kernel address `addr + off`; `None` on a fault or a NULL base.
#[inline(always)]
pub fn read<T: Copy>(addr: u64, off: u32) -> Option<T> {
    if addr == 0 {
        return None;
    }
    let mut out = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: the helper checks the source; the destination is our own stack slot of size T.
    let ret = unsafe {
        bpf_probe_read_kernel(
            out.as_mut_ptr().cast(),
            size_of::<T>() as u32,
            (addr + off as u64) as *const _,
        )
    };
    // SAFETY: a zero return means the helper wrote all size_of::<T>() bytes.
    (ret == 0).then(|| unsafe { out.assume_init() })
}

/// `struct sock *` behind file descriptor `fd` of the current task, when it is an AF_UNIX
/// datagram or seqpacket socket (the only kinds a notify socket accepts).
// kernel: task->files->fdt->fd[fd]->private_data (struct socket *)->sk
#[inline(always)]
pub fn unix_dgram_sock_of_fd(fd: u64) -> Option<u64> {
    // SAFETY: returns the current task_struct pointer; only ever read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    let files: u64 = read(task, off!(task_files))?;
    let fdt: u64 = read(files, off!(files_fdt))?;
    let max_fds: u32 = read(fdt, off!(fdtable_max_fds))?;
    if fd >= max_fds as u64 {
        return None;
    }
    let fd_array: u64 = read(fdt, off!(fdtable_fd))?;
    let file: u64 = read(fd_array + fd * 8, 0)?;
    let socket: u64 = read(file, off!(file_private_data))?;
    // Any file has private_data; only a socket's points back at the file.
    let back: u64 = read(socket, off!(socket_file))?;
    if back != file {
        return None;
    }
    let sk: u64 = read(socket, off!(socket_sk))?;
    is_unix_dgram(sk).then_some(sk)
}

#[inline(always)]
pub fn is_unix(sk: u64) -> bool {
    read::<u16>(sk, off!(sk_family)) == Some(AF_UNIX)
}

#[inline(always)]
pub fn is_unix_dgram(sk: u64) -> bool {
    let family: u16 = read(sk, off!(sk_family)).unwrap_or(0);
    let ty: u16 = read(sk, off!(sk_type)).unwrap_or(0);
    family == AF_UNIX && (ty == SOCK_DGRAM || ty == SOCK_SEQPACKET)
}

/// The connected peer of a unix socket (`unix_peer(sk)`), 0 when not connected.
#[inline(always)]
pub fn unix_peer(sk: u64) -> u64 {
    read(sk, off!(unix_peer)).unwrap_or(0)
}

/// Loads a `T` at `base + off`, where `base` is a BTF-typed kernel pointer (a tp_btf or fentry
/// argument, or a pointer loaded through one) and `off` a load-time constant: the verifier
/// checks the access against the kernel's BTF and guards it against faults, so no probe_read
/// call is needed. A NULL or bad `base` reads 0.
#[inline(always)]
fn load<T: Copy>(base: u64, off: u32) -> T {
    // SAFETY: see above; the verifier refuses the program if the access is not a field of the
    // pointed-to type.
    unsafe { core::ptr::read_volatile((base + off as u64) as *const T) }
}

/// [`watched_receiver`] for a BTF-typed `sk` (the delivery hooks' argument), which also says
/// whether `sk` is AF_UNIX at all. This runs for every datagram and wakeup on the machine: other
/// families leave at the first load, sockets already found not watched after three more where
/// the kernel has `sk_ino` (unwatched.rs), and the rest are looked up by direct loads, a
/// fraction of the six probe_read calls the other way makes.
#[inline(always)]
pub fn watched_receiver_typed(sk: u64) -> Option<u32> {
    if TYPED_LOADS.load() == 0 {
        return if is_unix(sk) {
            watched_receiver(sk)
        } else {
            None
        };
    }
    if load::<u16>(sk, off!(sk_family)) != AF_UNIX {
        return None;
    }
    let at = off!(sk_ino);
    // A load-time constant: the verifier walks only one of the two ways.
    if at == u32::MAX {
        return unix_receiver_typed(sk);
    }
    // Read before the lookup: see observer_common::unwatched.
    let generation = unwatched::generation();
    let ino: u64 = load(sk, at);
    if unwatched::known(ino, generation) {
        return None;
    }
    let id = unix_receiver_typed(sk);
    if id.is_none() {
        unwatched::remember(ino, generation);
    }
    id
}

/// The watch id of AF_UNIX socket `sk` (BTF-typed), if watched.
#[inline(always)]
fn unix_receiver_typed(sk: u64) -> Option<u32> {
    // SAFETY: takes any socket pointer; NULL unless it is an AF_UNIX one.
    let u = unsafe { bpf_skc_to_unix_sock(sk as *mut _) } as u64;
    if u == 0 {
        return None;
    }
    let dentry: u64 = load(u, off!(unix_path_dentry));
    if dentry == 0 {
        // Abstract or unbound: known by its sockfs inode, which typed loads cannot reach.
        return watched_receiver(sk);
    }
    watch_id(&path_key(true, dentry)?)
}

/// A field at `base + off`: by a direct load when `typed` ([`load`]), else by probe_read.
/// `typed` is a constant at every call site, so only one of the two is ever compiled in.
#[inline(always)]
fn field<T: Copy>(typed: bool, base: u64, off: u32) -> Option<T> {
    if typed {
        Some(load(base, off))
    } else {
        read(base, off)
    }
}

/// The identity of a socket bound to a path: the inode the path names (so any alias of the path
/// matches), from the socket's `unix_sk(sk)->path.dentry`. `None` as soon as the inode number
/// is surely not watched (the prefilter), before the superblock is read: this runs for every
/// datagram delivered on the machine.
#[inline(always)]
fn path_key(typed: bool, dentry: u64) -> Option<SocketKey> {
    let inode: u64 = field(typed, dentry, off!(dentry_inode))?;
    let ino: u64 = field(typed, inode, off!(inode_ino))?;
    if !may_hold(prefilter::WATCHED_INO, ino) {
        return None;
    }
    let sb: u64 = field(typed, inode, off!(inode_sb))?;
    Some(SocketKey {
        ino,
        dev: field(typed, sb, off!(sb_dev))?,
        _pad: 0,
    })
}

/// The watch id of `key`, which has passed the prefilter (path_key(), watched_receiver()).
#[inline(always)]
fn watch_id(key: &SocketKey) -> Option<u32> {
    // SAFETY: plain lookup; the value is copied out at once.
    unsafe { WATCHED_SOCKETS.get(key) }.copied()
}

/// Watch id of receiving socket `sk` if we watch it. A socket bound to a path is known by the
/// inode its path names (so any alias of the path matches); an abstract one by its sockfs inode.
#[inline(always)]
pub fn watched_receiver(sk: u64) -> Option<u32> {
    let dentry: u64 = read(sk, off!(unix_path_dentry))?;
    let key = if dentry != 0 {
        path_key(false, dentry)?
    } else {
        let socket: u64 = read(sk, off!(sk_socket))?;
        let ino: u64 = read(socket + off!(socket_to_inode) as u64, off!(inode_ino))?;
        if !may_hold(prefilter::WATCHED_INO, ino) {
            return None;
        }
        SocketKey {
            ino,
            dev: 0,
            _pad: 0,
        }
    };
    watch_id(&key)
}

/// The current process's id in its innermost PID namespace and that namespace's inode.
// kernel: task->group_leader->thread_pid->numbers[level].{nr, ns->ns.inum}
#[inline(always)]
pub fn ns_tgid() -> Option<(u32, u32)> {
    // SAFETY: returns the current task_struct pointer; only ever read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    let leader: u64 = read(task, off!(task_group_leader))?;
    let pid: u64 = read(leader, off!(task_thread_pid))?;
    let level: u32 = read(pid, off!(pid_level))?;
    // MAX_PID_NS_LEVEL is 32: keep the index in range for any reader of this code.
    let upid = pid + off!(pid_numbers) as u64 + (level & 63) as u64 * off!(upid_size) as u64;
    let nr: i32 = read(upid, off!(upid_nr))?;
    let ns: u64 = read(upid, off!(upid_ns))?;
    let inum: u32 = read(ns, off!(pidns_inum))?;
    Some((nr as u32, inum))
}

/// The kernfs nodes of the current task's cgroup v2 directory and of its parent.
// kernel: task->cgroups->dfl_cgrp->kn, kn->parent (renamed __parent in 6.15: offset from BTF)
#[inline(always)]
pub fn cgroup_nodes() -> Option<(u64, u64)> {
    // SAFETY: returns the current task_struct pointer; only ever read through probe_read.
    let task = unsafe { bpf_get_current_task() };
    let cset: u64 = read(task, off!(task_cgroups))?;
    let cgrp: u64 = read(cset, off!(css_set_dfl_cgrp))?;
    let kn: u64 = read(cgrp, off!(cgroup_kn))?;
    let parent: u64 = read(kn, off!(kn_parent)).unwrap_or(0);
    Some((kn, parent))
}
