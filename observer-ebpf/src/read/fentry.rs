//! The reads seen through BTF trampolines (the fentry strategy): `fentry/skb_free_datagram`,
//! where a read releases the datagram it took, or `fexit/unix_dgram_recvmsg`.

use aya_ebpf::{
    macros::{fentry, fexit},
    programs::{FEntryContext, FExitContext},
};

use super::{MSG_PEEK, ReadLen, is_reader, read_in_kernel, sender_liveness};
use crate::{
    kernel::{is_unix, off, read},
    regs::recvmsg_args,
};

// kernel: net/unix/af_unix.c: static int unix_dgram_recvmsg(struct socket *sock,
//         struct msghdr *msg, size_t size, int flags), at return (fifth slot).
#[fexit(function = "unix_dgram_recvmsg")]
pub fn unix_dgram_recvmsg_exit(ctx: FExitContext) -> i32 {
    let (ret, flags): (i32, i32) = (ctx.arg(4), ctx.arg(3));
    if ret < 0 || flags & MSG_PEEK != 0 || !is_reader() {
        return 0;
    }
    if let Some(sk) = read::<u64>(ctx.arg::<*const u8>(0) as u64, off!(socket_sk))
        && let Some(args) = recvmsg_args()
    {
        read_in_kernel(sk, &args, ReadLen::Result(ret), 0);
    }
    0
}

// kernel: net/core/datagram.c: void skb_free_datagram(struct sock *sk, struct sk_buff *skb).
// __unix_dgram_recvmsg() releases the datagram it dequeued here, after the data and the cmsgs
// were copied out (out_free:). A read that found nothing (EAGAIN) never comes here, nor does
// any TCP or UDP read: as with consume_skb, and unlike sock_recv_length and the fexit, only
// reads that took a datagram pay.
#[fentry(function = "skb_free_datagram")]
pub fn skb_free_datagram(ctx: FEntryContext) -> i32 {
    if !is_reader() {
        return 0;
    }
    let sk = ctx.arg::<*const u8>(0) as u64;
    // Readers free netlink and other datagrams here too.
    let skb = ctx.arg::<*const u8>(1) as u64;
    if is_unix(sk)
        && let Some(skb_len) = read::<u32>(skb, off!(skb_len))
        && let Some(args) = recvmsg_args()
    {
        read_in_kernel(
            sk,
            &args,
            ReadLen::Datagram(skb_len as u64),
            sender_liveness(skb),
        );
    }
    0
}
