//! The tracepoint strategy's BTF tracepoints: `sock_send_length` (kernel ≥ 6.3) reports each
//! datagram's result, `sk_data_ready` (≥ 6.6) its delivery. With both, no syscall tracepoint is
//! attached: a send's arguments come from its syscall registers (regs.rs).

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use observer_common::{Hook, MAX_MMSG, faults, stats};

use crate::{
    arch::MMSGHDR_SIZE,
    datagram::user_msghdr,
    kernel::is_unix_dgram,
    maps::{count, fault},
    regs::from_regs,
    send::{
        emit::emit,
        pending::{self, MsgParts, Pending, args_at_result},
        queued::mark_delivery,
    },
};

// kernel: include/trace/events/sock.h: TRACE_EVENT(sock_send_length,
//         TP_PROTO(struct sock *sk, int ret, int flags)) — called once per datagram from
//         sock_sendmsg_nosec(), still in the sender's syscall (kernel ≥ 6.3).
#[btf_tracepoint(function = "sock_send_length")]
pub fn sock_send_length(ctx: BtfTracePointContext) -> i32 {
    let sk: u64 = ctx.arg::<*const u8>(0) as u64;
    let ret: i32 = ctx.arg(1);
    // One call of emit() for all cases: each call is another copy for the verifier to walk.
    if let Some((p, parts, index, delivered_to)) = datagram_sent(sk, ret) {
        emit(
            &p,
            &parts,
            ret as i64,
            Hook::SockSendLength,
            index,
            delivered_to,
        );
    }
    0
}

/// The send sock_send_length reports, if it may be for a watched socket: its state, where its
/// data lives, its index in a sendmmsg, and the watched socket it was delivered to (0: none).
#[inline(always)]
fn datagram_sent(sk: u64, ret: i32) -> Option<(Pending, MsgParts, u32, u32)> {
    let Some(pp) = pending::current() else {
        if !args_at_result() {
            return None;
        }
        // Not recorded at entry (regs.rs) and not delivered to a watched socket: only a send
        // that failed can still be for one (by its address or connected peer, see emit()).
        if ret < 0 && is_unix_dgram(sk) {
            let (p, index) = from_regs(sk, 0, 0, ret)?;
            return Some((p, p.parts, index, 0));
        }
        // Every AF_UNIX datagram on the machine that went where nobody watches ends here, so
        // nothing more is done for it: not even the syscall number is read (regs.rs,
        // mmsg_index()).
        return None;
    };
    // SAFETY: map value pointer, valid for this program run.
    let p = unsafe { &mut *pp };
    if p.sk == 0 {
        // Started by its delivery to a watched socket (regs.rs): this is that send's result.
        let (ts_ns, delivered_to) = (p.ts_ns, p.delivered_to);
        pending::finish();
        let Some((p, index)) = from_regs(sk, ts_ns, delivered_to, ret) else {
            // Not made by a syscall regs.rs reads (io_uring): its data cannot be found. Counted,
            // so that the summary shows it.
            count(stats::UNTRACKED);
            return None;
        };
        return Some((p, p.parts, index, delivered_to));
    }
    if p.sk != sk {
        return None;
    }
    let index = p.results_seen;
    p.results_seen += 1;
    let delivered_to = p.delivered_to;
    p.delivered_to = 0;
    let parts = if p.mmsg_vec == 0 {
        p.parts
    } else if index < MAX_MMSG {
        let Some(parts) = user_msghdr(p.mmsg_vec + index as u64 * MMSGHDR_SIZE) else {
            fault(faults::SEND_ARGS);
            return None;
        };
        parts
    } else {
        return None;
    };
    Some((*p, parts, index, delivered_to))
}

// kernel: include/trace/events/sock.h: TRACE_EVENT(sk_data_ready, TP_PROTO(const struct sock *sk))
//         — called from sock_def_readable(), which af_unix uses as sk_data_ready (kernel ≥ 6.6).
#[btf_tracepoint(function = "sk_data_ready")]
pub fn sk_data_ready(ctx: BtfTracePointContext) -> i32 {
    mark_delivery(ctx.arg::<*const u8>(0) as u64);
    0
}
