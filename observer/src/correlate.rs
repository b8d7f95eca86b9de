//! cgroup id → cgroup path → unit: which unit, of which service manager, a sender belongs to.
//!
//! The kernel side records `bpf_get_current_cgroup_id()`: the id of the sender's cgroup in the
//! cgroup2 hierarchy, which is the inode number of that cgroup's directory in cgroup2fs
//! (`kernfs_ino()`: on 64-bit the whole kernfs id). Two facts make a small cache safe:
//! * ids are never reused within a boot (kernfs ids are 64-bit and only count up), so a cached
//!   id → path answer is never *wrong*, at most out of date about whether the cgroup still exists;
//! * cgroup2 does not support rename (`rename(2)` fails with EPERM; checked on this host), so a
//!   live cgroup keeps its path for its whole life.
//!
//! Resolution happens when the event arrives, and the sender may be gone by then, its cgroup
//! removed with it. We therefore index the whole tree once at start and remember every path we
//! have seen: a cgroup that is removed later still yields the path (and so the unit) it had.
//!
//! The unit is then derived from the path like systemd's `cg_path_get_unit()` and
//! `cg_path_get_user_unit()` (src/basic/cgroup-util.c), relative to the root cgroup of the service
//! manager that received the message: "/" for the host's, the cgroup of PID 1 minus "/init.scope"
//! for a container's (`cg_get_root_path()`), `…/user@UID.service` for a user manager.
#![cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "API for the unit/verdict pipeline of issue 3, wired in next"
    )
)]

use std::{
    collections::HashMap,
    fs::{self, File},
    io,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::{
            ffi::OsStrExt,
            fs::{DirEntryExt, MetadataExt},
        },
    },
    path::{Path, PathBuf},
};

/// Where this process sees the cgroup2 (unified) hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup2 {
    /// Mount point: `/sys/fs/cgroup` (unified layout) or `/sys/fs/cgroup/unified` (hybrid).
    pub mount: PathBuf,
    /// The cgroup the mount shows at its top: "/" unless only a subtree was mounted.
    pub root: String,
}

impl Cgroup2 {
    /// Finds the cgroup2 mount in /proc/self/mountinfo.
    pub fn find() -> io::Result<Cgroup2> {
        let text = fs::read_to_string("/proc/self/mountinfo")?;
        Cgroup2::from_mountinfo(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no cgroup2 mount in /proc/self/mountinfo",
            )
        })
    }

    /// Picks the cgroup2 mount out of a mountinfo listing. When there are several (bind mounts),
    /// the canonical places win, so paths we print look like the ones systemd uses.
    pub fn from_mountinfo(text: &str) -> Option<Cgroup2> {
        // "36 25 0:30 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw": after the
        // optional fields, "-" is followed by the filesystem type.
        let mounts: Vec<Cgroup2> = text
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                let dash = fields.iter().position(|f| *f == "-")?;
                (fields.get(dash + 1) == Some(&"cgroup2") && fields.len() > 4).then(|| Cgroup2 {
                    root: unescape_mountinfo(fields[3]),
                    mount: PathBuf::from(unescape_mountinfo(fields[4])),
                })
            })
            .collect();
        let rank = |m: &Cgroup2| match m.mount.to_str() {
            Some("/sys/fs/cgroup") => 0,
            Some("/sys/fs/cgroup/unified") => 1,
            _ => 2,
        };
        mounts.into_iter().min_by_key(rank)
    }

    /// The directory of cgroup `path` ("/system.slice/foo.service") under the mount.
    pub fn dir(&self, path: &str) -> PathBuf {
        let rel = strip_root(path, &self.root).unwrap_or(path);
        self.mount.join(rel.trim_start_matches('/'))
    }

    /// The cgroup path of a directory below the mount point.
    fn path_of(&self, rel: &Path) -> String {
        join_cgroup(&self.root, &rel.to_string_lossy())
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a cgroup id stands for at the time it is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The cgroup exists, at this path.
    Live(String),
    /// The cgroup has been removed (the sender and its unit may be gone). The path is known when
    /// we saw the cgroup while it existed.
    Gone(Option<String>),
    /// Not found, and the search was cut short (tree larger than our bounds): maybe it exists.
    Unknown,
}

impl Resolved {
    /// The path, live or last known.
    pub fn path(&self) -> Option<&str> {
        match self {
            Resolved::Live(p) | Resolved::Gone(Some(p)) => Some(p),
            Resolved::Gone(None) | Resolved::Unknown => None,
        }
    }
}

