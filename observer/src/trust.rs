//! The trust model (docs/OPERATIONS.md, "Trust model"): how far the observer believes each
//! manager, and as whom it may speak to it.
//!
//! A manager is believed as far as the host's root trusts whoever controls it:
//! - the host's system manager, and a container's system manager whose user namespace is the
//!   host's (systemd-nspawn, machinectl, docker without userns-remap): root set them up. They
//!   are spoken to as root (from the container's PID namespace, where sd-bus needs us to be);
//! - a user manager (user@UID.service): its user controls it and can put anything on its
//!   socket. It is spoken to as that user, never as root;
//! - a container in a user namespace of its own (rootless podman, `unshare -Ur`): the owner of
//!   that namespace controls everything in it. Root never enters its namespaces nor looks at
//!   its files; its manager is spoken to only with `--containers all`, and then as the owner,
//!   from inside the namespaces the owner could enter himself. What it says is labelled.
//!
//! Datagrams to every watched socket are shown whatever its manager's trust: the kernel side
//! sees them.

use std::{
    fs,
    os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::fs::MetadataExt as _,
    },
    path::Path,
};

use crate::{correlate::Owner, manager::Approach};

/// `--containers`: which containers' managers are spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Containers {
    /// Those whose user namespace is the host's (their root is the host's root), as root.
    Trusted,
    /// Also those in user namespaces of their own, as the namespace's owner; what they say is
    /// labelled untrusted.
    All,
    /// None: only the host's managers are asked.
    None,
}

/// How far a manager is believed (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Controlled by the host's root.
    Root,
    /// A user manager, controlled by its user (the host's uid).
    User { uid: u32 },
    /// Inside a user namespace that is not the host's: controlled by its owner (host uid; None
    /// when it cannot be told, e.g. the container is gone).
    Untrusted { owner: Option<u32> },
}

impl Trust {
    /// The trust a manager deserves, from its namespaces as the kernel tells them.
    pub fn of(owner: Owner) -> Trust {
        match owner {
            Owner::System => Trust::Root,
            Owner::Container { leader } => container(leader),
            Owner::User { uid, container: c } => match c.map(container) {
                None | Some(Trust::Root) => Trust::User { uid },
                Some(other) => other,
            },
        }
    }

    /// The word for JSON and recordings: "trusted", "user", "untrusted".
    pub fn name(self) -> &'static str {
        match self {
            Trust::Root => "trusted",
            Trust::User { .. } => "user",
            Trust::Untrusted { .. } => "untrusted",
        }
    }

    /// What goes after a watched socket's owner, so that every output names an untrusted one.
    pub fn label(self) -> Option<String> {
        match self {
            Trust::Untrusted { owner } => Some(format!("untrusted: {}", userns_text(owner))),
            _ => None,
        }
    }
}

fn userns_text(owner: Option<u32>) -> String {
    match owner {
        Some(uid) => format!("user namespace of uid {uid}"),
        None => "user namespace of an unknown owner".into(),
    }
}

/// How the manager of `owner` may be spoken to under `policy` (`--containers`); Err: it is not
/// spoken to, and why (the verdict note of its datagrams).
pub fn approach(owner: Owner, trust: Trust, policy: Containers) -> Result<Approach, String> {
    let leader = match owner {
        Owner::System => return Ok(Approach::Root),
        Owner::Container { leader } => Some(leader),
        Owner::User { container, .. } => container,
    };
    match (trust, leader, policy) {
        (Trust::Untrusted { owner: Some(uid) }, Some(leader), Containers::All) => {
            Ok(Approach::Owner {
                uid,
                gid: overflow_gid(),
                uid_inside: uid_inside(leader, uid),
                leader,
            })
        }
        (Trust::Untrusted { owner }, _, Containers::All) => Err(format!(
            "not asked: its manager runs in a {} that cannot be entered as its owner",
            userns_text(owner)
        )),
        (Trust::Untrusted { owner }, _, _) => Err(format!(
            "not asked: untrusted, its manager runs in a {}; --containers all asks it as that user",
            userns_text(owner)
        )),
        (_, Some(_), Containers::None) => {
            Err("not asked: --containers none asks no container's manager".into())
        }
        (Trust::User { uid }, leader, _) => {
            let root = leader.map_or_else(|| "/".into(), |l| format!("/proc/{l}/root"));
            let gid = runtime_dir_gid(&Path::new(&root).join(format!("run/user/{uid}")), uid)?;
            Ok(Approach::User { uid, gid, leader })
        }
        (Trust::Root, Some(leader), _) => Ok(Approach::RootInPidns { leader }),
        (Trust::Root, None, _) => Ok(Approach::Root),
    }
}

