//! The manager side of capture: the programs that see a watched socket's reader (systemd) read
//! it, independent of the send strategy. Five ways, tried in this order, cheapest first (the
//! first two only with the fentry strategy); [`attach`] keeps the first the kernel takes:
//! - `fentry/skb_free_datagram` with the fentry strategy: only reads that took a datagram pay
//!   (AF_UNIX, netlink, packet; a failed read, TCP and UDP never get there);
//! - `fexit/unix_dgram_recvmsg` with the fentry strategy, where skb_free_datagram cannot be
//!   hooked: only AF_UNIX datagram reads pay;
//! - `tp_btf/consume_skb` (kernel ≥ 6.3, addresses in /proc/kallsyms): every skb freed as
//!   consumed pays one tracepoint call and a few compares of the code address that freed it;
//!   a read that found nothing (EAGAIN) frees nothing and pays nothing;
//! - `tp_btf/sock_recv_length` (kernel ≥ 6.3): every socket read pays one tracepoint call, and
//!   a prefilter bit if it succeeded;
//! - syscall tracepoints on recvmsg(2), on any kernel.
//!
//! All but the last read the reader's msghdr from its syscall registers, so they need
//! [`super::strategy::regs_usable`].

use anyhow::Context as _;
use aya::{
    Ebpf,
    programs::{BtfTracePoint, FEntry, FExit, TracePoint},
};
use observer_common::UNIX_READ_FUNCS;

use super::{
    Strategy,
    hook::{Hook, HookKind},
    kallsyms,
};
use crate::{btf::Btf, preflight};

/// What the running kernel offers the receive side, asked of our BTF index before it is dropped.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveHooks {
    regs_usable: bool,
    sock_recv_length: bool,
    unix_dgram_recvmsg: bool,
    skb_free_datagram: bool,
    /// The kernel side's `UNIX_READ_TEXT`, when /proc/kallsyms gave every function's address.
    unix_read_text: Option<[u64; 2 * UNIX_READ_FUNCS]>,
}

impl ReceiveHooks {
    pub fn probe(btf: &Btf, regs_usable: bool) -> Self {
        let sock_recv_length = btf.has_type("btf_trace_sock_recv_length");
        Self {
            regs_usable,
            sock_recv_length,
            // consume_skb got its `location` argument in 6.3, with sock_recv_length.
            unix_read_text: sock_recv_length.then(unix_read_text).flatten(),
            unix_dgram_recvmsg: btf.has_func("unix_dgram_recvmsg"),
            skb_free_datagram: btf.has_func("skb_free_datagram"),
        }
    }
}

/// The kernel functions whose consume_skb() calls free a datagram a unix read took (see the
/// kernel side's `UNIX_READ_TEXT`), as `[start, end)` pairs.
fn unix_read_text() -> Option<[u64; 2 * UNIX_READ_FUNCS]> {
    const FUNCS: [&str; UNIX_READ_FUNCS] = [
        "skb_free_datagram",
        "__unix_dgram_recvmsg",
        "unix_dgram_recvmsg",
        "unix_seqpacket_recvmsg",
    ];
    let ranges = kallsyms::text_ranges(&FUNCS)?;
    let mut text = [0; 2 * UNIX_READ_FUNCS];
    for (i, (start, end)) in ranges.into_iter().enumerate() {
        text[2 * i] = start;
        text[2 * i + 1] = end;
    }
    Some(text)
}

impl ReceiveHooks {
    /// The value for the kernel side's `UNIX_READ_TEXT` global (zeros: consume_skb unused).
    pub fn unix_read_text_global(&self) -> [u64; 2 * UNIX_READ_FUNCS] {
        self.unix_read_text.unwrap_or_default()
    }
}

/// Loads and attaches the cheapest receive programs the kernel takes; returns the hooks
/// attached. `refused` gets why each cheaper one was not.
pub fn attach(
    ebpf: &mut Ebpf,
    strategy: Strategy,
    hooks: ReceiveHooks,
    aya_btf: &aya::Btf,
    refused: &mut Vec<String>,
) -> anyhow::Result<Vec<Hook>> {
    let fentry = hooks.regs_usable && strategy == Strategy::Fentry;
    if fentry && hooks.skb_free_datagram {
        match attach_fentry(ebpf, aya_btf) {
            Ok(h) => return Ok(h),
            Err(e) => refused.push(format!("{e:#}")),
        }
    }
    if fentry && hooks.unix_dgram_recvmsg {
        match attach_fexit(ebpf, aya_btf) {
            Ok(h) => return Ok(h),
            Err(e) => refused.push(format!("{e:#}")),
        }
    }
    if hooks.regs_usable && hooks.unix_read_text.is_some() {
        match attach_tp_btf(ebpf, aya_btf, "consume_skb") {
            Ok(h) => return Ok(h),
            Err(e) => refused.push(format!("{e:#}")),
        }
    } else if hooks.regs_usable && hooks.sock_recv_length {
        refused.push(
            "tp_btf/consume_skb: /proc/kallsyms hides the unix read functions' addresses (kernel.kptr_restrict=2?)"
                .into(),
        );
    }
    if hooks.regs_usable && hooks.sock_recv_length {
        match attach_tp_btf(ebpf, aya_btf, "sock_recv_length") {
            Ok(h) => return Ok(h),
            Err(e) => refused.push(format!("{e:#}")),
        }
    }
    attach_syscall_tracepoints(ebpf)
}

fn attach_fentry(ebpf: &mut Ebpf, aya_btf: &aya::Btf) -> anyhow::Result<Vec<Hook>> {
    let p: &mut FEntry = super::strategy::program(ebpf, "skb_free_datagram")?;
    p.load("skb_free_datagram", aya_btf)
        .context("fentry skb_free_datagram")?;
    p.attach().context("fentry skb_free_datagram")?;
    Ok(vec![Hook::new(HookKind::Fentry, "skb_free_datagram")])
}

fn attach_fexit(ebpf: &mut Ebpf, aya_btf: &aya::Btf) -> anyhow::Result<Vec<Hook>> {
    let p: &mut FExit = super::strategy::program(ebpf, "unix_dgram_recvmsg_exit")?;
    p.load("unix_dgram_recvmsg", aya_btf)
        .context("fexit unix_dgram_recvmsg")?;
    p.attach().context("fexit unix_dgram_recvmsg")?;
    Ok(vec![Hook::new(HookKind::Fexit, "unix_dgram_recvmsg")])
}

fn attach_tp_btf(ebpf: &mut Ebpf, aya_btf: &aya::Btf, tp: &str) -> anyhow::Result<Vec<Hook>> {
    let hook = Hook::new(HookKind::TpBtf, tp);
    let p: &mut BtfTracePoint = super::strategy::program(ebpf, tp)?;
    p.load(tp, aya_btf).with_context(|| hook.to_string())?;
    p.attach().with_context(|| hook.to_string())?;
    Ok(vec![hook])
}

fn attach_syscall_tracepoints(ebpf: &mut Ebpf) -> anyhow::Result<Vec<Hook>> {
    preflight::ensure_tracefs()?;
    let mut attached = Vec::new();
    for tp in ["sys_enter_recvmsg", "sys_exit_recvmsg"] {
        let p: &mut TracePoint = super::strategy::program(ebpf, tp)?;
        p.load().with_context(|| tp.to_string())?;
        p.attach("syscalls", tp).with_context(|| tp.to_string())?;
        attached.push(Hook::syscall(tp));
    }
    Ok(attached)
}
