//! Every kernel hook the observer attaches, in one table: the program in the eBPF object, where
//! it attaches, which part of capture uses it, what the running kernel must have for it, and the
//! maps and load-time globals the program uses. Read by strategy selection (strategy.rs) and the
//! read side (receive.rs), and so by `observer check`, and by `hook-floor` (floor.rs, through
//! `FLOOR_PROGRAMS`); the tests check every name in it against the embedded object, and that
//! docs/ARCHITECTURE.md names every hook.
//!
//! Adding a hook: its program in observer-ebpf (`send/` or `read/`), a row here, and, for a new
//! way of capturing rather than one more hook of an existing one, its place in strategy.rs or
//! receive.rs.

use super::hook::{Hook, HookKind};
use crate::btf::Btf;

/// Which part of capture attaches a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The fentry strategy: a send's result and its delivery.
    FentrySend,
    /// The tracepoint strategy's BTF tracepoints, each attached where the kernel has it.
    TpBtfSend,
    /// The tracepoint strategy's syscall tracepoints, for kernels where its BTF tracepoints
    /// cannot read a send's arguments from the registers.
    SyscallSend,
    /// One way of seeing the managers' reads; receive.rs tries them cheapest first.
    Read(ReadWay),
}

/// The ways of seeing a manager's read, cheapest first (see receive.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadWay {
    SkbFreeDatagram,
    UnixDgramRecvmsg,
    ConsumeSkb,
    SockRecvLength,
    Syscalls,
}

/// What the running kernel must have for a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A function in its BTF: an fentry or fexit target.
    BtfFunc(&'static str),
    /// A type in its BTF: `btf_trace_NAME` says a BTF tracepoint exists.
    BtfType(&'static str),
    /// The syscall's registers, read from the program (`strategy::regs_usable`).
    SyscallRegs,
    /// The unix read functions' addresses in /proc/kallsyms (`UNIX_READ_TEXT`).
    Kallsyms,
    /// A mounted tracefs (`preflight::ensure_tracefs`).
    Tracefs,
}

impl Need {
    /// Whether the kernel's BTF has it; `None` for what BTF does not say.
    pub fn in_btf(self, btf: &Btf) -> Option<bool> {
        match self {
            Need::BtfFunc(f) => Some(btf.has_func(f)),
            Need::BtfType(t) => Some(btf.has_type(t)),
            Need::SyscallRegs | Need::Kallsyms | Need::Tracefs => None,
        }
    }
}

/// One row: a program at one hook.
#[derive(Debug)]
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "`maps` and `globals` are for the reader, checked against the object by the tests"
    )
)]
pub struct HookSpec {
    /// The program's name in the eBPF object. One tracepoint program may serve several rows.
    pub program: &'static str,
    pub kind: HookKind,
    /// The kernel function or tracepoint (`syscalls/sys_enter_sendto` for a tracefs one).
    pub target: &'static str,
    pub role: Role,
    pub needs: &'static [Need],
    /// The maps its path (send, delivery, read) uses (observer-ebpf's maps.rs says who writes
    /// each).
    pub maps: &'static [&'static str],
    /// The load-time globals it reads (set by `Capture::start`).
    pub globals: &'static [&'static str],
}

impl HookSpec {
    pub fn hook(&self) -> Hook {
        Hook::new(self.kind, self.target)
    }

    /// The kernel's BTF has every function and type this hook needs.
    pub fn in_btf(&self, btf: &Btf) -> bool {
        self.needs.iter().all(|n| n.in_btf(btf).unwrap_or(true))
    }

    /// How a refusal of this hook names it.
    pub fn context(&self) -> String {
        match self.kind {
            HookKind::Fentry | HookKind::Fexit => format!("{} {}", self.kind.as_str(), self.target),
            HookKind::TpBtf => self.hook().to_string(),
            HookKind::Tracepoint => self.tracepoint().1.to_owned(),
        }
    }

    /// A tracefs tracepoint's category and name.
    pub fn tracepoint(&self) -> (&'static str, &'static str) {
        self.target.split_once('/').unwrap_or(("", self.target))
    }
}

