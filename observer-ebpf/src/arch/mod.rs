//! What depends on the architecture of the kernel being traced: syscall numbers and the layout
//! of the user structs the programs read (msghdr, mmsghdr, iovec). Only x86_64 is written down;
//! the kernel's own structs need nothing here, their offsets come from its BTF (`OFFSETS`).
//!
//! `bpf_target_arch` is the traced kernel's architecture: aya-build sets it when observer's
//! build.rs builds this crate, and build.rs here when it is built on its own (clippy).

#[cfg(bpf_target_arch = "x86_64")]
mod x86_64;
#[cfg(bpf_target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(bpf_target_arch = "x86_64"))]
compile_error!(
    "observer's kernel programs know only x86_64's syscall numbers and user struct layouts: add arch/<arch>.rs (see arch/x86_64.rs)"
);
