//! Which sockets to watch, and how the kernel side recognises each: by identity (the inode a
//! path socket's name resolves to, or an abstract socket's sockfs inode) and, for sends that fail
//! before the kernel resolves a receiver, by the address strings that name it.

mod owner;

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::{FileTypeExt, MetadataExt},
    path::{Path, PathBuf},
};

use observer_common::{PathKey, SUN_PATH_MAX, SocketKey};
pub use owner::SocketOwner;
use thiserror::Error;

use crate::{
    correlate::Owner,
    look_as,
    trust::{self, Trust},
};

/// At most this many untrusted containers are watched at once: anyone may create user
/// namespaces by the thousand, and the kernel's watch maps hold 1024 sockets.
const UNTRUSTED_MAX: usize = 256;

/// One socket being watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// Stable id, the value in the kernel maps; events carry it.
    pub id: u32,
    /// Whose it is: a manager's (shown by its name) or given with --socket.
    pub owner: SocketOwner,
    /// The address as given (`/run/systemd/notify`, `@name`).
    pub address: String,
    pub key: SocketKey,
    /// Address strings that name it, as a sender would put them in `sun_path`.
    pub path_keys: Vec<PathKey>,
    /// The manager that reads it (None for a --socket that is no known manager's).
    pub manager: Option<Owner>,
    /// Inode of the PID namespace its manager runs in (host managers: ours), when known.
    pub pidns_ino: Option<u64>,
    /// How far its manager is believed (trust.rs); None for a --socket.
    pub trust: Option<Trust>,
}

#[derive(Debug, Error)]
pub enum WatchError {
    #[error("--socket {0}: no such socket")]
    Missing(String),
    #[error("--socket {0}: not a socket")]
    NotSocket(String),
    #[error("--socket {0}: longer than the 107 bytes a unix socket address holds")]
    TooLong(String),
    #[error("--socket {0}: no abstract socket by that name is bound in this network namespace")]
    NoAbstract(String),
    #[error(
        "--socket {0}: a stream socket (SOCK_STREAM or SOCK_SEQPACKET), not a datagram one: the observer follows datagrams only"
    )]
    NotDatagram(String),
    #[error(
        "no systemd notify socket found (is systemd running here?); pass --socket PATH to watch another socket"
    )]
    NothingToWatch,
}

/// A request to watch an address, before it is resolved.
#[derive(Debug, Clone)]
pub struct Request {
    pub owner: SocketOwner,
    pub manager: Option<Owner>,
    pub address: String,
    /// Where the path is visible from here (`/proc/PID/root/...` for a container), if different.
    pub host_path: Option<PathBuf>,
    /// The netns whose /proc/net/unix lists it (abstract sockets).
    pub net_unix: PathBuf,
    pub trust: Option<Trust>,
    /// Its identity as the user who controls it saw it (look_as.rs): root does not walk the
    /// path again.
    pub seen: Option<SocketKey>,
}

impl Request {
    pub fn explicit(address: &str) -> Self {
        Self {
            owner: SocketOwner::Explicit,
            manager: None,
            address: address.into(),
            host_path: None,
            net_unix: "/proc/self/net/unix".into(),
            trust: None,
            seen: None,
        }
    }
}