/// Bounds for a walk of the cgroup tree: enough for any real host, small enough that one walk
/// costs milliseconds, not seconds.
const WALK_MAX_DIRS: usize = 100_000;
const WALK_MAX_DEPTH: usize = 64;
/// Cache size bound. Past it, removed cgroups are forgotten first, then everything (a walk
/// rebuilds the live part).
const CACHE_MAX: usize = 50_000;

/// `FILEID_KERNFS` (include/linux/exportfs.h): a kernfs file handle is the 64-bit node id.
const FILEID_KERNFS: i32 = 0xfe;

#[repr(C)]
struct KernfsHandle {
    handle_bytes: u32,
    handle_type: i32,
    id: u64,
}

/// Resolves cgroup ids to paths, with a cache that cannot go stale (see the module docs).
///
/// Cost per lookup: a hit is one `stat()` of the cached directory (to tell live from removed); a
/// removed cgroup costs nothing; a miss is one `open_by_handle_at()` (needs CAP_DAC_READ_SEARCH),
/// or, where that fails, one bounded walk that indexes every cgroup it passes.
pub struct Resolver {
    fs: Cgroup2,
    /// The mount point, as the reference for `open_by_handle_at()`; None if it cannot be opened.
    mount_fd: Option<File>,
    /// id → path; `live: false` once the cgroup is known to be removed (ids are never reused, so
    /// that never changes back).
    cache: HashMap<u64, Entry>,
    /// Whether `open_by_handle_at()` works here; tried once, then the walk is used.
    handles: bool,
    /// Whether the last walk saw the whole tree (then "not found" means "removed").
    walk_complete: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    path: Option<String>,
    live: bool,
}

impl Resolver {
    /// Indexes the current tree so that cgroups removed later still resolve to their path.
    pub fn new(fs: Cgroup2) -> Resolver {
        let mount_fd = File::open(&fs.mount).ok();
        let mut r = Resolver {
            fs,
            handles: mount_fd.is_some(),
            mount_fd,
            cache: HashMap::new(),
            walk_complete: false,
        };
        r.walk(None);
        r
    }

    pub fn cgroup2(&self) -> &Cgroup2 {
        &self.fs
    }

    /// What `id` stands for now. Call it as each event arrives: the later, the likelier the
    /// sender's cgroup is gone.
    pub fn resolve(&mut self, id: u64) -> Resolved {
        if let Some(e) = self.cache.get(&id).cloned() {
            match (e.live, e.path) {
                (false, path) => return Resolved::Gone(path),
                (true, Some(path)) => {
                    // Verify: same path and same inode means the same cgroup (no rename on
                    // cgroup2). Anything else means it was removed (a new cgroup of that name
                    // would have a new id).
                    if self.inode_of(&path) == Some(id) {
                        return Resolved::Live(path);
                    }
                    self.mark_gone(id, Some(path.clone()));
                    return Resolved::Gone(Some(path));
                }
                (true, None) => {}
            }
        }
        if self.handles {
            match self.by_handle(id) {
                Ok(Some(path)) => {
                    self.insert(id, Some(path.clone()), true);
                    return Resolved::Live(path);
                }
                Ok(None) => {
                    self.mark_gone(id, None);
                    return Resolved::Gone(None);
                }
                Err(e) => {
                    log::debug!(
                        "open_by_handle_at on cgroup2 failed ({e}); walking the tree instead"
                    );
                    self.handles = false;
                }
            }
        }
        match self.walk(Some(id)) {
            Some(path) => Resolved::Live(path),
            None if self.walk_complete => {
                // The cgroup existed when the event was recorded, and a full walk after that did
                // not find it: it has been removed, and the id will never come back.
                self.mark_gone(id, None);
                Resolved::Gone(None)
            }
            None => Resolved::Unknown,
        }
    }

    fn inode_of(&self, path: &str) -> Option<u64> {
        fs::metadata(self.fs.dir(path)).ok().map(|m| m.ino())
    }

    /// `open_by_handle_at()` with a kernfs handle opens the cgroup directory by id directly
    /// (systemd ≥ 257 does the same in `cg_path_from_cgroupid()`); the fd's link gives the path.
    /// Ok(None): ESTALE, the cgroup no longer exists.
    fn by_handle(&self, id: u64) -> io::Result<Option<String>> {
        let mount = self
            .mount_fd
            .as_ref()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let mut h = KernfsHandle {
            handle_bytes: size_of::<u64>() as u32,
            handle_type: FILEID_KERNFS,
            id,
        };
        // SAFETY: `h` is a file_handle header followed by its 8 bytes of f_handle, as declared.
        let fd = unsafe {
            libc::open_by_handle_at(
                mount.as_raw_fd(),
                (&raw mut h).cast::<libc::file_handle>(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ESTALE) | Some(libc::ENOENT) => Ok(None),
                _ => Err(e),
            };
        }
        // SAFETY: a fresh fd that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let link = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
        let Ok(rel) = link.strip_prefix(&self.fs.mount) else {
            // Outside our mount of the hierarchy (another cgroup namespace's view): let the walk
            // decide.
            return Err(io::Error::other(format!(
                "{} is outside {}",
                link.display(),
                self.fs.mount.display()
            )));
        };
        let rel = rel.as_os_str().as_bytes();
        if rel.ends_with(b" (deleted)") {
            return Ok(None);
        }
        Ok(Some(
            self.fs.path_of(Path::new(std::ffi::OsStr::from_bytes(rel))),
        ))
    }

