//! PID namespaces: the manager's (`PidNs`), and host PID ↔ PID as the manager sees it, through
//! `NSpid:` in /proc/PID/status.

use std::{
    fs,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::fs::MetadataExt,
    },
};

/// A manager's PID namespace: its depth below ours, and its identity (dev, inode of
/// /proc/PID/ns/pid), so a PID from a sibling container of the same depth is never mistaken for one
/// of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidNs {
    /// Index into `NSpid:` (0 = our namespace).
    pub level: usize,
    pub ns: (u64, u64),
}

/// `NSpid:` of /proc/PID/status: the PID in our namespace first, then in each nested one, the
/// process's own last.
pub fn nspid(status: &str) -> Option<Vec<u32>> {
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().map(|p| p.parse().ok()).collect()
}

fn read_nspid(pid: u32) -> Option<Vec<u32>> {
    nspid(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

fn ns_id(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

impl PidNs {
    /// The PID namespace `pid` lives in (host PID: a container's PID 1; our own PID for the host's
    /// namespace — /proc/1 may be off limits even to root when PID 1 is a sandbox's supervisor).
    pub fn of(pid: u32) -> std::io::Result<PidNs> {
        let ids = read_nspid(pid)
            .ok_or_else(|| std::io::Error::other(format!("no NSpid for PID {pid}")))?;
        let meta = fs::metadata(format!("/proc/{pid}/ns/pid"))?;
        Ok(PidNs {
            level: ids.len() - 1,
            ns: ns_id(&meta),
        })
    }

    /// Whether `host_pid`, whose NSpid has `depth` entries, lives in this namespace or one nested
    /// in it: walk up from its own namespace with NS_GET_PARENT to our level and compare.
    fn contains(&self, host_pid: u32, depth: usize) -> bool {
        let Ok(f) = fs::File::open(format!("/proc/{host_pid}/ns/pid")) else {
            return false;
        };
        let mut fd = OwnedFd::from(f);
        for _ in self.level + 1..depth {
            // SAFETY: ioctl on an fd we own; returns a new fd or -1.
            let parent = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_PARENT) };
            if parent < 0 {
                return false;
            }
            // SAFETY: a fresh fd that we own.
            fd = unsafe { OwnedFd::from_raw_fd(parent) };
        }
        fs::File::from(fd)
            .metadata()
            .is_ok_and(|m| ns_id(&m) == self.ns)
    }

    /// Host PID → PID in this namespace; None when the process is gone or not visible there
    /// (systemd would then get pid 0 in SCM_CREDENTIALS).
    pub fn host_to_ns(&self, host_pid: u32) -> Option<u32> {
        let ids = read_nspid(host_pid)?;
        let pid = *ids.get(self.level)?;
        self.contains(host_pid, ids.len()).then_some(pid)
    }

    /// PID in this namespace → host PID, by scanning /proc (for the occasional MainPID lookup).
    pub fn ns_to_host(&self, ns_pid: u32) -> Option<u32> {
        if self.level == 0 {
            return Some(ns_pid);
        }
        fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let host: u32 = e.file_name().to_str()?.parse().ok()?;
            let ids = read_nspid(host)?;
            (ids.get(self.level) == Some(&ns_pid) && self.contains(host, ids.len())).then_some(host)
        })
    }
}