/// The managers' sockets that exist now: the system manager's, every user manager's, and the
/// system managers of containers (their PID 1 runs in a child PID namespace), each with the
/// trust its manager deserves (trust.rs). An untrusted container's socket is looked for as the
/// owner of its user namespace, never by root (look_as.rs); its user managers are not looked for.
pub fn default_requests() -> Vec<Request> {
    let mut out = Vec::new();
    let host = |owner: String, manager: Owner, path: String, trust: Trust| Request {
        owner: SocketOwner::Manager(owner),
        manager: Some(manager),
        address: path,
        host_path: None,
        net_unix: "/proc/self/net/unix".into(),
        trust: Some(trust),
        seen: None,
    };
    if is_socket(Path::new("/run/systemd/notify")) {
        out.push(host(
            "system manager".into(),
            Owner::System,
            "/run/systemd/notify".into(),
            Trust::Root,
        ));
    }
    for (uid, path) in user_manager_sockets(Path::new("/")) {
        out.push(host(
            format!("user manager (uid {uid})"),
            Owner::User {
                uid,
                container: None,
            },
            path,
            Trust::User { uid },
        ));
    }
    let mut untrusted = 0;
    for leader in container_leaders() {
        let root = PathBuf::from(format!("/proc/{leader}/root"));
        let net_unix: PathBuf = format!("/proc/{leader}/net/unix").into();
        let manager = Owner::Container { leader };
        let trust = Trust::of(manager);
        if let Trust::Untrusted { owner } = trust {
            if untrusted >= UNTRUSTED_MAX {
                log::warn!(
                    "more than {UNTRUSTED_MAX} untrusted containers: container {leader} is not watched"
                );
                continue;
            }
            let inner = "/run/systemd/notify";
            if let Some(seen) =
                owner.and_then(|uid| untrusted_socket(leader, uid, &root.join(&inner[1..])))
            {
                untrusted += 1;
                out.push(Request {
                    owner: SocketOwner::Manager(format!(
                        "container {leader} ({})",
                        trust.label().unwrap_or_default()
                    )),
                    manager: Some(manager),
                    address: inner.into(),
                    host_path: Some(root.join(&inner[1..])),
                    net_unix,
                    trust: Some(trust),
                    seen: Some(seen),
                });
            }
            continue;
        }
        let mut add = |owner: String, manager: Owner, inner: String, trust: Trust| {
            let host_path = root.join(inner.trim_start_matches('/'));
            if is_socket(&host_path) {
                out.push(Request {
                    owner: SocketOwner::Manager(owner),
                    manager: Some(manager),
                    address: inner,
                    host_path: Some(host_path),
                    net_unix: net_unix.clone(),
                    trust: Some(trust),
                    seen: None,
                });
            }
        };
        add(
            format!("container {leader}"),
            manager,
            "/run/systemd/notify".into(),
            trust,
        );
        for (uid, path) in user_manager_sockets(&root) {
            let manager = Owner::User {
                uid,
                container: Some(leader),
            };
            add(
                format!("container {leader} user manager (uid {uid})"),
                manager,
                path,
                Trust::User { uid },
            );
        }
    }
    out
}

/// An untrusted container's socket at `path`, looked at as the namespace's owner `uid`: a
/// socket made in there, owned by a uid its user namespace maps (a host socket the owner can
/// see, linked or mounted in, is not its manager's).
fn untrusted_socket(leader: u32, uid: u32, path: &Path) -> Option<SocketKey> {
    let seen = look_as::stat_as(uid, trust::overflow_gid(), None, path)?;
    let map = fs::read_to_string(format!("/proc/{leader}/uid_map")).ok()?;
    (seen.is_socket && trust::map_uid(&map, seen.uid).is_some()).then_some(SocketKey {
        ino: seen.ino,
        dev: kernel_dev(seen.dev),
        _pad: 0,
    })
}

/// The user managers' notify sockets under `root`: /run/user/UID/systemd/notify, a socket of
/// UID's own (a user's link to another's socket, or to root's, names no manager of theirs).
fn user_manager_sockets(root: &Path) -> Vec<(u32, String)> {
    let Ok(dir) = fs::read_dir(root.join("run/user")) else {
        return Vec::new();
    };
    let mut out: Vec<_> = dir
        .flatten()
        .filter_map(|e| {
            let uid: u32 = e.file_name().to_str()?.parse().ok()?;
            let inner = format!("/run/user/{uid}/systemd/notify");
            let meta = fs::symlink_metadata(root.join(inner.trim_start_matches('/'))).ok()?;
            (meta.file_type().is_socket() && meta.uid() == uid).then_some((uid, inner))
        })
        .collect();
    out.sort();
    out
}

/// Host PIDs of processes that are PID 1 of a child PID namespace and run systemd.
fn container_leaders() -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let nspid = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .unwrap_or("");
            let ids: Vec<&str> = nspid.split_whitespace().collect();
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            ids.len() >= 2 && ids.last() == Some(&"1") && comm.trim() == "systemd"
        })
        .collect();
    out.sort();
    out
}

