//! The reads seen from BTF tracepoints (kernel ≥ 6.3): `consume_skb`, where a unix read frees
//! the datagram it took, or `sock_recv_length`, after every socket read.

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};

use super::{MSG_PEEK, ReadLen, in_unix_read, is_reader, read_in_kernel, sender_liveness};
use crate::{
    kernel::{off, read, unix_dgram_sock_of_fd},
    regs::recvmsg_args,
};

// kernel ≥ 6.3: net/core/skbuff.c: consume_skb() → trace_consume_skb(skb, location), for
// every skb freed as consumed (not dropped), with the address it was freed from.
// __unix_dgram_recvmsg() frees the datagram it took after the data and the cmsgs were copied
// out (skb_free_datagram). A read that found nothing frees nothing, so it never comes here;
// the first test (code address, no helper call) sends every other free away.
#[btf_tracepoint(function = "consume_skb")]
pub fn consume_skb(ctx: BtfTracePointContext) -> i32 {
    // TP_PROTO(struct sk_buff *skb, void *location)
    if !in_unix_read(ctx.arg::<u64>(1)) || !is_reader() {
        return 0;
    }
    let Some(args) = recvmsg_args() else {
        return 0;
    };
    if let Some(sk) = unix_dgram_sock_of_fd(args.fd)
        && let Some(skb_len) = read::<u32>(ctx.arg::<*const u8>(0) as u64, off!(skb_len))
    {
        let skb = ctx.arg::<*const u8>(0) as u64;
        read_in_kernel(
            sk,
            &args,
            ReadLen::Datagram(skb_len as u64),
            sender_liveness(skb),
        );
    }
    0
}

// kernel ≥ 6.3: net/socket.c: sock_recvmsg_nosec() → trace_sock_recv_length(sk, ret, flags),
// for every socket read, after the protocol copied the datagram and its cmsgs out.
#[btf_tracepoint(function = "sock_recv_length")]
pub fn sock_recv_length(ctx: BtfTracePointContext) -> i32 {
    // TP_PROTO(struct sock *sk, int ret, int flags)
    let (ret, flags): (i32, i32) = (ctx.arg(1), ctx.arg(2));
    if ret < 0 || flags & MSG_PEEK != 0 || !is_reader() {
        return 0;
    }
    if let Some(args) = recvmsg_args() {
        read_in_kernel(
            ctx.arg::<*const u8>(0) as u64,
            &args,
            ReadLen::Result(ret),
            0,
        );
    }
    0
}
