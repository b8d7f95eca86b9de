//! Kernel side of the observer: capture every datagram sent to a watched systemd notify socket.
//!
//! Two paths, a directory each:
//! - `send/`: a datagram to a watched socket, by either strategy (pending → queued → emit):
//!   `fentry`: fexit on unix_dgram_sendmsg + fentry on sock_def_readable (send/fentry.rs);
//!   `tracepoint`: tp_btf sock_send_length / sk_data_ready (send/tp_btf.rs), with syscall
//!   tracepoints (send/syscalls.rs) where those cannot read the registers (regs.rs);
//! - `read/`: what each watched socket's reader (the manager) read, and when.
//!
//! Userspace loads only the programs of the strategy it picked, and the cheapest read hook the
//! kernel takes (observer/src/capture/hook_table.rs lists them all). Every map and load-time
//! global is in maps.rs; what depends on the traced kernel's architecture, in arch/.
#![no_std]
#![feature(core_intrinsics)]
#![allow(internal_features)]
#![no_main]

mod arch;
mod datagram;
mod floor;
mod kernel;
mod maps;
mod read;
mod regs;
mod send;
mod syscall_record;
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
