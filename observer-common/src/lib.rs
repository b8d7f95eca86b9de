//! The kernel↔user ABI of the observer, defined once and shared by `observer-ebpf` (kernel) and
//! `observer` (userspace). Everything here is `#[repr(C)]` with explicit padding, so both sides
//! agree byte for byte; compile-time asserts catch layout drift.
#![no_std]

use core::mem::size_of;

/// systemd reads at most this many bytes of a notify datagram (NOTIFY_BUFFER_MAX = PIPE_BUF).
pub const PAYLOAD_MAX: usize = 4096;
/// Room the kernel side needs to copy a payload at a verifier-bounded offset: offsets are masked
/// to `PAYLOAD_MAX - 1` and lengths to `2 * PAYLOAD_MAX - 1`, so the scratch buffer must hold both.
pub const PAYLOAD_SCRATCH: usize = 3 * PAYLOAD_MAX;
/// `sizeof(((struct sockaddr_un *)0)->sun_path)`.
pub const SUN_PATH_MAX: usize = 108;
/// `TASK_COMM_LEN`.
pub const COMM_LEN: usize = 16;
/// How many iovecs the kernel side walks per datagram; more are flagged `IOV_TRUNCATED`.
pub const MAX_IOVECS: u32 = 32;
/// How many messages of one sendmmsg(2) call are reported.
pub const MAX_MMSG: u32 = 16;

/// What produced an event. Fixed numbers: recordings depend on them.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// fexit on `unix_dgram_sendmsg`, the fentry strategy's result hook. Named after the
    /// strategy, not the program type: the name is what JSON's `hook` field says (`"Fentry"`),
    /// so renaming it would change the output.
    Fentry = 1,
    /// `tp_btf/sock_send_length`: per-datagram result inside a send syscall.
    SockSendLength = 2,
    /// `syscalls/sys_exit_*`: the syscall's return value (kernels without sock_send_length).
    SyscallExit = 3,
    /// A watched socket's reader (its manager) read a datagram, seen by whichever receive hook
    /// userspace attached (observer-ebpf's read/: `fentry/skb_free_datagram`,
    /// `fexit/unix_dgram_recvmsg`, `tp_btf/consume_skb`, `tp_btf/sock_recv_length` or
    /// `syscalls/sys_exit_recvmsg`). The record is a [`SendEvent`] seen from the reader's side,
    /// the same layout so that the ring, the copy routines and the decoder serve both
    /// directions:
    /// - `ts_ns`: when the read returned (the datagram left the queue); `done_ns`: when it started.
    /// - `tgid`, `tid`, `uid`, `gid`, `comm`, `ns_tgid`, `pidns_ino`: the reader's.
    /// - `len`: the datagram's full length (the read's return value; systemd reads with MSG_TRUNC);
    ///   `payload_len` bytes follow, as the reader's buffer holds them.
    /// - `creds_*` with `HAS_CREDS`: the SCM_CREDENTIALS the reader received (translated by the
    ///   kernel into its PID namespace); `fds`: SCM_RIGHTS descriptors received.
    ///   `flags::HAS_PIDFD`: an SCM_PIDFD was received too (systemd ≥ 256 asks for one).
    /// - `watch_id`: the watched socket read from; `cgroup_*`, `addr*`, `result`, `msg_index`:
    ///   unused (0).
    RecvmsgExit = 4,
}

impl Hook {
    /// Whether the record is a read by the socket's reader rather than a send.
    pub fn is_receive(self) -> bool {
        matches!(self, Self::RecvmsgExit)
    }
}

impl TryFrom<u32> for Hook {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        match v {
            1 => Ok(Self::Fentry),
            2 => Ok(Self::SockSendLength),
            3 => Ok(Self::SyscallExit),
            4 => Ok(Self::RecvmsgExit),
            other => Err(other),
        }
    }
}

