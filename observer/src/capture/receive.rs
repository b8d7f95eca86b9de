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

use aya::Ebpf;
use observer_common::UNIX_READ_FUNCS;

use super::{
    Strategy,
    hook::Hook,
    hook_table::{ReadWay, Role, with_role},
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
        let in_btf = |way| with_role(Role::Read(way)).all(|h| h.in_btf(btf));
        Self {
            regs_usable,
            sock_recv_length: in_btf(ReadWay::SockRecvLength),
            unix_read_text: in_btf(ReadWay::ConsumeSkb).then(unix_read_text).flatten(),
            unix_dgram_recvmsg: in_btf(ReadWay::UnixDgramRecvmsg),
            skb_free_datagram: in_btf(ReadWay::SkbFreeDatagram),
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
        match attach_way(ebpf, aya_btf, ReadWay::SkbFreeDatagram) {
            Ok(h) => return Ok(h),
            Err(e) => refused.push(format!("{e:#}")),
        }
    }
    if fentry && hooks.unix_dgram_recvmsg {
        match attach_way(ebpf, aya_btf, ReadWay::UnixDgramRecvmsg) {
            Ok(h) => return Ok(h),
            Err(e) => refused.push(format!("{e:#}")),
        }
    }
    if hooks.regs_usable && hooks.unix_read_text.is_some() {
        match attach_way(ebpf, aya_btf, ReadWay::ConsumeSkb) {
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
        match attach_way(ebpf, aya_btf, ReadWay::SockRecvLength) {
            Ok(h) => return Ok(h),
            Err(e) => refused.push(format!("{e:#}")),
        }
    }
    preflight::ensure_tracefs()?;
    attach_way(ebpf, aya_btf, ReadWay::Syscalls)
}

/// Loads and attaches the programs of one way of seeing the reads (hook_table.rs).
fn attach_way(ebpf: &mut Ebpf, aya_btf: &aya::Btf, way: ReadWay) -> anyhow::Result<Vec<Hook>> {
    let hooks: Vec<_> = with_role(Role::Read(way)).collect();
    super::strategy::attach_all(ebpf, &hooks, aya_btf)
}
