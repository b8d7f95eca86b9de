//! The two ways of capturing, and which kernel programs each attaches.

use std::{collections::HashSet, fmt};

use anyhow::Context as _;
use aya::{
    Ebpf,
    programs::{BtfTracePoint, FEntry, FExit, TracePoint},
};
use observer_common::Offsets;

use super::{
    hook::{Hook, HookKind},
    hook_table::{HookSpec, Need, Role, with_role},
    offsets,
};
use crate::{btf::Btf, preflight};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// fexit on unix_dgram_sendmsg + fentry on sock_def_readable.
    Fentry,
    /// Syscall tracepoints + tp_btf sock_send_length / sk_data_ready where the kernel has them.
    Tracepoint,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fentry => "fentry",
            Self::Tracepoint => "tracepoint",
        })
    }
}

impl Strategy {
    /// Cheap checks before loading anything, so a refusal says why in plain words.
    /// `optional_hooks`, `regs_usable`: as for [`Self::attach`]; with both tp_btf hooks the
    /// tracepoint strategy attaches no syscall tracepoint, and needs no tracefs.
    pub fn check(
        self,
        btf: &Btf,
        o: &Offsets,
        optional_hooks: &[&'static HookSpec],
        regs_usable: bool,
    ) -> anyhow::Result<()> {
        match self {
            Self::Fentry => {
                for need in with_role(Role::FentrySend).flat_map(|h| h.needs) {
                    if let Need::BtfFunc(f) = need {
                        anyhow::ensure!(btf.has_func(f), "kernel BTF has no function {f}");
                    }
                }
                offsets::fentry_ready(o)
            }
            Self::Tracepoint if self.args_at_result(optional_hooks, regs_usable) => Ok(()),
            Self::Tracepoint => Ok(preflight::ensure_tracefs()?),
        }
    }

    /// Whether this strategy leaves a send unrecorded as it starts and reads its arguments where
    /// its result is seen, once it turned out to matter (the kernel side's `ARGS_AT_RESULT`,
    /// see observer-ebpf/src/maps.rs). fentry: always, from the send's msghdr at fexit;
    /// tracepoint: from the syscall registers (`regs_usable`) when sock_send_length and
    /// sk_data_ready both run inside the send, and then no syscall tracepoint is attached
    /// (every syscall on the machine would pay for one); sendmmsg's messages are numbered by a
    /// cursor (regs.rs).
    pub fn args_at_result(self, optional_hooks: &[&'static HookSpec], regs_usable: bool) -> bool {
        match self {
            Self::Fentry => true,
            Self::Tracepoint => {
                regs_usable && optional_hooks.len() == with_role(Role::TpBtfSend).count()
            }
        }
    }

    /// Loads and attaches this strategy's programs; the others in the object stay unloaded.
    /// `optional_hooks`: the tp_btf tracepoints this kernel has (see [`optional_tp_btf`]).
    pub fn attach(
        self,
        ebpf: &mut Ebpf,
        optional_hooks: &[&'static HookSpec],
        regs_usable: bool,
        aya_btf: &aya::Btf,
    ) -> anyhow::Result<Vec<Hook>> {
        let hooks: Vec<&HookSpec> = match self {
            Self::Fentry => with_role(Role::FentrySend).collect(),
            Self::Tracepoint if self.args_at_result(optional_hooks, regs_usable) => {
                optional_hooks.to_vec()
            }
            // The syscall tracepoints record each send as it starts, and see its end, for
            // kernels where the send's hooks cannot read its arguments from the registers.
            Self::Tracepoint => with_role(Role::SyscallSend)
                .chain(optional_hooks.iter().copied())
                .collect(),
        };
        attach_all(ebpf, &hooks, aya_btf)
    }
}

/// Loads each hook's program (once, however many hooks it serves) and attaches it there.
pub(super) fn attach_all(
    ebpf: &mut Ebpf,
    hooks: &[&HookSpec],
    aya_btf: &aya::Btf,
) -> anyhow::Result<Vec<Hook>> {
    let mut loaded = HashSet::new();
    for h in hooks {
        let load = loaded.insert(h.program);
        let what = h.context();
        // A BTF-typed program is loaded for its one target, then attached there.
        macro_rules! load_for_target {
            ($program:ty) => {{
                let p: &mut $program = program(ebpf, h.program)?;
                p.load(h.target, aya_btf).context(what.clone())?;
                p.attach().context(what)?;
            }};
        }
        match h.kind {
            HookKind::Fentry => load_for_target!(FEntry),
            HookKind::Fexit => load_for_target!(FExit),
            HookKind::TpBtf => load_for_target!(BtfTracePoint),
            HookKind::Tracepoint => {
                let p: &mut TracePoint = program(ebpf, h.program)?;
                if load {
                    p.load().context(what.clone())?;
                }
                let (category, name) = h.tracepoint();
                p.attach(category, name).context(what)?;
            }
        }
    }
    Ok(hooks.iter().map(|h| h.hook()).collect())
}

/// Whether the kernel side can read a syscall's registers: the `struct pt_regs` offsets, and
/// the helpers that find them from a tracing program (bpf_get_current_task_btf ≥ 5.11,
/// bpf_task_pt_regs ≥ 5.15), named in the kernel's `enum bpf_func_id`.
pub fn regs_usable(btf: &Btf, o: &Offsets) -> bool {
    offsets::syscall_regs_ready(o)
        && ["BPF_FUNC_get_current_task_btf", "BPF_FUNC_task_pt_regs"]
            .iter()
            .all(|f| btf.enum_value("bpf_func_id", f).is_ok())
}

/// Whether the delivery hooks can check a receiver with BTF-checked loads (observer-ebpf's
/// `watched_receiver_typed`): they need `bpf_skc_to_unix_sock` (≥ 5.16) to get a typed
/// `struct unix_sock *`.
pub fn typed_loads_usable(btf: &Btf) -> bool {
    btf.enum_value("bpf_func_id", "BPF_FUNC_skc_to_unix_sock")
        .is_ok()
}

/// The optional tracepoint-strategy hooks this kernel has: per-datagram results
/// (sock_send_length, ≥ 6.3) and delivery by identity (sk_data_ready, ≥ 6.6).
pub fn optional_tp_btf(btf: &Btf) -> Vec<&'static HookSpec> {
    with_role(Role::TpBtfSend)
        .filter(|h| h.in_btf(btf))
        .collect()
}

pub(super) fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> anyhow::Result<&'a mut T>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf
        .program_mut(name)
        .with_context(|| format!("program {name} missing from the eBPF object"))?;
    Ok(p.try_into()?)
}