/// Bits of [`SendEvent::flags`].
pub mod flags {
    /// The sender attached SCM_CREDENTIALS; `creds_*` are valid.
    pub const HAS_CREDS: u32 = 1 << 0;
    /// The receiving socket was identified by identity (peer socket / delivery), not by path.
    pub const MATCH_IDENTITY: u32 = 1 << 1;
    /// Only the destination path string matched (the kernel never resolved a receiver:
    /// the send failed before that, e.g. ENOENT, ECONNREFUSED, EPERM, EAGAIN).
    pub const MATCH_PATH: u32 = 1 << 2;
    /// More iovecs than `MAX_IOVECS`: the payload may be incomplete.
    pub const IOV_TRUNCATED: u32 = 1 << 3;
    /// The control data could not be fully parsed (too many cmsgs, unreadable).
    pub const CONTROL_TRUNCATED: u32 = 1 << 4;
    /// The socket was connected (no destination address in the send).
    pub const CONNECTED: u32 = 1 << 5;
    /// The payload could not be read from the sender's memory.
    pub const PAYLOAD_UNREADABLE: u32 = 1 << 6;
    /// A read (hook RecvmsgExit) received SCM_PIDFD.
    pub const HAS_PIDFD: u32 = 1 << 7;
    /// A read whose control buffer was too small (MSG_CTRUNC): credentials or fds were cut.
    pub const READ_CTRUNC: u32 = 1 << 8;
    /// A read that saw whether the process its credentials name was still there (not reaped;
    /// a zombie counts) when the manager took the datagram: `SENDER_REAPED` is meaningful.
    pub const SENDER_LIVENESS: u32 = 1 << 9;
    /// With `SENDER_LIVENESS`: that process had been reaped already. systemd then cannot find
    /// its cgroup (< v257 and ≥ v258: "Cannot find unit", unless a unit watches the PID), nor
    /// pin it with a pidfd (v257: "Notify sender died before message is processed").
    pub const SENDER_REAPED: u32 = 1 << 10;
    /// With `SENDER_LIVENESS`, not reaped: that process had exited already (exiting, or a
    /// zombie). Its parent may reap it between the manager's read and its look-up of the PID's
    /// cgroup, and systemd then cannot find the unit: a race the verdict can only name.
    pub const SENDER_EXITED: u32 = 1 << 11;
}

/// One datagram sent to a watched socket. Followed in the ring buffer by `payload_len` bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SendEvent {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the send started.
    pub ts_ns: u64,
    /// `bpf_ktime_get_ns()` when the result was known.
    pub done_ns: u64,
    pub cgroup_id: u64,
    /// Bytes sent, or `-errno`.
    pub result: i64,
    /// [`Hook`] as u32.
    pub hook: u32,
    pub tgid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Full datagram length (may exceed `payload_len`).
    pub len: u32,
    /// Bytes of payload that follow this header (≤ PAYLOAD_MAX).
    pub payload_len: u32,
    pub flags: u32,
    pub creds_pid: u32,
    pub creds_uid: u32,
    pub creds_gid: u32,
    /// File descriptors attached with SCM_RIGHTS.
    pub fds: u32,
    /// Value of the watched-socket entry that matched (userspace's id for it).
    pub watch_id: u32,
    /// Bytes of `addr` that are valid (0: connected socket, no address given).
    pub addr_len: u32,
    /// Index of the message within a sendmmsg(2) call (0 otherwise).
    pub msg_index: u32,
    /// The sender's process id in its own (innermost) PID namespace, taken at send time: a
    /// container's manager sees this one, and the sender may be gone before userspace could ask.
    pub ns_tgid: u32,
    pub comm: [u8; COMM_LEN],
    /// `sun_path` as the sender gave it (abstract names start with a NUL byte).
    pub addr: [u8; SUN_PATH_MAX],
    /// Inode number of that PID namespace (as in /proc/PID/ns/pid).
    pub pidns_ino: u32,
    /// Names of the sender's cgroup (v2) and of its parent, NUL-terminated, taken at send time:
    /// a sender's unit can be gone (and its cgroup removed) before userspace resolves its id.
    pub cgroup_name: [u8; CGROUP_NAME_MAX],
    pub cgroup_parent_name: [u8; CGROUP_NAME_MAX],
}

/// Bytes kept of a cgroup directory's name (unit names longer than this are cut).
pub const CGROUP_NAME_MAX: usize = 64;

const _: () = assert!(size_of::<SendEvent>() == 224 + 2 * CGROUP_NAME_MAX);
const _: () = assert!(size_of::<SendEvent>().is_multiple_of(8));

/// Key of `WATCHED_SOCKETS`: identity of a receiving socket.
/// A path socket is keyed by the inode its path resolves to (`dev` = kernel `s_dev`), an abstract
/// socket by its sockfs inode (`dev` = 0). Neither depends on the path string a sender used.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketKey {
    pub ino: u64,
    pub dev: u32,
    pub _pad: u32,
}

/// Key of `WATCHED_PATHS`: `sun_path` normalised (path names cut at the first NUL; abstract names
/// kept whole up to the address length), zero padded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PathKey {
    pub path: [u8; SUN_PATH_MAX],
}

