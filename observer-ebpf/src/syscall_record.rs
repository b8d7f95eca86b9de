//! The records of the syscall tracepoints (include/trace/events/syscalls.h): where their
//! arguments and return value sit. Shared by the send and the read path.

use aya_ebpf::programs::TracePointContext;

/// `sys_enter_*` arguments start at offset 16, 8 bytes each (include/trace/events/syscalls.h).
#[inline(always)]
pub fn arg(ctx: &TracePointContext, n: usize) -> u64 {
    // SAFETY: offset within the syscall tracepoint record.
    unsafe { ctx.read_at::<u64>(16 + 8 * n) }.unwrap_or(0)
}

/// The return value of a `sys_exit_*` record sits at offset 16.
#[inline(always)]
pub fn exit_ret(ctx: &TracePointContext) -> i64 {
    // SAFETY: offset within the syscall exit record.
    unsafe { ctx.read_at::<i64>(16) }.unwrap_or(0)
}