    fn insert(&mut self, id: u64, path: Option<String>, live: bool) {
        if self.cache.len() >= CACHE_MAX && !self.cache.contains_key(&id) {
            self.cache.retain(|_, e| e.live);
            if self.cache.len() >= CACHE_MAX {
                self.cache.clear();
            }
        }
        self.cache.insert(id, Entry { path, live });
    }

    fn mark_gone(&mut self, id: u64, path: Option<String>) {
        self.insert(id, path, false);
    }
}

impl Resolver {
    /// Walks the tree breadth-first within the bounds, caching every cgroup it passes (readdir's
    /// d_ino is the cgroup id: no stat needed). Returns the path of `want` if seen.
    fn walk(&mut self, want: Option<u64>) -> Option<String> {
        let mut found = None;
        let mut complete = true;
        let mut queue = vec![(PathBuf::new(), 0usize)];
        let mut seen = 0usize;
        if let Ok(m) = fs::metadata(&self.fs.mount) {
            self.insert(m.ino(), Some(self.fs.root.clone()), true);
            if want == Some(m.ino()) {
                found = Some(self.fs.root.clone());
            }
        }
        while let Some((rel, depth)) = queue.pop() {
            let Ok(dir) = fs::read_dir(self.fs.mount.join(&rel)) else {
                continue; // removed while we walked: fine
            };
            for entry in dir.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                seen += 1;
                if seen > WALK_MAX_DIRS {
                    complete = false;
                    queue.clear();
                    break;
                }
                let child = rel.join(entry.file_name());
                let path = self.fs.path_of(&child);
                if want == Some(entry.ino()) {
                    found = Some(path.clone());
                }
                self.insert(entry.ino(), Some(path), true);
                if depth + 1 < WALK_MAX_DEPTH {
                    queue.push((child, depth + 1));
                } else {
                    complete = false;
                }
            }
        }
        self.walk_complete = complete;
        found
    }
}

/// `path` below `root` as a cgroup path ("/" for `root` itself), comparing whole components like
/// systemd's `path_startswith()`; None if it is not below.
pub fn strip_root<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

fn join_cgroup(root: &str, rel: &str) -> String {
    let rel = rel.trim_matches('/');
    match (root.trim_end_matches('/'), rel) {
        ("", "") => "/".into(),
        (r, "") => r.into(),
        (r, rel) => format!("{r}/{rel}"),
    }
}

// ---------------------------------------------------------------------------- path → unit

/// `unit_type_table` (src/basic/unit-def.c): the suffixes a unit name can have.
const UNIT_TYPES: &[&str] = &[
    "service",
    "mount",
    "swap",
    "socket",
    "target",
    "device",
    "automount",
    "timer",
    "path",
    "slice",
    "scope",
];
/// `UNIT_NAME_MAX` (src/basic/unit-name.h): names must be shorter.
const UNIT_NAME_MAX: usize = 256;

/// `unit_name_is_valid()` (src/basic/unit-name.c) for the flags used here: PLAIN ("foo.service")
/// and/or INSTANCE ("foo@bar.service"); templates ("foo@.service") never name a running unit.
pub(crate) fn unit_name_is_valid(n: &str, plain: bool, instance: bool) -> bool {
    if n.is_empty() || n.len() >= UNIT_NAME_MAX {
        return false;
    }
    let Some(dot) = n.rfind('.').filter(|&d| d > 0) else {
        return false;
    };
    if !UNIT_TYPES.contains(&&n[dot + 1..]) {
        return false;
    }
    let stem = &n[..dot];
    // VALID_CHARS plus '@': DIGITS LETTERS ":-_.\\" — escapes such as "\x2d" stay escaped.
    let valid = |c: char| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c);
    if !stem.chars().all(valid) {
        return false;
    }
    match stem.find('@') {
        None => plain,
        Some(0) => false,
        Some(at) => instance && dot > at + 1,
    }
}