/// The `PREFILTER` array map: one 4096-bit set per entry, a bit set for every member's number
/// (`bit()`). The hooks that see every AF_UNIX datagram and every socket read test it before the
/// exact hash-map lookup, which then runs only for members and the rare number sharing a bit
/// with one: a bit test costs a few instructions, a hash lookup some hundred. Userspace sets a
/// member's bit before the member enters its hash map and clears it only after it left.
pub mod prefilter {
    pub const WORDS: usize = 64;
    pub type Bits = [u64; WORDS];
    /// Inode numbers of watched sockets (`WATCHED_SOCKETS` keys' `ino`).
    pub const WATCHED_INO: u32 = 0;
    /// Tgids of readers (`READERS` keys).
    pub const READERS: u32 = 1;
    pub const COUNT: u32 = 2;

    /// The word and mask of `x`'s bit.
    #[inline(always)]
    pub fn bit(x: u64) -> (usize, u64) {
        ((x >> 6) as usize & (WORDS - 1), 1 << (x & 63))
    }
}

/// The `UNWATCHED` array map: receiving AF_UNIX sockets the delivery hooks (which run for every
/// datagram on the machine) found not watched, so that the next datagram to the same socket
/// leaves after three loads instead of a helper call and four dependent loads through the
/// receiver's `unix_sock` (whose cache line the reader's lock keeps moving to its own CPU).
/// Sockets are named by their sockfs inode number (the verifier lets no pointer be hashed),
/// which only kernels whose `struct sock` has `sk_ino` keep at hand: elsewhere it is four
/// dependent loads away, measured no faster than the lookup it would save, and the cache is
/// not used.
///
/// A slot holds [`tag`]`(ino, generation)`. Userspace moves the generation (the one entry of the
/// `WATCH_GENERATION` array map) on after every change to the watched sockets, so an answer found
/// before a change is never used after it; a socket that becomes watched always becomes so by
/// such a change (its key enters `WATCHED_SOCKETS`). The generation is read before the lookup
/// whose answer is stored, so an answer stored during a change carries the older one.
pub mod unwatched {
    pub const SLOTS: u32 = 1024;
    /// A slot's low bits hold the inode number (sockfs numbers them from 1 up, one per socket),
    /// the high ones the generation's low bits.
    const INO_BITS: u32 = 48;
    pub const GENERATION_MASK: u64 = (1 << (64 - INO_BITS)) - 1;

    /// The slot of the socket with sockfs inode `ino`: consecutive sockets, consecutive slots.
    #[inline(always)]
    pub fn slot(ino: u64) -> u32 {
        ((ino ^ (ino >> 10) ^ (ino >> 20)) & (SLOTS as u64 - 1)) as u32
    }

    /// What the slot holds for socket `ino` found not watched in `generation`: never 0 (an empty
    /// slot) for a generation [`next`] gave.
    #[inline(always)]
    pub fn tag(ino: u64, generation: u64) -> u64 {
        (ino & ((1 << INO_BITS) - 1)) | ((generation & GENERATION_MASK) << INO_BITS)
    }

    /// The generation after `g`, skipping those whose tag bits are 0 (0 means no generation yet:
    /// nothing is stored). `wrapped`: the tag bits started over, so slots stored 65 535 changes
    /// ago could match again; userspace empties every slot before it publishes such a generation.
    pub fn next(g: u64) -> (u64, bool) {
        let mut n = g.wrapping_add(1);
        if n & GENERATION_MASK == 0 {
            n = n.wrapping_add(1);
        }
        (n, n & GENERATION_MASK <= g & GENERATION_MASK)
    }
}

/// How many kernel functions' text the `UNIX_READ_TEXT` global holds (`[start, end)` pairs):
/// the callers of consume_skb() that free a datagram a unix read took.
pub const UNIX_READ_FUNCS: usize = 4;

/// Indices into the per-CPU `STATS` array.
pub mod stats {
    /// Datagrams to watched sockets that the ring buffer had no room for.
    pub const DROPPED: u32 = 0;
    /// Datagrams written to the ring buffer.
    pub const EMITTED: u32 = 1;
    /// Sends that may concern a watched socket but could not be reported: the pending map was
    /// full, or one delivered to a watched socket was made where its data cannot be found (an
    /// io_uring send with the tracepoint strategy, a kernel sender with fentry).
    pub const UNTRACKED: u32 = 2;
    pub const COUNT: u32 = 3;
}