/// What the start lines say of a watched manager: how far it is believed, as whom it is asked.
pub fn describe(trust: Trust, approach: &Result<Approach, String>) -> String {
    let asked = match approach {
        Ok(a) => format!("asked as {}", a.who()),
        Err(why) => why.clone(),
    };
    match trust {
        Trust::Root => format!("trusted; {asked}"),
        Trust::User { uid } => format!("believed about uid {uid}'s own units; {asked}"),
        Trust::Untrusted { owner } => format!(
            "untrusted ({}): its datagrams are shown, what its manager says is labelled; {asked}",
            userns_text(owner)
        ),
    }
}

/// The group of a user's runtime directory, which must be the user's own: a user manager is
/// connected to as that user and group.
fn runtime_dir_gid(dir: &Path, uid: u32) -> Result<u32, String> {
    let meta =
        fs::symlink_metadata(dir).map_err(|e| format!("not asked: {}: {e}", dir.display()))?;
    if meta.uid() != uid || !meta.is_dir() {
        return Err(format!(
            "not asked: {} is not a directory of uid {uid}",
            dir.display()
        ));
    }
    Ok(meta.gid())
}

/// The gid with no rights ("nogroup"), for a namespace owner whose group is not known.
pub fn overflow_gid() -> u32 {
    fs::read_to_string("/proc/sys/kernel/overflowgid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65534)
}

/// How the processes of `leader`'s user namespace see host uid `uid` (its uid_map, read from
/// here, maps to our uids); the overflow uid when it is not mapped.
fn uid_inside(leader: u32, uid: u32) -> u32 {
    let map = fs::read_to_string(format!("/proc/{leader}/uid_map")).unwrap_or_default();
    map_uid(&map, uid).unwrap_or_else(|| {
        fs::read_to_string("/proc/sys/kernel/overflowuid")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(65534)
    })
}

/// `uid` (outside) through a uid_map ("inside outside count" lines).
pub fn map_uid(map: &str, uid: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let mut f = l.split_whitespace().map(|n| n.parse::<u64>().ok());
        let (inside, outside, count) = (f.next()??, f.next()??, f.next()??);
        let uid = u64::from(uid);
        (outside <= uid && uid < outside + count).then(|| (inside + uid - outside) as u32)
    })
}

/// (dev, inode) of a namespace file.
fn ns_id(fd: &OwnedFd) -> Option<(u64, u64)> {
    let f = fs::File::from(fd.try_clone().ok()?);
    f.metadata().ok().map(|m| (m.dev(), m.ino()))
}

/// The trust of the container whose PID 1 is host PID `leader`: Root when its user namespace
/// is ours; else Untrusted, owned by the owner of its outermost user namespace below ours
/// (that user has every capability in all of them).
fn container(leader: u32) -> Trust {
    let unknown = Trust::Untrusted { owner: None };
    let Some(ours) = fs::File::open("/proc/self/ns/user")
        .ok()
        .and_then(|f| ns_id(&f.into()))
    else {
        return unknown;
    };
    let Ok(f) = fs::File::open(format!("/proc/{leader}/ns/user")) else {
        return unknown;
    };
    let mut ns: OwnedFd = f.into();
    // User namespaces nest at most 32 deep.
    for _ in 0..33 {
        if ns_id(&ns) == Some(ours) {
            return Trust::Root;
        }
        // SAFETY: ioctl on a namespace fd we own; returns a new fd or -1.
        let parent = unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_PARENT) };
        if parent < 0 {
            return unknown;
        }
        // SAFETY: a fresh fd that we own.
        let parent = unsafe { OwnedFd::from_raw_fd(parent) };
        if ns_id(&parent) == Some(ours) {
            let mut uid: libc::uid_t = 0;
            // SAFETY: NS_GET_OWNER_UID writes one uid_t.
            let r = unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_OWNER_UID, &mut uid) };
            return Trust::Untrusted {
                owner: (r == 0).then_some(uid),
            };
        }
        ns = parent;
    }
    unknown
}

#[cfg(test)]
mod tests;
