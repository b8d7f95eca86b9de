//! x86_64: syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) and the LP64 layout of the
//! user structs the programs read.

pub const NR_WRITE: u64 = 1;
pub const NR_WRITEV: u64 = 20;
pub const NR_SENDTO: u64 = 44;
pub const NR_SENDMSG: u64 = 46;
pub const NR_RECVMSG: u64 = 47;
pub const NR_SENDMMSG: u64 = 307;

/// `sizeof(struct iovec)`: `{ void *iov_base; size_t iov_len; }`.
pub const IOVEC_SIZE: u64 = 16;
/// `offsetof(struct msghdr, msg_flags)` in a user `struct msghdr`.
pub const MSGHDR_FLAGS_OFFSET: u64 = 48;
/// `offsetof(struct mmsghdr, msg_len)`: after the 56-byte msghdr.
pub const MMSGHDR_MSG_LEN: u64 = 56;
/// `sizeof(struct mmsghdr)`: msghdr (56) + msg_len (4) + padding.
pub const MMSGHDR_SIZE: u64 = 64;
