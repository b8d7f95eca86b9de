//! Kernel side of the observer: capture every datagram sent to a watched systemd notify socket.
//!
//! Two strategies share one pipeline (pending → delivery → emit):
//! - `fentry`: fexit on unix_dgram_sendmsg + fentry on sock_def_readable (fentry.rs);
//! - `tracepoint`: syscall tracepoints + tp_btf sock_send_length / sk_data_ready (syscalls.rs);
//!   with both tp_btf hooks, no syscall tracepoint (regs.rs).
//!
//! Userspace loads only the programs of the strategy it picked, and with either one the
//! manager-side programs (receive.rs): what each watched socket's reader read, and when.
#![no_std]
#![feature(core_intrinsics)]
#![allow(internal_features)]
#![no_main]

mod datagram;
mod delivery;
mod emit;
mod fentry;
mod floor;
mod kernel;
mod maps;
mod pending;
mod receive;
mod regs;
mod syscalls;
mod unwatched;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// GPL-compatible: bpf_probe_read_* and friends are GPL-only helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