/// `cg_unescape()`: `cg_escape()` prefixes names that could clash with kernel files ("_cpu.service",
/// "_.foo.service") with one underscore.
fn cg_unescape(s: &str) -> &str {
    s.strip_prefix('_').unwrap_or(s)
}

/// The first component of `p` (leading slashes skipped) and the rest.
fn first_component(p: &str) -> (&str, &str) {
    let p = p.trim_start_matches('/');
    p.split_at(p.find('/').unwrap_or(p.len()))
}

/// `valid_slice_name()`.
fn is_slice(component: &str) -> bool {
    component.len() >= "x.slice".len()
        && component.ends_with(".slice")
        && unit_name_is_valid(cg_unescape(component), true, false)
}

/// `skip_slices()`: the path from the first component that is not a slice.
fn skip_slices(mut p: &str) -> &str {
    loop {
        let (c, rest) = first_component(p);
        if !is_slice(c) {
            return p.trim_start_matches('/');
        }
        p = rest;
    }
}

/// `cg_path_decode_unit()`: the first component as a unit name (PLAIN or INSTANCE).
fn decode_unit(p: &str) -> Option<String> {
    let (c, _) = first_component(p);
    if c.len() < 3 {
        return None;
    }
    let c = cg_unescape(c);
    unit_name_is_valid(c, true, true).then(|| c.to_owned())
}

/// `cg_path_get_unit()`: the first unit after the leading slices, never a slice itself.
/// "/system.slice/foo.service/sub" → "foo.service"; "/user.slice/user-1000.slice" → None.
pub fn cg_path_get_unit(path: &str) -> Option<String> {
    decode_unit(skip_slices(path)).filter(|u| !u.ends_with(".slice"))
}

/// `cg_path_get_slice()`: the deepest of the leading slices, "-.slice" when there is none.
pub fn cg_path_get_slice(mut p: &str) -> String {
    let mut last = None;
    loop {
        let (c, rest) = first_component(p);
        if !is_slice(c) {
            return last
                .and_then(decode_unit)
                .unwrap_or_else(|| "-.slice".to_owned());
        }
        last = Some(c);
        p = rest;
    }
}

/// `skip_user_manager()`: "user@UID.service" as the first component (after slices) → (uid, rest).
fn skip_user_manager(p: &str) -> Option<(u32, &str)> {
    let (c, rest) = first_component(p);
    let uid = c.strip_prefix("user@")?.strip_suffix(".service")?;
    // parse_uid(): decimal, and neither (uid_t) -1 nor the 16-bit -1.
    let uid: u32 = uid
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| uid.parse().ok())??;
    (uid != u32::MAX && uid != 0xFFFF).then_some((uid, rest))
}

/// `skip_session()`: "session-ID.scope" as the first component → the rest.
fn skip_session(p: &str) -> Option<&str> {
    let (c, rest) = first_component(p);
    let id = c.strip_prefix("session-")?.strip_suffix(".scope")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(rest)
}

/// `cg_path_get_user_unit()`: the unit inside a user manager ("/user.slice/user-1000.slice/
/// user@1000.service/app.slice/foo.service" → "foo.service"), or below a session scope.
pub fn cg_path_get_user_unit(path: &str) -> Option<String> {
    let e = skip_slices(path);
    let t = skip_user_manager(e)
        .map(|(_, rest)| rest)
        .or_else(|| skip_session(e))?;
    cg_path_get_unit(t)
}

/// What a service manager finds for a cgroup path (`manager_get_unit_by_cgroup()`: the cgroup's
/// unit, else the nearest ancestor's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitMatch {
    /// A unit: "foo.service", "init.scope", "session-2.scope", "foo@bar\x2dbaz.service".
    Unit(String),
    /// Only slices above the sender (a process placed in a slice cgroup): the manager finds the
    /// deepest slice, which has no notify handler ("not a service").
    Slice(String),
    /// The manager's root cgroup itself, or a cgroup that is no unit's. systemd 252 finds no unit
    /// ("Cannot find unit for notify message"); later versions fall back to "-.slice".
    Root,
    /// Not below this manager's root cgroup: it cannot map the sender to any unit.
    Outside,
}

/// The unit for `path` in the system manager whose root cgroup is `root` ("/" for the host's):
/// `cg_shift_path()` then `cg_path_get_unit()`, with the manager's walk-up for slices.
pub fn unit_in(path: &str, root: &str) -> UnitMatch {
    let Some(shifted) = strip_root(path, root) else {
        return UnitMatch::Outside;
    };
    if let Some(u) = cg_path_get_unit(shifted) {
        return UnitMatch::Unit(u);
    }
    match cg_path_get_slice(shifted).as_str() {
        "-.slice" => UnitMatch::Root,
        s => UnitMatch::Slice(s.to_owned()),
    }
}