/// Per-CPU fault counters (the `FAULTS` map), by path: where a hook gave up on a datagram that
/// concerned a watched socket, or on a watched socket's read, because a read of memory failed
/// or a map had no room. Zero on a healthy kernel; "nothing shows on kernel X" starts here
/// (`-v` prints them at exit).
pub mod faults {
    /// Send path: the send's state could not be kept (the pending map had no room).
    pub const SEND_STATE: u32 = 0;
    /// Send path: a send to a watched socket whose arguments (its msghdr, its syscall
    /// registers, its socket) could not be read.
    pub const SEND_ARGS: u32 = 1;
    /// Read path: a watched socket's reader whose recvmsg arguments or msghdr could not be read.
    pub const READ_ARGS: u32 = 2;
    pub const COUNT: u32 = 3;
    /// What each counts, by index, as `-v` shows it.
    pub const NAMES: [&str; COUNT as usize] = [
        "send: no room to keep a send's state",
        "send: a watched send's arguments unreadable",
        "read: a watched read's arguments unreadable",
    ];
}

/// Kernel struct offsets, read from the running kernel's BTF by userspace and patched into the
/// `OFFSETS` global before load (Rust eBPF emits no CO-RE relocations). All in bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offsets {
    // fd → struct sock (syscall tracepoints only)
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdtable_max_fds: u32,
    pub fdtable_fd: u32,
    pub file_private_data: u32,
    pub socket_file: u32,
    pub socket_sk: u32,
    // struct sock / unix_sock
    pub sk_family: u32,
    pub sk_type: u32,
    pub sk_socket: u32,
    pub unix_peer: u32,
    /// `unix_sock.addr` (struct unix_address *), and in it `len` and `name`.
    pub unix_addr: u32,
    pub unix_addr_len: u32,
    pub unix_addr_name: u32,
    pub unix_path_dentry: u32,
    /// `sk_buff.len`: a datagram's length (fentry skb_free_datagram).
    pub skb_len: u32,
    pub dentry_inode: u32,
    pub inode_ino: u32,
    pub inode_sb: u32,
    pub sb_dev: u32,
    /// `offsetof(struct socket_alloc, vfs_inode) - offsetof(struct socket_alloc, socket)`.
    pub socket_to_inode: u32,
    // struct msghdr / iov_iter (fentry only)
    pub msghdr_name: u32,
    pub msghdr_namelen: u32,
    pub msghdr_iter: u32,
    pub msghdr_control: u32,
    pub msghdr_controllen: u32,
    pub iter_type: u32,
    pub iter_count: u32,
    pub iter_iov: u32,
    pub iter_nr_segs: u32,
    pub iter_iov_offset: u32,
    /// Values of `enum iter_type` (they changed order between 6.1 and 6.4).
    pub iter_type_ubuf: u32,
    pub iter_type_iovec: u32,
    // task → its PID in its innermost namespace, and that namespace's inode
    pub task_group_leader: u32,
    pub task_thread_pid: u32,
    pub pid_level: u32,
    pub pid_numbers: u32,
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    pub pidns_inum: u32,
    // task → its cgroup v2 directory's kernfs node, its name and parent
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kn_name: u32,
    pub kn_parent: u32,
    // struct pt_regs: a syscall's number and arguments as the task entered it (x86_64 names),
    // so the tracepoint strategy can read a send's arguments without a syscall entry hook
    pub regs_orig_ax: u32,
    pub regs_di: u32,
    pub regs_si: u32,
    pub regs_dx: u32,
    pub regs_r8: u32,
    pub regs_r9: u32,
    /// `sock.sk_ino`, a socket's sockfs inode number, the key of the delivery hooks'
    /// `UNWATCHED` cache; `u32::MAX` on kernels without it (the cache is then not used).
    pub sk_ino: u32,
    /// `sk_buff.cb`, where a unix datagram keeps `struct unix_skb_parms` (UNIXCB()), whose first
    /// member is the sender's `struct pid *` in every kernel since 3.x.
    pub skb_cb: u32,
    /// `pid.tasks`: `tasks[PIDTYPE_PID].first` is NULL once the process was reaped.
    pub pid_tasks: u32,
    /// `task_struct.pid_links`: `tasks[PIDTYPE_PID].first` points at `pid_links[PIDTYPE_PID]`
    /// of the task, whose `exit_state` and `flags` (PF_EXITING) tell it has exited.
    pub task_pid_links: u32,
    pub task_exit_state: u32,
    pub task_flags: u32,
}

const _: () = assert!(size_of::<Offsets>().is_multiple_of(8));

#[cfg(feature = "user")]
mod pod {
    // SAFETY: #[repr(C)] plain data with explicit padding and no invalid bit patterns; the
    // same holds for the three below.
    unsafe impl aya::Pod for super::SendEvent {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SocketKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PathKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Offsets {}
}
