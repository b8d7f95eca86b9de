//! Checks that turn the usual ways a tracer cannot start into one clear line each, before aya
//! gets to report them as an opaque errno.

use std::{ffi::CString, fs, path::Path};

use thiserror::Error;

pub const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";
pub const TRACEFS: &str = "/sys/kernel/tracing";

#[derive(Debug, Error)]
pub enum PreflightError {
    #[error("needs root, or CAP_BPF and CAP_PERFMON (run it with sudo)")]
    NotPrivileged,
    #[error("no BTF at {BTF_PATH}: the kernel must be built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    #[error(
        "tracefs is not mounted at {TRACEFS} and mounting it failed ({0}); mount it with: mount -t tracefs nodev {TRACEFS}"
    )]
    NoTracefs(String),
}

const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Root, or the two capabilities loading tracing programs needs since Linux 5.8.
pub fn check_privileges() -> Result<(), PreflightError> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| cap_eff & (1u64 << cap) != 0;
    if has(CAP_BPF) && has(CAP_PERFMON) {
        Ok(())
    } else {
        Err(PreflightError::NotPrivileged)
    }
}

pub fn check_btf() -> Result<(), PreflightError> {
    if Path::new(BTF_PATH).exists() {
        Ok(())
    } else {
        Err(PreflightError::NoBtf)
    }
}

/// Syscall tracepoints are found through tracefs; mount it when nobody has.
pub fn ensure_tracefs() -> Result<(), PreflightError> {
    if Path::new(TRACEFS).join("events").is_dir()
        || Path::new("/sys/kernel/debug/tracing/events").is_dir()
    {
        return Ok(());
    }
    let c = |s: &str| CString::new(s).expect("no NUL");
    let (src, target, fstype) = (c("nodev"), c(TRACEFS), c("tracefs"));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(PreflightError::NoTracefs(
            std::io::Error::last_os_error().to_string(),
        ))
    }
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; lift it so they load there too.
pub fn raise_memlock_rlimit() {
    let rlim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain setrlimit with a valid struct; failure only matters on old kernels, where
    // map creation then reports it.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rlim) };
}
