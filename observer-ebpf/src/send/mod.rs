//! The send path: a datagram to a watched socket, from the send to its record in the ring.
//! The kernel queues it on the receiving socket (`queued.rs` recognises a watched one and marks
//! the thread's send in `pending.rs`); the hook that sees the send's result (`fentry.rs`,
//! `tp_btf.rs` or `syscalls.rs`, by strategy) finds where its data lay and `emit.rs` copies it
//! into the ring.

pub mod emit;
pub mod fentry;
pub mod pending;
pub mod queued;
pub mod syscalls;
pub mod tp_btf;