/// A service manager, as far as the cgroup tree tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The host's system manager.
    System,
    /// The system manager of a container, by the host PID of its PID 1.
    Container { leader: u32 },
    /// A user manager (`user@UID.service`), on the host or in a container.
    User { uid: u32, container: Option<u32> },
}

/// A system manager and its root cgroup (as a path in our view of the cgroup2 tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerRoot {
    pub owner: Owner,
    pub cgroup: String,
}

impl ManagerRoot {
    /// The host's system manager. Its root is "/" (on a systemd host PID 1 is in /init.scope).
    pub fn host() -> ManagerRoot {
        ManagerRoot {
            owner: Owner::System,
            cgroup: "/".into(),
        }
    }

    /// A container's system manager: `cg_get_root_path()` as it runs inside, seen from here —
    /// the cgroup of its PID 1 minus "/init.scope" (e.g. "/machine.slice/systemd-nspawn@x.service/
    /// payload", or "/observer-testbed/NAME/payload" in the testbed).
    pub fn container(leader: u32) -> io::Result<ManagerRoot> {
        Self::of_process(Owner::Container { leader }, leader)
    }

    /// A manager's root cgroup from its own process (host PID): its cgroup minus "/init.scope".
    /// For a user manager that is its user@UID.service cgroup.
    pub fn of_process(owner: Owner, host_pid: u32) -> io::Result<ManagerRoot> {
        let text = fs::read_to_string(format!("/proc/{host_pid}/cgroup"))?;
        let own = text
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup2 entry"))?;
        Ok(ManagerRoot {
            owner,
            cgroup: root_of_init_cgroup(own).to_owned(),
        })
    }
}

/// `cg_get_root_path()`: PID 1's cgroup minus "/init.scope" (or the legacy "/system.slice",
/// "/system").
fn root_of_init_cgroup(own: &str) -> &str {
    let root = ["/init.scope", "/system.slice", "/system"]
        .iter()
        .find_map(|s| own.strip_suffix(s))
        .unwrap_or(own);
    if root.is_empty() { "/" } else { root }
}

/// Which manager a cgroup belongs to, and its unit there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub owner: Owner,
    pub unit: UnitMatch,
    /// For a user manager's unit: the system manager's unit that contains it ("user@1000.service"),
    /// which is what the system manager would find for the same sender.
    pub system_unit: Option<String>,
}