/// The hooks of one role, in table order.
pub fn with_role(role: Role) -> impl Iterator<Item = &'static HookSpec> {
    HOOKS.iter().filter(move |h| h.role == role)
}

/// The row of a hook as attached, if the table has it.
#[cfg(test)]
pub fn spec_of(hook: &Hook) -> Option<&'static HookSpec> {
    HOOKS
        .iter()
        .find(|h| h.kind == hook.kind && h.target == hook.target)
}

// What every send hook uses: finding a watched receiver, the send in progress, the record.
const SEND_MAPS: &[&str] = &[
    "PENDING",
    "LIVE",
    "WATCHED_SOCKETS",
    "WATCHED_PATHS",
    "PREFILTER",
    "EVENTS",
    "SCRATCH",
    "STATS",
    "COLLECTOR_ASLEEP",
    "FAULTS",
];
const SEND_GLOBALS: &[&str] = &["OFFSETS", "ARGS_AT_RESULT", "WAKEUP_BYTES", "TYPED_LOADS"];
// What a delivery hook uses: the receiver's identity, the caches in front of it.
const DELIVERY_MAPS: &[&str] = &[
    "PENDING",
    "LIVE",
    "WATCHED_SOCKETS",
    "PREFILTER",
    "UNWATCHED",
    "WATCH_GENERATION",
    "FAULTS",
];
const DELIVERY_GLOBALS: &[&str] = &["OFFSETS", "ARGS_AT_RESULT", "TYPED_LOADS"];
// What a read hook uses: is this a reader, of a watched socket; the record (and, for the
// syscall tracepoints, the read in progress between entry and exit: READING).
const READ_MAPS: &[&str] = &[
    "READERS",
    "READING",
    "PREFILTER",
    "WATCHED_SOCKETS",
    "EVENTS",
    "SCRATCH",
    "STATS",
    "COLLECTOR_ASLEEP",
    "FAULTS",
];
const READ_GLOBALS: &[&str] = &["OFFSETS", "WAKEUP_BYTES"];

const TRACEFS: &[Need] = &[Need::Tracefs];

/// A send's syscall tracepoint: `sys_enter_*` records the send, `sys_exit_*` reports it.
const fn syscall_send(program: &'static str, target: &'static str) -> HookSpec {
    HookSpec {
        program,
        kind: HookKind::Tracepoint,
        target,
        role: Role::SyscallSend,
        needs: TRACEFS,
        maps: SEND_MAPS,
        globals: SEND_GLOBALS,
    }
}

