//! cgroup id → cgroup path, for ids the kernel recorded at send time.
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

use super::Cgroup2;

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

#[cfg(test)]
mod tests;