/// Places `path` with the innermost of `roots` (system managers) that contains it, then inside a
/// user manager when the path runs through "user@UID.service". None if no root contains it.
pub fn place(path: &str, roots: &[ManagerRoot]) -> Option<Placement> {
    let root = roots
        .iter()
        .filter(|r| strip_root(path, &r.cgroup).is_some())
        .max_by_key(|r| r.cgroup.trim_end_matches('/').len())?;
    let system = unit_in(path, &root.cgroup);
    let shifted = strip_root(path, &root.cgroup)?;
    let container = match root.owner {
        Owner::Container { leader } => Some(leader),
        _ => None,
    };
    if let Some((uid, rest)) = skip_user_manager(skip_slices(shifted)) {
        let unit = match cg_path_get_unit(rest) {
            Some(u) => UnitMatch::Unit(u),
            None => match cg_path_get_slice(rest).as_str() {
                "-.slice" => UnitMatch::Root,
                s => UnitMatch::Slice(s.to_owned()),
            },
        };
        let system_unit = match system {
            UnitMatch::Unit(u) => Some(u),
            _ => None,
        };
        return Some(Placement {
            owner: Owner::User { uid, container },
            unit,
            system_unit,
        });
    }
    Some(Placement {
        owner: root.owner,
        unit: system,
        system_unit: None,
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use super::*;

    #[test]
    fn unit_from_path_like_cg_path_get_unit() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("/system.slice/foo.service", Some("foo.service")),
            ("/system.slice/foo.service/", Some("foo.service")),
            ("/system.slice/foo.service/sub/dir", Some("foo.service")),
            ("system.slice/foo.service", Some("foo.service")),
            ("//system.slice//foo.service", Some("foo.service")),
            ("/foo.service", Some("foo.service")),
            ("/init.scope", Some("init.scope")),
            ("/system.slice/system-getty.slice/getty@tty1.service", Some("getty@tty1.service")),
            ("/system.slice/system-foo.slice/foo@bar\\x2dbaz.service", Some("foo@bar\\x2dbaz.service")),
            ("/system.slice/foo@a@b.service", Some("foo@a@b.service")),
            ("/system.slice/foo@.service", None), // template: never a running unit
            ("/system.slice/@foo.service", None),
            ("/system.slice/_cpu.service", Some("cpu.service")), // cg_escape()d
            ("/system.slice/_.foo.service", Some(".foo.service")),
            ("/system.slice/dev-hugepages.mount", Some("dev-hugepages.mount")),
            ("/system.slice/run-r1.scope", Some("run-r1.scope")),
            ("/system.slice/foo.socket", Some("foo.socket")),
            ("/system.slice/foo.bogus", None),
            ("/system.slice/foo", None),
            ("/system.slice/a b.service", None),
            ("/system.slice/föö.service", None),
            ("/system.slice/.service", None),
            ("/system.slice", None),
            ("/user.slice/user-1000.slice", None),
            ("/a.slice/b.service.slice", None),
            ("/system.slice/x.slice.service", Some("x.slice.service")),
            ("/", None),
            ("", None),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Some("user@1000.service")),
            ("/user.slice/user-1000.slice/session-3.scope", Some("session-3.scope")),
            ("/machine.slice/systemd-nspawn@x.service/payload/system.slice/foo.service", Some("systemd-nspawn@x.service")),
            ("/observer-testbed/t1/payload/system.slice/foo.service", None),
            ("/system.slice/foo.service.d/x", None), // "service.d" is no unit type
        ];
        let long = format!("/{}.service", "a".repeat(248));
        assert_eq!(
            cg_path_get_unit(&long),
            None,
            "names of 256 bytes are too long"
        );
        let ok = format!("/{}.service", "a".repeat(247));
        assert_eq!(cg_path_get_unit(&ok).map(|u| u.len()), Some(255));
        for (path, want) in cases {
            assert_eq!(cg_path_get_unit(path).as_deref(), *want, "{path}");
        }
    }

    #[test]
    fn user_unit_like_cg_path_get_user_unit() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Some("foo.service")),
            ("/user.slice/user-1000.slice/user@1000.service/init.scope", Some("init.scope")),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/app-x@y.service/sub", Some("app-x@y.service")),
            ("/user.slice/user-1000.slice/user@1000.service/session.slice/dbus.service", Some("dbus.service")),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice", None),
            ("/user.slice/user-1000.slice/user@1000.service", None),
            ("/user.slice/user-1000.slice/session-3.scope", None),
            ("/user.slice/user-1000.slice/session-3.scope/foo.service", Some("foo.service")),
            ("/user.slice/user-1000.slice/user@abc.service/app.slice/foo.service", None),
            ("/user.slice/user-1000.slice/user@4294967295.service/foo.service", None),
            ("/user.slice/user-1000.slice/user@65535.service/foo.service", None),
            ("/system.slice/foo.service", None),
            ("/user@0.service/foo.service", Some("foo.service")),
        ];
        for (path, want) in cases {
            assert_eq!(cg_path_get_user_unit(path).as_deref(), *want, "{path}");
        }
    }

    #[test]
    fn slices() {
        assert_eq!(cg_path_get_slice("/"), "-.slice");
        assert_eq!(
            cg_path_get_slice("/system.slice/foo.service"),
            "system.slice"
        );
        assert_eq!(
            cg_path_get_slice("/user.slice/user-1000.slice/session-1.scope"),
            "user-1000.slice"
        );
        assert_eq!(cg_path_get_slice("/observer-testbed/x"), "-.slice");
    }

    #[test]
    fn unit_relative_to_manager_root() {
        let nspawn = "/machine.slice/systemd-nspawn@x.service/payload";
        let p = "/machine.slice/systemd-nspawn@x.service/payload/system.slice/foo.service";
        assert_eq!(unit_in(p, nspawn), UnitMatch::Unit("foo.service".into()));
        assert_eq!(
            unit_in(p, "/"),
            UnitMatch::Unit("systemd-nspawn@x.service".into())
        );
        assert_eq!(
            unit_in(&format!("{nspawn}/init.scope"), nspawn),
            UnitMatch::Unit("init.scope".into())
        );
        assert_eq!(unit_in(nspawn, nspawn), UnitMatch::Root);
        assert_eq!(
            unit_in(&format!("{nspawn}/system.slice"), nspawn),
            UnitMatch::Slice("system.slice".into())
        );
        assert_eq!(
            unit_in("/machine.slice/systemd-nspawn@x.service/supervisor", nspawn),
            UnitMatch::Outside
        );
        // Whole components only: "payload2" is not below "payload".
        assert_eq!(
            unit_in(&format!("{nspawn}2/foo.service"), nspawn),
            UnitMatch::Outside
        );
        let tb = "/observer-testbed/t1/payload";
        assert_eq!(
            unit_in(
                "/observer-testbed/t1/payload/system.slice/tb-notify-python.service",
                tb
            ),
            UnitMatch::Unit("tb-notify-python.service".into())
        );
        assert_eq!(
            unit_in("/observer-testbed/t1/payload/system.slice/tb.service", "/"),
            UnitMatch::Root
        );
        assert_eq!(unit_in("/", "/"), UnitMatch::Root);
        assert_eq!(
            unit_in("/user.slice/user-1000.slice", "/"),
            UnitMatch::Slice("user-1000.slice".into())
        );
    }

    #[test]
    fn placement_picks_innermost_manager() {
        let roots = [
            ManagerRoot::host(),
            ManagerRoot {
                owner: Owner::Container { leader: 4242 },
                cgroup: "/machine.slice/systemd-nspawn@x.service/payload".into(),
            },
        ];
        let at = |p: &str| place(p, &roots).unwrap();
        let c = at("/machine.slice/systemd-nspawn@x.service/payload/system.slice/foo.service");
        assert_eq!(c.owner, Owner::Container { leader: 4242 });
        assert_eq!(c.unit, UnitMatch::Unit("foo.service".into()));
        let s = at("/machine.slice/systemd-nspawn@x.service/supervisor");
        assert_eq!(
            (s.owner, s.unit),
            (
                Owner::System,
                UnitMatch::Unit("systemd-nspawn@x.service".into())
            )
        );
        let u = at("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service");
        assert_eq!(
            u.owner,
            Owner::User {
                uid: 1000,
                container: None
            }
        );
        assert_eq!(u.unit, UnitMatch::Unit("foo.service".into()));
        assert_eq!(u.system_unit.as_deref(), Some("user@1000.service"));
        let cu = at(
            "/machine.slice/systemd-nspawn@x.service/payload/user.slice/user-0.slice/user@0.service/init.scope",
        );
        assert_eq!(
            cu.owner,
            Owner::User {
                uid: 0,
                container: Some(4242)
            }
        );
        assert_eq!(cu.unit, UnitMatch::Unit("init.scope".into()));
        let sess = at("/user.slice/user-1000.slice/session-2.scope");
        assert_eq!(
            (sess.owner, sess.unit),
            (Owner::System, UnitMatch::Unit("session-2.scope".into()))
        );
        assert!(place("/x", &roots[1..]).is_none());
    }

    #[test]
    fn init_cgroup_to_root() {
        assert_eq!(root_of_init_cgroup("/init.scope"), "/");
        assert_eq!(
            root_of_init_cgroup("/observer-testbed/t1/payload/init.scope"),
            "/observer-testbed/t1/payload"
        );
        assert_eq!(
            root_of_init_cgroup("/machine.slice/x/payload/system.slice"),
            "/machine.slice/x/payload"
        );
        assert_eq!(root_of_init_cgroup("/odd"), "/odd");
    }

    #[test]
    fn mountinfo_and_paths() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                      40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let m = Cgroup2::from_mountinfo(hybrid).unwrap();
        assert_eq!(m.mount, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(
            m.dir("/system.slice/a.service"),
            Path::new("/sys/fs/cgroup/unified/system.slice/a.service")
        );
        assert_eq!(m.dir("/"), Path::new("/sys/fs/cgroup/unified"));
        // Optional fields before "-"; a bind mount elsewhere loses to the canonical place; a
        // subtree mount maps paths through its root; octal escapes.
        let unified = "50 1 0:40 / /mnt/my\\040cg rw shared:9 - cgroup2 cgroup2 rw\n\
                       29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Cgroup2::from_mountinfo(unified).unwrap().mount,
            Path::new("/sys/fs/cgroup")
        );
        let sub = "50 1 0:40 /payload /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
        let s = Cgroup2::from_mountinfo(sub).unwrap();
        assert_eq!(
            (s.mount.to_str(), s.root.as_str()),
            (Some("/mnt/my cg"), "/payload")
        );
        assert_eq!(
            s.dir("/payload/init.scope"),
            Path::new("/mnt/my cg/init.scope")
        );
        assert_eq!(s.path_of(Path::new("init.scope")), "/payload/init.scope");
        assert_eq!(s.path_of(Path::new("")), "/payload");
        assert!(
            Cgroup2::from_mountinfo("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n").is_none()
        );
        assert_eq!(strip_root("/a/b", "/"), Some("/a/b"));
        assert_eq!(strip_root("/a/b", "/a"), Some("/b"));
        assert_eq!(strip_root("/a", "/a/"), Some("/"));
        assert_eq!(strip_root("/ab", "/a"), None);
    }

    fn root() -> bool {
        // SAFETY: geteuid() has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// The cgroup id of a directory as the kernel hands it out in a file handle: the same number
    /// bpf_get_current_cgroup_id() returns for tasks in it.
    fn handle_id(dir: &Path) -> u64 {
        let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let mut h = KernfsHandle {
            handle_bytes: 8,
            handle_type: 0,
            id: 0,
        };
        let mut mount_id = 0;
        // SAFETY: valid C string; the handle has room for the 8 bytes announced.
        let r = unsafe {
            libc::name_to_handle_at(
                libc::AT_FDCWD,
                c.as_ptr(),
                (&raw mut h).cast(),
                &mut mount_id,
                0,
            )
        };
        assert_eq!(r, 0, "name_to_handle_at: {}", io::Error::last_os_error());
        assert_eq!(h.handle_type, FILEID_KERNFS);
        h.id
    }

    /// Real cgroups on this host: make one, resolve its inode back to the path (by handle and by
    /// walk), remove it and see it reported gone with its last path.
    #[test]
    fn resolves_real_cgroups() {
        let Ok(fs) = Cgroup2::find() else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        if !root() {
            eprintln!("skipped: creating cgroups needs root");
            return;
        }
        let name = format!("observer-correlate-test-{}", std::process::id());
        let dir = fs.mount.join(&name);
        let sub = dir.join("x.slice").join("foo@a\\x2db.service");
        fs::create_dir_all(&sub).unwrap();
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = fs::remove_dir(self.0.join("x.slice").join("foo@a\\x2db.service"));
                let _ = fs::remove_dir(self.0.join("x.slice"));
                let _ = fs::remove_dir(&self.0);
            }
        }
        let _cleanup = Cleanup(dir.clone());
        let ino = fs::metadata(&sub).unwrap().ino();
        assert_eq!(handle_id(&sub), ino, "cgroup id is the directory inode");
        let want = join_cgroup(&fs.root, &format!("{name}/x.slice/foo@a\\x2db.service"));

        // Indexed by the walk in new(): a hit, verified by stat.
        let mut r = Resolver::new(fs.clone());
        assert_eq!(r.resolve(ino), Resolved::Live(want.clone()));
        assert_eq!(
            unit_in(&want, &join_cgroup(&fs.root, &name)),
            UnitMatch::Unit("foo@a\\x2db.service".into())
        );

        // Created after the index: found by handle, and by walk where handles are off.
        let late = dir.join("late.service");
        fs::create_dir(&late).unwrap();
        let late_ino = fs::metadata(&late).unwrap().ino();
        let late_path = join_cgroup(&fs.root, &format!("{name}/late.service"));
        assert_eq!(
            r.by_handle(late_ino).unwrap(),
            Some(late_path.clone()),
            "open_by_handle_at"
        );
        assert_eq!(r.resolve(late_ino), Resolved::Live(late_path.clone()));
        let mut walker = Resolver::new(fs.clone());
        walker.handles = false;
        walker.cache.remove(&late_ino);
        assert_eq!(walker.resolve(late_ino), Resolved::Live(late_path.clone()));

        // Removed: the cached path is still reported, and not verified again.
        fs::remove_dir(&late).unwrap();
        assert_eq!(r.resolve(late_ino), Resolved::Gone(Some(late_path.clone())));
        assert_eq!(r.resolve(late_ino), Resolved::Gone(Some(late_path)));
        // Never seen and already gone: by handle (ESTALE) and by a complete walk.
        let never = dir.join("never.service");
        fs::create_dir(&never).unwrap();
        let never_ino = fs::metadata(&never).unwrap().ino();
        fs::remove_dir(&never).unwrap();
        assert_eq!(r.resolve(never_ino), Resolved::Gone(None));
        assert_eq!(walker.resolve(never_ino), Resolved::Gone(None));
        // A new cgroup of the same name gets a new id; the old id stays gone.
        fs::create_dir(&never).unwrap();
        let again = fs::metadata(&never).unwrap().ino();
        assert_ne!(again, never_ino);
        assert_eq!(r.resolve(never_ino), Resolved::Gone(None));
        assert!(matches!(r.resolve(again), Resolved::Live(_)));
        fs::remove_dir(&never).unwrap();
        // Our own cgroup (the root one here, or wherever the test runs).
        let own = fs::read_to_string("/proc/self/cgroup").unwrap();
        let own = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap()
            .to_owned();
        let own_ino = fs::metadata(r.cgroup2().dir(&own)).unwrap().ino();
        assert_eq!(r.resolve(own_ino).path(), Some(own.as_str()));
        // Any process works as a "leader" for reading its root: ours is its cgroup minus nothing.
        let me = ManagerRoot::container(std::process::id()).unwrap();
        assert_eq!(me.cgroup, root_of_init_cgroup(&own));
    }
}
