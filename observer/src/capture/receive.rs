//! The manager side of capture: the programs that see a watched socket's reader (systemd) read
//! it. They are independent of the send strategy: syscall tracepoints on recvmsg(2), which every
//! systemd version reads its notify socket with, on any kernel.

use anyhow::Context as _;
use aya::{Ebpf, programs::TracePoint};

use crate::preflight;

/// Loads and attaches the receive programs; returns the hooks attached.
pub fn attach(ebpf: &mut Ebpf) -> anyhow::Result<Vec<String>> {
    preflight::ensure_tracefs()?;
    let mut attached = Vec::new();
    for tp in ["sys_enter_recvmsg", "sys_exit_recvmsg"] {
        let p: &mut TracePoint = ebpf
            .program_mut(tp)
            .with_context(|| format!("program {tp} missing from the eBPF object"))?
            .try_into()?;
        p.load().with_context(|| tp.to_string())?;
        p.attach("syscalls", tp).with_context(|| tp.to_string())?;
        attached.push(format!("tracepoint/syscalls/{tp}"));
    }
    Ok(attached)
}