pub const HOOKS: &[HookSpec] = &[
    HookSpec {
        program: "unix_dgram_sendmsg_exit",
        kind: HookKind::Fexit,
        target: "unix_dgram_sendmsg",
        role: Role::FentrySend,
        needs: &[Need::BtfFunc("unix_dgram_sendmsg")],
        maps: SEND_MAPS,
        globals: SEND_GLOBALS,
    },
    HookSpec {
        program: "sock_def_readable",
        kind: HookKind::Fentry,
        target: "sock_def_readable",
        role: Role::FentrySend,
        needs: &[Need::BtfFunc("sock_def_readable")],
        maps: DELIVERY_MAPS,
        globals: DELIVERY_GLOBALS,
    },
    HookSpec {
        program: "sock_send_length",
        kind: HookKind::TpBtf,
        target: "sock_send_length",
        role: Role::TpBtfSend,
        needs: &[Need::BtfType("btf_trace_sock_send_length")],
        maps: SEND_MAPS,
        globals: SEND_GLOBALS,
    },
    HookSpec {
        program: "sk_data_ready",
        kind: HookKind::TpBtf,
        target: "sk_data_ready",
        role: Role::TpBtfSend,
        needs: &[Need::BtfType("btf_trace_sk_data_ready")],
        maps: DELIVERY_MAPS,
        globals: DELIVERY_GLOBALS,
    },
    syscall_send("sys_enter_sendto", "syscalls/sys_enter_sendto"),
    syscall_send("sys_enter_sendmsg", "syscalls/sys_enter_sendmsg"),
    syscall_send("sys_enter_sendmmsg", "syscalls/sys_enter_sendmmsg"),
    syscall_send("sys_enter_write", "syscalls/sys_enter_write"),
    syscall_send("sys_enter_writev", "syscalls/sys_enter_writev"),
    syscall_send("sys_exit_send", "syscalls/sys_exit_sendto"),
    syscall_send("sys_exit_send", "syscalls/sys_exit_sendmsg"),
    syscall_send("sys_exit_send", "syscalls/sys_exit_write"),
    syscall_send("sys_exit_send", "syscalls/sys_exit_writev"),
    syscall_send("sys_exit_sendmmsg", "syscalls/sys_exit_sendmmsg"),
    HookSpec {
        program: "skb_free_datagram",
        kind: HookKind::Fentry,
        target: "skb_free_datagram",
        role: Role::Read(ReadWay::SkbFreeDatagram),
        needs: &[Need::BtfFunc("skb_free_datagram"), Need::SyscallRegs],
        maps: READ_MAPS,
        globals: READ_GLOBALS,
    },
    HookSpec {
        program: "unix_dgram_recvmsg_exit",
        kind: HookKind::Fexit,
        target: "unix_dgram_recvmsg",
        role: Role::Read(ReadWay::UnixDgramRecvmsg),
        needs: &[Need::BtfFunc("unix_dgram_recvmsg"), Need::SyscallRegs],
        maps: READ_MAPS,
        globals: READ_GLOBALS,
    },
    HookSpec {
        program: "consume_skb",
        kind: HookKind::TpBtf,
        target: "consume_skb",
        role: Role::Read(ReadWay::ConsumeSkb),
        // consume_skb got its `location` argument in 6.3, with sock_recv_length.
        needs: &[
            Need::BtfType("btf_trace_sock_recv_length"),
            Need::Kallsyms,
            Need::SyscallRegs,
        ],
        maps: READ_MAPS,
        globals: &["OFFSETS", "WAKEUP_BYTES", "UNIX_READ_TEXT"],
    },
    HookSpec {
        program: "sock_recv_length",
        kind: HookKind::TpBtf,
        target: "sock_recv_length",
        role: Role::Read(ReadWay::SockRecvLength),
        needs: &[
            Need::BtfType("btf_trace_sock_recv_length"),
            Need::SyscallRegs,
        ],
        maps: READ_MAPS,
        globals: READ_GLOBALS,
    },
    HookSpec {
        program: "sys_enter_recvmsg",
        kind: HookKind::Tracepoint,
        target: "syscalls/sys_enter_recvmsg",
        role: Role::Read(ReadWay::Syscalls),
        needs: TRACEFS,
        maps: READ_MAPS,
        globals: READ_GLOBALS,
    },
    HookSpec {
        program: "sys_exit_recvmsg",
        kind: HookKind::Tracepoint,
        target: "syscalls/sys_exit_recvmsg",
        role: Role::Read(ReadWay::Syscalls),
        needs: TRACEFS,
        maps: READ_MAPS,
        globals: READ_GLOBALS,
    },
];

/// `observer hook-floor`'s do-nothing programs (observer-ebpf's floor.rs), by kind. A program
/// is loaded for one target, so a kind needs as many as one strategy attaches hooks of it (a
/// test checks); every tracefs tracepoint shares the one.
pub const FLOOR_PROGRAMS: &[(HookKind, &[&str])] = &[
    (
        HookKind::TpBtf,
        &["floor_tp_btf_0", "floor_tp_btf_1", "floor_tp_btf_2"],
    ),
    (
        HookKind::Fentry,
        &["floor_fentry_0", "floor_fentry_1", "floor_fentry_2"],
    ),
    (
        HookKind::Fexit,
        &["floor_fexit_0", "floor_fexit_1", "floor_fexit_2"],
    ),
    (HookKind::Tracepoint, &["floor_tracepoint"]),
];

/// The do-nothing programs of `kind`.
pub fn floor_programs(kind: HookKind) -> &'static [&'static str] {
    FLOOR_PROGRAMS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, p)| p)
}

#[cfg(test)]
mod tests;
