//! Who reads each watched socket: the processes whose reads the kernel side captures (the
//! `READERS` map). A manager's socket is read by that manager — the host's PID 1, a container's
//! PID 1, a `systemd --user` — and a `--socket` by the `--receiver` processes that hold it open.

use std::{collections::BTreeSet, fs, os::unix::fs::MetadataExt};

use crate::{correlate::Owner, watch::Watched};

/// A process that reads a watched socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reader {
    pub tgid: u32,
    pub watch_id: u32,
}

/// The readers of `watched` now. `receivers`: `--receiver` PIDs, for the `--socket` sockets they
/// hold open.
pub fn find(watched: &[Watched], receivers: &[u32]) -> Vec<Reader> {
    let mut out = BTreeSet::new();
    for w in watched {
        let tgids = match w.manager {
            Some(owner) => manager_tgid(owner).into_iter().collect(),
            None => receivers
                .iter()
                .copied()
                .filter(|pid| holds(*pid, w))
                .collect::<Vec<_>>(),
        };
        out.extend(tgids.into_iter().map(|tgid| Reader {
            tgid,
            watch_id: w.id,
        }));
    }
    out.into_iter().collect()
}

/// `--receiver` PIDs must name processes that exist when the observer starts (one that exits
/// later is given up then, like a manager that exits).
pub fn check_receivers(receivers: &[u32]) -> anyhow::Result<()> {
    for pid in receivers {
        if *pid == 0 || fs::metadata(format!("/proc/{pid}")).is_err() {
            anyhow::bail!("--receiver {pid}: no such process");
        }
    }
    Ok(())
}

/// The host PID of the manager that owns a socket, if it is running.
fn manager_tgid(owner: Owner) -> Option<u32> {
    match owner {
        Owner::System => (comm(1).as_deref() == Some("systemd")).then_some(1),
        Owner::Container { leader } => {
            (comm(leader).as_deref() == Some("systemd")).then_some(leader)
        }
        Owner::User { uid, container } => user_manager(uid, container),
    }
}

/// `systemd --user` of `uid`, in the PID namespace of container `container` (or ours).
fn user_manager(uid: u32, container: Option<u32>) -> Option<u32> {
    let pidns = |pid: &str| {
        fs::metadata(format!("/proc/{pid}/ns/pid"))
            .ok()
            .map(|m| m.ino())
    };
    let want_ns = pidns(&container.map_or("self".into(), |c| c.to_string()))?;
    fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            comm(*pid).as_deref() == Some("systemd")
                && real_uid(*pid) == Some(uid)
                && pidns(&pid.to_string()) == Some(want_ns)
                && fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"--user"))
        })
}

fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_string())
}

fn real_uid(pid: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether process `pid` has socket `w` open: one of its fds is the socket's sockfs inode.
fn holds(pid: u32, w: &Watched) -> bool {
    let inodes = sockfs_inodes(w);
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok())
                .is_some_and(|ino: u64| inodes.contains(&ino))
        })
    })
}

/// The sockfs inodes of a watched socket: an abstract socket's is its key; a path socket's are
/// those /proc/net/unix lists under its address (the path inode in the key is another inode).
fn sockfs_inodes(w: &Watched) -> Vec<u64> {
    if w.key.dev == 0 {
        return vec![w.key.ino];
    }
    let canon = fs::canonicalize(&w.address)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = fs::read_to_string("/proc/self/net/unix").unwrap_or_default();
    net_unix_inodes(&text, &[w.address.as_str(), canon.as_str()])
}

/// Inodes of the /proc/net/unix lines bound to one of `paths`.
fn net_unix_inodes(text: &str, paths: &[&str]) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.len() >= 8 && paths.contains(&cols[7]))
                .then(|| cols[6].parse().ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests;
