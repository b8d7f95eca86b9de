//! Where this process sees the cgroup2 hierarchy (/proc/self/mountinfo), and cgroup paths
//! under that mount.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use crate::systemd_basic::cgroup_util::strip_root;

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
    pub(super) fn path_of(&self, rel: &Path) -> String {
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

pub(super) fn join_cgroup(root: &str, rel: &str) -> String {
    let rel = rel.trim_matches('/');
    match (root.trim_end_matches('/'), rel) {
        ("", "") => "/".into(),
        (r, "") => r.into(),
        (r, rel) => format!("{r}/{rel}"),
    }
}

#[cfg(test)]
mod tests;
