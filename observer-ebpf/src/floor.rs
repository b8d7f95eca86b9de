//! Programs that do nothing, for `observer hook-floor`: attached where a strategy hooks, they
//! show what the kernel charges for the hooks alone (the trampoline or tracepoint dispatch),
//! which the benches put next to what the real programs cost. Userspace loads each for the
//! target it names (the sections' targets below are placeholders), so a strategy's hooks of one
//! kind need as many copies as it has such hooks: at most three.

use aya_ebpf::{
    macros::{btf_tracepoint, fentry, fexit, tracepoint},
    programs::{BtfTracePointContext, FEntryContext, FExitContext, TracePointContext},
};

#[btf_tracepoint(function = "sock_send_length")]
pub fn floor_tp_btf_0(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sk_data_ready")]
pub fn floor_tp_btf_1(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "consume_skb")]
pub fn floor_tp_btf_2(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[fentry(function = "sock_def_readable")]
pub fn floor_fentry_0(_ctx: FEntryContext) -> i32 {
    0
}

#[fentry(function = "skb_free_datagram")]
pub fn floor_fentry_1(_ctx: FEntryContext) -> i32 {
    0
}

#[fentry(function = "unix_dgram_sendmsg")]
pub fn floor_fentry_2(_ctx: FEntryContext) -> i32 {
    0
}

#[fexit(function = "unix_dgram_sendmsg")]
pub fn floor_fexit_0(_ctx: FExitContext) -> i32 {
    0
}

#[fexit(function = "unix_dgram_recvmsg")]
pub fn floor_fexit_1(_ctx: FExitContext) -> i32 {
    0
}

#[fexit(function = "unix_dgram_sendmsg")]
pub fn floor_fexit_2(_ctx: FExitContext) -> i32 {
    0
}

/// Syscall tracepoints: one program attaches to all of them.
#[tracepoint]
pub fn floor_tracepoint(_ctx: TracePointContext) -> u32 {
    0
}