fn is_socket(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

/// Resolves requests into watched sockets with ids. Ids are stable across rescans for the same
/// (owner, address, identity), so events keep their meaning, and never reused: a new socket gets
/// an id above `highest_given` (the highest ever given, see [`highest_id`]), so a datagram still
/// in flight for a socket that went away is never taken for one to its successor.
pub fn resolve(
    requests: &[Request],
    previous: &[Watched],
    highest_given: u32,
) -> Result<Vec<Watched>, WatchError> {
    let mut out: Vec<Watched> = Vec::new();
    let mut next_id = highest_id(previous).max(highest_given) + 1;
    for r in requests {
        let key = socket_key(r)?;
        if r.manager.is_none() {
            refuse_stream_socket(r)?;
        }
        if let Some(other) = out.iter().find(|w| w.key == key)
            && rank(other.trust) <= rank(r.trust)
        {
            // One socket, two claims (a link, a bind mount): the more trusted owner keeps it,
            // so no one can have another's datagrams shown as theirs.
            log::info!("{} ({}) is {}'s socket", r.address, r.owner, other.owner);
            continue;
        }
        let id = previous
            .iter()
            .find(|w| w.key == key && w.address == r.address && w.owner == r.owner)
            .map(|w| w.id)
            .unwrap_or_else(|| {
                next_id += 1;
                next_id - 1
            });
        out.push(Watched {
            id,
            owner: r.owner.clone(),
            address: r.address.clone(),
            key,
            path_keys: path_keys(r)?,
            manager: r.manager,
            pidns_ino: r.manager.and_then(pidns_of),
            trust: r.trust,
        });
    }
    // A more trusted claim found later takes the socket from a less trusted one listed first.
    let ranked: Vec<(SocketKey, u8)> = out.iter().map(|w| (w.key, rank(w.trust))).collect();
    out.retain(|w| {
        !ranked
            .iter()
            .any(|(k, r)| *k == w.key && *r < rank(w.trust))
    });
    Ok(out)
}

/// Lower is more trusted: --socket and root's managers, then users', then untrusted ones.
fn rank(t: Option<Trust>) -> u8 {
    match t {
        None | Some(Trust::Root) => 0,
        Some(Trust::User { .. }) => 1,
        Some(Trust::Untrusted { .. }) => 2,
    }
}

/// The highest id in `watched` (0: none).
pub fn highest_id(watched: &[Watched]) -> u32 {
    watched.iter().map(|w| w.id).max().unwrap_or(0)
}

fn socket_key(r: &Request) -> Result<SocketKey, WatchError> {
    if let Some(key) = r.seen {
        return Ok(key);
    }
    if let Some(name) = r.address.strip_prefix('@') {
        let ino = abstract_inode(&r.net_unix, name)
            .ok_or_else(|| WatchError::NoAbstract(r.address.clone()))?;
        return Ok(SocketKey {
            ino,
            dev: 0,
            _pad: 0,
        });
    }
    let path = r
        .host_path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&r.address));
    let meta = fs::metadata(&path).map_err(|_| WatchError::Missing(r.address.clone()))?;
    if !meta.file_type().is_socket() {
        return Err(WatchError::NotSocket(r.address.clone()));
    }
    Ok(SocketKey {
        ino: meta.ino(),
        dev: kernel_dev(meta.dev()),
        _pad: 0,
    })
}

/// A `--socket` must be a datagram socket: the observer hooks datagram sends only, so a stream
/// socket's writes would be missed or shown as datagrams. A datagram socket connected to the
/// address tells (EPROTOTYPE for any other type); nothing is sent, nothing is accepted. A
/// socket file nobody has bound (ECONNREFUSED) is left to the rest of the checks.
fn refuse_stream_socket(r: &Request) -> Result<(), WatchError> {
    use std::os::{linux::net::SocketAddrExt as _, unix::net};
    let probe = || -> std::io::Result<()> {
        let s = net::UnixDatagram::unbound()?;
        match r.address.strip_prefix('@') {
            Some(name) => s.connect_addr(&net::SocketAddr::from_abstract_name(name)?),
            None => s.connect(&r.address),
        }
    };
    match probe() {
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            Err(WatchError::NotDatagram(r.address.clone()))
        }
        _ => Ok(()),
    }
}

