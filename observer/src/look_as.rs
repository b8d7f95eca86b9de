//! Looking at files a user controls as that user, time-boxed: a user's runtime directory, an
//! untrusted container's /run. Root never walks such a path itself: a symlink there could point
//! it at files the user may not see, and a FUSE mount (which any user may set up in a user
//! namespace, or with fusermount on a directory of their own) could hold a root lookup forever.
//! A child drops to the user, stats the path and reports; it is killed when it has not answered
//! in time.

use std::{
    ffi::CString,
    io,
    os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::ffi::OsStrExt as _,
    },
    path::Path,
    time::Duration,
};

/// How long a look may take.
pub const LOOK_MAX: Duration = Duration::from_millis(500);

/// A file as the stat() of a user saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub dev: u64,
    pub ino: u64,
    pub is_socket: bool,
    /// Its owner, as our user namespace sees it.
    pub uid: u32,
}

/// stat(`path`) as `uid`/`gid`. With `open_first`, root opens that directory first (a path only
/// root may walk, e.g. /proc/LEADER/root/run/user/UID of a trusted container) and `path` is
/// looked up from it, as the user. None: not there, not allowed, or no answer within LOOK_MAX.
pub fn stat_as(uid: u32, gid: u32, open_first: Option<&Path>, path: &Path) -> Option<Seen> {
    match try_stat_as(uid, gid, open_first, path) {
        Ok(seen) => Some(seen),
        Err(e) => {
            log::debug!("looking at {} as uid {uid}: {e}", path.display());
            None
        }
    }
}

fn cstring(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)
}

fn try_stat_as(uid: u32, gid: u32, open_first: Option<&Path>, path: &Path) -> io::Result<Seen> {
    let dir = open_first.map(cstring).transpose()?;
    let path = cstring(path)?;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are fresh and ours.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child makes async-signal-safe system calls only and leaves with _exit().
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above.
        unsafe { child(uid, gid, dir.as_ref(), &path, write.as_raw_fd()) }
    }
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    drop(write);
    let answer = read_answer(&read);
    // SAFETY: our child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    answer
}

fn read_answer(read: &OwnedFd) -> io::Result<Seen> {
    let mut pfd = libc::pollfd {
        fd: read.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    if unsafe { libc::poll(&mut pfd, 1, LOOK_MAX.as_millis() as i32) } <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {LOOK_MAX:?}"),
        ));
    }
    let mut buf = [0u8; 24];
    // SAFETY: read into a buffer of ours.
    let n = unsafe { libc::read(read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        24 => Ok(Seen {
            dev: u64::from_ne_bytes(buf[..8].try_into().unwrap_or_default()),
            ino: u64::from_ne_bytes(buf[8..16].try_into().unwrap_or_default()),
            is_socket: u32::from_ne_bytes(buf[16..20].try_into().unwrap_or_default())
                & libc::S_IFMT
                == libc::S_IFSOCK,
            uid: u32::from_ne_bytes(buf[20..].try_into().unwrap_or_default()),
        }),
        4 => Err(io::Error::from_raw_os_error(i32::from_ne_bytes(
            buf[..4].try_into().unwrap_or_default(),
        ))),
        _ => Err(io::Error::other(
            "the looking child ended without an answer",
        )),
    }
}

/// The child: open the directory (as root), drop to the user, stat, write dev/ino/mode/uid (24
/// bytes) or errno (4 bytes), _exit(). Async-signal-safe only.
unsafe fn child(uid: u32, gid: u32, dir: Option<&CString>, path: &CString, out: i32) -> ! {
    // SAFETY: plain system calls on buffers prepared before fork().
    unsafe {
        let errno = |out: i32| -> ! {
            let e = *libc::__errno_location();
            libc::write(out, (&raw const e).cast(), 4);
            libc::_exit(1)
        };
        let at = match dir {
            Some(d) => {
                let fd = libc::open(
                    d.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                );
                if fd < 0 {
                    errno(out);
                }
                fd
            }
            None => libc::AT_FDCWD,
        };
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(gid, gid, gid) != 0
            || libc::setresuid(uid, uid, uid) != 0
        {
            errno(out);
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstatat(at, path.as_ptr(), &mut st, 0) != 0 {
            errno(out);
        }
        let mut buf = [0u8; 24];
        buf[..8].copy_from_slice(&st.st_dev.to_ne_bytes());
        buf[8..16].copy_from_slice(&st.st_ino.to_ne_bytes());
        buf[16..20].copy_from_slice(&st.st_mode.to_ne_bytes());
        buf[20..].copy_from_slice(&st.st_uid.to_ne_bytes());
        libc::write(out, buf.as_ptr().cast(), buf.len());
        libc::_exit(0)
    }
}

#[cfg(test)]
mod tests;