/// The kernel's `s_dev` encoding (MKDEV: major << 20 | minor) of a userspace `st_dev`.
fn kernel_dev(st_dev: u64) -> u32 {
    let (major, minor) = (libc::major(st_dev), libc::minor(st_dev));
    (major << 20) | minor
}

/// The sockfs inode of abstract socket `@name` in the `/proc/.../net/unix` listing.
fn abstract_inode(net_unix: &Path, name: &str) -> Option<u64> {
    let text = fs::read_to_string(net_unix).ok()?;
    let wanted = format!("@{name}");
    // "Num RefCount Protocol Flags Type St Inode Path"; listening datagram sockets have a path.
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.len() >= 8 && cols[7] == wanted)
            .then(|| cols[6].parse().ok())
            .flatten()
    })
}

/// The `sun_path` strings that name the socket: the address itself, its canonical form, and the
/// `/var/run` alias of `/run` paths when /var/run links to /run.
fn path_keys(r: &Request) -> Result<Vec<PathKey>, WatchError> {
    if let Some(name) = r.address.strip_prefix('@') {
        let mut raw = vec![0u8];
        raw.extend_from_slice(name.as_bytes());
        return Ok(vec![
            path_key(&raw).ok_or_else(|| WatchError::TooLong(r.address.clone()))?,
        ]);
    }
    let mut names = vec![r.address.clone()];
    if r.host_path.is_none()
        && let Ok(canon) = fs::canonicalize(&r.address)
    {
        names.push(canon.to_string_lossy().into_owned());
    }
    let var_run_is_run = fs::canonicalize("/var/run")
        .map(|p| p == Path::new("/run"))
        .unwrap_or(false);
    if var_run_is_run {
        let extra: Vec<String> = names
            .iter()
            .filter_map(|n| {
                n.strip_prefix("/run/")
                    .map(|rest| format!("/var/run/{rest}"))
            })
            .collect();
        names.extend(extra);
    }
    names.sort();
    names.dedup();
    names
        .iter()
        .map(|n| path_key(n.as_bytes()).ok_or_else(|| WatchError::TooLong(r.address.clone())))
        .collect()
}

/// The PID namespace a manager runs in: a container's PID 1's, or ours for the host's managers.
fn pidns_of(owner: Owner) -> Option<u64> {
    let pid = match owner {
        Owner::Container { leader }
        | Owner::User {
            container: Some(leader),
            ..
        } => leader.to_string(),
        Owner::System
        | Owner::User {
            container: None, ..
        } => "self".into(),
    };
    fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// For a datagram matched only by its address string: several managers' sockets can have the
/// same address in their own mount namespaces (every container's /run/systemd/notify). The
/// sender meant the one of the manager in its PID namespace; keep `watch_id` when none is.
pub fn disambiguate<'a>(
    watch_id: u32,
    dest: &str,
    sender_pidns: u32,
    watched: impl IntoIterator<Item = &'a Watched>,
) -> u32 {
    watched
        .into_iter()
        .find(|w| w.address == dest && w.pidns_ino == Some(u64::from(sender_pidns)))
        .map_or(watch_id, |w| w.id)
}

/// `sun_path` bytes zero-padded, as the kernel side normalises them.
pub fn path_key(raw: &[u8]) -> Option<PathKey> {
    if raw.len() >= SUN_PATH_MAX {
        return None;
    }
    let mut key = PathKey {
        path: [0; SUN_PATH_MAX],
    };
    key.path[..raw.len()].copy_from_slice(raw);
    Some(key)
}

/// Id → watched socket, for decoding events.
pub fn by_id(watched: &[Watched]) -> BTreeMap<u32, Watched> {
    watched.iter().map(|w| (w.id, w.clone())).collect()
}

#[cfg(test)]
mod tests;
